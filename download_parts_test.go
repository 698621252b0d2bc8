package acr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
)

// downloadFile downloads a blob into a new file at path with
// DownloadBlobTo, and removes the file when that fails, as a caller does.
func downloadFile(ctx context.Context, client *acr.Client, repo string, d digest.Digest, path string, opts *acr.DownloadBlobToOptions) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	n, err := client.DownloadBlobTo(ctx, repo, d, f, opts)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return n, err
}

// downloadParts downloads a blob with DownloadBlobTo and opts into a file
// and returns the file's content.
func downloadParts(t *testing.T, client *acr.Client, repo string, d digest.Digest, opts *acr.DownloadBlobToOptions) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "blob")
	n, err := downloadFile(t.Context(), client, repo, d, path, opts)
	if err != nil {
		t.Fatalf("DownloadBlobTo: %v", err)
	}
	got, err := os.ReadFile(path)
	if err != nil || int64(len(got)) != n {
		t.Fatalf("DownloadBlobTo reported %d bytes; the file has %d (%v)", n, len(got), err)
	}
	return got
}

// rangeLog records the Range headers of the blob GETs a client sends.
type rangeLog struct {
	mu     sync.Mutex
	ranges []string
}

func (l *rangeLog) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
		l.mu.Lock()
		l.ranges = append(l.ranges, r.Header.Get("Range"))
		l.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestDownloadBlobToParts downloads a blob of several parts: one plain GET
// whose response carries the first part, then one Range request per other
// part; the file is the blob, and nothing else is left.
func TestDownloadBlobToParts(t *testing.T) {
	const part = 1 * mib
	data := randomBytes(5*part + 123)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("parts/a", data)

	log := &rangeLog{}
	client, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: log}})
	dir := t.TempDir()
	path := filepath.Join(dir, "blob")
	var progress, sizes []int64
	var mu sync.Mutex
	n, err := downloadFile(t.Context(), client, "parts/a", d, path, &acr.DownloadBlobToOptions{Parts: 3, PartSize: part,
		Size: func(n int64) {
			mu.Lock()
			defer mu.Unlock()
			if len(progress) > 0 {
				t.Errorf("Size(%d) came after Progress(%d)", n, progress[0])
			}
			sizes = append(sizes, n)
		},
		Progress: func(n int64) {
			mu.Lock()
			defer mu.Unlock()
			if len(progress) > 0 && n < progress[len(progress)-1] {
				t.Errorf("progress went back from %d to %d", progress[len(progress)-1], n)
			}
			progress = append(progress, n)
		}})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if n != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes (reported %d) that differ from the blob's %d", len(got), n, len(data))
	}
	want := []string{""}
	for k := int64(1); k < 6; k++ {
		want = append(want, fmt.Sprintf("bytes=%d-%d", k*part, min((k+1)*part, int64(len(data)))-1))
	}
	log.mu.Lock()
	gotRanges := append([]string(nil), log.ranges...)
	log.mu.Unlock()
	if len(gotRanges) != len(want) || gotRanges[0] != "" {
		t.Fatalf("requests with Range %q, want %q in some order after the plain GET", gotRanges, want)
	}
	for _, w := range want[1:] {
		found := false
		for _, g := range gotRanges[1:] {
			found = found || g == w
		}
		if !found {
			t.Errorf("no request for %s among %q", w, gotRanges)
		}
	}
	if len(progress) == 0 || progress[len(progress)-1] != int64(len(data)) {
		t.Errorf("progress ended at %v, want %d", progress[len(progress)-1:], len(data))
	}
	if len(sizes) != 1 || sizes[0] != int64(len(data)) {
		t.Errorf("Size was called with %v, want once with %d", sizes, len(data))
	}
}

