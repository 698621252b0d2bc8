package acr_test

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The OCI tag list of a registry without ACR's API is asked for without a
// page size when the caller chose none, and decoded as it arrives. These
// tests hold it to one request, bounded memory and resuming a body that
// breaks off.

// ociOnlyRegistry is the emulator behind a router that answers "404 page
// not found" under /acr/, as distribution does, counting requests.
func ociOnlyRegistry(t *testing.T) *countingRegistry {
	t.Helper()
	reg := newCountingRegistry(t, nil)
	inner := reg.inner
	reg.inner = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/acr/") {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	})
	return reg
}

// listNames collects a listing of names, failing the test on an error.
func listNames[T any](t *testing.T, seq func(yield func(T, error) bool), name func(T) string) []string {
	t.Helper()
	var out []string
	for it, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, name(it))
	}
	return out
}

func tagName(tp acr.TagProperties) string { return tp.Name }
func self(s string) string                { return s }

// listQueries returns the queries of the requests for path among reqs, and
// how many other requests there were.
func listQueries(t *testing.T, reqs []string, path string) (queries []url.Values, others int) {
	t.Helper()
	for _, r := range reqs {
		u, err := url.Parse(strings.TrimPrefix(r, "GET "))
		if err != nil {
			t.Fatal(err)
		}
		if u.Path != path {
			others++
			continue
		}
		queries = append(queries, u.Query())
	}
	return queries, others
}

// TestTagNamesWithoutPageSize checks when the OCI tag list is asked for in
// one request without n: on a registry known to lack /acr/v1, with no page
// size chosen, or one not known yet; and when it pages with n: a page size
// chosen per call or for the client.
func TestTagNamesWithoutPageSize(t *testing.T) {
	reg := ociOnlyRegistry(t)
	s := &seeder{t: t, base: reg.URL}
	const count = 1234 // more than a page of acr.DefaultPageSize
	var want []string
	for i := range count {
		want = append(want, fmt.Sprintf("t%04d", i))
	}
	s.image("app", "amd64", "x", want...)
	ctx := t.Context()

	c, _ := acr.NewClient(reg.URL, nil, nil)
	reg.take()
	// A fresh client does not know yet whether this is ACR: TagNames asks
	// without n all the same, and sends nothing else.
	if got := listNames(t, c.TagNames(ctx, "app", nil), self); !slices.Equal(got, want) {
		t.Fatalf("TagNames, registry not known: got %d names, want %d in order", len(got), count)
	}
	if qs, others := listQueries(t, reg.take(), "/v2/app/tags/list"); len(qs) != 1 || qs[0].Has("n") || others != 0 {
		t.Errorf("TagNames before the registry is known: queries %v and %d other requests, want one query without n", qs, others)
	}
	// Tags learns from its /acr/v1 request that the API is missing, and
	// then asks for the tag list once, without n.
	if got := listNames(t, c.Tags(ctx, "app", nil), tagName); !slices.Equal(got, want) {
		t.Fatalf("Tags: got %d names, want %d in order", len(got), count)
	}
	reqs := reg.take()
	qs, others := listQueries(t, reqs, "/v2/app/tags/list")
	if len(qs) != 1 || qs[0].Has("n") || others != 1 || !strings.HasPrefix(reqs[0], "GET /acr/v1/app/_tags") {
		t.Errorf("Tags on a registry without /acr/v1 sent %v; want the /acr/v1 listing, then one tag list request without n", reqs)
	}
	for _, tc := range []struct {
		name    string
		opts    *acr.ListOptions
		want    []string
		queries []string
	}{
		{"no options", nil, want, []string{""}},
		{"Last", &acr.ListOptions{Last: "t0999", ReadAhead: true}, want[1000:], []string{"last=t0999"}},
		{"PageSize", &acr.ListOptions{PageSize: 500}, want, []string{"n=500", "last=t0499&n=500", "last=t0999&n=500"}},
	} {
		got := listNames(t, c.TagNames(ctx, "app", tc.opts), self)
		if !slices.Equal(got, tc.want) {
			t.Errorf("TagNames, %s: got %d names, want %d in order", tc.name, len(got), len(tc.want))
		}
		var sent []string
		for _, r := range reg.take() {
			u, _ := url.Parse(strings.TrimPrefix(r, "GET "))
			q := u.Query()
			q.Del("orderby") // the emulator's Links carry it
			sent = append(sent, q.Encode())
		}
		if !slices.Equal(sent, tc.queries) {
			t.Errorf("TagNames, %s: queries %q, want %q", tc.name, sent, tc.queries)
		}
	}

	// The catalog keeps n: distribution answers 100 repositories without
	// it, and up to 1,000 with it.
	if got := listNames(t, c.Repositories(ctx, nil), self); !slices.Equal(got, []string{"app"}) {
		t.Errorf("Repositories: got %v, want [app]", got)
	}
	if qs, _ := listQueries(t, reg.take(), "/v2/_catalog"); len(qs) != 1 || qs[0].Get("n") != "1000" {
		t.Errorf("Repositories on a registry without /acr/v1: catalog queries %v, want one with n=1000", qs)
	}

	// A page size chosen for the client keeps the pages.
	paged, _ := acr.NewClient(reg.URL, nil, &acr.ClientOptions{PageSize: 1000})
	listNames(t, paged.Tags(ctx, "app", nil), tagName)
	if qs, _ := listQueries(t, reg.take(), "/v2/app/tags/list"); len(qs) != 2 || qs[0].Get("n") != "1000" {
		t.Errorf("ClientOptions.PageSize 1000: tag list queries %v, want 2 pages with n=1000", qs)
	}
}

