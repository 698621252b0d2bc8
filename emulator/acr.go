package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"sync"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// The JSON shapes of ACR's metadata API (api-version 2021-07-01).

type wireAttrs struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

func toWireAttrs(a store.Attributes) wireAttrs { return wireAttrs(a) }

type wireRepository struct {
	Registry       string    `json:"registry"`
	ImageName      string    `json:"imageName"`
	CreatedTime    string    `json:"createdTime"`
	LastUpdateTime string    `json:"lastUpdateTime"`
	ManifestCount  int       `json:"manifestCount"`
	TagCount       int       `json:"tagCount"`
	Attrs          wireAttrs `json:"changeableAttributes"`
}

type wireTag struct {
	Name           string    `json:"name"`
	Digest         string    `json:"digest"`
	CreatedTime    string    `json:"createdTime"`
	LastUpdateTime string    `json:"lastUpdateTime"`
	Signed         bool      `json:"signed"`
	Attrs          wireAttrs `json:"changeableAttributes"`
}

type wirePlatform struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

type wireManifest struct {
	Digest          string         `json:"digest"`
	ImageSize       int64          `json:"imageSize"`
	CreatedTime     string         `json:"createdTime"`
	LastUpdateTime  string         `json:"lastUpdateTime"`
	Architecture    string         `json:"architecture,omitempty"`
	OS              string         `json:"os,omitempty"`
	MediaType       string         `json:"mediaType"`
	ConfigMediaType string         `json:"configMediaType,omitempty"`
	ArtifactType    string         `json:"artifactType,omitempty"`
	Subject         string         `json:"subject,omitempty"`
	Tags            []string       `json:"tags,omitempty"` // absent when untagged, as on ACR
	References      []wirePlatform `json:"references,omitempty"`
	Attrs           wireAttrs      `json:"changeableAttributes"`
}

// patchAttrs is the body of a PATCH: omitted flags stay as they are.
type patchAttrs struct {
	DeleteEnabled *bool `json:"deleteEnabled"`
	WriteEnabled  *bool `json:"writeEnabled"`
	ReadEnabled   *bool `json:"readEnabled"`
	ListEnabled   *bool `json:"listEnabled"`
}

func (p patchAttrs) apply(a *store.Attributes) {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.DeleteEnabled, p.DeleteEnabled)
	set(&a.WriteEnabled, p.WriteEnabled)
	set(&a.ReadEnabled, p.ReadEnabled)
	set(&a.ListEnabled, p.ListEnabled)
}

// readPatch decodes a PATCH body of changeable attributes for a repository
// or something in it. A missing repository is reported first, whatever the
// body, as ACR does (G TestClient_UpdateRepositoryProperties_wrongRepository).
func (s *Server) readPatch(r *http.Request, repo string) (patchAttrs, error) {
	var p patchAttrs
	err := s.store.View(r.Context(), func(tx store.Tx) error {
		_, err := getRepo(tx, repo)
		return err
	})
	if err != nil {
		return p, err
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return p, newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "reading the body failed: %v", err)
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, newError(http.StatusBadRequest, spec.ErrorCodeUnsupported,
			`the body is not valid JSON of changeable attributes, such as {"writeEnabled":false}: %v`, err)
	}
	return p, nil
}

func wireRepo(host string, repo store.Repository, manifests, tags int) wireRepository {
	return wireRepository{Registry: host, ImageName: repo.Name, CreatedTime: spec.FormatTime(repo.CreatedAt),
		LastUpdateTime: spec.FormatTime(repo.UpdatedAt), ManifestCount: manifests, TagCount: tags, Attrs: toWireAttrs(repo.Attrs)}
}

func wireTagOf(t store.Tag) wireTag {
	return wireTag{Name: t.Name, Digest: t.Digest.String(), CreatedTime: spec.FormatTime(t.CreatedAt),
		LastUpdateTime: spec.FormatTime(t.UpdatedAt), Attrs: toWireAttrs(t.Attrs)}
}

func wireManifestOf(m store.Manifest, tags []string) wireManifest {
	w := wireManifest{Digest: m.Digest.String(), ImageSize: m.ImageSize, CreatedTime: spec.FormatTime(m.CreatedAt),
		LastUpdateTime: spec.FormatTime(m.UpdatedAt), Architecture: m.Architecture, OS: m.OS, MediaType: m.MediaType,
		ConfigMediaType: m.ConfigMediaType, ArtifactType: m.ArtifactType, Tags: tags, Attrs: toWireAttrs(m.Attrs)}
	if m.Subject != "" {
		w.Subject = m.Subject.String()
	}
	for _, c := range m.Children {
		w.References = append(w.References, wirePlatform{Digest: c.Digest.String(), Architecture: c.Architecture, OS: c.OS})
	}
	return w
}

