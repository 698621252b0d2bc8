package acr_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// countingRegistry serves an emulator and records the requests it served.
type countingRegistry struct {
	URL   string
	host  string
	mu    sync.Mutex
	reqs  []string // method and request URI
	inner http.Handler
}

func newCountingRegistry(t *testing.T, opts *emulator.Options) *countingRegistry {
	t.Helper()
	reg, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingRegistry{inner: reg}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cr.mu.Lock()
		cr.reqs = append(cr.reqs, r.Method+" "+r.URL.RequestURI())
		cr.mu.Unlock()
		cr.inner.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { hs.Close(); reg.Close() })
	cr.URL, cr.host = hs.URL, strings.TrimPrefix(hs.URL, "http://")
	return cr
}

// take returns the requests served since the last take.
func (cr *countingRegistry) take() []string {
	cr.mu.Lock()
	defer cr.mu.Unlock()
	r := cr.reqs
	cr.reqs = nil
	return r
}

// checkResume lists in full, then, for every point k, stops after k items
// and resumes with Last set to the k-th item's cursor: the two parts must
// make the full listing.
func checkResume[T any](t *testing.T, name string, list func(pageSize int, last string) iter.Seq2[T, error], cursor func(T) string) {
	t.Helper()
	collect := func(seq iter.Seq2[T, error], max int) []string {
		t.Helper()
		var out []string
		for it, err := range seq {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if len(out) == max {
				break
			}
			out = append(out, cursor(it))
		}
		return out
	}
	full := collect(list(2, ""), -1)
	if len(full) < 3 {
		t.Fatalf("%s: listed %v; the test wants at least 3 items", name, full)
	}
	for k := 1; k < len(full); k++ {
		head := collect(list(2, ""), k)
		rest := collect(list(3, head[len(head)-1]), -1)
		if got := append(head, rest...); !slices.Equal(got, full) {
			t.Errorf("%s stopped after %d and resumed with Last %q: got %v, want %v", name, k, head[len(head)-1], got, full)
		}
	}
}

