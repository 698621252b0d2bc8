package acr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file writes the referrers tag schema (distribution spec v1.1,
// "Pushing Manifests with Subject", "Deleting Manifests" and "Referrers Tag
// Schema"): on a registry without the referrers API, the referrers of a
// subject are listed in an image index tagged sha256-HEX of the subject,
// and clients that push or delete a referrer keep that index up to date.
//
// The tag is updated by read-modify-write, which the spec admits races:
// two clients that read the same index and write it back each write their
// own entry only, and the later write drops the earlier one. The registry
// offers no portable compare-and-swap (ETag conditions on manifest PUT are
// optional and the reference registry ignores them), so:
//
//   - within one Client, updates of one tag are serialised by a lock;
//   - across clients, each writer reads the tag again after writing and,
//     if its change is missing (another writer's index replaced its own),
//     applies it again on top, up to referrersTagAttempts times.
//
// What remains is a narrow window: a writer that checked its change and
// returned before a slower writer, which had read the old index, wrote
// over it. Its entry is then lost until it is pushed again. Registries with
// the referrers API have no such race; the spec points users there.
//
// Each write tags a new index manifest and leaves the one it replaced in
// the repository, untagged. Those are deleted, by digest, once the update
// is in place, as the oras-go library deletes them by default (the oras
// CLI turns that off with SkipReferrersGC since v1.1, so its updates leave
// them behind). An index emptied by the deletion of its last referrer is
// deleted rather than rewritten, which removes the tag: a missing tag is
// the schema's empty list (oras-go does the same, and writes the empty
// index where SkipReferrersGC is set).
//
// Deleting a manifest by digest removes every tag that points at it, so a
// replaced index is deleted only when the referrers tag, just read, names
// another one: the read after the write vouches for the first deletion, a
// HEAD of the tag for each further one. (oras-go deletes the index it read
// without looking again.) An empty index is never deleted as replaced: the
// one empty index of a repository may be the tag of other subjects too,
// left by clients that keep empty indexes. What remains is the window
// between that read and the DELETE: another client that tags the same
// index again in it (byte for byte the same list, so only when a
// concurrent update happens to recreate it) loses its tag, and the
// referrers it lists drop out of the tag schema until one is pushed again;
// that client's own read after writing repairs it when it comes after our
// DELETE. An index tagged by hand under a second name loses that tag too.
//
// A registry that refuses to delete manifests (400 or 405, as the spec
// lets it, or credentials without the delete permission) keeps the
// replaced indexes: the push or deletion does not fail for it, an emptied
// index is written instead, as the spec's steps say, and the Client stops
// trying in that repository. So does any other failed deletion, without
// the Client remembering it.

// referrersTagAttempts bounds the read-modify-write rounds of one update.
const referrersTagAttempts = 5

// ReferrersTagError reports a manifest with a subject that the registry
// stored (or deleted), on a registry without the referrers API, whose entry
// in the subject's referrers tag index could not be added (or removed).
// The manifest operation itself succeeded: SetManifest returns the pushed
// digest, and DeleteManifest what it deleted, along with this error. Until
// the index is fixed, by pushing the manifest again (or, for a deletion,
// with PruneReferrersIndex), clients that list referrers through the tag
// schema do not see the referrer (or still list a deleted one).
type ReferrersTagError struct {
	// Repository holds the referrer and the tag.
	Repository string
	// Referrer is the manifest pushed or deleted.
	Referrer digest.Digest
	// Subject is the manifest it refers to.
	Subject digest.Digest
	// Tag is the referrers tag of Subject, such as sha256-HEX.
	Tag string
	// Deleted is true when the referrer was deleted, false when pushed.
	Deleted bool
	// Err is the cause.
	Err error
}

// Error returns a one-line description that says the manifest operation
// succeeded and the index update did not.
func (e *ReferrersTagError) Error() string {
	if e.Deleted {
		return fmt.Sprintf("acr: deleted referrer %s from %s, but could not remove it from the referrers index %s:%s of %s, "+
			"so tools that read the tag schema still list it: %v", e.Referrer, e.Repository, e.Repository, e.Tag, e.Subject, e.Err)
	}
	return fmt.Sprintf("acr: pushed referrer %s to %s, but could not add it to the referrers index %s:%s of %s, "+
		"so tools that read the tag schema will not find it (push it again to retry): %v",
		e.Referrer, e.Repository, e.Repository, e.Tag, e.Subject, e.Err)
}

// Unwrap returns the cause.
func (e *ReferrersTagError) Unwrap() error { return e.Err }

// referrersAPI values: whether the registry serves the referrers API.
const (
	referrersAPIUnknown int32 = iota
	referrersAPIYes
	referrersAPINo
)

// referrersTagState is a Client's knowledge of the registry's referrers
// API and the locks that serialise its own updates of each referrers tag.
type referrersTagState struct {
	api atomic.Int32 // a referrersAPI value

	mu    sync.Mutex
	locks map[string]*refLock // by repository and tag
	// noDelete holds the repositories where the registry refused to
	// delete a replaced index: their old indexes stay.
	noDelete map[string]bool
}

// deletesRefused reports whether the registry refused to delete a
// manifest in repo before.
func (s *referrersTagState) deletesRefused(repo string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.noDelete[repo]
}

// noteDeleteFailure records that the registry refused to delete a manifest
// in repo, when err says so (and not, say, that it is unavailable).
func (s *referrersTagState) noteDeleteFailure(repo string, err error) {
	var re *ResponseError
	if !errors.As(err, &re) {
		return
	}
	switch re.StatusCode {
	case http.StatusMethodNotAllowed, http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden:
	default:
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.noDelete == nil {
		s.noDelete = map[string]bool{}
	}
	s.noDelete[repo] = true
}

type refLock struct {
	mu   sync.Mutex
	refs int
}

// lock takes the lock of key and returns its release.
func (s *referrersTagState) lock(key string) func() {
	s.mu.Lock()
	if s.locks == nil {
		s.locks = map[string]*refLock{}
	}
	l := s.locks[key]
	if l == nil {
		l = &refLock{}
		s.locks[key] = l
	}
	l.refs++
	s.mu.Unlock()
	l.mu.Lock()
	return func() {
		l.mu.Unlock()
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, key)
		}
		s.mu.Unlock()
	}
}

