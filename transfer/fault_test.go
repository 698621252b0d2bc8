package transfer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/faulttest"
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

// getManifest GETs a manifest URL past the proxies and the clients under
// test, accepting every manifest type: a GET without Accept gets no OCI
// manifest or index, from the emulator as from ACR.
func getManifest(t *testing.T, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", strings.Join([]string{ocispec.MediaTypeImageManifest, ocispec.MediaTypeImageIndex,
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json"}, ", "))
	return http.DefaultClient.Do(req)
}

// assertCopied checks, past the proxies and the clients under test, that
// the registry holds the image under tag in repo.
func assertCopied(t *testing.T, srv *acrtest.Server, repo, tag string, im copyImage) {
	t.Helper()
	resp, err := getManifest(t, srv.URL+"/v2/"+repo+"/manifests/"+tag)
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
		d    faulttest.Direction
	}{{"source", faulttest.Downstream}, {"destination", faulttest.Upstream}} {
		for _, at := range cutPoints {
			t.Run(fmt.Sprintf("%s/%.0f%%", side.name, at*100), func(t *testing.T) {
				psrc, pdst := faulttest.NewProxy(t, src.Host), faulttest.NewProxy(t, dst.Host)
				proxy := psrc
				if side.d == faulttest.Upstream {
					proxy = pdst
				}
				from, _ := acr.NewClient(psrc.URL, nil, nil)
				to, _ := acr.NewClient(pdst.URL, nil, nil)
				repo := fmt.Sprintf("mirror/%s-%.0f", side.name, at*100)
				proxy.CutAfter(side.d, int64(float64(im.size)*at), true)
				ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
				defer cancel()
				start := time.Now()
				got, err := transfer.Copy(ctx, transfer.Repository(from, "app"), "v1", transfer.Repository(to, repo), "v1", nil)
				if err != nil {
					t.Fatalf("Copy after %v: %v", time.Since(start), err)
				}
				if n := proxy.Cuts(); n != 1 {
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
		d    faulttest.Direction
		want string
	}{
		{"source", faulttest.Downstream, "broke after"},
		{"destination", faulttest.Upstream, "push sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			psrc, pdst := faulttest.NewProxy(t, src.Host), faulttest.NewProxy(t, dst.Host)
			proxy := psrc
			if tc.d == faulttest.Upstream {
				proxy = pdst
			}
			from, _ := acr.NewClient(psrc.URL, nil, nil)
			to, _ := acr.NewClient(pdst.URL, nil, nil)
			proxy.CutAfter(tc.d, 300<<10, false)
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
			resp, err := getManifest(t, dst.URL+"/v2/mirror/manifests/v1")
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

// newStormClient returns a client of reg served in memory through a storm.
func newStormClient(t testing.TB, reg http.Handler, s *faulttest.Storm, host string) *acr.Client {
	t.Helper()
	s.Handler = reg
	c, err := acr.NewClient("http://"+host, nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(s)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCopyRidesOutThrottling copies an image while both registries answer
// bursts of 429 and 503 with Retry-After: Copy waits as told and completes.
// With a storm that does not end on the destination, it fails with the
// registry's status, within its deadline. It runs in a synctest bubble:
// no real sleeps, and every goroutine Copy starts must have ended once
// the clients are drained.
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
				seed, _ := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(src)})
				im := pushCopyImage(t, seed, "app", copyLayers...)
				ss, ds := &faulttest.Storm{Fails: 3}, &faulttest.Storm{Fails: tc.fails}
				if tc.fails > 3 {
					// Endless at the destination, for blob uploads only.
					ds.Match = func(r *http.Request) bool { return strings.Contains(r.URL.Path, "/blobs/uploads/") }
				}
				from := newStormClient(t, src, ss, "127.0.0.1:5000")
				to := newStormClient(t, dst, ds, "127.0.0.1:5001")
				ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
				defer cancel()
				start := time.Now()
				got, err := transfer.Copy(ctx, transfer.Repository(from, "app"), "v1", transfer.Repository(to, "mirror"), "v1", nil)
				took := time.Since(start)
				t.Logf("%d + %d failed requests, %v of bubble time: %v", ss.Failed(), ds.Failed(), took, err)
				// An upload that failed after the copy had already failed ends
				// its session in the background (Client.Drain), with 5 s of its
				// own: that must end too, before the bubble does.
				for _, c := range []*acr.Client{from, to} {
					drain, stop := context.WithTimeout(context.Background(), 10*time.Second)
					if err := c.Drain(drain); err != nil {
						t.Fatalf("Drain: %v; a failed upload's DELETE should end within its own 5 s", err)
					}
					stop()
				}
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
				if n := ss.Failed() + ds.Failed(); n < 10 {
					t.Errorf("%d requests failed; the test meant to fail at least 10", n)
				}
				if took < 4*time.Second {
					t.Errorf("Copy took %v; a request throttled with Retry-After 3 and then 1 waits at least 4 s", took)
				}
				ss.CheckWaited(t)
				ds.CheckWaited(t)
				check, _ := acr.NewClient("http://127.0.0.1:5001", nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(dst)})
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
	faulttest.NoLeaks(t, func() {
		src, dst := acrtest.NewServer(t, nil), acrtest.NewServer(t, nil)
		defer src.HTTP.Close()
		defer dst.HTTP.Close()
		seed, _ := acr.NewClient(src.URL, nil, nil)
		im := pushCopyImage(t, seed, "app", copyLayers...)
		psrc, pdst := faulttest.NewProxy(t, src.Host), faulttest.NewProxy(t, dst.Host)
		defer psrc.Close()
		defer pdst.Close()
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
			p    *faulttest.Proxy
			d    faulttest.Direction
			at   int64
			once bool
		}{
			{registry, psrc, faulttest.Downstream, im.size / 2, true},
			{registry, pdst, faulttest.Upstream, im.size / 2, true},
			{registry, pdst, faulttest.Upstream, 300 << 10, false}, // gives up
			{layout, pdst, faulttest.Upstream, im.size / 2, true},
			{layout, pdst, faulttest.Upstream, 300 << 10, false},
		} {
			psrc.CutAfter(faulttest.Downstream, 0, false)
			pdst.CutAfter(faulttest.Upstream, 0, false)
			run.p.CutAfter(run.d, run.at, run.once)
			ctx, cancel := context.WithTimeout(t.Context(), copyDeadline)
			_, err := transfer.Copy(ctx, run.src, "v1", transfer.Repository(to, fmt.Sprintf("mirror/%d", i)), "v1", nil)
			cancel()
			if (err == nil) != run.once {
				t.Fatalf("copy %d: got %v", i, err)
			}
		}
		tr.CloseIdleConnections()
	})
}

// TestCopyStartsOverWhenSessionLost copies an image into a registry that
// loses the session of its first blob upload: Copy fetches that blob again
// and pushes it in a new session.
func TestCopyStartsOverWhenSessionLost(t *testing.T) {
	src, err := acr.NewClient(acrtest.NewServer(t, nil).URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := pushCopyImage(t, src, "app", 2*mib, 3*mib)
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	s := faulttest.NewSessionLoser(t, reg, faulttest.SessionLoss{Lose: func(n int) bool { return n == 1 }})
	dst, err := acr.NewClient(s.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "app"), "v1", nil)
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if got.Digest != img.root.Digest {
		t.Fatalf("copied %s, want %s", got.Digest, img.root.Digest)
	}
	for d, b := range img.blobs {
		assertHeld(t, dst, "app", d, b)
	}
	if n := s.Lost(); n != 1 {
		t.Errorf("the registry lost %d sessions, want 1", n)
	}
}
