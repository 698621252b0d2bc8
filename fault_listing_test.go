package acr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/google/go-cmp/cmp"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The listing fault tests page through listRepos repositories and, in
// list/app, listImages images with three tags each, listPageSize items a
// page: 7 pages of repositories, 13 of tags and 5 of manifests.
const (
	listRepos    = 21
	listImages   = 13
	listPageSize = 3
	// listDeadline bounds each listing under faults: it completes or
	// fails within it.
	listDeadline = 20 * time.Second
)

// seedListings pushes the content the listing fault tests page through.
// The registry should run on a stepping clock, so that every push has its
// own time and the time orders differ from the name orders.
func seedListings(t testing.TB, client *acr.Client) {
	t.Helper()
	ctx := context.Background()
	image := func(repo, seed string, tags ...string) {
		cfg, err := client.UploadBlob(ctx, repo, strings.NewReader(`{"os":"linux","seed":"`+seed+`"}`), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
		if err != nil {
			t.Fatal(err)
		}
		m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
		m.SchemaVersion = 2
		if _, err := client.SetImage(ctx, repo, m, nil); err != nil {
			t.Fatal(err)
		}
		for _, tag := range tags {
			if _, err := client.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: tag}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Tags are pushed out of name order: t12-c first, t00-a last.
	for i := listImages - 1; i >= 0; i-- {
		image("list/app", fmt.Sprint("app", i), fmt.Sprintf("t%02d-c", i), fmt.Sprintf("t%02d-a", i), fmt.Sprintf("t%02d-b", i))
	}
	for i := range listRepos - 1 {
		image(fmt.Sprintf("list/r%02d", i), fmt.Sprint("r", i))
	}
}

// listing is one listing of the client, reduced to the keys of its items:
// repository names, tag names or manifest digests.
type listing struct {
	name string
	// raw is the /acr/v1 request for the whole listing in one page, which
	// the test sends itself for the expected keys.
	raw  string
	list func(ctx context.Context, c *acr.Client) iter.Seq2[string, error]
	// pages is the number of pages at listPageSize.
	pages int
	// plain, for a listing with ReadAhead, is the same listing without it,
	// which stops after the first page when the caller stops (a listing
	// that reads ahead has the second page in flight by then).
	plain func(ctx context.Context, c *acr.Client) iter.Seq2[string, error]
}

// readAhead returns l with ReadAhead set by list.
func readAhead(l listing, list func(ctx context.Context, c *acr.Client) iter.Seq2[string, error]) listing {
	l.name += "/read ahead"
	l.plain, l.list = l.list, list
	return l
}

var listings = []listing{
	{"Repositories", "/acr/v1/_catalog?n=1000", func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
		return c.Repositories(ctx, nil)
	}, 7, nil},
	{"Tags", "/acr/v1/list%2Fapp/_tags?n=1000", func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
		return keysOf(c.Tags(ctx, "list/app", nil), func(tp acr.TagProperties) string { return tp.Name })
	}, 13, nil},
	{"Tags/newest first", "/acr/v1/list%2Fapp/_tags?n=1000&orderby=timedesc", func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
		return keysOf(c.Tags(ctx, "list/app", &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}), func(tp acr.TagProperties) string { return tp.Name })
	}, 13, nil},
	{"Manifests", "/acr/v1/list%2Fapp/_manifests?n=1000", func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
		return keysOf(c.Manifests(ctx, "list/app", nil), func(m acr.ManifestProperties) string { return m.Digest.String() })
	}, 5, nil},
	{"Manifests/oldest first", "/acr/v1/list%2Fapp/_manifests?n=1000&orderby=timeasc", func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
		return keysOf(c.Manifests(ctx, "list/app", &acr.ManifestsOptions{Order: acr.OrderLastUpdatedAsc}), func(m acr.ManifestProperties) string { return m.Digest.String() })
	}, 5, nil},
}

func init() {
	// With ReadAhead the next page is in flight while the current one is
	// yielded, so faults hit it in the background.
	listings = append(listings,
		readAhead(listings[0], func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
			return c.Repositories(ctx, &acr.ListOptions{ReadAhead: true})
		}),
		readAhead(listings[1], func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
			return keysOf(c.Tags(ctx, "list/app", &acr.TagsOptions{ReadAhead: true}), func(tp acr.TagProperties) string { return tp.Name })
		}),
		readAhead(listings[4], func(ctx context.Context, c *acr.Client) iter.Seq2[string, error] {
			return keysOf(c.Manifests(ctx, "list/app", &acr.ManifestsOptions{Order: acr.OrderLastUpdatedAsc, ReadAhead: true}),
				func(m acr.ManifestProperties) string { return m.Digest.String() })
		}))
}

func keysOf[T any](seq iter.Seq2[T, error], key func(T) string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for v, err := range seq {
			if !yield(key(v), err) {
				return
			}
		}
	}
}

