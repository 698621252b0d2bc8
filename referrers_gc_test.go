package acr_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// This file checks that keeping the referrers tag schema leaves the
// repository clean: the index an update replaces is deleted, the emptied
// index goes with its tag, nothing is deleted that a tag still names, and
// the referrers API question is asked once.

// repoIndexes lists, through the registry's /acr/v1 listing (not the
// client's own bookkeeping), the image indexes in repo and their tags.
func repoIndexes(t *testing.T, c *acr.Client, repo string) map[digest.Digest][]string {
	t.Helper()
	out := map[digest.Digest][]string{}
	for m, err := range c.Manifests(t.Context(), repo, nil) {
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType == ocispec.MediaTypeImageIndex {
			out[m.Digest] = m.Tags
		}
	}
	return out
}

// pushReferrer pushes a signature-like referrer of subject with payload and
// returns its descriptor.
func pushReferrer(t *testing.T, c *acr.Client, repo string, subject ocispec.Descriptor, payload string) ocispec.Descriptor {
	t.Helper()
	desc, err := c.SetImage(t.Context(), repo, referrerManifest(t, c, repo, subject, "application/vnd.example.signature", "", payload, nil), nil)
	if err != nil {
		t.Fatalf("pushing the referrer %q: %v", payload, err)
	}
	return desc
}