// TestTagNamesStreamFollowsLinks checks that a registry that pages without
// being asked to (as Docker Hub does) is followed through its Link
// headers, asking for the client's page size where a link names a smaller
// one and the registry may be ACR, and that a Link to another origin or
// one repeated is refused.
func TestTagNamesStreamFollowsLinks(t *testing.T) {
	names := []string{"a", "b", "c", "d", "e"}
	var mu sync.Mutex
	var queries []string
	offOrigin, withN, repeat := false, false, false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/app/tags/list" {
			http.NotFound(w, r)
			return
		}
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		mu.Unlock()
		i, size := 0, 2
		if last := r.URL.Query().Get("last"); last != "" {
			i = slices.Index(names, last) + 1
		}
		if n, err := strconv.Atoi(r.URL.Query().Get("n")); err == nil && !repeat {
			size = n
		}
		page := names[i:min(i+size, len(names))]
		if i+size < len(names) {
			next := "/v2/app/tags/list?last=" + page[len(page)-1]
			if withN {
				next += "&n=" + strconv.Itoa(size)
			}
			if repeat {
				next = "/v2/app/tags/list?last=a&n=2"
			}
			if offOrigin {
				next = "http://elsewhere.example" + next
			}
			w.Header().Set("Link", "<"+next+`>; rel="next"`)
		}
		fmt.Fprintf(w, `{"name":"app","tags":["%s"]}`, strings.Join(page, `","`))
	}))
	defer srv.Close()
	c, _ := acr.NewClient(srv.URL, nil, nil)
	if got := listNames(t, c.Tags(t.Context(), "app", nil), tagName); !slices.Equal(got, names) {
		t.Errorf("got %v, want %v", got, names)
	}
	if want := []string{"", "last=b", "last=d"}; !slices.Equal(queries, want) {
		t.Errorf("queries %q, want %q", queries, want)
	}

	// Links that name a page size: a client that does not know whether
	// the registry is ACR asks for its own page size instead of a smaller
	// one; one that knows it is not (above, from Tags) follows them as
	// they are.
	withN = true
	for _, tc := range []struct {
		name string
		c    *acr.Client
		want []string
	}{
		{"registry not known", nil, []string{"", "last=b&n=1000"}},
		{"registry known not to be ACR", c, []string{"", "last=b&n=2", "last=d&n=2"}},
	} {
		lc := tc.c
		if lc == nil {
			lc, _ = acr.NewClient(srv.URL, nil, nil)
		}
		mu.Lock()
		queries = nil
		mu.Unlock()
		if got := listNames(t, lc.TagNames(t.Context(), "app", nil), self); !slices.Equal(got, names) {
			t.Errorf("%s: got %v, want %v", tc.name, got, names)
		}
		if !slices.Equal(queries, tc.want) {
			t.Errorf("%s: queries %q, want %q", tc.name, queries, tc.want)
		}
	}
	// A registry that repeats a link is caught, although the page asked
	// for differs from the link.
	repeat = true
	fresh, _ := acr.NewClient(srv.URL, nil, nil)
	var lastErr error
	for _, err := range fresh.TagNames(t.Context(), "app", nil) {
		if err != nil {
			lastErr = err
			break
		}
	}
	if lastErr == nil || !strings.Contains(lastErr.Error(), "repeated a page cursor") {
		t.Errorf("a repeated link: got %v, want an error saying the cursor repeated", lastErr)
	}
	withN, repeat = false, false

	offOrigin = true
	var got []string
	lastErr = nil
	for name, err := range c.TagNames(t.Context(), "app", nil) {
		if err != nil {
			lastErr = err
			break
		}
		got = append(got, name)
	}
	if !slices.Equal(got, names[:2]) || lastErr == nil || !strings.Contains(lastErr.Error(), "another origin") {
		t.Errorf("a Link to another origin: got %v, %v; want the first page and an error naming the origin", got, lastErr)
	}
}

