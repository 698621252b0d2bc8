package acr_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
)

const mib = 1 << 20

// cutPoints are where the fault tests break a transfer, as a share of it.
var cutPoints = []float64{0.10, 0.50, 0.90}

// TestUploadResumesAfterCut cuts the client's connection once while it
// sends a blob, at 10, 50 and 90 percent: inside a monolithic PUT and
// inside PATCH chunks. The upload must complete with the right digest, and
// resume rather than restart: the proxy forwards less than the blob plus
// one chunk. (What it forwards beyond the blob is a resend that the
// registry refuses when it has not yet taken in the broken request's last
// bytes as the client asks for its offset: bounded by socket buffers, a
// few MiB on loopback.)
func TestUploadResumesAfterCut(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		chunk int64
	}{
		{"monolithic", 3*mib + 17, 8 * mib},
		{"chunked", 24 * mib, 8 * mib},
		{"unaligned chunks", 20*mib + 123, 8 * mib},
	} {
		data := randomBytes(tc.size)
		want := digest.FromBytes(data)
		for _, at := range cutPoints {
			t.Run(fmt.Sprintf("%s/%.0f%%", tc.name, at*100), func(t *testing.T) {
				srv := acrtest.NewServer(t, nil)
				proxy := faulttest.NewProxy(t, srv.Host)
				client, err := acr.NewClient(proxy.URL, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				proxy.CutAfter(faulttest.Upstream, int64(float64(tc.size)*at), true)
				desc, err := client.UploadBlob(t.Context(), "fault/up", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: tc.chunk})
				if err != nil {
					t.Fatalf("upload: %v", err)
				}
				if desc.Digest != want || desc.Size != int64(tc.size) {
					t.Fatalf("got %s (%d bytes), want %s (%d bytes)", desc.Digest, desc.Size, want, tc.size)
				}
				if n := proxy.Cuts(); n != 1 {
					t.Fatalf("the proxy cut %d connections, want 1", n)
				}
				sent, limit := proxy.Forwarded(faulttest.Upstream), int64(tc.size)+tc.chunk
				t.Logf("forwarded %d bytes client to server for a %d-byte blob (%.2fx)", sent, tc.size, float64(sent)/float64(tc.size))
				if sent >= limit {
					t.Errorf("forwarded %d bytes, want < %d (blob + one chunk): the upload restarted", sent, limit)
				}
				assertStored(t, srv, "fault/up", want, data)
			})
		}
	}
}

// assertStored checks, past the proxy and the client under test, that the
// registry holds data under d in repo.
func assertStored(t *testing.T, srv *acrtest.Server, repo string, d digest.Digest, data []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/v2/" + repo + "/blobs/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("the registry holds %d bytes (status %d, %v) under %s, want the %d uploaded", len(got), resp.StatusCode, err, d, len(data))
	}
}

// TestDownloadResumesAfterCut cuts the connection once while a 24 MiB blob
// comes down, at 10, 50 and 90 percent: DownloadBlob and DownloadBlobTo
// deliver the right bytes and resume with a Range request instead of
// fetching the blob again.
func TestDownloadResumesAfterCut(t *testing.T) {
	const size = 24 * mib
	const margin = 64 << 10 // headers of a few responses
	data := randomBytes(size)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("fault/down", data)
	for _, at := range cutPoints {
		for _, to := range []bool{false, true} {
			name := fmt.Sprintf("DownloadBlob/%.0f%%", at*100)
			if to {
				name = fmt.Sprintf("DownloadBlobTo/%.0f%%", at*100)
			}
			t.Run(name, func(t *testing.T) {
				proxy := faulttest.NewProxy(t, srv.Host)
				client, _ := acr.NewClient(proxy.URL, nil, nil)
				proxy.CutAfter(faulttest.Downstream, int64(float64(size)*at), true)
				got := downloadVia(t, client, "fault/down", d, to)
				if !bytes.Equal(got, data) {
					t.Fatalf("got %d bytes that differ from the blob's %d", len(got), size)
				}
				if n := proxy.Cuts(); n != 1 {
					t.Fatalf("the proxy cut %d connections, want 1", n)
				}
				recv := proxy.Forwarded(faulttest.Downstream)
				t.Logf("forwarded %d bytes server to client for a %d-byte blob", recv, size)
				if recv >= size+margin {
					t.Errorf("forwarded %d bytes, want < %d: the download restarted", recv, size+margin)
				}
			})
		}
	}
	t.Run("cut on every connection", func(t *testing.T) {
		// Each connection carries 30 % of the blob: four resumes.
		proxy := faulttest.NewProxy(t, srv.Host)
		client, _ := acr.NewClient(proxy.URL, nil, nil)
		proxy.CutAfter(faulttest.Downstream, size*3/10, false)
		if got := downloadVia(t, client, "fault/down", d, true); !bytes.Equal(got, data) {
			t.Fatalf("got %d bytes that differ from the blob's %d", len(got), size)
		}
		if n := proxy.Cuts(); n < 3 {
			t.Fatalf("the proxy cut %d connections, want at least 3", n)
		}
	})
	t.Run("gives up", func(t *testing.T) {
		// Each connection carries 2 % of the blob: more resumes than the
		// client allows itself. It fails, and leaves no file.
		proxy := faulttest.NewProxy(t, srv.Host)
		client, _ := acr.NewClient(proxy.URL, nil, nil)
		proxy.CutAfter(faulttest.Downstream, size/50, false)
		dir := t.TempDir()
		_, err := downloadFile(t.Context(), client, "fault/down", d, filepath.Join(dir, "blob"), nil)
		if err == nil || !strings.Contains(err.Error(), "broke after") {
			t.Fatalf("got %v, want an error saying the download broke", err)
		}
		assertEmptyDir(t, dir)
	})
}