// hasReferrersAPI reports whether the registry serves the referrers API,
// asking it once per Client with a GET of the referrers of d in repo.
// repoExists says the caller knows that repo exists (it has just pushed or
// fetched a manifest there); see referrersAPIMissing for what that
// changes.
func (c *Client) hasReferrersAPI(ctx context.Context, repo string, d digest.Digest, repoExists bool) (bool, error) {
	switch c.referrers.api.Load() {
	case referrersAPIYes:
		return true, nil
	case referrersAPINo:
		return false, nil
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "referrers", d.String()), scope: scopeRepo(repo, "pull"),
		header: http.Header{"Accept": {ocispec.MediaTypeImageIndex}}, ok: []int{http.StatusOK}})
	var re *ResponseError
	switch {
	case err == nil:
		resp.Body.Close()
		c.referrers.api.Store(referrersAPIYes)
		return true, nil
	case errors.As(err, &re) && re.StatusCode == http.StatusNotFound:
		if c.referrersAPIMissing(re, repoExists) {
			c.referrers.api.CompareAndSwap(referrersAPIUnknown, referrersAPINo)
		}
		return false, nil
	}
	return false, err
}

// referrersAPIMissing reports whether a 404 answer to the referrers API
// settles that the registry lacks the API. The spec (v1.1, "Listing
// Referrers") requires a registry with the API to answer 200 for any
// digest, known or not, in a repository that exists, and never 404; so a
// 404 means either no API or no such repository, which the spec's error
// code NAME_UNKNOWN names. A 404 without that code (bare, as distribution
// answers routes it lacks, or with another code) settles it, as it does
// for oras-go; a NAME_UNKNOWN does only when repoExists, and otherwise
// leaves the question open for the next call. Nothing settles it on an
// ACR login server (by host name), which serves the API: there a 404 is
// taken for an answer about the repository or the digest, so that
// deletions on ACR never go looking for an index. (A registry that only
// answers /acr/v1, such as an emulator with the referrers API hidden, is
// taken at its word.)
func (c *Client) referrersAPIMissing(re *ResponseError, repoExists bool) bool {
	return re.StatusCode == http.StatusNotFound && (repoExists || !re.HasCode("NAME_UNKNOWN")) && !isACRLoginServer(c.host)
}