// tagListServer serves a tag list of count generated names, written as
// they are generated, and answers 404 elsewhere. cut, when set, is called
// with the request's last parameter and the index of the name about to be
// written; true breaks the connection there.
func tagListServer(t *testing.T, count int, cut func(last string, i int) bool) (*httptest.Server, *[]string) {
	t.Helper()
	var mu sync.Mutex
	var lasts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/big/tags/list" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Has("n") {
			http.Error(w, "this test server wants no n", http.StatusBadRequest)
			return
		}
		last := q.Get("last")
		mu.Lock()
		lasts = append(lasts, last)
		mu.Unlock()
		start := 0
		if last != "" {
			n, err := strconv.Atoi(strings.TrimPrefix(last, "tag-")[:9])
			if err != nil {
				http.Error(w, "bad last", http.StatusBadRequest)
				return
			}
			start = n + 1
		}
		w.Header().Set("Content-Type", "application/json")
		bw := bufio.NewWriterSize(w, 4096)
		bw.WriteString(`{"name":"big","tags":[`)
		for i := start; i < count; i++ {
			if cut != nil && cut(last, i) {
				bw.Flush()
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // the connection drops mid-body
			}
			if i > start {
				bw.WriteByte(',')
			}
			fmt.Fprintf(bw, `"tag-%09d-%s"`, i, "padding-to-make-each-name-longer")
		}
		bw.WriteString("]}\n")
		bw.Flush()
	}))
	t.Cleanup(srv.Close)
	return srv, &lasts
}

// tagListName is the i-th name tagListServer lists.
func tagListName(i int) string {
	return fmt.Sprintf("tag-%09d-%s", i, "padding-to-make-each-name-longer")
}