// wantKeys fetches l's keys past the client under test, in one page over
// hc from the registry at base.
func wantKeys(t testing.TB, hc *http.Client, base string, l listing) []string {
	t.Helper()
	resp, err := hc.Get(base + l.raw)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Repositories []string
		Tags         []struct{ Name string }
		Manifests    []struct{ Digest string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d, %v", l.raw, resp.StatusCode, err)
	}
	keys := page.Repositories
	for _, tg := range page.Tags {
		keys = append(keys, tg.Name)
	}
	for _, m := range page.Manifests {
		keys = append(keys, m.Digest)
	}
	if n := (len(keys) + listPageSize - 1) / listPageSize; n != l.pages {
		t.Fatalf("%s: %d items, %d pages, want %d pages", l.raw, len(keys), n, l.pages)
	}
	if strings.Contains(l.raw, "orderby=") && slices.IsSorted(keys) {
		t.Fatalf("%s: the time order is the name order; seed on a stepping clock", l.raw)
	}
	return keys
}

// collectKeys ranges over l with client and returns the keys yielded before
// the error that ended the listing, if any. after, when set, runs after
// each item.
func collectKeys(ctx context.Context, client *acr.Client, l listing, after func()) ([]string, error) {
	var keys []string
	for k, err := range l.list(ctx, client) {
		if err != nil {
			return keys, err
		}
		keys = append(keys, k)
		if after != nil {
			after()
		}
	}
	return keys, nil
}

// checkListing judges listing l that ended with err after took, having
// yielded got: it is the complete list want, in order and without
// duplicates, or (unless complete) a correct beginning of it followed by a
// one-line error of its own that names the listing, within the deadline.
func checkListing(t *testing.T, l listing, got []string, err error, want []string, took time.Duration, complete bool) {
	t.Helper()
	if dups := duplicates(got); len(dups) > 0 {
		t.Errorf("the listing yielded %v more than once", dups)
	}
	if err == nil {
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("the listing ended without error but is wrong (-want +got):\n%s", d)
		}
		return
	}
	if complete {
		t.Errorf("after %d of %d items and %v: %v; want the complete listing", len(got), len(want), took, err)
		return
	}
	if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
		t.Errorf("before its error the listing yielded %v, want a beginning of %v", got, want)
	}
	if errors.Is(err, context.DeadlineExceeded) || took >= listDeadline {
		t.Errorf("the listing ran into its deadline after %v: %v; want an error of its own", took, err)
	}
	if msg := err.Error(); !strings.Contains(msg, l.endpoint()) || strings.Contains(msg, "\n") {
		t.Errorf("the error %q is not one line that names the listing's endpoint %s", msg, l.endpoint())
	}
}

// endpoint is the last segment of l's path: _catalog, _tags or _manifests.
func (l listing) endpoint() string {
	p, _, _ := strings.Cut(l.raw, "?")
	return p[strings.LastIndex(p, "/")+1:]
}

func duplicates(keys []string) []string {
	seen := map[string]bool{}
	var dups []string
	for _, k := range keys {
		if seen[k] {
			dups = append(dups, k)
		}
		seen[k] = true
	}
	return dups
}