// handleACRRepo serves /acr/v1/{name}: properties, attribute updates and
// repository deletion.
func (s *Server) handleACRRepo(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	var out any
	status := http.StatusOK
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPatch:
		var patch patchAttrs
		if r.Method == http.MethodPatch {
			var err error
			if patch, err = s.readPatch(r, rt.repo); err != nil {
				return err
			}
		}
		fn := func(tx store.Tx) error {
			repo, err := getRepo(tx, rt.repo)
			if err != nil {
				return err
			}
			if r.Method == http.MethodPatch {
				patch.apply(&repo.Attrs)
				if err := tx.PutRepo(repo); err != nil {
					return err
				}
			}
			// Counted without decoding: a manifest's record holds its
			// annotations, which may be megabytes.
			nm, err := tx.ManifestCount(rt.repo)
			if err != nil {
				return err
			}
			nt, err := tx.TagCount(rt.repo)
			if err != nil {
				return err
			}
			out = wireRepo(r.Host, repo, nm, nt)
			return nil
		}
		var err error
		if r.Method == http.MethodPatch {
			err = s.store.Update(ctx, fn)
		} else {
			err = s.store.View(ctx, fn)
		}
		if err != nil {
			return err
		}
	case http.MethodDelete:
		var del deleted
		err := s.store.Update(ctx, func(tx store.Tx) error {
			repo, err := getRepo(tx, rt.repo)
			if err != nil {
				return err
			}
			if err := checkDelete(repo.Attrs, "repository "+rt.repo); err != nil {
				return err
			}
			// Every lock inside must allow it: a repository delete loses
			// nothing that a lock protects.
			for t, err := range tx.Tags(rt.repo, "") {
				if err != nil {
					return err
				}
				if err := checkDelete(t.Attrs, "tag "+t.Name+" in repository "+rt.repo); err != nil {
					return err
				}
				del.Tags = append(del.Tags, t.Name)
			}
			for m, err := range tx.ManifestSummaries(rt.repo, "") {
				if err != nil {
					return err
				}
				if err := checkDelete(m.Attrs, "manifest "+m.Digest.String()+" in repository "+rt.repo); err != nil {
					return err
				}
				del.Manifests = append(del.Manifests, m.Digest.String())
			}
			if err := s.softDelete().repo(tx, rt.repo, s.now().UTC()); err != nil {
				return err
			}
			return tx.DeleteRepo(rt.repo)
		})
		if err != nil {
			return err
		}
		status = http.StatusAccepted
		out = deletedBody(del)
	default:
		return methodNotAllowed(r)
	}
	return writeJSON(w, r, status, out)
}

func deletedBody(del deleted) any {
	if del.Manifests == nil {
		del.Manifests = []string{}
	}
	if del.Tags == nil {
		del.Tags = []string{}
	}
	return struct {
		ManifestsDeleted []string `json:"manifestsDeleted"`
		TagsDeleted      []string `json:"tagsDeleted"`
	}{del.Manifests, del.Tags}
}

// handleACRTags serves GET /acr/v1/{name}/_tags: tag properties with paging,
// ordering and the digest filter, without tags whose listEnabled is false.
func (s *Server) handleACRTags(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	q := r.URL.Query()
	p, err := parsePage(q, defaultACRPageSize, maxACRPageSize)
	if err != nil {
		return err
	}
	var filter digest.Digest
	if ds := q.Get("digest"); ds != "" {
		if filter, err = spec.ParseDigest(ds); err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
		}
	}
	buf := tagPages.Get().(*tagPage)
	defer buf.put()
	var pg []tagItem
	more := false
	if p.orderby == "" {
		// In name order a page is read straight from the store from the
		// cursor on.
		pg, more, err = s.tagsFrom(r.Context(), buf.items[:0], rt.repo, filter, p.last, p.n)
		buf.items = pg
	} else {
		// Time order needs every tag sorted; the sorted list is kept for the
		// following pages until the store changes.
		var items []tagItem
		items, err = cached(&s.lists, "tags\x00"+rt.repo+"\x00"+p.orderby+"\x00"+filter.String(), func() ([]tagItem, error) {
			items, _, err := s.tagsFrom(r.Context(), nil, rt.repo, filter, "", -1)
			sortItems(items, p.orderby)
			return items, err
		})
		if err == nil {
			pg, more, err = pageOf(items, p)
		}
	}
	if err != nil {
		return err
	}
	if more && len(pg) > 0 {
		var extra url.Values
		if filter != "" {
			extra = url.Values{"digest": {filter.String()}}
		}
		setNextLink(w, "/acr/v1/"+url.PathEscape(rt.repo)+"/_tags", p, pg[len(pg)-1].Name, extra)
	}
	buf.body = appendTagPage(buf.body[:0], r.Host, rt.repo, pg)
	writeJSONBytes(w, r, http.StatusOK, buf.body)
	return nil
}