// TestTagNamesStreamMemoryFlat lists 200,000 tags (an 8.6 MB body, sent
// as it is generated) and checks that the heap stays far below the body's
// size: the body is decoded as it arrives, never held whole.
func TestTagNamesStreamMemoryFlat(t *testing.T) {
	const count = 200_000
	bodySize := count * (len(tagListName(0)) + 3)
	srv, _ := tagListServer(t, count, nil)
	c, _ := acr.NewClient(srv.URL, nil, nil)
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	base := heap()
	peak := base
	n := 0
	for tp, err := range c.Tags(t.Context(), "big", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if tp.Name != tagListName(n) {
			t.Fatalf("tag %d: got %q, want %q", n, tp.Name, tagListName(n))
		}
		n++
		if n%20_000 == 0 {
			peak = max(peak, heap())
		}
	}
	if n != count {
		t.Fatalf("listed %d tags, want %d", n, count)
	}
	grew := int64(peak) - int64(base)
	t.Logf("body %d bytes; heap grew by at most %d bytes while listing", bodySize, grew)
	// Held whole, the body alone is 9.8 MB (the heap grew by about 30 MB);
	// streamed, the growth is the decoder's buffers and the test server's
	// own garbage, 0.3-0.6 MB (more under -race).
	if grew > int64(bodySize/4) {
		t.Errorf("the heap grew by %d bytes while listing a %d-byte body; want under %d (the body must not be held whole)", grew, bodySize, bodySize/4)
	}
}