// subjectOf is the part of a manifest the referrers index needs.
type subjectOf struct {
	ArtifactType string `json:"artifactType"`
	Config       *struct {
		MediaType string `json:"mediaType"`
	} `json:"config"`
	Subject     *ocispec.Descriptor `json:"subject"`
	Annotations map[string]string   `json:"annotations"`
}

// indexPushedReferrer runs after SetManifest stored manifest as d: when
// the manifest has a subject and the registry did not say, with
// OCI-Subject, that it processed it, the referrer is added to the
// subject's referrers tag index (unless the registry turns out to serve the
// referrers API anyway). Failures are *ReferrersTagError.
func (c *Client) indexPushedReferrer(ctx context.Context, repo string, manifest []byte, mediaType string, d digest.Digest, h http.Header) error {
	var m subjectOf
	if json.Unmarshal(manifest, &m) != nil || m.Subject == nil {
		return nil
	}
	if h.Get(spec.HeaderSubject) != "" {
		c.referrers.api.Store(referrersAPIYes)
		return nil
	}
	fail := func(err error) error {
		return &ReferrersTagError{Repository: repo, Referrer: d, Subject: m.Subject.Digest, Tag: spec.ReferrersTag(m.Subject.Digest.String()), Err: err}
	}
	if err := m.Subject.Digest.Validate(); err != nil {
		return fail(fmt.Errorf("the manifest's subject digest %q is invalid: %w", m.Subject.Digest, err))
	}
	// The manifest was just stored, so repo exists.
	if ok, err := c.hasReferrersAPI(ctx, repo, m.Subject.Digest, true); err != nil || ok {
		if err != nil {
			return fail(fmt.Errorf("asking whether the registry serves the referrers API: %w", err))
		}
		return nil
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(manifest)), ArtifactType: m.ArtifactType, Annotations: m.Annotations}
	if desc.ArtifactType == "" && m.Config != nil {
		// The spec's rule for image manifests without artifactType.
		desc.ArtifactType = m.Config.MediaType
	}
	err := c.updateReferrersTag(ctx, repo, m.Subject.Digest, func(list []ocispec.Descriptor) ([]ocispec.Descriptor, bool) {
		if slices.ContainsFunc(list, func(x ocispec.Descriptor) bool { return x.Digest == d }) {
			return list, false
		}
		return append(list, desc), true
	})
	if err != nil {
		return fail(err)
	}
	return nil
}

// noteReferrersAPIMissing records what a Referrers listing learned from a
// 404 of the referrers API (see referrersAPIMissing: a NAME_UNKNOWN, for a
// repository that may not exist, proves nothing).
func (c *Client) noteReferrersAPIMissing(err error) {
	var re *ResponseError
	if errors.As(err, &re) && c.referrersAPIMissing(re, false) {
		c.referrers.api.CompareAndSwap(referrersAPIUnknown, referrersAPINo)
	}
}

// noteReferrersAPIServed records what a Referrers listing learned from a
// page of the referrers API: the registry serves it, so deletions need not
// look for a referrers tag index to update.
func (c *Client) noteReferrersAPIServed() {
	c.referrers.api.CompareAndSwap(referrersAPIUnknown, referrersAPIYes)
}

// deletion is what DeleteManifest learns before it deletes a manifest.
type deletion struct {
	digest digest.Digest
	// subject is set when the deletion must also remove the manifest from
	// the referrers tag index of this subject: the registry lacks the
	// referrers API, or asking it whether it has the API failed.
	subject digest.Digest
}

