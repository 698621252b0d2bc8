package acr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// copyDeadline bounds each faulted Copy: it completes or fails within it.
const copyDeadline = 60 * time.Second

// copyImage is an image pushed for the fault tests of Copy: its manifest
// and every blob with its content.
type copyImage struct {
	root  ocispec.Descriptor
	blobs map[digest.Digest][]byte
	size  int64 // of all blobs
}

// pushCopyImage pushes to repo, tagged v1, an image with layers of the
// given sizes: above 1 MiB, PutBlob streams them from their source in one
// PUT, so a broken stream cannot be resumed from a registry source.
func pushCopyImage(t testing.TB, client *acr.Client, repo string, sizes ...int) copyImage {
	t.Helper()
	ctx := context.Background()
	im := copyImage{blobs: map[digest.Digest][]byte{}}
	upload := func(data []byte, mt string) ocispec.Descriptor {
		d, err := client.UploadBlob(ctx, repo, bytes.NewReader(data), &acr.UploadBlobOptions{MediaType: mt})
		if err != nil {
			t.Fatal(err)
		}
		im.blobs[d.Digest] = data
		im.size += d.Size
		return d
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: upload([]byte(`{"architecture":"amd64","os":"linux"}`), ocispec.MediaTypeImageConfig)}
	m.SchemaVersion = 2
	for _, n := range sizes {
		m.Layers = append(m.Layers, upload(randomBytes(n), ocispec.MediaTypeImageLayerGzip))
	}
	var err error
	if im.root, err = client.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	return im
}

// assertCopied checks, past the proxies and the clients under test, that
// the registry holds the image under tag in repo.
func assertCopied(t *testing.T, srv *acrtest.Server, repo, tag string, im copyImage) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/v2/" + repo + "/manifests/" + tag)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); resp.StatusCode != http.StatusOK || got != im.root.Digest.String() {
		t.Fatalf("%s:%s is %s (status %d), want %s", repo, tag, got, resp.StatusCode, im.root.Digest)
	}
	for d, data := range im.blobs {
		assertStored(t, srv, repo, d, data)
	}
}

// copyLayers are the layer sizes of the image the fault tests copy.
var copyLayers = []int{5*mib + 3, 3 * mib, 2*mib + 11, 1000}

// TestCopySurvivesCuts copies a multi-layer image between two registries,
// each behind a fault proxy, and cuts one connection at 10, 50 and 90
// percent of the image's bytes: on the source side (downloads resume with
// Range) and on the destination side (a streamed PUT of a layer breaks, and
// its source cannot be rewound). Copy completes, within its deadline, and
// the destination holds every blob intact.
func TestCopySurvivesCuts(t *testing.T) {
	src, dst := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	seed, _ := acr.NewClient(src.URL, nil, nil)
	im := pushCopyImage(t, seed, "app", copyLayers...)
	for _, side := range []struct {
		name string
		d    direction
	}{{"source", downstream}, {"destination", upstream}} {
		for _, at := range cutPoints {
			t.Run(fmt.Sprintf("%s/%.0f%%", side.name, at*100), func(t *testing.T) {
				psrc, pdst := newFaultProxy(t, src.Host), newFaultProxy(t, dst.Host)
				proxy := psrc
				if side.d == upstream {
					proxy = pdst
				}
				from, _ := acr.NewClient(psrc.URL, nil, nil)
				to, _ := acr.NewClient(pdst.URL, nil, nil)
				repo := fmt.Sprintf("mirror/%s-%.0f", side.name, at*100)
				proxy.cutAfter(side.d, int64(float64(im.size)*at), true)
				ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
				defer cancel()
				start := time.Now()
				got, err := transfer.Copy(ctx, transfer.Repository(from, "app"), "v1", transfer.Repository(to, repo), "v1", nil)
				if err != nil {
					t.Fatalf("Copy after %v: %v", time.Since(start), err)
				}
				if n := proxy.cuts.Load(); n != 1 {
					t.Fatalf("the proxy cut %d connections, want 1", n)
				}
				if got.Digest != im.root.Digest {
					t.Fatalf("Copy returned %s, want %s", got.Digest, im.root.Digest)
				}
				t.Logf("copied %d bytes through one cut in %v", im.size, time.Since(start))
				assertCopied(t, dst, repo, "v1", im)
			})
		}
	}
}