// TestDownloadBlobToWriteOnlyFile: parts must read the file back to hash
// it, which a file opened write-only refuses; the download then comes in
// one stream and succeeds, instead of failing after every byte arrived.
func TestDownloadBlobToWriteOnlyFile(t *testing.T) {
	const part = 1 * mib
	data := randomBytes(3*part + 7)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("parts/w", data)
	log := &rangeLog{}
	client, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: log}})
	path := filepath.Join(t.TempDir(), "blob")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := client.DownloadBlobTo(t.Context(), "parts/w", d, f, &acr.DownloadBlobToOptions{Parts: 3, PartSize: part})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != int64(len(data)) {
		t.Fatalf("DownloadBlobTo a write-only file with parts: %d bytes, %v", n, err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, data) {
		t.Fatalf("the file holds %d bytes that differ from the blob", len(got))
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	if len(log.ranges) != 1 || log.ranges[0] != "" {
		t.Errorf("requests with Range %q, want one plain GET", log.ranges)
	}
}

// TestDownloadBlobToSmallBlobOneRequest: a blob of one part, or a
// registry that does not serve ranges, costs one plain GET.
func TestDownloadBlobToSmallBlobOneRequest(t *testing.T) {
	data := randomBytes(3*mib + 1)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("parts/b", data)
	target, _ := url.Parse(srv.URL)
	noRanges := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A registry that neither announces nor honours ranges.
		r.Header.Del("Range")
		proxyTo(w, r, target, "Accept-Ranges")
	}))
	defer noRanges.Close()
	for _, tc := range []struct {
		name, base string
		part       int64
	}{
		{"one part", srv.URL, 4 * mib},
		{"no ranges", noRanges.URL, 1 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := &rangeLog{}
			client, _ := acr.NewClient(tc.base, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: log}})
			if got := downloadParts(t, client, "parts/b", d, &acr.DownloadBlobToOptions{Parts: 4, PartSize: tc.part}); !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes that differ from the blob's %d", len(got), len(data))
			}
			if len(log.ranges) != 1 || log.ranges[0] != "" {
				t.Errorf("requests with Range %q, want one plain GET", log.ranges)
			}
		})
	}
}

// TestDownloadBlobToPartsResume cuts the connections of a parallel
// download: every part resumes on its own, and the file is right.
func TestDownloadBlobToPartsResume(t *testing.T) {
	const part = 2 * mib
	data := randomBytes(8*part + 5)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("parts/c", data)
	for _, at := range []int64{part / 3, part + part/2} {
		t.Run(fmt.Sprintf("cut every connection after %d bytes", at), func(t *testing.T) {
			proxy := faulttest.NewProxy(t, srv.Host)
			client, _ := acr.NewClient(proxy.URL, nil, nil)
			proxy.CutAfter(faulttest.Downstream, at, false)
			if got := downloadParts(t, client, "parts/c", d, &acr.DownloadBlobToOptions{Parts: 4, PartSize: part}); !bytes.Equal(got, data) {
				t.Fatalf("got %d bytes that differ from the blob's %d", len(got), len(data))
			}
			if proxy.Cuts() == 0 {
				t.Fatal("the proxy cut no connection")
			}
			if sent := proxy.Forwarded(faulttest.Downstream); sent > int64(len(data))+int64(len(data))/2 {
				t.Errorf("forwarded %d bytes for a %d-byte blob: parts restarted instead of resuming", sent, len(data))
			}
		})
	}
}

// TestDownloadBlobToPartsLie serves one range with wrong bytes, or more
// bytes than asked for: the download fails with ErrDigestMismatch.
func TestDownloadBlobToPartsLie(t *testing.T) {
	const part = 1 * mib
	data := randomBytes(4*part + 9)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("parts/d", data)
	target, _ := url.Parse(srv.URL)
	for _, tc := range []struct {
		name string
		lie  func(w http.ResponseWriter)
	}{
		{"wrong bytes", func(w http.ResponseWriter) {
			bad := bytes.Clone(data[2*part : 3*part])
			bad[7] ^= 1
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", 2*part, 3*part-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(bad)
		}},
		{"too many bytes", func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", 2*part, 3*part-1, len(data)))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[2*part : 3*part])
			w.(http.Flusher).Flush() // chunked: no Content-Length to stop the client
			w.Write([]byte("and more"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Range") == fmt.Sprintf("bytes=%d-%d", 2*part, 3*part-1) {
					tc.lie(w)
					return
				}
				proxyTo(w, r, target)
			}))
			defer hs.Close()
			client, _ := acr.NewClient(hs.URL, nil, nil)
			dir := t.TempDir()
			_, err := downloadFile(t.Context(), client, "parts/d", d, filepath.Join(dir, "blob"), &acr.DownloadBlobToOptions{Parts: 2, PartSize: part})
			if !errors.Is(err, acr.ErrDigestMismatch) {
				t.Fatalf("got %v, want ErrDigestMismatch", err)
			}
			t.Log(err)
			assertEmptyDir(t, dir)
		})
	}
}

// proxyTo forwards r to target and copies the answer back, without the
// headers named in drop.
func proxyTo(w http.ResponseWriter, r *http.Request, target *url.URL, drop ...string) {
	out, _ := http.NewRequestWithContext(r.Context(), r.Method, target.String()+r.URL.RequestURI(), r.Body)
	out.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	for _, k := range drop {
		w.Header().Del(k)
	}
	w.WriteHeader(resp.StatusCode)
	buf := make([]byte, 64<<10)
	for {
		n, err := resp.Body.Read(buf)
		w.Write(buf[:n])
		if err != nil {
			return
		}
	}
}