// pushOtherImage pushes an image, untagged, whose layer holds payload, and
// returns its descriptor.
func pushOtherImage(t *testing.T, c *acr.Client, repo, payload string) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	cfg, err := c.UploadBlob(ctx, repo, strings.NewReader(`{"architecture":"arm64","os":"linux"}`), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := c.UploadBlob(ctx, repo, strings.NewReader(payload), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	desc, err := c.SetImage(ctx, repo, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// TestReferrersIndexLeavesNoOrphans pushes three referrers and deletes
// them, on the emulator without the referrers API: after each step the
// repository holds one image index, the one the referrers tag names,
// listing what is left; after the last deletion, none and no tag.
func TestReferrersIndexLeavesNoOrphans(t *testing.T) {
	u := withoutReferrersAPI(t, nil)
	c := newTestClient(t, u)
	subject := pushSubjectImage(t, c, "img")
	tag := referrersTagOf(subject.Digest)
	check := func(step string, want ...digest.Digest) {
		t.Helper()
		idxs := repoIndexes(t, c, "img")
		if len(want) == 0 {
			if len(idxs) != 0 {
				t.Fatalf("%s: the repository holds the indexes %v, want none", step, idxs)
			}
			if d := referrersIndexDigest(t, u, "img", subject.Digest, "", ""); d != "" {
				t.Fatalf("%s: the referrers tag names %s, want no tag", step, d)
			}
			return
		}
		at := referrersIndexDigest(t, u, "img", subject.Digest, "", "")
		if diff := cmp.Diff(map[digest.Digest][]string{at: {tag}}, idxs); diff != "" {
			t.Fatalf("%s: the repository's indexes (-want +got):\n%s", step, diff)
		}
		if got := indexDigests(t, u, subject.Digest); !slices.Equal(sortedDigests(got...), sortedDigests(want...)) {
			t.Fatalf("%s: the index lists %v, want %v", step, got, want)
		}
	}
	var refs []digest.Digest
	for _, p := range []string{"one", "two", "three"} {
		refs = append(refs, pushReferrer(t, c, "img", subject, p).Digest)
		check("after pushing "+p, refs...)
	}
	// A fresh client, as the next acrctl run would be.
	for i, d := range refs {
		del, err := newTestClient(t, u).DeleteManifest(t.Context(), "img", d.String())
		if err != nil {
			t.Fatal(err)
		}
		if del.UnindexedFrom != subject.Digest {
			t.Errorf("DeleteManifest of %s: got %+v, want UnindexedFrom %s", d, del, subject.Digest)
		}
		check("after deleting "+d.String(), refs[i+1:]...)
	}
	// Pushing again after that starts a new index.
	again := pushReferrer(t, c, "img", subject, "four")
	check("after pushing again", again.Digest)
}

// TestReferrersIndexDeleteRefused: a credential that may push but not
// delete (an emulator scope map without content/delete, as an ACR token
// may be) keeps the referrers index up to date all the same. The replaced
// index stays, once the registry has refused to delete it, and the client
// stops asking; an emptied index is written, as before, instead of
// deleted. Neither fails the push or the prune.
func TestReferrersIndexDeleteRefused(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{
		Users:     map[string]string{"admin": "admin-pass", "pusher": "pusher-pass"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"pusher": {{Repository: "img", Actions: []string{"content/read", "content/write", "metadata/read"}}}},
	})
	h := httptest.NewServer(acrtest.WithoutReferrersAPI(srv.Registry))
	t.Cleanup(h.Close)
	hs := h.URL
	log := &requestLog{rt: http.DefaultTransport}
	pusher := func() *acr.Client {
		c, err := acr.NewClient(hs, acr.BasicCredential("pusher", "pusher-pass"), &acr.ClientOptions{HTTPClient: &http.Client{Transport: log}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	admin, err := acr.NewClient(hs, acr.BasicCredential("admin", "admin-pass"), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := pusher()
	subject := pushSubjectImage(t, c, "img")
	tagPath := "/v2/img/manifests/" + referrersTagOf(subject.Digest)
	one := pushReferrer(t, c, "img", subject, "one")
	first := referrersIndexDigest(t, hs, "img", subject.Digest, "admin", "admin-pass")

	_ = log.take()
	two := pushReferrer(t, c, "img", subject, "two")
	if got, want := manifestRequests(log.take()), []string{
		"PUT /v2/img/manifests/" + two.Digest.String(),
		"GET " + tagPath, "PUT " + tagPath, "GET " + tagPath,
		"DELETE /v2/img/manifests/" + first.String(), // refused
	}; !slices.Equal(got, want) {
		t.Errorf("requests of the second push (-want +got):\n%s", cmp.Diff(want, got))
	}
	if status, _ := rawManifestStatus(t, hs, "img", first.String(), "admin", "admin-pass"); status != http.StatusOK {
		t.Errorf("HEAD of the replaced index %s, whose deletion was refused: status %d, want 200 (it stays)", first, status)
	}
	three := pushReferrer(t, c, "img", subject, "three")
	if got, want := manifestRequests(log.take()), []string{
		"PUT /v2/img/manifests/" + three.Digest.String(),
		"GET " + tagPath, "PUT " + tagPath, "GET " + tagPath, // no DELETE: refused before
	}; !slices.Equal(got, want) {
		t.Errorf("requests of the third push (-want +got):\n%s", cmp.Diff(want, got))
	}
	if got, want := indexDigests2(t, hs, subject.Digest, "admin", "admin-pass"), sortedDigests(one.Digest, two.Digest, three.Digest); !slices.Equal(got, want) {
		t.Fatalf("the index lists %v, want %v", got, want)
	}
	if n := len(repoIndexes(t, admin, "img")); n != 3 {
		t.Errorf("the repository holds %d indexes, want 3: the tagged one and the two the registry did not let go", n)
	}

	// The referrers deleted by a client that keeps no index (raw
	// DELETEs with the admin's rights), then pruned by a fresh pusher:
	// the emptied index cannot be deleted, so it is written.
	for _, d := range []digest.Digest{one.Digest, two.Digest, three.Digest} {
		rawDelete(t, hs, "img", d, "admin", "admin-pass")
	}
	_ = log.take()
	gone, err := pusher().PruneReferrersIndex(t.Context(), "img", subject.Digest)
	if err != nil {
		t.Fatalf("PruneReferrersIndex: %v", err)
	}
	if want := sortedDigests(one.Digest, two.Digest, three.Digest); !slices.Equal(sortedDigests(gone...), want) {
		t.Errorf("PruneReferrersIndex: got %v, want %v", gone, want)
	}
	idx, status := rawReferrersIndex(t, hs, "img", subject.Digest, "admin", "admin-pass")
	if status != http.StatusOK || len(idx.Manifests) != 0 {
		t.Fatalf("after pruning every entry with deletion refused: status %d, %v; want the tag to name an empty index", status, idx.Manifests)
	}
	var deletes int
	for _, r := range manifestRequests(log.take()) {
		if strings.HasPrefix(r, "DELETE ") {
			deletes++
		}
	}
	if deletes != 1 {
		t.Errorf("the prune sent %d DELETEs, want 1 (the emptied index, refused)", deletes)
	}
}

// manifestRequests keeps the manifest, tag and referrers requests of a
// request log, leaving out blob uploads, and counts a request repeated
// at once (after an authentication challenge) once.
func manifestRequests(reqs []string) []string {
	var out []string
	for _, r := range reqs {
		if strings.Contains(r, "/manifests/") || strings.Contains(r, "/referrers/") {
			out = append(out, r)
		}
	}
	return slices.Compact(out)
}

// indexDigests2 is indexDigests with credentials, sorted.
func indexDigests2(t *testing.T, base string, subject digest.Digest, user, pass string) []digest.Digest {
	t.Helper()
	idx, status := rawReferrersIndex(t, base, "img", subject, user, pass)
	if status != http.StatusOK {
		t.Fatalf("GET of the referrers tag of %s: status %d, want 200", subject, status)
	}
	var ds []digest.Digest
	for _, d := range idx.Manifests {
		ds = append(ds, d.Digest)
	}
	return sortedDigests(ds...)
}

// rawDelete deletes the manifest d with a plain HTTP DELETE, as a client
// that keeps no referrers index would.
func rawDelete(t *testing.T, base, repo string, d digest.Digest, user, pass string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, base+"/v2/"+repo+"/manifests/"+d.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("raw DELETE of %s: status %d, want 202", d, resp.StatusCode)
	}
}

// rawPutIndex tags body, an image index, as ref with a plain HTTP PUT and
// returns its digest.
func rawPutIndex(t *testing.T, base, repo, ref string, body []byte) digest.Digest {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPut, base+"/v2/"+repo+"/manifests/"+ref, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("raw PUT of %s: status %d, want 201", ref, resp.StatusCode)
	}
	return digest.FromBytes(body)
}

// TestReferrersIndexEmptyKept: an empty index (as clients that keep one
// for a subject without referrers leave) may be the referrers tag of
// several subjects at once, so replacing it under one subject's tag must
// not delete it: the other subject's tag would go with it.
func TestReferrersIndexEmptyKept(t *testing.T) {
	u := withoutReferrersAPI(t, nil)
	c := newTestClient(t, u)
	a := pushSubjectImage(t, c, "img")
	b := pushOtherImage(t, c, "img", "b")
	empty := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	e := rawPutIndex(t, u, "img", referrersTagOf(a.Digest), empty)
	rawPutIndex(t, u, "img", referrersTagOf(b.Digest), empty)
	r := pushReferrer(t, c, "img", a, "sig")
	if got := indexDigests(t, u, a.Digest); !slices.Equal(got, []digest.Digest{r.Digest}) {
		t.Fatalf("the index of a lists %v, want %s", got, r.Digest)
	}
	if d := referrersIndexDigest(t, u, "img", b.Digest, "", ""); d != e {
		t.Fatalf("the referrers tag of b names %q after a's index replaced the empty one, want the empty index %s (kept)", d, e)
	}
}

// TestReferrersIndexRetaggedNotDeleted plays another client that tags an
// index again while the client under test is deleting the indexes its
// update replaced: the tag is read before each deletion, and the index it
// names then is left alone. The update goes thus: the tag names X (one
// referrer); the client writes Y (X and its own), which another writer's
// Z (X and theirs) replaces at once; the client writes W (Z and its own),
// and then deletes X, Y and Z, which it took off the tag or saw taken off.
// As X is deleted, the other client tags Y again: Y must stay, and the tag
// with it; Z still goes.
func TestReferrersIndexRetaggedNotDeleted(t *testing.T) {
	var (
		mu              sync.Mutex
		tagPath         string // set when the race is on
		xd              digest.Digest
		y, z            []byte
		raced, retagged bool
	)
	// store puts body at the tag straight into the registry, as another
	// client would.
	store := func(next http.Handler, body []byte) {
		req := httptest.NewRequest(http.MethodPut, tagPath, bytes.NewReader(body))
		req.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, req)
		if rec.Code != http.StatusCreated {
			t.Errorf("the other client's PUT of %s: status %d, want 201", tagPath, rec.Code)
		}
	}
	u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case tagPath != "" && !raced && r.Method == http.MethodPut && r.URL.Path == tagPath:
				raced = true
				y, _ = io.ReadAll(r.Body)
				r.Body = io.NopCloser(bytes.NewReader(y))
				next.ServeHTTP(w, r)
				store(next, z) // the other writer's index lands after Y
			case tagPath != "" && !retagged && r.Method == http.MethodDelete && strings.HasSuffix(r.URL.Path, "/"+xd.String()):
				retagged = true
				next.ServeHTTP(w, r)
				store(next, y) // and then it tags Y again
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
	c := newTestClient(t, u)
	subject := pushSubjectImage(t, c, "img")
	first := pushReferrer(t, c, "img", subject, "first")
	theirs := pushReferrer(t, c, "img", subject, "theirs")
	bodies := indexJSON(t, first, theirs)
	z = bodies[1]
	xd = rawPutIndex(t, u, "img", referrersTagOf(subject.Digest), bodies[0])
	for d := range repoIndexes(t, c, "img") {
		if d != xd {
			rawDelete(t, u, "img", d, "", "")
		}
	}
	mu.Lock()
	tagPath = "/v2/img/manifests/" + referrersTagOf(subject.Digest)
	mu.Unlock()

	mine := pushReferrer(t, c, "img", subject, "mine")
	mu.Lock()
	yd, zd, played := digest.FromBytes(y), digest.FromBytes(z), raced && retagged
	mu.Unlock()
	if !played {
		t.Fatalf("the race was not played (raced %v, retagged %v)", raced, retagged)
	}
	if at := referrersIndexDigest(t, u, "img", subject.Digest, "", ""); at != yd {
		t.Fatalf("the referrers tag names %q, want Y %s, which the other client tagged again", at, yd)
	}
	if got, want := indexDigests(t, u, subject.Digest), sortedDigests(first.Digest, mine.Digest); !slices.Equal(sortedDigests(got...), want) {
		t.Errorf("Y lists %v, want %v", got, want)
	}
	idxs := repoIndexes(t, c, "img")
	for name, d := range map[string]digest.Digest{"X": xd, "Z": zd} {
		if _, ok := idxs[d]; ok {
			t.Errorf("%s %s, replaced, is still in the repository", name, d)
		}
	}
	if _, ok := idxs[yd]; !ok {
		t.Errorf("Y %s, tagged again, was deleted", yd)
	}
}

// indexJSON returns the referrers index bodies [first] and [first, second],
// of signature-like referrers.
func indexJSON(t *testing.T, first, second ocispec.Descriptor) [2][]byte {
	t.Helper()
	entry := func(d ocispec.Descriptor) ocispec.Descriptor {
		return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, ArtifactType: "application/vnd.example.signature"}
	}
	var out [2][]byte
	for i, list := range [][]ocispec.Descriptor{{entry(first)}, {entry(first), entry(second)}} {
		idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: list}
		idx.SchemaVersion = 2
		b, err := json.Marshal(idx)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

// TestReferrersQuestionAskedOnce: a client asks the registry whether it
// serves the referrers API once, whatever 404 answers that it does not
// (distribution's bare 404, a 404 with an OCI error body, a NAME_UNKNOWN
// in a repository the client has just pushed to), and not at all where a
// push's OCI-Subject says that it does; then pushes and deletions of
// referrers send no referrers tag requests either.
func TestReferrersQuestionAskedOnce(t *testing.T) {
	notFound := func(body string) func(http.Handler) http.Handler {
		return func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/referrers/sha256:") && body != "" {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					io.WriteString(w, body)
					return
				}
				next.ServeHTTP(w, r)
			})
		}
	}
	for _, tc := range []struct {
		name   string
		url    func(t *testing.T) string
		asked  int
		tagged bool
	}{
		{name: "bare 404", asked: 1, tagged: true,
			url: func(t *testing.T) string { return withoutReferrersAPI(t, nil) }},
		{name: "404 NOT_FOUND", asked: 1, tagged: true,
			url: func(t *testing.T) string {
				return withoutReferrersAPI(t, notFound(`{"errors":[{"code":"NOT_FOUND","message":"page not found"}]}`))
			}},
		{name: "404 NAME_UNKNOWN", asked: 1, tagged: true,
			url: func(t *testing.T) string {
				return withoutReferrersAPI(t, notFound(`{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`))
			}},
		{name: "referrers API", asked: 0, tagged: false,
			url: func(t *testing.T) string { return acrtest.NewServer(t, nil).URL }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := tc.url(t)
			log := &requestLog{rt: http.DefaultTransport}
			c := log.client(t, u)
			subject := pushSubjectImage(t, c, "img")
			var refs []ocispec.Descriptor
			for _, p := range []string{"one", "two", "three"} {
				refs = append(refs, pushReferrer(t, c, "img", subject, p))
			}
			for _, r := range refs[:2] {
				if _, err := c.DeleteManifest(t.Context(), "img", r.Digest.String()); err != nil {
					t.Fatal(err)
				}
			}
			reqs := log.take()
			if !tc.tagged {
				want := []string{"PUT /v2/img/manifests/v1"}
				for _, r := range refs {
					want = append(want, "PUT /v2/img/manifests/"+r.Digest.String())
				}
				for _, r := range refs[:2] {
					want = append(want, "DELETE /v2/img/manifests/"+r.Digest.String())
				}
				if diff := cmp.Diff(want, manifestRequests(reqs)); diff != "" {
					t.Errorf("manifest requests on a registry with the referrers API (-want +got):\n%s", diff)
				}
			}
			asked, tagRequests, deletes := 0, 0, 0
			for _, r := range reqs {
				switch {
				case strings.Contains(r, "/referrers/"):
					asked++
				case strings.Contains(r, "/manifests/sha256-"):
					tagRequests++
				case strings.HasPrefix(r, "DELETE "):
					deletes++
				}
			}
			if asked != tc.asked {
				t.Errorf("the referrers API question was asked %d times, want %d", asked, tc.asked)
			}
			if tc.tagged != (tagRequests > 0) {
				t.Errorf("%d referrers tag requests; want them %v", tagRequests, tc.tagged)
			}
			if !tc.tagged && deletes != 2 {
				t.Errorf("%d DELETEs on a registry with the referrers API, want 2 (the referrers)", deletes)
			}
			if got := listReferrers(t, newTestClient(t, u), "img", subject.Digest, ""); !slices.Equal(got, []digest.Digest{refs[2].Digest}) {
				t.Errorf("Referrers: got %v, want %s", got, refs[2].Digest)
			}
		})
	}
}