// TestCopyGivesUpClearly breaks every connection of one side after a few
// hundred KiB, more often than downloads resume and Copy retries: Copy
// fails, well within its deadline, with an error that names the blob and
// the broken transfer, and the destination has no tag.
func TestCopyGivesUpClearly(t *testing.T) {
	src, dst := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
	seed, _ := acr.NewClient(src.URL, nil, nil)
	pushCopyImage(t, seed, "app", copyLayers...)
	for _, tc := range []struct {
		name string
		d    direction
		want string
	}{
		{"source", downstream, "broke after"},
		{"destination", upstream, "push sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			psrc, pdst := newFaultProxy(t, src.Host), newFaultProxy(t, dst.Host)
			proxy := psrc
			if tc.d == upstream {
				proxy = pdst
			}
			from, _ := acr.NewClient(psrc.URL, nil, nil)
			to, _ := acr.NewClient(pdst.URL, nil, nil)
			proxy.cutAfter(tc.d, 300<<10, false)
			ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
			defer cancel()
			start := time.Now()
			_, err := transfer.Copy(ctx, transfer.Repository(from, "app"), "v1", transfer.Repository(to, "mirror"), "v1", nil)
			took := time.Since(start)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error that mentions %q", err, tc.want)
			}
			if errors.Is(err, context.DeadlineExceeded) || took > copyDeadline/2 {
				t.Fatalf("Copy gave up after %v (%v); want a failure of its own well within %v", took, err, copyDeadline)
			}
			t.Logf("after %v: %v", took, err)
			resp, err := http.Get(dst.URL + "/v2/mirror/manifests/v1")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Fatalf("the destination answers %d for the tag of a failed copy, want 404", resp.StatusCode)
			}
		})
	}
}

// storm answers bursts of 429 and 503 with Retry-After in front of a
// registry: the first attempts of every third request (by method, path,
// digest and Range) fail, up to three in a row, which the client's default of three
// retries rides out. The PUT that completes a blob upload fails once per
// blob, with a 429: when it streams the blob, the transport cannot send it
// again, and Copy starts the blob once more after the Retry-After.
type storm struct {
	h http.Handler
	// fails is how many attempts of a chosen request fail; always > 3
	// fails them forever.
	fails int
	// match, when set, limits the storm to the requests it accepts.
	match func(*http.Request) bool
	// retryAfter, when set, replaces every Retry-After, so that a storm
	// over real connections ends quickly.
	retryAfter string

	mu     sync.Mutex
	n      int                  // requests seen
	seen   map[string]int       // failed attempts by request
	due    map[string]time.Time // when a request told to wait may return
	failed int
	early  int // requests that returned before their Retry-After
}

func (s *storm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := r.Method + " " + r.URL.Path + " " + q.Get("digest") + q.Get("mount") + " " + r.Header.Get("Range")
	fails := s.fails
	putBlob := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && fails <= 3
	if putBlob {
		// A PUT that streams a blob cannot be sent again; Copy starts the
		// blob once more, in a new session. Fail it once per blob.
		key, fails = "PUT blob "+q.Get("digest"), 1
	}
	now := time.Now()
	s.mu.Lock()
	if s.seen == nil {
		s.seen, s.due = map[string]int{}, map[string]time.Time{}
	}
	if due, ok := s.due[key]; ok && now.Before(due) {
		s.early++
	}
	delete(s.due, key)
	k, ok := s.seen[key]
	if !ok && (s.match == nil || s.match(r)) {
		s.n++
		if s.n%3 == 1 || putBlob {
			ok = true
		}
	}
	fail := ok && (k < fails || s.fails > 3)
	if ok {
		s.seen[key] = k + 1
	}
	h := w.Header()
	if fail {
		s.failed++
		switch k % 3 {
		case 0:
			h.Set("Retry-After", "3")
		case 1:
			h.Set("Retry-After", "1")
		}
		if s.retryAfter != "" {
			h.Set("Retry-After", s.retryAfter)
		}
		// The POST that opens a session is the same request for every
		// blob: a concurrent one is not a retry.
		opens := r.Method == http.MethodPost && q.Get("digest") == "" && q.Get("mount") == ""
		if secs, err := strconv.Atoi(h.Get("Retry-After")); err == nil && !opens {
			s.due[key] = now.Add(time.Duration(secs) * time.Second)
		}
	}
	s.mu.Unlock()
	if !fail {
		s.h.ServeHTTP(w, r)
		return
	}
	h.Set("Content-Type", "application/json")
	switch k % 3 {
	case 0:
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"throttled"}]}`))
	case 1:
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}`))
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

func (s *storm) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// checkWaited fails t if a request came back before its Retry-After.
func (s *storm) checkWaited(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.early > 0 {
		t.Errorf("%d requests came back before the Retry-After they were given", s.early)
	}
}