// prepareDeletion resolves tagOrDigest and learns whether deleting the
// manifest must also remove it from a referrers tag index (distribution
// spec v1.1, "Deleting Manifests"): only on a registry without the
// referrers API, and only for a manifest with a subject, which takes a
// fetch of the manifest to know.
//
// No request is added where the registry is known to serve the API: from
// an earlier push, listing or deletion, or because it is ACR (by its host
// name or from an /acr/v1 answer), which does. Elsewhere, while that is
// unknown, the first deletion asks once, with a GET of the referrers of the
// digest to delete, before it fetches anything, so that a run of deletions
// on a registry with the API costs one request in all, not a fetch each.
// A tag is resolved by the fetch itself, with a GET instead of the HEAD
// that resolving it takes otherwise. (oras-go keeps the index the same
// way, but fetches first and asks only for a manifest with a subject: a
// fetch per deletion on registries with the API too.)
//
// The deletion itself must not fail for want of this: when the manifest
// cannot be fetched, it is deleted without the index update.
func (c *Client) prepareDeletion(ctx context.Context, repo, tagOrDigest string) (deletion, error) {
	api := c.referrers.api.Load()
	if api == referrersAPIYes || (api == referrersAPIUnknown && c.knownACRAPI() == acrAPIYes) {
		d, err := c.ResolveDigest(ctx, repo, tagOrDigest)
		return deletion{digest: d}, err
	}
	if api == referrersAPIUnknown && spec.IsDigest(tagOrDigest) {
		d, err := c.ResolveDigest(ctx, repo, tagOrDigest) // validates; no request
		if err != nil {
			return deletion{}, err
		}
		// An error leaves it open: the fetch below tells whether it
		// matters, and the question is asked again for a referrer.
		if has, err := c.hasReferrersAPI(ctx, repo, d, false); err == nil && has {
			return deletion{digest: d}, nil
		}
	}
	m, err := c.GetManifest(ctx, repo, tagOrDigest, nil)
	if err != nil {
		if isNotFound(err) && !spec.IsDigest(tagOrDigest) {
			return deletion{}, err // no such tag: resolving it fails the same way
		}
		d, err := c.ResolveDigest(ctx, repo, tagOrDigest)
		return deletion{digest: d}, err
	}
	del := deletion{digest: m.Digest}
	var s subjectOf
	if json.Unmarshal(m.Bytes, &s) != nil || s.Subject == nil || s.Subject.Digest.Validate() != nil {
		return del, nil
	}
	// The fetch found the manifest, so repo exists.
	if has, err := c.hasReferrersAPI(ctx, repo, s.Subject.Digest, true); err != nil || !has {
		del.subject = s.Subject.Digest
	}
	return del, nil
}

// unindexDeletedReferrer removes the deleted manifest d from the referrers
// tag index of subject, and reports whether the index listed it. Failures
// are *ReferrersTagError.
func (c *Client) unindexDeletedReferrer(ctx context.Context, repo string, d digest.Digest, subject digest.Digest) (bool, error) {
	removed := false
	err := c.updateReferrersTag(ctx, repo, subject, func(list []ocispec.Descriptor) ([]ocispec.Descriptor, bool) {
		out := slices.DeleteFunc(slices.Clone(list), func(x ocispec.Descriptor) bool { return x.Digest == d })
		changed := len(out) != len(list)
		removed = removed || changed
		return out, changed
	})
	if err != nil {
		return false, unindexError(repo, d, subject, err)
	}
	return removed, nil
}

// unindexError is the *ReferrersTagError of a deleted referrer left in
// the index of subject.
func unindexError(repo string, d, subject digest.Digest, err error) error {
	return &ReferrersTagError{Repository: repo, Referrer: d, Subject: subject, Tag: spec.ReferrersTag(subject.String()), Deleted: true, Err: err}
}

// errReferrersTagContended is the cause when other writers kept replacing
// the index.
var errReferrersTagContended = errors.New("other clients kept replacing the index")

