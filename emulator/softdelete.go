package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// Soft delete, as ACR's soft-delete policy keeps deleted manifests and tags
// for a retention period (Options.SoftDeleteRetention). The wire follows
// the Azure CLI's code, the only client of these endpoints (az 2.45.0,
// command_modules/acr/manifest.py and repository.py):
//
//	GET  /acr/v1/_deleted/_catalog                      registry:deleted_catalog:*
//	GET  /acr/v1/_deleted/{repo}/_manifests             repository:{repo}:deleted_read
//	GET  /acr/v1/_deleted/{repo}/_tags                  repository:{repo}:deleted_read
//	POST /acr/v1/_deleted/{repo}/_manifests/{digest}    repository:{repo}:deleted_read,deleted_restore
//
// az reads "deletedAt", "digest" and, for tags, "tag"; it takes the last
// entry for a tag as its most recent deletion, and POSTs {"tag": T} with
// force=True|False. Where az leaves a point open, the answers follow ACR's
// other /acr/v1 endpoints: the same envelopes ("registry", "imageName"),
// paging with n, last and a Link, OCI error bodies. "expiresAfter" is this
// registry's addition, named as az names the field it computes from the
// retention days that Azure Resource Manager reports.

// softDelete keeps what a delete removes, when retention is positive.
type softDelete struct{ retention time.Duration }

func (s *Server) softDelete() softDelete { return softDelete{s.opts.SoftDeleteRetention} }

// manifest keeps a deleted manifest, with the tags it had, and each of those
// tags as a deleted tag.
func (k softDelete) manifest(tx store.Tx, repo string, m store.Manifest, tags []store.Tag, now time.Time) error {
	if k.retention <= 0 {
		return nil
	}
	var names []string
	for _, t := range tags {
		names = append(names, t.Name)
		if err := k.tag(tx, repo, t, now); err != nil {
			return err
		}
	}
	return tx.PutDeleted(repo, store.Deleted{Key: store.DeletedKey(store.DeletedManifestKind, m.Digest.String(), now),
		DeletedAt: now, ExpiresAt: now.Add(k.retention), Manifest: &m, Tags: names})
}

// tag keeps a deleted tag.
func (k softDelete) tag(tx store.Tx, repo string, t store.Tag, now time.Time) error {
	if k.retention <= 0 {
		return nil
	}
	return tx.PutDeleted(repo, store.Deleted{Key: store.DeletedKey(store.DeletedTagKind, t.Name, now),
		DeletedAt: now, ExpiresAt: now.Add(k.retention), Tag: &t})
}