// TestReferrersQuestionMissingRepository: a NAME_UNKNOWN from the
// referrers API for a repository the client does not know to exist leaves
// the question open (TestDeleteReferrerMissingRepository has a registry
// with the API answer so), but the same answer once the client has
// fetched the manifest there settles it: the client fetched the manifest
// to delete, so the repository exists, and a registry with the API must
// then answer 200.
func TestReferrersQuestionMissingRepository(t *testing.T) {
	u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/referrers/sha256:") {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusNotFound)
				io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	setup := newTestClient(t, u)
	subject := pushSubjectImage(t, setup, "img")
	var refs []ocispec.Descriptor
	for _, p := range []string{"one", "two"} {
		refs = append(refs, pushReferrer(t, setup, "img", subject, p))
	}
	log := &requestLog{rt: http.DefaultTransport}
	c := log.client(t, u)
	for i, r := range refs {
		del, err := c.DeleteManifest(t.Context(), "img", r.Digest.String())
		if err != nil {
			t.Fatal(err)
		}
		if del.UnindexedFrom != subject.Digest {
			t.Errorf("DeleteManifest of %s: got %+v, want UnindexedFrom %s", r.Digest, del, subject.Digest)
		}
		var asked []string
		for _, req := range log.take() {
			if strings.Contains(req, "/referrers/") {
				asked = append(asked, req)
			}
		}
		// The first: once before the fetch (open), once after (settled).
		want := []string{"GET /v2/img/referrers/" + r.Digest.String(), "GET /v2/img/referrers/" + subject.Digest.String()}
		if i > 0 {
			want = nil
		}
		if diff := cmp.Diff(want, asked); diff != "" {
			t.Errorf("referrers API questions of deletion %d (-want +got):\n%s", i+1, diff)
		}
	}
	if d := referrersIndexDigest(t, u, "img", subject.Digest, "", ""); d != "" {
		t.Errorf("the referrers tag names %s after both referrers went, want no tag", d)
	}
}