// updateReferrersTag applies edit to the referrers index of subject until a
// read after the write shows the edit in place. edit returns the new list
// and whether it changed anything; an unchanged list means the index
// already says what the caller wants. An edit that empties the list
// deletes the index, and with it the tag, where the registry allows; the
// indexes the update replaced are deleted at the end (see the top of this
// file).
func (c *Client) updateReferrersTag(ctx context.Context, repo string, subject digest.Digest,
	edit func([]ocispec.Descriptor) ([]ocispec.Descriptor, bool)) error {
	tag := spec.ReferrersTag(subject.String())
	defer c.referrers.lock(repo + ":" + tag)()
	idx, at, err := c.readReferrersIndex(ctx, repo, tag)
	// replaced lists the non-empty indexes this update took off the tag,
	// or wrote and saw replaced: untagged now, unless tagged again since.
	var replaced []digest.Digest
	for attempt := 1; ; attempt++ {
		if err != nil {
			return err
		}
		list, changed := edit(idx.Manifests)
		if !changed {
			break
		}
		if attempt > referrersTagAttempts {
			return fmt.Errorf("%w: %d attempts", errReferrersTagContended, referrersTagAttempts)
		}
		if attempt > 1 {
			// Step out of the way of the other writer, by a random
			// amount so that two retrying writers part.
			t := time.NewTimer(time.Duration(attempt) * (10*time.Millisecond + rand.N(20*time.Millisecond)))
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		if len(list) == 0 && at != "" && !c.referrers.deletesRefused(repo) {
			// The last referrer went. Deleting the index the tag was
			// just read to name removes the tag; if another writer
			// re-tagged since, the tag names its index, which this
			// leaves alone, and the read below finds it.
			derr := c.deleteIndexManifest(ctx, repo, at)
			if derr == nil {
				idx, at, err = c.readReferrersIndex(ctx, repo, tag)
				continue
			}
			// Refused, or failed: write the emptied index instead,
			// which removes the entry all the same.
			c.referrers.noteDeleteFailure(repo, derr)
		}
		old := at
		wasEmpty := len(idx.Manifests) == 0
		idx.Manifests = list
		var wrote digest.Digest
		if wrote, err = c.writeReferrersIndex(ctx, repo, tag, idx); err != nil {
			return err
		}
		if old != "" && !wasEmpty && old != wrote {
			replaced = append(replaced, old)
		}
		// Read again: if another writer's index replaced ours, the edit
		// is missing and the next round applies it on top of theirs.
		idx, at, err = c.readReferrersIndex(ctx, repo, tag)
		if err == nil && at != wrote && len(list) > 0 {
			replaced = append(replaced, wrote)
		}
	}
	c.deleteReplacedIndexes(ctx, repo, tag, at, replaced)
	return nil
}

// deleteReplacedIndexes deletes the index manifests in replaced that the
// referrers tag does not name: current, read last, or what a HEAD of the
// tag says before each further deletion. It never fails the update: an
// index it cannot delete stays in the repository, untagged.
func (c *Client) deleteReplacedIndexes(ctx context.Context, repo, tag string, current digest.Digest, replaced []digest.Digest) {
	fresh := true // current was read just now
	for i, d := range replaced {
		if slices.Contains(replaced[:i], d) || c.referrers.deletesRefused(repo) {
			continue
		}
		if !fresh {
			now, err := c.ResolveDigest(ctx, repo, tag)
			switch {
			case isNotFound(err):
				now = ""
			case err != nil:
				return
			}
			current = now
		}
		if d == current {
			continue
		}
		fresh = false
		if err := c.deleteIndexManifest(ctx, repo, d); err != nil {
			c.referrers.noteDeleteFailure(repo, err)
		}
	}
}

// deleteIndexManifest deletes the referrers index manifest d, and with it
// every tag that names it. One already gone counts as deleted.
func (c *Client) deleteIndexManifest(ctx context.Context, repo string, d digest.Digest) error {
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: v2Path(repo, "manifests", d.String()), scope: scopeRepo(repo, "delete")})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("deleting the referrers index %s: %w", d, err)
	}
	resp.Body.Close()
	return nil
}