// TestListingsResume pages every listing with per-call page sizes and
// resumes each from the cursor of the last item received.
func TestListingsResume(t *testing.T) {
	reg := newCountingRegistry(t, &emulator.Options{Now: steppingClock(), SoftDeleteRetention: 24 * time.Hour})
	s := &seeder{t: t, base: reg.URL}
	var digests []string
	for i, repo := range []string{"a", "b/one", "b/two", "c"} {
		for j, tag := range []string{"v1", "v1.1", "v2", "latest"} {
			d := s.image(repo, "amd64", fmt.Sprint(i, j), tag)
			if repo == "c" {
				digests = append(digests, d.String())
			}
		}
	}
	client, err := acr.NewClient(reg.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, d := range digests[:3] {
		if _, err := client.DeleteManifest(ctx, "c", d); err != nil {
			t.Fatal(err)
		}
	}
	for _, tag := range []string{"v1", "v1.1", "v2"} {
		if err := client.DeleteTag(ctx, "a", tag); err != nil {
			t.Fatal(err)
		}
	}
	if err := client.DeleteTag(ctx, "b/two", "v1"); err != nil {
		t.Fatal(err)
	}
	// Tag v1 of a, deleted a second time: resuming after a tag skips
	// every deletion of it.
	s.image("a", "amd64", "00", "v1")
	if err := client.DeleteTag(ctx, "a", "v1"); err != nil {
		t.Fatal(err)
	}
	self := func(s string) string { return s }
	checkResume(t, "Repositories", func(n int, last string) iter.Seq2[string, error] {
		return client.Repositories(ctx, &acr.ListOptions{PageSize: n, Last: last})
	}, self)
	checkResume(t, "TagNames", func(n int, last string) iter.Seq2[string, error] {
		return client.TagNames(ctx, "b/one", &acr.ListOptions{PageSize: n, Last: last})
	}, self)
	checkResume(t, "Tags", func(n int, last string) iter.Seq2[acr.TagProperties, error] {
		return client.Tags(ctx, "b/one", &acr.TagsOptions{PageSize: n, Last: last})
	}, func(tp acr.TagProperties) string { return tp.Name })
	checkResume(t, "Tags newest first", func(n int, last string) iter.Seq2[acr.TagProperties, error] {
		return client.Tags(ctx, "b/one", &acr.TagsOptions{PageSize: n, Last: last, Order: acr.OrderLastUpdatedDesc})
	}, func(tp acr.TagProperties) string { return tp.Name })
	checkResume(t, "Manifests", func(n int, last string) iter.Seq2[acr.ManifestProperties, error] {
		return client.Manifests(ctx, "b/two", &acr.ManifestsOptions{PageSize: n, Last: mustDigest(t, last)})
	}, func(m acr.ManifestProperties) string { return m.Digest.String() })
	checkResume(t, "DeletedRepositories", func(n int, last string) iter.Seq2[string, error] {
		// Repositories a, b/two and c hold deletions.
		return client.DeletedRepositories(ctx, &acr.ListOptions{PageSize: n, Last: last})
	}, self)
	checkResume(t, "DeletedManifests", func(n int, last string) iter.Seq2[acr.DeletedManifest, error] {
		return client.DeletedManifests(ctx, "c", &acr.ListOptions{PageSize: n, Last: last})
	}, func(d acr.DeletedManifest) string { return d.Digest.String() })
	var deletions []string
	for d, err := range client.DeletedTags(ctx, "a", &acr.ListOptions{PageSize: 1}) {
		if err != nil {
			t.Fatal(err)
		}
		deletions = append(deletions, d.Name)
	}
	lastV1 := slices.Index(deletions, "v1") + 1
	if lastV1 == 0 || lastV1 >= len(deletions) || deletions[lastV1] != "v1" {
		t.Fatalf("DeletedTags: got %v, want v1's two deletions one after the other", deletions)
	}
	var after []string
	for d, err := range client.DeletedTags(ctx, "a", &acr.ListOptions{PageSize: 1, Last: "v1"}) {
		if err != nil {
			t.Fatal(err)
		}
		after = append(after, d.Name)
	}
	if want := deletions[lastV1+1:]; !slices.Equal(after, want) {
		t.Errorf("DeletedTags after v1: got %v, want %v (every deletion of v1 skipped)", after, want)
	}
}

// taggedRegistry returns a counting registry whose repository "app" has n
// tags, t0 to t(n-1), on one image, and a client of it that asks for pages
// of 3.
func taggedRegistry(t *testing.T, n int) (*countingRegistry, *acr.Client) {
	t.Helper()
	reg := newCountingRegistry(t, nil)
	s := &seeder{t: t, base: reg.URL}
	d := s.image("app", "amd64", "x")
	client, err := acr.NewClient(reg.URL, nil, &acr.ClientOptions{PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	img, err := client.GetManifest(t.Context(), "app", d.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := client.SetManifest(t.Context(), "app", img.Bytes, img.MediaType, &acr.SetManifestOptions{Tag: fmt.Sprintf("t%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return reg, client
}

// TestListingsPageSize checks that a per-call page size overrides the
// client's, and that a negative one is refused before any request.
func TestListingsPageSize(t *testing.T) {
	reg, client := taggedRegistry(t, 7)
	count := func(seq iter.Seq2[acr.TagProperties, error]) (int, int) {
		reg.take()
		n := 0
		for _, err := range seq {
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		return n, len(reg.take())
	}
	if n, reqs := count(client.Tags(t.Context(), "app", nil)); n != 7 || reqs != 3 {
		t.Errorf("client page size 3: %d tags in %d requests, want 7 in 3", n, reqs)
	}
	if n, reqs := count(client.Tags(t.Context(), "app", &acr.TagsOptions{PageSize: 2})); n != 7 || reqs != 4 {
		t.Errorf("PageSize 2: %d tags in %d requests, want 7 in 4", n, reqs)
	}
	if n, reqs := count(client.Tags(t.Context(), "app", &acr.TagsOptions{PageSize: 7})); n != 7 || reqs != 1 {
		t.Errorf("PageSize 7: %d tags in %d requests, want 7 in 1", n, reqs)
	}
	reg.take()
	for _, err := range client.Tags(t.Context(), "app", &acr.TagsOptions{PageSize: -1}) {
		if err == nil || !strings.Contains(err.Error(), "page size -1") {
			t.Errorf("PageSize -1: error %v, want one naming the page size", err)
		}
	}
	for _, err := range client.Repositories(t.Context(), &acr.ListOptions{PageSize: -5}) {
		if err == nil || !strings.Contains(err.Error(), "page size -5") {
			t.Errorf("Repositories PageSize -5: error %v, want one naming the page size", err)
		}
	}
	if reqs := reg.take(); len(reqs) != 0 {
		t.Errorf("a refused page size sent %v", reqs)
	}
}

// TestListingsDoNotProbe checks that a listing on a registry not known to
// be ACR sends its /acr/v1 request straight away and learns from it: on the
// emulator no probe is sent, and on a registry without /acr/v1 the plain
// 404 sends the listing to the OCI API without a probe either.
func TestListingsDoNotProbe(t *testing.T) {
	reg := newCountingRegistry(t, nil)
	s := &seeder{t: t, base: reg.URL}
	s.image("app", "amd64", "x", "v1", "v2")
	client, err := acr.NewClient(reg.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	reg.take()
	var got []string
	for tp, err := range client.Tags(t.Context(), "app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, tp.Name+"@"+tp.Digest.Encoded()[:4])
	}
	if reqs := reg.take(); len(reqs) != 1 || !strings.HasPrefix(reqs[0], "GET /acr/v1/app/_tags?") {
		t.Errorf("Tags on the emulator sent %v, want one GET of /acr/v1/app/_tags", reqs)
	}
	// The first answer settled it: metadata calls do not probe either.
	if _, err := client.GetTagProperties(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if reqs := reg.take(); len(reqs) != 1 {
		t.Errorf("GetTagProperties after a listing sent %v, want one request", reqs)
	}
	// A missing repository on a registry with /acr/v1 is its answer, not a
	// sign that the API is missing: the error is ACR's.
	fresh, _ := acr.NewClient(reg.URL, nil, nil)
	for _, err := range fresh.Tags(t.Context(), "nothing/here", nil) {
		if !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("Tags of a missing repository: %v, want ErrNotFound", err)
		}
	}

	// A registry without /acr/v1: the emulator behind a router that
	// answers "404 page not found" there, as distribution does.
	oci := newCountingRegistry(t, nil)
	inner := oci.inner
	oci.inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/acr/") {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
	so := &seeder{t: t, base: oci.URL}
	so.image("app", "amd64", "x", "v1", "v2", "v3")
	oc, _ := acr.NewClient(oci.URL, nil, nil)
	oci.take()
	var names []string
	for tp, err := range oc.Tags(t.Context(), "app", &acr.TagsOptions{Last: "v1"}) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tp.Name)
	}
	if !slices.Equal(names, []string{"v2", "v3"}) {
		t.Errorf("Tags after v1 on an OCI registry: got %v, want [v2 v3]", names)
	}
	reqs := oci.take()
	if len(reqs) != 2 || !strings.HasPrefix(reqs[0], "GET /acr/v1/app/_tags?") || !strings.HasPrefix(reqs[1], "GET /v2/app/tags/list?") {
		t.Errorf("Tags on an OCI registry sent %v, want the /acr/v1 listing and then the OCI tag list", reqs)
	}
	if _, err := oc.GetTagProperties(t.Context(), "app", "v1"); !errors.Is(err, acr.ErrNotSupported) {
		t.Errorf("GetTagProperties on an OCI registry: %v, want ErrNotSupported", err)
	}
	if reqs := oci.take(); len(reqs) != 0 {
		t.Errorf("after the listing, GetTagProperties on an OCI registry sent %v, want nothing (known already)", reqs)
	}
}

// TestListingsReadAhead checks that ReadAhead sends the same page requests
// in the same order and yields the same items, that the next page is asked
// for before the caller has handled the current one, and that a caller that
// stops early costs one request at most.
func TestListingsReadAhead(t *testing.T) {
	reg, client := taggedRegistry(t, 8)
	// list yields up to stop tags (all when stop < 0) and returns their
	// names and the requests sent. With ahead, on the first tag it waits
	// for the second page's request to arrive: it must, while the caller
	// still holds the first page.
	list := func(ahead bool, stop int) (names, reqs []string) {
		reg.take()
		for tp, err := range client.Tags(t.Context(), "app", &acr.TagsOptions{ReadAhead: ahead}) {
			if err != nil {
				t.Fatal(err)
			}
			if len(names) == stop {
				break
			}
			if ahead && len(names) == 0 {
				deadline := time.Now().Add(10 * time.Second)
				for {
					reg.mu.Lock()
					n := len(reg.reqs)
					reg.mu.Unlock()
					if n >= 2 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("with ReadAhead, the second page was not requested while the caller held the first")
					}
					time.Sleep(time.Millisecond)
				}
			}
			names = append(names, tp.Name)
		}
		return names, reg.take()
	}
	names, reqs := list(false, -1)
	aheadNames, aheadReqs := list(true, -1)
	if len(names) != 8 || !slices.Equal(aheadNames, names) {
		t.Errorf("with ReadAhead: got %v, want %v (8 tags)", aheadNames, names)
	}
	if len(reqs) != 3 || !slices.Equal(aheadReqs, reqs) {
		t.Errorf("with ReadAhead the requests were %v; want those without it, %v", aheadReqs, reqs)
	}
	if _, reqs := list(false, 1); len(reqs) != 1 {
		t.Errorf("stopping after one tag without ReadAhead sent %v, want the first page only", reqs)
	}
	if _, reqs := list(true, 1); len(reqs) > 2 {
		t.Errorf("stopping after one tag with ReadAhead sent %v, want the first page and at most the second", reqs)
	}
}

// TestListingReadAheadCancelled cancels a listing with ReadAhead while the
// caller holds a page, at every item of a 4-page listing: each ends, after
// the page in hand and at most the one read ahead (it may have arrived
// before the cancel), with an error that wraps context.Canceled, unless
// that was the last page; none hangs or yields an item after the error.
func TestListingReadAheadCancelled(t *testing.T) {
	_, client := taggedRegistry(t, 10)
	for at := range 10 {
		ctx, cancel := context.WithCancel(t.Context())
		n, errs := 0, 0
		for _, err := range client.Tags(ctx, "app", &acr.TagsOptions{ReadAhead: true}) {
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					t.Errorf("cancelled at tag %d: %v, want an error wrapping context.Canceled", at, err)
				}
				errs++
				continue
			}
			if errs > 0 {
				t.Errorf("cancelled at tag %d: a tag after the error", at)
			}
			if n == at {
				cancel()
			}
			n++
		}
		cancel()
		// The tags of the page in hand still arrive, and those of the next
		// page when it was read ahead before the cancel; no page after.
		if want := min(10, at/3*3+6); n > want || errs != 1 && n < 10 || errs > 1 {
			t.Errorf("cancelled at tag %d: %d tags and %d errors, want at most %d tags, then one error unless all 10 came", at, n, errs, want)
		}
	}
}

func mustDigest(t *testing.T, s string) digest.Digest {
	t.Helper()
	if s == "" {
		return ""
	}
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