// referenceDeletesRefused reports whether the reference registry refuses
// to delete manifests (as distribution does unless its storage has
// delete enabled): it pushes a small index to repo and deletes it, raw.
func referenceDeletesRefused(t *testing.T, repo string) bool {
	t.Helper()
	ref := acrtest.ReferenceRegistry(t)
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"annotations":{"org.example.probe":"` + repo + `"}}`)
	d := digest.FromBytes(body)
	send := func(method string, b []byte) int {
		var r io.Reader
		if b != nil {
			r = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(t.Context(), method, ref.URL+"/v2/"+repo+"/manifests/"+d.String(), r)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", ocispec.MediaTypeImageIndex)
		if ref.User != "" {
			req.SetBasicAuth(ref.User, ref.Password)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := send(http.MethodPut, body); status != http.StatusCreated {
		t.Fatalf("PUT of a probe index to the reference registry: status %d, want 201", status)
	}
	switch status := send(http.MethodDelete, nil); status {
	case http.StatusAccepted:
		return false
	case http.StatusMethodNotAllowed, http.StatusBadRequest:
		return true
	default:
		t.Fatalf("DELETE of a probe index on the reference registry: status %d, want 202, or 405 or 400 where deletion is disabled", status)
		return false
	}
}

// TestReferenceRegistryReferrersTagDeleteRefused runs against a reference
// registry that refuses to delete manifests (distribution with storage
// delete off, which answers 405 UNSUPPORTED), and is skipped against one
// that deletes them: pushing referrers keeps the index up to date all the
// same, without an error, and the index each push replaced stays.
func TestReferenceRegistryReferrersTagDeleteRefused(t *testing.T) {
	c := referenceClient(t)
	ref := acrtest.ReferenceRegistry(t)
	repo := "acrgo/referrers-nodelete-" + digest.FromString(t.Name() + time.Now().String()).Encoded()[:8]
	if !referenceDeletesRefused(t, repo) {
		t.Skip("the reference registry deletes manifests; this test needs one with storage: delete: enabled: false")
	}
	subject := pushSubjectImage(t, c, repo)
	var refs []digest.Digest
	var indexes []digest.Digest
	for _, p := range []string{"one", "two", "three"} {
		refs = append(refs, pushReferrer(t, c, repo, subject, p).Digest)
		indexes = append(indexes, referrersIndexDigest(t, ref.URL, repo, subject.Digest, ref.User, ref.Password))
	}
	idx, status := rawReferrersIndex(t, ref.URL, repo, subject.Digest, ref.User, ref.Password)
	var got []digest.Digest
	for _, e := range idx.Manifests {
		got = append(got, e.Digest)
	}
	if status != http.StatusOK || !slices.Equal(sortedDigests(got...), sortedDigests(refs...)) {
		t.Fatalf("the referrers index: status %d, %v; want %v", status, got, refs)
	}
	for _, d := range indexes {
		if status, _ := rawManifestStatus(t, ref.URL, repo, d.String(), ref.User, ref.Password); status != http.StatusOK {
			t.Errorf("HEAD of the referrers index %s: status %d, want 200 (the registry refuses to delete it, so it stays)", d, status)
		}
	}
}

// TestReferrersIndexReadBackFails: the read of the referrers tag that
// checks an update (after the write, or after the deletion of an emptied
// index) failing is the update failing, reported as a *ReferrersTagError,
// not taken for success.
func TestReferrersIndexReadBackFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		act  func(t *testing.T, c *acr.Client, subject ocispec.Descriptor, sig digest.Digest) error
	}{
		{name: "after a write", act: func(t *testing.T, c *acr.Client, subject ocispec.Descriptor, _ digest.Digest) error {
			_, err := c.SetImage(t.Context(), "img", referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", "another", nil), nil)
			return err
		}},
		{name: "after deleting the emptied index", act: func(t *testing.T, c *acr.Client, _ ocispec.Descriptor, sig digest.Digest) error {
			_, err := c.DeleteManifest(t.Context(), "img", sig.String())
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var gets, failAt atomic.Int32
			u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/sha256-") && gets.Add(1) == failAt.Load() {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusServiceUnavailable)
						io.WriteString(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`)
						return
					}
					next.ServeHTTP(w, r)
				})
			})
			setup := newTestClient(t, u)
			subject, sig := referrerFixture(t, setup)
			c, err := acr.NewClient(u, nil, &acr.ClientOptions{MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			listReferrers(t, c, "img", subject.Digest, "") // learns the API is missing
			gets.Store(0)
			failAt.Store(2) // the first read goes through, the check fails
			err = tc.act(t, c, subject, sig.Digest)
			var rte *acr.ReferrersTagError
			if !errors.As(err, &rte) || !strings.Contains(err.Error(), "UNAVAILABLE") {
				t.Fatalf("got error %v, want a *acr.ReferrersTagError caused by the failed read", err)
			}
		})
	}
}

// TestReferrersQuestionACR: on ACR, which serves the referrers API, a 404
// from it (were ACR to answer an unknown subject so, as the ORAS artifacts
// API it once served did, with MANIFEST_UNKNOWN) does not make the client
// take it for a registry without the API: a deletion after such a listing
// sends the DELETE alone.
func TestReferrersQuestionACR(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	setup := newTestClient(t, srv.URL)
	subject, sig := referrerFixture(t, setup)
	hs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/referrers/sha256:") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
			return
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	tr := hs.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, hs.Listener.Addr().String())
	}
	log := &requestLog{rt: tr}
	c := log.client(t, "myregistry.azurecr.io")
	if got := listReferrers(t, c, "img", subject.Digest, ""); len(got) != 0 {
		t.Fatalf("Referrers through the tag schema: got %v, want none (the registry keeps no tag index)", got)
	}
	_ = log.take()
	if _, err := c.DeleteManifest(t.Context(), "img", sig.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"DELETE /v2/img/manifests/" + sig.Digest.String()}, log.take()); diff != "" {
		t.Errorf("requests of DeleteManifest on ACR after a 404 from the referrers API (-want +got):\n%s", diff)
	}
}