// tagPage is the memory a tag page is built in, kept for the next page in
// tagPages: a 1,000-tag page is 120 KB of items and 300 KB of JSON, which a
// listing would otherwise allocate afresh for each of its pages.
type tagPage struct {
	items []tagItem
	body  []byte
}

var tagPages = sync.Pool{New: func() any { return new(tagPage) }}

// put returns p to tagPages, unless it grew past what pages of
// maxACRPageSize need (a page of long names, kept for no one).
func (p *tagPage) put() {
	if cap(p.items) > maxACRPageSize || cap(p.body) > 4<<20 {
		return
	}
	clear(p.items) // no references into the store while pooled
	p.items = p.items[:0]
	tagPages.Put(p)
}

// tagsFrom appends to items up to n (-1: all) listable tags of repo in name
// order after the tag named after, those pointing at filter only when it is
// set. more says whether more tags follow.
func (s *Server) tagsFrom(ctx context.Context, items []tagItem, repo string, filter digest.Digest, after string, n int) (_ []tagItem, more bool, err error) {
	if n > 0 && items == nil {
		items = make([]tagItem, 0, min(n, maxACRPageSize))
	}
	err = s.store.View(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, repo); err != nil {
			return err
		}
		for t, err := range tx.Tags(repo, after) {
			if err != nil {
				return err
			}
			if !t.Attrs.ListEnabled || (filter != "" && t.Digest != filter) {
				continue
			}
			if n >= 0 && len(items) == n {
				more = true
				break
			}
			items = append(items, tagItem{t})
		}
		return nil
	})
	return items, more, err
}

// handleACRTag serves /acr/v1/{name}/_tags/{tag}: properties, attribute
// updates and deletion.
func (s *Server) handleACRTag(w http.ResponseWriter, r *http.Request, rt route) error {
	if err := spec.ValidateTag(rt.ref); err != nil {
		return newError(http.StatusBadRequest, spec.ErrorCodeTagInvalid, "%v", err)
	}
	ctx := r.Context()
	switch r.Method {
	case http.MethodDelete:
		var d digest.Digest
		err := s.store.Update(ctx, func(tx store.Tx) error {
			repo, err := getRepo(tx, rt.repo)
			if err != nil {
				return err
			}
			d, err = deleteTag(tx, repo, rt.ref, s.now().UTC(), s.softDelete())
			return err
		})
		if err != nil {
			return err
		}
		// ACR names the digest the tag pointed to (G TestClient_DeleteTag).
		w.Header().Set("X-Ms-Int-Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	case http.MethodGet, http.MethodHead, http.MethodPatch:
	default:
		return methodNotAllowed(r)
	}
	var patch patchAttrs
	if r.Method == http.MethodPatch {
		var err error
		if patch, err = s.readPatch(r, rt.repo); err != nil {
			return err
		}
	}
	var t store.Tag
	fn := func(tx store.Tx) error {
		if _, err := getRepo(tx, rt.repo); err != nil {
			return err
		}
		var ok bool
		var err error
		if t, ok, err = tx.Tag(rt.repo, rt.ref); err != nil {
			return err
		}
		if !ok {
			return tagUnknown()
		}
		if r.Method == http.MethodPatch {
			patch.apply(&t.Attrs)
			return tx.PutTag(rt.repo, t)
		}
		return nil
	}
	var err error
	if r.Method == http.MethodPatch {
		err = s.store.Update(ctx, fn)
	} else {
		err = s.store.View(ctx, fn)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Registry  string  `json:"registry"`
		ImageName string  `json:"imageName"`
		Tag       wireTag `json:"tag"`
	}{r.Host, rt.repo, wireTagOf(t)})
}