// readReferrersIndex returns the index at tag and its digest; an empty
// index and no digest when the tag does not exist.
func (c *Client) readReferrersIndex(ctx context.Context, repo, tag string) (ocispec.Index, digest.Digest, error) {
	m, err := c.GetManifest(ctx, repo, tag, nil)
	if isNotFound(err) {
		return ocispec.Index{}, "", nil
	}
	if err != nil {
		return ocispec.Index{}, "", fmt.Errorf("reading the referrers index: %w", err)
	}
	if m.MediaType != ocispec.MediaTypeImageIndex {
		return ocispec.Index{}, "", fmt.Errorf("the tag %s holds a %s, not the OCI image index of the referrers tag schema; "+
			"move or delete that tag", tag, m.MediaType)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(m.Bytes, &idx); err != nil {
		return ocispec.Index{}, "", fmt.Errorf("the referrers index at %s is not valid JSON: %w", tag, err)
	}
	return idx, m.Digest, nil
}

// writeReferrersIndex pushes idx under tag and returns its digest.
func (c *Client) writeReferrersIndex(ctx context.Context, repo, tag string, idx ocispec.Index) (digest.Digest, error) {
	idx.SchemaVersion = 2
	idx.MediaType = ocispec.MediaTypeImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{} // the spec's JSON has "manifests": [], not null
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return "", err
	}
	resp, err := c.do(ctx, request{method: http.MethodPut, path: v2Path(repo, "manifests", tag), body: b,
		header: http.Header{"Content-Type": {ocispec.MediaTypeImageIndex}}, scope: scopeRepo(repo, "pull,push")})
	if err != nil {
		return "", fmt.Errorf("writing the referrers index: %w", err)
	}
	resp.Body.Close()
	return digest.FromBytes(b), nil
}

// PruneReferrersIndex removes from the referrers tag index of subject in
// repo (the image index tagged sha256-HEX of subject, in which registries
// without the referrers API list its referrers; distribution spec v1.1,
// "Referrers Tag Schema") the entries of manifests that repo no longer
// holds, and returns their digests. It repairs what a deletion left behind:
// an index update that failed (a *ReferrersTagError from DeleteManifest),
// or a deletion by a client that does not keep the index. It sends a HEAD
// per entry, and writes the index only when an entry goes, deleting the
// index it replaces; when none is left, it deletes the index, and so the
// tag, instead (or, where the registry refuses to delete manifests, tags
// an empty index). Without an index (on a registry with the referrers API,
// or for a subject without referrers) there is nothing to prune.
func (c *Client) PruneReferrersIndex(ctx context.Context, repo string, subject digest.Digest) (_ []digest.Digest, err error) {
	ctx, endSpan := c.span(ctx, "Client.PruneReferrersIndex")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := subject.Validate(); err != nil {
		return nil, fmt.Errorf("%w: subject %q: %v", ErrInvalidReference, subject, err)
	}
	idx, _, err := c.readReferrersIndex(ctx, repo, spec.ReferrersTag(subject.String()))
	if err != nil {
		return nil, err
	}
	gone := map[digest.Digest]bool{}
	for _, e := range idx.Manifests {
		if gone[e.Digest] || e.Digest.Validate() != nil {
			continue
		}
		ok, err := c.ManifestExists(ctx, repo, e.Digest.String())
		if err != nil {
			return nil, fmt.Errorf("checking the referrer %s listed in the referrers index of %s: %w", e.Digest, subject, err)
		}
		if !ok {
			gone[e.Digest] = true
		}
	}
	if len(gone) == 0 {
		return nil, nil
	}
	var removed []digest.Digest
	err = c.updateReferrersTag(ctx, repo, subject, func(list []ocispec.Descriptor) ([]ocispec.Descriptor, bool) {
		out := slices.DeleteFunc(slices.Clone(list), func(x ocispec.Descriptor) bool {
			if gone[x.Digest] && !slices.Contains(removed, x.Digest) {
				removed = append(removed, x.Digest)
			}
			return gone[x.Digest]
		})
		return out, len(out) != len(list)
	})
	if err != nil {
		return nil, fmt.Errorf("updating the referrers index of %s: %w", subject, err)
	}
	return removed, nil
}