// TestDownloadBlobToPartsOverlap checks that parts really run at once: the
// registry holds each ranged answer until a second ranged request is in
// flight (or 5 s pass), and records the most it saw at once. Parts fetched
// one after another would see one at a time and each wait out the 5 s.
func TestDownloadBlobToPartsOverlap(t *testing.T) {
	const part = 1 * mib
	data := randomBytes(6*part + 3)
	d := digest.FromBytes(data)
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").blob("parts/e", data)
	target, _ := url.Parse(srv.URL)
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	inFlight, most := 0, 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Range") == "" {
			proxyTo(w, r, target)
			return
		}
		mu.Lock()
		inFlight++
		most = max(most, inFlight)
		cond.Broadcast()
		deadline := time.Now().Add(5 * time.Second)
		stop := time.AfterFunc(5*time.Second, cond.Broadcast)
		for inFlight < 2 && most < 2 && time.Now().Before(deadline) {
			cond.Wait()
		}
		stop.Stop()
		mu.Unlock()
		proxyTo(w, r, target)
		mu.Lock()
		inFlight--
		mu.Unlock()
	}))
	defer hs.Close()
	client, _ := acr.NewClient(hs.URL, nil, nil)
	if got := downloadParts(t, client, "parts/e", d, &acr.DownloadBlobToOptions{Parts: 3, PartSize: part}); !bytes.Equal(got, data) {
		t.Fatalf("got %d bytes that differ from the blob's %d", len(got), len(data))
	}
	mu.Lock()
	defer mu.Unlock()
	if most < 2 {
		t.Fatalf("at most %d ranged request in flight at once, want parts to overlap", most)
	}
}

// TestDownloadBlobToChunkedAnswer: a registry that sends a blob without a
// Content-Length (chunked) still gets it written whole and verified, large
// or small, and a wrong body fails with ErrDigestMismatch.
func TestDownloadBlobToChunkedAnswer(t *testing.T) {
	for _, size := range []int{1000, 9*mib + 1} {
		data := randomBytes(size)
		d := digest.FromBytes(data)
		for _, lie := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d bytes/lie=%v", size, lie), func(t *testing.T) {
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path == "/v2/" {
						return
					}
					body := data
					if lie {
						body = bytes.Clone(data)
						body[size/2] ^= 1
					}
					w.WriteHeader(http.StatusOK)
					for len(body) > 0 {
						n := min(len(body), 64<<10)
						w.Write(body[:n])
						w.(http.Flusher).Flush()
						body = body[n:]
					}
				}))
				defer hs.Close()
				client, _ := acr.NewClient(hs.URL, nil, nil)
				var sink bytes.Buffer
				n, err := client.DownloadBlobTo(t.Context(), "chunked", d, &sink, &acr.DownloadBlobToOptions{
					Size: func(n int64) { t.Errorf("Size(%d) called for an answer without a length", n) }})
				if lie {
					if !errors.Is(err, acr.ErrDigestMismatch) {
						t.Fatalf("got %v, want ErrDigestMismatch", err)
					}
					return
				}
				if err != nil || n != int64(size) || !bytes.Equal(sink.Bytes(), data) {
					t.Fatalf("got %d bytes (%d written), %v; want the %d of the blob", sink.Len(), n, err, size)
				}
			})
		}
	}
}

// TestDownloadBlobToPartsHugeLength checks that a Content-Length the
// registry makes up cannot crash or bloat a download in parts: a length
// near 2^63 overflowed the part count's arithmetic (a panic in makeslice),
// and 10^15 bytes sized a slice of 30 million parts. Both are refused
// before anything is allocated for them, with an error naming the length.
func TestDownloadBlobToPartsHugeLength(t *testing.T) {
	for _, tc := range []struct {
		length string
		offset int64 // where in the file the blob starts
	}{
		{"9223372036854775000", 0},
		{"9223372036854775807", 0},
		{"9223372036854775000", 1 << 20},
		{"1000000000000000", 0},
	} {
		t.Run(tc.length, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/blobs/") {
					w.Header().Set("Accept-Ranges", "bytes")
					w.Header().Set("Content-Length", tc.length)
					w.WriteHeader(http.StatusOK)
					w.Write([]byte("abc"))
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			defer hs.Close()
			client, err := acr.NewClient(hs.URL, nil, &acr.ClientOptions{MaxRetries: -1})
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(filepath.Join(t.TempDir(), "blob"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Seek(tc.offset, 0); err != nil {
				t.Fatal(err)
			}
			n, err := client.DownloadBlobTo(t.Context(), "r", digest.FromString("x"), f, &acr.DownloadBlobToOptions{Parts: 4})
			if err == nil || !strings.Contains(err.Error(), "announced a blob of "+tc.length+" bytes") {
				t.Fatalf("got %d bytes, error %v; want an error naming the announced length %s", n, err, tc.length)
			}
			if n != 0 {
				t.Errorf("got %d bytes written, want 0", n)
			}
		})
	}
}