// newListingClient returns a client of the registry behind proxy that
// lists listPageSize items a page, and has it learn that the registry
// serves /acr/v1, so that the first bytes after a fault is armed are
// those of the listing's first page.
func newListingClient(t testing.TB, proxy *faulttest.Proxy, opts acr.ClientOptions) *acr.Client {
	t.Helper()
	opts.PageSize = listPageSize
	client, err := acr.NewClient(proxy.URL, nil, &opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range client.Repositories(t.Context(), nil) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	return client
}

// pageBytes measures, over a clean run of l through proxy, the bytes that
// cross it in direction d per page.
func pageBytes(t testing.TB, proxy *faulttest.Proxy, client *acr.Client, l listing, d faulttest.Direction) int64 {
	t.Helper()
	proxy.CutAfter(d, 0, false)
	for _, err := range l.list(t.Context(), client) {
		if err != nil {
			t.Fatal(err)
		}
	}
	return proxy.Forwarded(d) / int64(l.pages)
}

// TestListingSurvivesCuts pages through repositories, tags (by name and
// newest first) and manifests (by digest and oldest first), 3 items a page,
// while the proxy cuts connections:
//
//   - at random offsets, counted across connections, in the responses
//     and in the requests: up to three cuts a listing, spaced about a page
//     apart, so that some pages break in their headers, some in their
//     bodies and some not at all. Three are within every retry budget of
//     the client, so the listing must complete.
//   - every connection after about 2.5 pages of its own: each page breaks
//     at most once, so the listing must complete.
//   - every connection within its first page, so that the listing cannot
//     get past it: it must fail with a clear error, well within its
//     deadline, after yielding nothing wrong.
//
// A listing that completes must be exactly the registry's, in its order,
// without duplicates.
func TestListingSurvivesCuts(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Now: steppingClock()})
	direct, _ := acr.NewClient(srv.URL, nil, nil)
	seedListings(t, direct)
	const maxCuts = 3
	for _, l := range listings {
		want := wantKeys(t, http.DefaultClient, srv.URL, l)
		for _, d := range []faulttest.Direction{faulttest.Downstream, faulttest.Upstream} {
			for seed := range uint64(3) {
				name := fmt.Sprintf("%s/random/responses/seed %d", l.name, seed)
				if d == faulttest.Upstream {
					name = fmt.Sprintf("%s/random/requests/seed %d", l.name, seed)
				}
				t.Run(name, func(t *testing.T) {
					proxy := faulttest.NewProxy(t, srv.Host)
					client := newListingClient(t, proxy, acr.ClientOptions{})
					per := pageBytes(t, proxy, client, l, d)
					rnd := rand.New(rand.NewPCG(seed, uint64(len(l.name))))
					// Offsets up to 1.5 pages from the previous cut (or from
					// the start) put about two cuts in three pages.
					next := func() int64 { return 1 + rnd.Int64N(per*3/2) }
					cuts := 0
					proxy.CutAfter(d, next(), true)
					rearm := func() {
						if proxy.Cuts() > 0 && cuts < maxCuts-1 {
							cuts++
							proxy.CutAfter(d, next(), true)
						}
					}
					ctx, cancel := context.WithTimeout(t.Context(), listDeadline)
					defer cancel()
					start := time.Now()
					got, err := collectKeys(ctx, client, l, rearm)
					took := time.Since(start)
					cuts += proxy.Cuts()
					t.Logf("%d cuts, %d bytes a page, %v: %d items, %v", cuts, per, took.Round(time.Millisecond), len(got), err)
					if cuts == 0 {
						t.Fatal("the proxy cut no connection")
					}
					checkListing(t, l, got, err, want, took, true)
				})
			}
		}
		t.Run(l.name+"/every connection", func(t *testing.T) {
			proxy := faulttest.NewProxy(t, srv.Host)
			client := newListingClient(t, proxy, acr.ClientOptions{})
			per := pageBytes(t, proxy, client, l, faulttest.Downstream)
			proxy.CutAfter(faulttest.Downstream, per*5/2, false)
			ctx, cancel := context.WithTimeout(t.Context(), listDeadline)
			defer cancel()
			start := time.Now()
			got, err := collectKeys(ctx, client, l, nil)
			took := time.Since(start)
			t.Logf("%d cuts, %v: %d items, %v", proxy.Cuts(), took.Round(time.Millisecond), len(got), err)
			if proxy.Cuts() == 0 {
				t.Fatal("the proxy cut no connection")
			}
			checkListing(t, l, got, err, want, took, true)
		})
		t.Run(l.name+"/gives up", func(t *testing.T) {
			proxy := faulttest.NewProxy(t, srv.Host)
			client := newListingClient(t, proxy, acr.ClientOptions{})
			// The last bytes of the first page's body never arrive.
			first := firstPageBytes(t, proxy, client, l)
			proxy.CutAfter(faulttest.Downstream, first-8, false)
			ctx, cancel := context.WithTimeout(t.Context(), listDeadline)
			defer cancel()
			start := time.Now()
			got, err := collectKeys(ctx, client, l, nil)
			took := time.Since(start)
			t.Logf("%d cuts, %v: %d items, %v", proxy.Cuts(), took.Round(time.Millisecond), len(got), err)
			if err == nil {
				t.Fatalf("the listing completed through %d cuts; the test meant to break every page", proxy.Cuts())
			}
			checkListing(t, l, got, err, want, took, false)
			if took > listDeadline/4 {
				t.Errorf("the listing gave up after %v; want well within its %v deadline", took, listDeadline)
			}
		})
	}
}

// firstPageBytes measures the bytes of l's first page response through
// proxy.
func firstPageBytes(t testing.TB, proxy *faulttest.Proxy, client *acr.Client, l listing) int64 {
	t.Helper()
	proxy.CutAfter(faulttest.Downstream, 0, false)
	list := l.list
	if l.plain != nil {
		list = l.plain
	}
	for _, err := range list(t.Context(), client) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	return proxy.Forwarded(faulttest.Downstream)
}

// pageKeyed puts a storm in front of a registry so that it tells the pages
// of a listing apart: the storm keys requests by method, path, digest and
// Range, and pages differ only in their query. The query travels to the
// storm in the Range header, which is taken out before the registry sees
// the request.
func pageKeyed(reg http.Handler, s *faulttest.Storm) http.Handler {
	s.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Range")
		reg.ServeHTTP(w, r)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/acr/v1/") {
			r.Header.Set("Range", "page "+r.URL.RawQuery)
		}
		s.ServeHTTP(w, r)
	})
}