// downloadVia downloads d with DownloadBlob, or with DownloadBlobTo when
// to is set, and returns the bytes.
func downloadVia(t *testing.T, client *acr.Client, repo string, d digest.Digest, to bool) []byte {
	t.Helper()
	if to {
		path := filepath.Join(t.TempDir(), "blob")
		n, err := downloadFile(t.Context(), client, repo, d, path, nil)
		if err != nil {
			t.Fatalf("DownloadBlobTo: %v", err)
		}
		got, err := os.ReadFile(path)
		if err != nil || int64(len(got)) != n {
			t.Fatalf("DownloadBlobTo reported %d bytes; the file has %d (%v)", n, len(got), err)
		}
		return got
	}
	rc, err := client.DownloadBlob(t.Context(), repo, d, nil)
	if err != nil {
		t.Fatalf("DownloadBlob: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("DownloadBlob: reading: %v", err)
	}
	return got
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		t.Errorf("%s was left behind", e.Name())
	}
}

// TestLyingServer serves blobs whose bytes or length differ from their
// digest. Every download fails, with ErrDigestMismatch where the bytes
// arrived, and DownloadBlobTo leaves neither the file nor its temporary
// file behind.
func TestLyingServer(t *testing.T) {
	data := randomBytes(1*mib + 7)
	d := digest.FromBytes(data)
	wrong := bytes.Clone(data)
	wrong[len(wrong)/2] ^= 0xff
	half := data[:len(data)/2]
	long := append(bytes.Clone(data), "trailing"...)

	// hangUp sends a Content-Length for the whole blob, then part of it,
	// then closes the connection: a short body.
	hangUp := func(w http.ResponseWriter, part []byte) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(part)
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	for _, tc := range []struct {
		name string
		// serve answers a GET of the blob; rng is its Range header.
		serve    func(w http.ResponseWriter, rng string)
		mismatch bool   // want ErrDigestMismatch
		msg      string // else want an error containing this
	}{
		{name: "wrong bytes", mismatch: true, serve: func(w http.ResponseWriter, _ string) { w.Write(wrong) }},
		{name: "short body with its own length", mismatch: true, serve: func(w http.ResponseWriter, _ string) { w.Write(half) }},
		{name: "long body with its own length", mismatch: true, serve: func(w http.ResponseWriter, _ string) { w.Write(long) }},
		{name: "short body without length", mismatch: true, serve: func(w http.ResponseWriter, _ string) {
			w.Write(half[:10])
			w.(http.Flusher).Flush() // chunked: no Content-Length
			w.Write(half[10:])
		}},
		{name: "long body without length", mismatch: true, serve: func(w http.ResponseWriter, _ string) {
			w.Write(long[:10])
			w.(http.Flusher).Flush()
			w.Write(long[10:])
		}},
		{name: "short body, resumed with wrong bytes", mismatch: true, serve: func(w http.ResponseWriter, rng string) {
			if rng == "" {
				hangUp(w, half)
			}
			from := len(half)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(wrong[from:])
		}},
		{name: "short body, resumed with too many bytes", mismatch: true, serve: func(w http.ResponseWriter, rng string) {
			if rng == "" {
				hangUp(w, half)
			}
			from := len(half)
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(long)-1, len(long)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(long[from:])
		}},
		{name: "short body, Range ignored", msg: "Range", serve: func(w http.ResponseWriter, rng string) {
			if rng == "" {
				hangUp(w, half)
			}
			w.Write(data)
		}},
		{name: "short body, resumed elsewhere", msg: "Content-Range", serve: func(w http.ResponseWriter, rng string) {
			if rng == "" {
				hangUp(w, half)
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 0-%d/%d", len(data)-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data)
		}},
		{name: "short body every time", msg: "broke after", serve: func(w http.ResponseWriter, rng string) {
			hangUp(w, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/lie/blobs/"+d.String() {
					http.NotFound(w, r)
					return
				}
				tc.serve(w, r.Header.Get("Range"))
			}))
			defer hs.Close()
			client, _ := acr.NewClient(hs.URL, nil, nil)
			check := func(what string, err error) {
				t.Helper()
				switch {
				case err == nil:
					t.Errorf("%s: got no error, want one", what)
				case tc.mismatch && !errors.Is(err, acr.ErrDigestMismatch):
					t.Errorf("%s: got %v, want ErrDigestMismatch", what, err)
				case !tc.mismatch && !strings.Contains(err.Error(), tc.msg):
					t.Errorf("%s: got %v, want an error that mentions %q", what, err, tc.msg)
				default:
					t.Logf("%s: %v", what, err)
				}
			}
			var err error
			if rc, err0 := client.DownloadBlob(t.Context(), "lie", d, nil); err0 != nil {
				err = err0
			} else {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			check("DownloadBlob", err)
			dir := t.TempDir()
			_, err = downloadFile(t.Context(), client, "lie", d, filepath.Join(dir, "blob"), nil)
			check("DownloadBlobTo", err)
			assertEmptyDir(t, dir)
		})
	}
}