// handleACRManifests serves GET /acr/v1/{name}/_manifests: manifest
// properties with paging and ordering, without manifests whose listEnabled
// is false.
func (s *Server) handleACRManifests(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	p, err := parsePage(r.URL.Query(), defaultACRPageSize, maxACRPageSize)
	if err != nil {
		return err
	}
	// Manifests are listed in digest or time order, and each carries its
	// tags, so every page needs all of them: the sorted list is kept for
	// the following pages until the store changes.
	all, err := cached(&s.lists, "manifests\x00"+rt.repo+"\x00"+p.orderby, func() (manifestList, error) {
		return s.listManifests(r.Context(), rt.repo, p.orderby)
	})
	if err != nil {
		return err
	}
	pg, more, err := pageOf(all.items, p)
	if err != nil {
		return err
	}
	list := make([]wireManifest, 0, len(pg))
	for _, m := range pg {
		list = append(list, wireManifestOf(m.Manifest, all.tags[m.Digest]))
	}
	if more && len(pg) > 0 {
		setNextLink(w, "/acr/v1/"+url.PathEscape(rt.repo)+"/_manifests", p, pg[len(pg)-1].Digest.String(), nil)
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Registry  string         `json:"registry"`
		ImageName string         `json:"imageName"`
		Manifests []wireManifest `json:"manifests"`
	}{r.Host, rt.repo, list})
}

// manifestList is a repository's listable manifests, sorted, with the tags
// of each.
type manifestList struct {
	items []manifestItem
	tags  map[digest.Digest][]string
}

// listManifests reads the listable manifests of repo and their tags, and
// sorts them in orderby's order.
func (s *Server) listManifests(ctx context.Context, repo, orderby string) (manifestList, error) {
	l := manifestList{tags: map[digest.Digest][]string{}}
	err := s.store.View(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, repo); err != nil {
			return err
		}
		// Summaries: a page shows no annotations, which may be
		// megabytes per manifest and are not even read.
		for m, err := range tx.ManifestSummaries(repo, "") {
			if err != nil {
				return err
			}
			if m.Attrs.ListEnabled {
				l.items = append(l.items, manifestItem{m})
			}
		}
		for t, err := range tx.Tags(repo, "") {
			if err != nil {
				return err
			}
			l.tags[t.Digest] = append(l.tags[t.Digest], t.Name)
		}
		return nil
	})
	sortItems(l.items, orderby)
	return l, err
}

// handleACRManifest serves /acr/v1/{name}/_manifests/{reference}, where the
// reference is a digest or a tag: properties, attribute updates and
// deletion with tags and referrers.
func (s *Server) handleACRManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	switch r.Method {
	case http.MethodDelete:
		var del deleted
		err := s.store.Update(ctx, func(tx store.Tx) error {
			now := s.now().UTC()
			repo, err := getRepo(tx, rt.repo)
			if err != nil {
				return err
			}
			res, err := resolveRef(tx, rt.repo, rt.ref)
			if err != nil {
				return err
			}
			if del, err = deleteManifestTx(tx, repo, res.manifest.Digest, now, s.softDelete()); err != nil {
				return err
			}
			return touchRepo(tx, repo, now)
		})
		if err != nil {
			return err
		}
		return writeJSON(w, r, http.StatusAccepted, deletedBody(del))
	case http.MethodGet, http.MethodHead, http.MethodPatch:
	default:
		return methodNotAllowed(r)
	}
	var patch patchAttrs
	if r.Method == http.MethodPatch {
		var err error
		if patch, err = s.readPatch(r, rt.repo); err != nil {
			return err
		}
	}
	var m store.Manifest
	var tags []string
	fn := func(tx store.Tx) error {
		if _, err := getRepo(tx, rt.repo); err != nil {
			return err
		}
		res, err := resolveRef(tx, rt.repo, rt.ref)
		if err != nil {
			return err
		}
		m = res.manifest
		ts, err := tagsOf(tx, rt.repo, m.Digest)
		if err != nil {
			return err
		}
		for _, t := range ts {
			tags = append(tags, t.Name)
		}
		slices.Sort(tags)
		if r.Method == http.MethodPatch {
			patch.apply(&m.Attrs)
			return tx.PutManifest(rt.repo, m)
		}
		return nil
	}
	var err error
	if r.Method == http.MethodPatch {
		err = s.store.Update(ctx, fn)
	} else {
		err = s.store.View(ctx, fn)
	}
	if err != nil {
		return err
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Registry  string       `json:"registry"`
		ImageName string       `json:"imageName"`
		Manifest  wireManifest `json:"manifest"`
	}{r.Host, rt.repo, wireManifestOf(m, tags)})
}