// notFirstPage matches the requests for the second and later pages of a
// listing.
func notFirstPage(r *http.Request) bool { return r.URL.Query().Has("last") }

// TestListingRidesOutThrottling pages through each listing of
// TestListingSurvivesCuts while the registry answers bursts of 429 and 503
// with Retry-After (3 s, then 1 s, then none) on every third request: the
// listing waits as told and is complete, in order, without duplicates.
// Under a storm that does not end on the pages after the first, it yields
// the first page and then the registry's 429 or 503, within its deadline.
// It runs in a synctest bubble: no real sleeps.
func TestListingRidesOutThrottling(t *testing.T) {
	for _, l := range listings {
		for _, tc := range []struct {
			name  string
			fails int
			match func(*http.Request) bool
		}{{"bursts", 3, nil}, {"endless", 100, notFirstPage}} {
			t.Run(l.name+"/"+tc.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					reg, err := emulator.New(&emulator.Options{Now: steppingClock()})
					if err != nil {
						t.Fatal(err)
					}
					defer reg.Close()
					hc := faulttest.HandlerClient(reg)
					direct, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: hc})
					seedListings(t, direct)
					want := wantKeys(t, hc, "http://127.0.0.1:5000", l)
					s := &faulttest.Storm{Fails: tc.fails, Match: tc.match}
					client, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{PageSize: listPageSize,
						HTTPClient: faulttest.HandlerClient(pageKeyed(reg, s))})
					ctx, cancel := context.WithTimeout(t.Context(), listDeadline*3) // Retry-After adds up
					defer cancel()
					start := time.Now()
					got, err := collectKeys(ctx, client, l, nil)
					took := time.Since(start)
					t.Logf("%d failed requests, %v of bubble time: %d items, %v", s.Failed(), took, len(got), err)
					s.CheckWaited(t)
					if tc.fails <= 3 {
						checkListing(t, l, got, err, want, took, true)
						if n := s.Failed(); n < l.pages {
							t.Errorf("%d requests failed; the test meant to fail at least %d", n, l.pages)
						}
						if took < 4*time.Second {
							t.Errorf("the listing took %v; a request throttled with Retry-After 3 and then 1 waits at least 4 s", took)
						}
						return
					}
					checkListing(t, l, got, err, want, took, false)
					var re *acr.ResponseError
					if !errors.As(err, &re) || (re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusServiceUnavailable) {
						t.Fatalf("got %v, want the registry's 429 or 503", err)
					}
					if len(got) != listPageSize {
						t.Errorf("the listing yielded %d items before its error, want the first page's %d", len(got), listPageSize)
					}
				})
			})
		}
	}
}

// TestNoLeaksAfterListingFaults runs every listing over real connections,
// through the proxy, under a storm that ends and one that does not (with
// Retry-After: 0, to run quickly): without cuts, with a cut at a random
// offset and with cuts that make it give up; and it abandons each listing
// after its first item. Then it checks that no goroutine or file
// descriptor outlives them.
func TestNoLeaksAfterListingFaults(t *testing.T) {
	faulttest.NoLeaks(t, func() {
		reg, err := emulator.New(&emulator.Options{Now: steppingClock()})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		seed, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(reg)})
		seedListings(t, seed)
		rnd := rand.New(rand.NewPCG(1, 2))
		for _, fails := range []int{3, 100} {
			s := &faulttest.Storm{Fails: fails, RetryAfter: "0"}
			if fails > 3 {
				s.Match = notFirstPage
			}
			hs := httptest.NewServer(pageKeyed(reg, s))
			proxy := faulttest.NewProxy(t, hs.Listener.Addr().String())
			tr := http.DefaultTransport.(*http.Transport).Clone()
			client := newListingClient(t, proxy, acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
			for _, l := range listings {
				first := firstPageBytes(t, proxy, client, l)
				for _, cut := range []struct {
					at   int64
					once bool
				}{{0, false}, {1 + rnd.Int64N(4*first), true}, {first - 8, false}} {
					proxy.CutAfter(faulttest.Downstream, cut.at, cut.once)
					ctx, cancel := context.WithTimeout(t.Context(), listDeadline)
					_, err := collectKeys(ctx, client, l, nil)
					cancel()
					if err != nil {
						t.Logf("%s, storm of %d, cut at %d: %v", l.name, fails, cut.at, err)
					}
				}
				proxy.CutAfter(faulttest.Downstream, 0, false)
				for _, err := range l.list(t.Context(), client) {
					if err == nil {
						break // abandoned after the first item
					}
				}
			}
			tr.CloseIdleConnections()
			proxy.Close()
			hs.Close()
		}
	})
}