// TestUploadLyingDigest has the registry answer another digest than the
// content's when an upload completes: UploadBlob reports ErrDigestMismatch.
func TestUploadLyingDigest(t *testing.T) {
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	other := digest.FromString("something else").String()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			w = headerRewriter{ResponseWriter: w, key: "Docker-Content-Digest", value: other}
		}
		reg.ServeHTTP(w, r)
	}))
	defer hs.Close()
	client, _ := acr.NewClient(hs.URL, nil, nil)
	for _, size := range []int{100, 3 * mib} {
		_, err := client.UploadBlob(t.Context(), "lie", bytes.NewReader(randomBytes(size)), &acr.UploadBlobOptions{ChunkSize: mib})
		if !errors.Is(err, acr.ErrDigestMismatch) {
			t.Errorf("%d bytes: got %v, want ErrDigestMismatch", size, err)
		}
	}
}

// headerRewriter replaces one response header as the handler writes.
type headerRewriter struct {
	http.ResponseWriter
	key, value string
}

func (h headerRewriter) WriteHeader(code int) {
	if h.Header().Get(h.key) != "" {
		h.Header().Set(h.key, h.value)
	}
	h.ResponseWriter.WriteHeader(code)
}

// TestUploadRidesOutThrottlingAndOutages throttles an upload with a 429
// and Retry-After, then answers a storm of 503s: the client waits as told,
// backs off, and completes. It runs in a synctest bubble: no real sleeps.
func TestUploadRidesOutThrottlingAndOutages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg, err := emulator.New(nil)
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		var mu sync.Mutex
		var patches, storm int
		var failed atomic.Int32
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			if r.Method == http.MethodPatch {
				patches++
				if patches == 2 {
					// The second chunk is throttled, then a storm begins:
					// of the next nine requests, seven fail, in bursts of
					// up to three (the default MaxRetries).
					storm = 9
					mu.Unlock()
					w.Header().Set("Retry-After", "7")
					http.Error(w, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, http.StatusTooManyRequests)
					failed.Add(1)
					return
				}
			}
			if storm > 0 && storm%4 != 0 {
				storm--
				mu.Unlock()
				failed.Add(1)
				http.Error(w, "unavailable", http.StatusServiceUnavailable)
				return
			}
			if storm > 0 {
				storm--
			}
			mu.Unlock()
			reg.ServeHTTP(w, r)
		})
		client, err := acr.NewClient("http://127.0.0.1:5000", nil, &acr.ClientOptions{HTTPClient: faulttest.HandlerClient(h)})
		if err != nil {
			t.Fatal(err)
		}
		data := randomBytes(5*mib + 3)
		start := time.Now()
		desc, err := client.UploadBlob(t.Context(), "throttled", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: mib})
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		if desc.Digest != digest.FromBytes(data) {
			t.Fatalf("got %s, want %s", desc.Digest, digest.FromBytes(data))
		}
		waited := time.Since(start)
		if waited < 7*time.Second {
			t.Errorf("the upload took %v; it should have waited the 7 s of Retry-After", waited)
		}
		if n := failed.Load(); n < 7 {
			t.Errorf("%d requests failed; the test meant to fail at least 7", n)
		}
		t.Logf("%d failed requests ridden out in %v of bubble time", failed.Load(), waited)
	})
}