// repo keeps every manifest and tag of a repository about to be deleted.
func (k softDelete) repo(tx store.Tx, repo string, now time.Time) error {
	if k.retention <= 0 {
		return nil
	}
	byDigest := map[digest.Digest][]store.Tag{}
	for t, err := range tx.Tags(repo, "") {
		if err != nil {
			return err
		}
		byDigest[t.Digest] = append(byDigest[t.Digest], t)
	}
	for m, err := range tx.Manifests(repo, "") {
		if err != nil {
			return err
		}
		if err := k.manifest(tx, repo, m, byDigest[m.Digest], now); err != nil {
			return err
		}
		delete(byDigest, m.Digest)
	}
	for _, tags := range byDigest { // tags whose manifest is missing
		for _, t := range tags {
			if err := k.tag(tx, repo, t, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// softDeleteOff is the answer of the soft-delete endpoints when the
// registry keeps nothing.
func softDeleteOff() error {
	return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported,
		"soft delete is not enabled on this registry: start it with --soft-delete DAYS (emulator.Options.SoftDeleteRetention)")
}

// live reports whether a record's retention has not run out.
func (s *Server) live(d store.Deleted) bool { return s.now().Before(d.ExpiresAt) }

// handleDeletedCatalog serves GET /acr/v1/_deleted/_catalog.
func (s *Server) handleDeletedCatalog(w http.ResponseWriter, r *http.Request) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	if s.opts.SoftDeleteRetention <= 0 {
		return softDeleteOff()
	}
	p, err := parsePage(r.URL.Query(), 100, 1000)
	if err != nil {
		return err
	}
	names := []string{}
	more := false
	err = s.store.View(r.Context(), func(tx store.Tx) error {
		for repo, err := range tx.DeletedRepos(p.last) {
			if err != nil {
				return err
			}
			for d, err := range tx.Deleted(repo, "", "") {
				if err != nil {
					return err
				}
				if s.live(d) {
					if len(names) == p.n {
						more = true
						return nil
					}
					names = append(names, repo)
					break
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if more {
		setNextLink(w, "/acr/v1/_deleted/_catalog", p, names[len(names)-1], nil)
	}
	return writeJSON(w, r, http.StatusOK, map[string][]string{"repositories": names})
}

type wireDeletedManifest struct {
	Digest         string   `json:"digest"`
	ImageSize      int64    `json:"imageSize"`
	CreatedTime    string   `json:"createdTime"`
	LastUpdateTime string   `json:"lastUpdateTime"`
	MediaType      string   `json:"mediaType"`
	Tags           []string `json:"tags,omitempty"`
	DeletedAt      string   `json:"deletedAt"`
	ExpiresAfter   string   `json:"expiresAfter"`
}

type wireDeletedTag struct {
	Tag          string `json:"tag"`
	Digest       string `json:"digest"`
	DeletedAt    string `json:"deletedAt"`
	ExpiresAfter string `json:"expiresAfter"`
}

// handleDeletedList serves GET /acr/v1/_deleted/{repo}/_manifests and
// _tags: one entry per deletion, by digest or tag and then deletion time.
func (s *Server) handleDeletedList(w http.ResponseWriter, r *http.Request, rt route, kind string) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	if s.opts.SoftDeleteRetention <= 0 {
		return softDeleteOff()
	}
	p, err := parsePage(r.URL.Query(), 100, 1000)
	if err != nil {
		return err
	}
	prefix := kind + "/"
	after := ""
	switch {
	case strings.Contains(p.last, "/"):
		// The cursor of this listing's Link: a record's key without
		// its kind.
		after = prefix + p.last
	case p.last != "":
		// A tag or digest, as a client resumes with the last entry it
		// received: after every deletion of it. Its records' keys are
		// name/time, and no time sorts after "~".
		after = prefix + p.last + "/~"
	}
	var manifests []wireDeletedManifest
	var tags []wireDeletedTag
	lastKey, more := "", false
	err = s.store.View(r.Context(), func(tx store.Tx) error {
		n := 0
		for d, err := range tx.Deleted(rt.repo, prefix, after) {
			if err != nil {
				return err
			}
			if !s.live(d) {
				continue
			}
			if n == p.n {
				more = true
				return nil
			}
			n++
			lastKey = strings.TrimPrefix(d.Key, prefix)
			at, exp := spec.FormatTime(d.DeletedAt), spec.FormatTime(d.ExpiresAt)
			switch {
			case d.Manifest != nil:
				m := d.Manifest
				manifests = append(manifests, wireDeletedManifest{Digest: m.Digest.String(), ImageSize: m.ImageSize,
					CreatedTime: spec.FormatTime(m.CreatedAt), LastUpdateTime: spec.FormatTime(m.UpdatedAt),
					MediaType: m.MediaType, Tags: d.Tags, DeletedAt: at, ExpiresAfter: exp})
			case d.Tag != nil:
				tags = append(tags, wireDeletedTag{Tag: d.Tag.Name, Digest: d.Tag.Digest.String(), DeletedAt: at, ExpiresAfter: exp})
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if more {
		setNextLink(w, "/acr/v1/_deleted/"+url.PathEscape(rt.repo)+"/_"+map[string]string{store.DeletedManifestKind: "manifests", store.DeletedTagKind: "tags"}[kind], p, lastKey, nil)
	}
	body := map[string]any{"registry": r.Host, "imageName": rt.repo}
	if kind == store.DeletedManifestKind {
		if manifests == nil {
			manifests = []wireDeletedManifest{}
		}
		body["manifests"] = manifests
	} else {
		if tags == nil {
			tags = []wireDeletedTag{}
		}
		body["tags"] = tags
	}
	return writeJSON(w, r, http.StatusOK, body)
}

// handleRestore serves POST /acr/v1/_deleted/{repo}/_manifests/{digest}:
// it restores the digest's most recent deletion with the tags it had, or
// with the one tag the body names; a tag that now points at another
// manifest is refused (409 TAG_IN_USE) unless force is true. A manifest
// that was never deleted, or is back already, gets only a deleted tag of
// it restored.
func (s *Server) handleRestore(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	if s.opts.SoftDeleteRetention <= 0 {
		return softDeleteOff()
	}
	d, err := spec.ParseDigest(rt.ref)
	if err != nil {
		return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
	}
	force := false
	if v := r.URL.Query().Get("force"); v != "" {
		if force, err = strconv.ParseBool(v); err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "force=%q: want true or false", v)
		}
	}
	var body struct {
		Tag *string `json:"tag"`
	}
	if b, err := io.ReadAll(io.LimitReader(r.Body, 64<<10)); err != nil {
		return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "reading the body failed: %v", err)
	} else if len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, `the body is not JSON such as {"tag":"v1"}: %v`, err)
		}
	}
	var tag string
	if body.Tag != nil {
		if tag = *body.Tag; spec.ValidateTag(tag) != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeTagInvalid, "%v", spec.ValidateTag(tag))
		}
	}
	var restored store.Manifest
	var tags []string
	err = s.store.Update(r.Context(), func(tx store.Tx) error {
		now := s.now().UTC()
		var rec *store.Deleted
		for del, err := range tx.Deleted(rt.repo, store.DeletedManifestKind+"/"+d.String()+"/", "") {
			if err != nil {
				return err
			}
			if s.live(del) {
				rec = &del // the last one is the most recent
			}
		}
		m, exists, err := tx.Manifest(rt.repo, d)
		if err != nil {
			return err
		}
		if rec == nil && !exists {
			return newError(http.StatusNotFound, spec.ErrorCodeManifestUnknown,
				"no deleted manifest %s in repository %q (or its retention ran out): list them with GET /acr/v1/_deleted/%s/_manifests", d, rt.repo, rt.repo)
		}
		if tag != "" {
			// Only a deleted tag of this manifest can come back, never
			// another name (which would let a token with deleted_restore,
			// and no push, tag images or, with force, move tags).
			if del, _, err := s.deletedTag(tx, rt.repo, tag, d); err != nil {
				return err
			} else if del == nil {
				return newError(http.StatusNotFound, spec.ErrorCodeManifestUnknown,
					"no deleted tag %q pointed at %s in repository %q (or its retention ran out): list them with GET /acr/v1/_deleted/%s/_tags", tag, d, rt.repo, rt.repo)
			}
		} else if rec == nil {
			return newError(http.StatusNotFound, spec.ErrorCodeManifestUnknown,
				"manifest %s in repository %q was not deleted: name the deleted tag to restore, as in {\"tag\":\"v1\"}; list them with GET /acr/v1/_deleted/%s/_tags", d, rt.repo, rt.repo)
		}
		repo, err := ensureRepo(tx, rt.repo, now)
		if err != nil {
			return err
		}
		if err := checkWrite(repo.Attrs, "restore into", "repository "+rt.repo); err != nil {
			return err
		}
		if !exists {
			m = *rec.Manifest
			if err := tx.PutManifest(rt.repo, m); err != nil {
				return err
			}
			if m.Subject != "" {
				if err := tx.PutReferrer(rt.repo, m.Subject, m.Digest); err != nil {
					return err
				}
			}
			for _, b := range append([]digest.Digest{m.Digest}, m.Blobs...) {
				size, err := s.store.StatBlob(r.Context(), b)
				if err != nil {
					return newError(http.StatusNotFound, spec.ErrorCodeBlobUnknown,
						"the content of %s is gone (blob %s): it cannot be restored", d, b)
				}
				if _, ok, err := tx.BlobLink(rt.repo, b); err != nil {
					return err
				} else if !ok {
					if err := tx.PutBlobLink(rt.repo, store.BlobLink{Digest: b, Size: size, CreatedAt: now}); err != nil {
						return err
					}
				}
			}
			if err := tx.DeleteDeleted(rt.repo, rec.Key); err != nil {
				return err
			}
		}
		restored = m
		want := []string{tag}
		if tag == "" {
			want = nil
			if rec != nil {
				want = rec.Tags
			}
		}
		for _, name := range want {
			t, ok, err := tx.Tag(rt.repo, name)
			if err != nil {
				return err
			}
			if ok && t.Digest != d {
				if !force {
					return &apiError{status: http.StatusConflict, code: "TAG_IN_USE", detail: map[string]string{"Tag": name, "Digest": t.Digest.String()},
						message: "tag " + name + " now points at " + t.Digest.String() + ": restore with force=true to move it, or restore under another tag"}
				}
				if err := checkWrite(t.Attrs, "move", "tag "+name); err != nil {
					return err
				}
			}
			del, key, err := s.deletedTag(tx, rt.repo, name, d)
			if err != nil {
				return err
			}
			if !ok && del != nil {
				// The tag comes back with the locks it had.
				err = tx.PutTag(rt.repo, store.Tag{Name: name, Digest: d, CreatedAt: now, UpdatedAt: now, Attrs: del.Attrs})
			} else {
				err = putTag(tx, rt.repo, name, d, now)
			}
			if err != nil {
				return err
			}
			if del != nil {
				if err := tx.DeleteDeleted(rt.repo, key); err != nil {
					return err
				}
			}
		}
		ts, err := tagsOf(tx, rt.repo, d)
		if err != nil {
			return err
		}
		for _, t := range ts {
			tags = append(tags, t.Name)
		}
		return touchRepo(tx, repo, now)
	})
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Registry  string       `json:"registry"`
		ImageName string       `json:"imageName"`
		Manifest  wireManifest `json:"manifest"`
	}{r.Host, rt.repo, wireManifestOf(restored, tags)})
}

// deletedTag returns the most recent live deletion record of tag name on d,
// and its key, or nil if there is none.
func (s *Server) deletedTag(tx store.Tx, repo, name string, d digest.Digest) (*store.Tag, string, error) {
	var tag *store.Tag
	var key string
	for del, err := range tx.Deleted(repo, store.DeletedTagKind+"/"+name+"/", "") {
		if err != nil {
			return nil, "", err
		}
		if del.Tag != nil && del.Tag.Digest == d && s.live(del) {
			tag, key = del.Tag, del.Key
		}
	}
	return tag, key, nil
}