// TestTagNamesStreamResumes breaks the body of the tag list off mid-way:
// the listing resumes after the last name received, with nothing repeated
// or lost, and gives up when the body keeps breaking before any new name.
func TestTagNamesStreamResumes(t *testing.T) {
	const count = 5000
	t.Run("breaks after progress", func(t *testing.T) {
		// Every body breaks off 1,200 names after where it started.
		srv, lasts := tagListServer(t, count, func(last string, i int) bool {
			start := 0
			if last != "" {
				start, _ = strconv.Atoi(strings.TrimPrefix(last, "tag-")[:9])
				start++
			}
			return i == start+1200
		})
		c, _ := acr.NewClient(srv.URL, nil, nil)
		got := listNames(t, c.Tags(t.Context(), "big", nil), tagName)
		if len(got) != count {
			t.Fatalf("listed %d tags, want %d", len(got), count)
		}
		for i, name := range got {
			if name != tagListName(i) {
				t.Fatalf("tag %d: got %q, want %q", i, name, tagListName(i))
			}
		}
		want := []string{"", tagListName(1199), tagListName(2399), tagListName(3599), tagListName(4799)}
		if !slices.Equal(*lasts, want) {
			t.Errorf("requests with last %q, want %q", *lasts, want)
		}
	})
	t.Run("breaks once before any name", func(t *testing.T) {
		broken := false
		srv, lasts := tagListServer(t, count, func(last string, i int) bool {
			if !broken {
				broken = true
				return true
			}
			return false
		})
		c, _ := acr.NewClient(srv.URL, nil, nil)
		got := listNames(t, c.Tags(t.Context(), "big", nil), tagName)
		if len(got) != count || !slices.Equal(*lasts, []string{"", ""}) {
			t.Errorf("listed %d tags with requests for last %q, want %d with the first request repeated", len(got), *lasts, count)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		srv, lasts := tagListServer(t, count, func(last string, i int) bool {
			return last == "" && i == 10 || last == tagListName(9)
		})
		c, _ := acr.NewClient(srv.URL, nil, nil)
		got := 0
		var lastErr error
		for _, err := range c.Tags(t.Context(), "big", nil) {
			if err != nil {
				lastErr = err
				break
			}
			got++
		}
		// The first body breaks after ten names, and every body asked
		// after tag 9 breaks before its first name.
		if lastErr == nil || !strings.Contains(lastErr.Error(), "reading the list failed (9 attempts)") {
			t.Errorf("got %d tags and %v; want an error after 9 attempts", got, lastErr)
		}
		if n := len(*lasts); n != 9 {
			t.Errorf("%d requests, want 9 (one, then 8 resumes)", n)
		}
	})
}

// TestTagNamesStreamBadJSON checks that a malformed body fails with the
// listing's decode error, after the names before the fault.
func TestTagNamesStreamBadJSON(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"name":"app","tags":["a",1]}`, "does not decode"},
		{`{"name":"app","tags":["a"],"TAGS":["b"]}`, "twice"},
		{`{"name":"app","tags":["a"`, "does not decode"},
		{`{"name":"app","tags":["a"]} {}`, "does not decode"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v2/app/tags/list" {
				http.NotFound(w, r)
				return
			}
			w.Write([]byte(tc.body))
		}))
		c, _ := acr.NewClient(srv.URL, nil, nil)
		var got []string
		var lastErr error
		for tp, err := range c.Tags(t.Context(), "app", nil) {
			if err != nil {
				lastErr = err
				break
			}
			got = append(got, tp.Name)
		}
		srv.Close()
		if !slices.Equal(got, []string{"a"}) || lastErr == nil || !strings.Contains(lastErr.Error(), tc.want) {
			t.Errorf("%s: got %v, %v; want [a] and an error saying %q", tc.body, got, lastErr, tc.want)
		}
	}
}

// statusWriter records the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// TestReferenceRegistryTagListInOneRequest lists more than a page of tags
// from the reference registry (distribution) through a counting proxy:
// after the /acr/v1 request that tells it is no ACR, one tag list request
// without n brings every tag (challenges answered 401 aside); TagNames on a
// fresh client sends that one request alone.
func TestReferenceRegistryTagListInOneRequest(t *testing.T) {
	ref := acrtest.ReferenceRegistry(t)
	target, err := url.Parse(ref.URL)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reqs []string
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		proxy.ServeHTTP(sw, r)
		if sw.status != http.StatusUnauthorized { // with auth, challenges come first
			mu.Lock()
			reqs = append(reqs, r.Method+" "+r.URL.RequestURI())
			mu.Unlock()
		}
	}))
	defer front.Close()
	var cred acr.Credential
	if ref.User != "" {
		cred = acr.BasicCredential(ref.User, ref.Password)
	}
	seed, err := acr.NewClient(ref.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := "acrgo/taglist-" + strconv.FormatInt(int64(len(t.Name())), 10)
	const count = 1050
	cfg, err := seed.UploadBlob(t.Context(), repo, strings.NewReader(`{"os":"linux"}`), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	image := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
	image.SchemaVersion = 2
	img, err := seed.SetImage(t.Context(), repo, image, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := seed.GetManifest(t.Context(), repo, img.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range count {
		want = append(want, fmt.Sprintf("v%04d", i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, count)
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < count; i += 8 {
				if _, err := seed.SetManifest(t.Context(), repo, m.Bytes, m.MediaType, &acr.SetManifestOptions{Tag: want[i]}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c, err := acr.NewClient(front.URL, cred, &acr.ClientOptions{AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	got := listNames(t, c.Tags(t.Context(), repo, nil), tagName)
	if !slices.Equal(got, want) {
		t.Fatalf("listed %d tags, want %d in order", len(got), count)
	}
	var lists []string
	for _, r := range reqs {
		if strings.Contains(r, "/tags/list") {
			lists = append(lists, r)
		}
	}
	if len(lists) != 1 || strings.Contains(lists[0], "n=") {
		t.Errorf("tag list requests %q; want one, without n", lists)
	}

	// A fresh client's TagNames (acrctl tag list -o name) asks once too,
	// without first finding out that this is not ACR.
	fresh, err := acr.NewClient(front.URL, cred, &acr.ClientOptions{AllowInsecure: true})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	reqs = nil
	mu.Unlock()
	if got := listNames(t, fresh.TagNames(t.Context(), repo, nil), self); !slices.Equal(got, want) {
		t.Fatalf("TagNames listed %d tags, want %d in order", len(got), count)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reqs) != 1 || !strings.Contains(reqs[0], "/tags/list") || strings.Contains(reqs[0], "n=") {
		t.Errorf("TagNames on a fresh client sent %q; want one tag list request, without n", reqs)
	}
}