// newStormClient returns a client of reg served in memory through a storm.
func newStormClient(t testing.TB, reg http.Handler, s *storm, host string) *acr.Client {
	t.Helper()
	s.h = reg
	c, err := acr.NewClient("http://"+host, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: handlerTransport{s}}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCopyRidesOutThrottling copies an image while both registries answer
// bursts of 429 and 503 with Retry-After: Copy waits as told and completes.
// With a storm that does not end on the destination, it fails with the
// registry's status, within its deadline. It runs in a synctest bubble:
// no real sleeps, and every goroutine Copy starts must have ended.
func TestCopyRidesOutThrottling(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fails int // of each chosen request, at the destination
	}{{"bursts", 3}, {"endless", 100}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				src, err := emulator.New(nil)
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				dst, err := emulator.New(nil)
				if err != nil {
					t.Fatal(err)
				}
				defer dst.Close()
				seed, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: handlerTransport{src}}})
				im := pushCopyImage(t, seed, "app", copyLayers...)
				ss, ds := &storm{fails: 3}, &storm{fails: tc.fails}
				if tc.fails > 3 {
					// Endless at the destination, for blob uploads only.
					ds.match = func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/uploads/") }
				}
				from := newStormClient(t, src, ss, "127.0.0.1:5000")
				to := newStormClient(t, dst, ds, "127.0.0.1:5001")
				ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
				defer cancel()
				start := time.Now()
				got, err := transfer.Copy(ctx, transfer.Repository(from, "app"), "v1", transfer.Repository(to, "mirror"), "v1", nil)
				took := time.Since(start)
				t.Logf("%d + %d failed requests, %v of bubble time: %v", ss.count(), ds.count(), took, err)
				if tc.fails > 3 {
					var re *acr.ResponseError
					if !errors.As(err, &re) || (re.StatusCode != http.StatusTooManyRequests && re.StatusCode != http.StatusServiceUnavailable) {
						t.Fatalf("got %v, want the registry's 429 or 503", err)
					}
					if took >= copyDeadline {
						t.Fatalf("Copy failed after %v, at its deadline; want a failure of its own", took)
					}
					return
				}
				if err != nil {
					t.Fatalf("Copy: %v", err)
				}
				if got.Digest != im.root.Digest {
					t.Fatalf("Copy returned %s, want %s", got.Digest, im.root.Digest)
				}
				if n := ss.count() + ds.count(); n < 10 {
					t.Errorf("%d requests failed; the test meant to fail at least 10", n)
				}
				if took < 4*time.Second {
					t.Errorf("Copy took %v; a request throttled with Retry-After 3 and then 1 waits at least 4 s", took)
				}
				ss.checkWaited(t)
				ds.checkWaited(t)
				check, _ := acr.NewClient("http://127.0.0.1:5001", nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: handlerTransport{dst}}})
				for d, data := range im.blobs {
					rc, err := check.DownloadBlob(t.Context(), "mirror", d, nil)
					if err != nil {
						t.Fatal(err)
					}
					var buf bytes.Buffer
					_, err = buf.ReadFrom(rc)
					rc.Close()
					if err != nil || !bytes.Equal(buf.Bytes(), data) {
						t.Fatalf("blob %s at the destination: %d bytes, %v", d, buf.Len(), err)
					}
				}
			})
		})
	}
}

// TestNoLeaksAfterCopyFaults runs Copies from a registry and from an OCI
// layout through a cut on each side and through cuts that make them give
// up, and checks that no goroutine or file descriptor
// outlives them (as TestNoLeaksAfterFaults does for single transfers).
func TestNoLeaksAfterCopyFaults(t *testing.T) {
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	func() {
		src, dst := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
		defer src.HTTP.Close()
		defer dst.HTTP.Close()
		seed, _ := acr.NewClient(src.URL, nil, nil)
		im := pushCopyImage(t, seed, "app", copyLayers...)
		psrc, pdst := newFaultProxy(t, src.Host), newFaultProxy(t, dst.Host)
		defer psrc.close()
		defer pdst.close()
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		hc := &http.Client{Transport: tr}
		from, _ := acr.NewClient(psrc.URL, nil, &acr.ClientOptions{HTTPClient: hc})
		to, _ := acr.NewClient(pdst.URL, nil, &acr.ClientOptions{HTTPClient: hc})
		// An OCI layout source too: its blobs are open files.
		layout, err := transfer.OpenLayout(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transfer.Copy(t.Context(), transfer.Repository(seed, "app"), "v1", layout, "v1", nil); err != nil {
			t.Fatal(err)
		}
		registry := transfer.Repository(from, "app")
		for i, run := range []struct {
			src  transfer.Target
			p    *faultProxy
			d    direction
			at   int64
			once bool
		}{
			{registry, psrc, downstream, im.size / 2, true},
			{registry, pdst, upstream, im.size / 2, true},
			{registry, pdst, upstream, 300 << 10, false}, // gives up
			{layout, pdst, upstream, im.size / 2, true},
			{layout, pdst, upstream, 300 << 10, false},
		} {
			psrc.cutAfter(downstream, 0, false)
			pdst.cutAfter(upstream, 0, false)
			run.p.cutAfter(run.d, run.at, run.once)
			ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
			_, err := transfer.Copy(ctx, run.src, "v1", transfer.Repository(to, fmt.Sprintf("mirror/%d", i)), "v1", nil)
			cancel()
			if (err == nil) != run.once {
				t.Fatalf("copy %d: got %v", i, err)
			}
		}
		tr.CloseIdleConnections()
	}()
	if g := settle(baseG); g > baseG {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines remain, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if fd := openFDs(t); fd > baseFD+2 {
		t.Fatalf("%d file descriptors open, %d before", fd, baseFD)
	}
}
