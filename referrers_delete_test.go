package acr_test

import (
	"context"
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

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// requestLog records the registry requests of the clients it makes, as
// "METHOD /path", leaving token requests out.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
	rt   http.RoundTripper
}

func (l *requestLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasPrefix(r.URL.Path, "/oauth2/") {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
	}
	return l.rt.RoundTrip(r)
}

// take returns the requests recorded since the last take.
func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := l.reqs
	l.reqs = nil
	return r
}

// client returns a fresh client of endpoint whose requests l records.
func (l *requestLog) client(t *testing.T, endpoint string) *acr.Client {
	t.Helper()
	c, err := acr.NewClient(endpoint, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: l}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// referrerFixture pushes, with c, an image tagged v1 and a signature of
// it tagged sig, and returns their descriptors.
func referrerFixture(t *testing.T, c *acr.Client) (subject, sig ocispec.Descriptor) {
	t.Helper()
	subject = pushSubjectImage(t, c, "img")
	m := referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", "sig", nil)
	sig, err := c.SetImage(t.Context(), "img", m, &acr.SetManifestOptions{Tag: "sig"})
	if err != nil {
		t.Fatal(err)
	}
	return subject, sig
}

// indexDigests reads the referrers tag index of subject raw and returns
// the digests it lists.
func indexDigests(t *testing.T, u string, subject digest.Digest) []digest.Digest {
	t.Helper()
	idx, status := rawReferrersIndex(t, u, "img", subject, "", "")
	if status != http.StatusOK {
		t.Fatalf("GET of the referrers tag of %s: status %d, want 200", subject, status)
	}
	var ds []digest.Digest
	for _, d := range idx.Manifests {
		ds = append(ds, d.Digest)
	}
	return ds
}

// TestDeleteReferrerFreshClient deletes referrers, by digest and by tag,
// with clients that know nothing of the registry, as every acrctl run and
// short-lived program is, on a registry without the referrers API: each
// deletion removes the referrer from its subject's referrers tag index,
// says so, and sends the requests that takes and no more.
func TestDeleteReferrerFreshClient(t *testing.T) {
	u := withoutReferrersAPI(t, nil)
	setup := newTestClient(t, u)
	subject, sig := referrerFixture(t, setup)
	sbom := referrerManifest(t, setup, "img", subject, "", "application/vnd.example.sbom.v1+json", "sbom", nil)
	sbomDesc, err := setup.SetImage(t.Context(), "img", sbom, &acr.SetManifestOptions{Tag: "sbom"})
	if err != nil {
		t.Fatal(err)
	}
	other := pushSubjectImage(t, setup, "img2") // not a referrer
	if got, want := sortedDigests(indexDigests(t, u, subject.Digest)...), sortedDigests(sig.Digest, sbomDesc.Digest); !slices.Equal(got, want) {
		t.Fatalf("before the deletions the index lists %v, want %v", got, want)
	}
	tag := "/v2/img/manifests/" + referrersTagOf(subject.Digest)
	first := referrersIndexDigest(t, u, "img", subject.Digest, "", "")

	var log requestLog
	log.rt = http.DefaultTransport
	del, err := log.client(t, u).DeleteManifest(t.Context(), "img", sig.Digest.String())
	if err != nil {
		t.Fatalf("DeleteManifest of the signature: %v", err)
	}
	if want := (acr.ManifestDeletion{Digest: sig.Digest, UnindexedFrom: subject.Digest}); del != want {
		t.Errorf("DeleteManifest: got %+v, want %+v", del, want)
	}
	if got := indexDigests(t, u, subject.Digest); !slices.Equal(got, []digest.Digest{sbomDesc.Digest}) {
		t.Fatalf("after deleting the signature the index lists %v, want only the SBOM %s", got, sbomDesc.Digest)
	}
	want := []string{
		"GET /v2/img/referrers/" + sig.Digest.String(), // the API's absence, asked once
		"GET /v2/img/manifests/" + sig.Digest.String(), // its subject
		"DELETE /v2/img/manifests/" + sig.Digest.String(),
		"GET " + tag, "PUT " + tag, "GET " + tag, // the index updated and checked
		"DELETE /v2/img/manifests/" + first.String(), // the index it replaced
	}
	if diff := cmp.Diff(want, log.take()); diff != "" {
		t.Errorf("requests of a fresh client deleting a referrer by digest (-want +got):\n%s", diff)
	}
	if status, _ := rawManifestStatus(t, u, "img", first.String(), "", ""); status != http.StatusNotFound {
		t.Errorf("HEAD of the replaced index %s: status %d, want 404 (deleted)", first, status)
	}
	second := referrersIndexDigest(t, u, "img", subject.Digest, "", "")

	// By tag: the fetch resolves the tag, instead of a HEAD.
	del, err = log.client(t, u).DeleteManifest(t.Context(), "img", "sbom")
	if err != nil {
		t.Fatalf("DeleteManifest of the SBOM by tag: %v", err)
	}
	if want := (acr.ManifestDeletion{Digest: sbomDesc.Digest, UnindexedFrom: subject.Digest}); del != want {
		t.Errorf("DeleteManifest by tag: got %+v, want %+v", del, want)
	}
	if d := referrersIndexDigest(t, u, "img", subject.Digest, "", ""); d != "" {
		t.Fatalf("after deleting both referrers the referrers tag names %s, want no tag", d)
	}
	if status, _ := rawManifestStatus(t, u, "img", second.String(), "", ""); status != http.StatusNotFound {
		t.Errorf("HEAD of the emptied index %s: status %d, want 404 (deleted)", second, status)
	}
	want = []string{
		"GET /v2/img/manifests/sbom",
		"GET /v2/img/referrers/" + subject.Digest.String(),
		"DELETE /v2/img/manifests/" + sbomDesc.Digest.String(),
		"GET " + tag, "DELETE /v2/img/manifests/" + second.String(), "GET " + tag, // the emptied index deleted, with its tag
	}
	if diff := cmp.Diff(want, log.take()); diff != "" {
		t.Errorf("requests of a fresh client deleting a referrer by tag (-want +got):\n%s", diff)
	}
	if got := listReferrers(t, newTestClient(t, u), "img", subject.Digest, ""); len(got) != 0 {
		t.Errorf("Referrers after deleting both: got %v, want none", got)
	}

	// A manifest without a subject: fetched to learn that, no index.
	del, err = log.client(t, u).DeleteManifest(t.Context(), "img2", other.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if want := (acr.ManifestDeletion{Digest: other.Digest}); del != want {
		t.Errorf("DeleteManifest of an image: got %+v, want %+v", del, want)
	}
	want = []string{
		"GET /v2/img2/referrers/" + other.Digest.String(),
		"GET /v2/img2/manifests/" + other.Digest.String(),
		"DELETE /v2/img2/manifests/" + other.Digest.String(),
	}
	if diff := cmp.Diff(want, log.take()); diff != "" {
		t.Errorf("requests of a fresh client deleting an image (-want +got):\n%s", diff)
	}
}

// TestDeleteReferrerNoExtraRequests: where the registry serves the
// referrers API and the client knows it, or knows the registry is ACR
// (by its host name, or from an answer of its /acr/v1 API), deleting a
// referrer sends what it always did: the DELETE, after a HEAD for a tag.
// Where it is not known yet, the first deletion asks once.
func TestDeleteReferrerNoExtraRequests(t *testing.T) {
	t.Run("ACR host", func(t *testing.T) {
		srv := acrtest.NewTLSServer(t, nil)
		tr := srv.HTTP.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Host)
		}
		log := &requestLog{rt: tr}
		const host = "myregistry.azurecr.io"
		setup, err := acr.NewClient(srv.URL, nil, &acr.ClientOptions{HTTPClient: srv.HTTP.Client()})
		if err != nil {
			t.Fatal(err)
		}
		_, sig := referrerFixture(t, setup)
		for _, ref := range []string{"sig", sig.Digest.String()} {
			if ref == sig.Digest.String() {
				// The tag went with the manifest: push it again.
				_, sig = referrerFixture(t, setup)
			}
			_ = log.take()
			del, err := log.client(t, host).DeleteManifest(t.Context(), "img", ref)
			if err != nil {
				t.Fatal(err)
			}
			if want := (acr.ManifestDeletion{Digest: sig.Digest}); del != want {
				t.Errorf("DeleteManifest(%s): got %+v, want %+v", ref, del, want)
			}
			want := []string{"DELETE /v2/img/manifests/" + sig.Digest.String()}
			if ref == "sig" {
				want = append([]string{"HEAD /v2/img/manifests/sig"}, want...)
			}
			if diff := cmp.Diff(want, log.take()); diff != "" {
				t.Errorf("requests of DeleteManifest(%s) on ACR (-want +got):\n%s", ref, diff)
			}
		}
	})
	for _, tc := range []struct {
		name  string
		learn func(t *testing.T, c *acr.Client, subject ocispec.Descriptor) // before the deletion
		want  func(d digest.Digest) []string
	}{
		{name: "after pushing a referrer", // the registry's OCI-Subject answer
			learn: func(t *testing.T, c *acr.Client, subject ocispec.Descriptor) {
				m := referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", "another", nil)
				if _, err := c.SetImage(t.Context(), "img", m, nil); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "after listing referrers",
			learn: func(t *testing.T, c *acr.Client, subject ocispec.Descriptor) {
				listReferrers(t, c, "img", subject.Digest, "")
			}},
		{name: "after an /acr/v1 answer",
			learn: func(t *testing.T, c *acr.Client, _ ocispec.Descriptor) {
				if _, err := c.GetRepositoryProperties(t.Context(), "img"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "unknown: asked once",
			want: func(d digest.Digest) []string {
				return []string{"GET /v2/img/referrers/" + d.String(), "DELETE /v2/img/manifests/" + d.String()}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := acrtest.NewServer(t, nil)
			setup := newTestClient(t, srv.URL)
			subject, sig := referrerFixture(t, setup)
			log := &requestLog{rt: http.DefaultTransport}
			c := log.client(t, srv.URL)
			if tc.learn != nil {
				tc.learn(t, c, subject)
			}
			_ = log.take()
			if _, err := c.DeleteManifest(t.Context(), "img", sig.Digest.String()); err != nil {
				t.Fatal(err)
			}
			want := []string{"DELETE /v2/img/manifests/" + sig.Digest.String()}
			if tc.want != nil {
				want = tc.want(sig.Digest)
			}
			if diff := cmp.Diff(want, log.take()); diff != "" {
				t.Errorf("requests of DeleteManifest (-want +got):\n%s", diff)
			}
			// The second deletion of the same client asks nothing.
			_, sig = referrerFixture(t, setup)
			_ = log.take()
			if _, err := c.DeleteManifest(t.Context(), "img", sig.Digest.String()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{"DELETE /v2/img/manifests/" + sig.Digest.String()}, log.take()); diff != "" {
				t.Errorf("requests of a second DeleteManifest (-want +got):\n%s", diff)
			}
		})
	}
}

// TestDeleteReferrerMissingRepository: a registry with the referrers API
// answers the question for a repository that does not exist with 404
// NAME_UNKNOWN, as the spec lets it. That proves nothing about the API, so
// the client asks again at its next deletion, instead of taking the
// registry for one without the API and fetching every manifest it deletes.
func TestDeleteReferrerMissingRepository(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/missing/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
			return
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	_, sig := referrerFixture(t, newTestClient(t, hs.URL))
	log := &requestLog{rt: http.DefaultTransport}
	c := log.client(t, hs.URL)
	if _, err := c.DeleteManifest(t.Context(), "missing", sig.Digest.String()); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("DeleteManifest in a missing repository: got %v, want ErrNotFound", err)
	}
	_ = log.take()
	if _, err := c.DeleteManifest(t.Context(), "img", sig.Digest.String()); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /v2/img/referrers/" + sig.Digest.String(), "DELETE /v2/img/manifests/" + sig.Digest.String()}
	if diff := cmp.Diff(want, log.take()); diff != "" {
		t.Errorf("requests of DeleteManifest after a NAME_UNKNOWN (-want +got):\n%s", diff)
	}
}

// TestDeleteReferrerIndexFailure makes the index update of a deletion
// fail (the subject has two referrers, so the index must be rewritten):
// the manifest is deleted all the same, and DeleteManifest returns what it
// deleted with a *ReferrersTagError that says so.
func TestDeleteReferrerIndexFailure(t *testing.T) {
	u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") && r.Header.Get("X-Test-Setup") == "" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"errors":[{"code":"DENIED","message":"tag writes are refused"}]}`)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	// The fixture's own index writes pass.
	setup, err := acr.NewClient(u, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Test-Setup", "1")
		return http.DefaultTransport.RoundTrip(r)
	})}})
	if err != nil {
		t.Fatal(err)
	}
	subject := pushSubjectImage(t, setup, "img")
	sig, err := setup.SetImage(t.Context(), "img", referrerManifest(t, setup, "img", subject, "application/vnd.example.signature", "", "sig", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	sbom, err := setup.SetImage(t.Context(), "img", referrerManifest(t, setup, "img", subject, "", "application/vnd.example.sbom.v1+json", "sbom", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, u)
	del, err := c.DeleteManifest(t.Context(), "img", sig.Digest.String())
	var rte *acr.ReferrersTagError
	if !errors.As(err, &rte) {
		t.Fatalf("DeleteManifest: got error %v, want a *acr.ReferrersTagError", err)
	}
	if want := (acr.ReferrersTagError{Repository: "img", Referrer: sig.Digest, Subject: subject.Digest, Tag: referrersTagOf(subject.Digest), Deleted: true}); rte.Repository != want.Repository ||
		rte.Referrer != want.Referrer || rte.Subject != want.Subject || rte.Tag != want.Tag || !rte.Deleted {
		t.Errorf("error fields: got %+v, want %+v", *rte, want)
	}
	if msg := err.Error(); !strings.Contains(msg, "deleted referrer "+sig.Digest.String()) || !strings.Contains(msg, "DENIED") {
		t.Errorf("error message %q does not say the referrer was deleted, or lacks the cause DENIED", msg)
	}
	if del.Digest != sig.Digest || del.UnindexedFrom != "" {
		t.Errorf("DeleteManifest returned %+v with the error, want Digest %s and no UnindexedFrom", del, sig.Digest)
	}
	if ok, err := c.ManifestExists(t.Context(), "img", sig.Digest.String()); err != nil || ok {
		t.Fatalf("the referrer is still in the registry after the failed index update: %v %v", ok, err)
	}
	if got, want := indexDigests(t, u, subject.Digest), []digest.Digest{sig.Digest, sbom.Digest}; !slices.Equal(got, want) {
		t.Fatalf("the index lists %v; the refused write should have left it listing %v", got, want)
	}
}

// TestPruneReferrersIndex deletes a referrer behind the client's back,
// with a plain HTTP DELETE as a tool that does not keep the index would:
// PruneReferrersIndex removes that entry, keeps the live one, and on a
// second call finds nothing to do and writes nothing.
func TestPruneReferrersIndex(t *testing.T) {
	var puts atomic.Int32
	u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") {
				puts.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	c := newTestClient(t, u)
	subject, sig := referrerFixture(t, c)
	sbom, err := c.SetImage(t.Context(), "img", referrerManifest(t, c, "img", subject, "", "application/vnd.example.sbom.v1+json", "sbom", nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodDelete, u+"/v2/img/manifests/"+sig.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("raw DELETE of the signature: status %d, want 202", resp.StatusCode)
	}
	if got := indexDigests(t, u, subject.Digest); len(got) != 2 {
		t.Fatalf("the index lists %v; the raw DELETE should have left both entries", got)
	}

	puts.Store(0)
	gone, err := newTestClient(t, u).PruneReferrersIndex(t.Context(), "img", subject.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gone, []digest.Digest{sig.Digest}) {
		t.Errorf("PruneReferrersIndex: got %v, want the deleted signature %s", gone, sig.Digest)
	}
	if got := indexDigests(t, u, subject.Digest); !slices.Equal(got, []digest.Digest{sbom.Digest}) {
		t.Fatalf("after pruning the index lists %v, want only the SBOM %s", got, sbom.Digest)
	}
	gone, err = c.PruneReferrersIndex(t.Context(), "img", subject.Digest)
	if err != nil || len(gone) != 0 {
		t.Errorf("a second PruneReferrersIndex: got %v, %v; want nothing pruned", gone, err)
	}
	if n := puts.Load(); n != 1 {
		t.Errorf("%d index writes, want 1 (none when nothing is pruned)", n)
	}
	// No index: nothing to prune.
	if gone, err := c.PruneReferrersIndex(t.Context(), "img", sbom.Digest); err != nil || len(gone) != 0 {
		t.Errorf("PruneReferrersIndex of a subject without referrers: got %v, %v; want nothing", gone, err)
	}
	if _, err := c.PruneReferrersIndex(t.Context(), "img", "sha256:nothex"); !errors.Is(err, acr.ErrInvalidReference) {
		t.Errorf("PruneReferrersIndex of an invalid digest: got %v, want ErrInvalidReference", err)
	}
}

// TestDeleteReferrerQuestionFails: when asking the registry whether it
// serves the referrers API fails (a 503 here), the referrer is deleted
// and its entry still removed from the subject's index: the question
// only decides whether to look, and the deletion is not reported failed.
func TestDeleteReferrerQuestionFails(t *testing.T) {
	var failing atomic.Bool
	u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if failing.Load() && strings.Contains(r.URL.Path, "/referrers/") {
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
	failing.Store(true)
	c, err := acr.NewClient(u, nil, &acr.ClientOptions{MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	del, err := c.DeleteManifest(t.Context(), "img", sig.Digest.String())
	if err != nil {
		t.Fatalf("DeleteManifest: %v", err)
	}
	if want := (acr.ManifestDeletion{Digest: sig.Digest, UnindexedFrom: subject.Digest}); del != want {
		t.Errorf("DeleteManifest: got %+v, want %+v", del, want)
	}
	if d := referrersIndexDigest(t, u, "img", subject.Digest, "", ""); d != "" {
		t.Errorf("the referrers tag names %s after the deletion of the only referrer, want no tag", d)
	}
}
