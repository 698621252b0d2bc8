package acr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
)

// stallRepo is the repository the stall tests transfer in.
const stallRepo = "stall/app"

// stallDeadline is the caller's deadline on a transfer that stalls for
// good, and stallSlack how long after it the call may still return: the
// client must give up when its context ends, not when the stall does. The
// call returns within 30 ms of the deadline here, but a loaded machine
// (CI's race suite beside other go test processes) was seen to delay
// sleeping goroutines by 700 ms, so the slack is a few times that.
const (
	stallDeadline = 1500 * time.Millisecond
	stallSlack    = 3 * time.Second
)

// stallCase is one transfer that the proxy stalls: a download or an
// upload of size bytes, stalled at the share at of its bytes.
type stallCase struct {
	name  string
	up    bool  // an upload, stalled client to server; else a download, stalled server to client
	to    bool  // download with DownloadBlobTo
	size  int   // of the blob
	chunk int64 // of an upload
	at    float64
	// hang, for a chunked upload, stalls instead every response from the
	// moment the first chunk is acknowledged: the registry stops answering,
	// also the request that cleans up after the failed upload.
	hang bool
}

// stallCases cover a download read by the caller (DownloadBlob; above
// asyncHashMin, so it hashes in a goroutine) and into a file
// (DownloadBlobTo), and uploads in one monolithic PUT and in PATCH chunks.
var stallCases = []stallCase{
	{name: "DownloadBlob", size: 10 * mib, at: 0.5},
	{name: "DownloadBlob/in the response headers", size: 10 * mib, at: 0}, // at: 0 stalls after the first byte
	{name: "DownloadBlobTo", to: true, size: 10 * mib, at: 0.5},
	{name: "UploadBlob/monolithic", up: true, size: 3*mib + 17, chunk: 8 * mib, at: 0.5},
	{name: "UploadBlob/chunked", up: true, size: 6*mib + 5, chunk: 2 * mib, at: 0.5},
}

// hungUpload is a chunked upload to a registry that stops answering.
var hungUpload = stallCase{name: "UploadBlob/registry stops answering", up: true, size: 6*mib + 5, chunk: 2 * mib, hang: true}

// arm sets proxy to stall tc's transfer for dur; a hung upload arms it
// itself, in its progress callback.
func (tc stallCase) arm(proxy *faulttest.Proxy, dur time.Duration) {
	if !tc.hang {
		proxy.StallAfter(tc.dir(), tc.offset(), dur, true)
	}
}

// offset is the byte of tc's transfer at which the proxy stalls.
func (tc stallCase) offset() int64 { return max(int64(float64(tc.size)*tc.at), 1) }

// dir is the direction in which tc's payload travels.
func (tc stallCase) dir() faulttest.Direction {
	if tc.up {
		return faulttest.Upstream
	}
	return faulttest.Downstream
}

// run performs tc's transfer of data in repo, which must hold data for a
// download, through proxy. It returns the digest the client reports and,
// for a download, the bytes delivered. dir receives DownloadBlobTo's file.
func (tc stallCase) run(ctx context.Context, client *acr.Client, proxy *faulttest.Proxy, repo string, data []byte, dir string) (digest.Digest, []byte, error) {
	if tc.up {
		opts := &acr.UploadBlobOptions{ChunkSize: tc.chunk}
		if tc.hang {
			var once sync.Once
			opts.Progress = func(int64) {
				once.Do(func() { proxy.StallAfter(faulttest.Downstream, 1, faulttest.StallForever, false) })
			}
		}
		desc, err := client.UploadBlob(ctx, repo, bytes.NewReader(data), opts)
		return desc.Digest, nil, err
	}
	d := digest.FromBytes(data)
	if tc.to {
		path := filepath.Join(dir, "blob")
		if _, err := downloadFile(ctx, client, repo, d, path, nil); err != nil {
			return "", nil, err
		}
		got, err := os.ReadFile(path)
		return d, got, err
	}
	rc, err := client.DownloadBlob(ctx, repo, d, nil)
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	return d, got, err
}

// TestStallFailsAtDeadline stalls a download or an upload for good,
// mid-transfer (and a download in its response headers), under a
// deadline of 1.5 s; and it has the registry stop answering altogether
// during a chunked upload. Each call must return within a second of the
// deadline, with a one-line error that wraps context.DeadlineExceeded and
// names the repository and what timed out: the download of the blob, or
// the upload request. DownloadBlobTo leaves no file, temporary or final,
// and the registry holds no blob under the digest of a failed upload.
func TestStallFailsAtDeadline(t *testing.T) {
	for _, tc := range append(slices.Clone(stallCases), hungUpload) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // each waits out its deadline
			srv := acrtest.NewServer(t, nil)
			data := randomBytes(tc.size)
			d := digest.FromBytes(data)
			if !tc.up {
				newSeeder(t, srv, "", "").blob(stallRepo, data)
			}
			proxy := faulttest.NewProxy(t, srv.Host)
			client, err := acr.NewClient(proxy.URL, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			tc.arm(proxy, faulttest.StallForever)
			dir := t.TempDir()
			ctx, cancel := context.WithTimeout(t.Context(), stallDeadline)
			defer cancel()
			start := time.Now()
			_, _, err = tc.run(ctx, client, proxy, stallRepo, data, dir)
			took := time.Since(start)
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
			if n := proxy.Stalls(); n != 1 && !tc.hang {
				t.Fatalf("the proxy stalled %d connections, want 1", n)
			} else if n == 0 {
				t.Fatal("the proxy stalled no connection")
			}
			if err == nil {
				t.Fatal("the stalled transfer succeeded")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("got %v, want an error that wraps context.DeadlineExceeded", err)
			}
			if took > stallDeadline+stallSlack {
				t.Errorf("the call returned %v after it started, want within %v of its %v deadline", took, stallSlack, stallDeadline)
			}
			assertClearStallError(t, err, tc, d)
			if tc.to {
				assertEmptyDir(t, dir)
			}
			if tc.up {
				assertNoBlob(t, srv, stallRepo, d)
			}
		})
	}
}

// assertClearStallError checks that err is one line that says what timed
// out: the download of the blob, or an upload request in the repository.
func assertClearStallError(t *testing.T, err error, tc stallCase, d digest.Digest) {
	t.Helper()
	msg := err.Error()
	want := []string{stallRepo, d.String(), "deadline exceeded"}
	if tc.up {
		want = []string{"/v2/" + stallRepo + "/blobs/uploads/", "deadline exceeded"}
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("the error %q does not mention %q", msg, w)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("the error %q spans lines", msg)
	}
}

// assertNoBlob checks, past the proxy and the client under test, that the
// registry has no blob d in repo.
func assertNoBlob(t *testing.T, srv *acrtest.Server, repo string, d digest.Digest) {
	t.Helper()
	resp, err := http.Head(srv.URL + "/v2/" + repo + "/blobs/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("the registry answers %d for the blob of a failed upload, want 404", resp.StatusCode)
	}
}

// shortStall is how long TestShortStallCompletes holds a transfer.
const shortStall = 250 * time.Millisecond

// TestShortStallCompletes holds each transfer of TestStallFailsAtDeadline
// for 250 ms at 10, 50 and 90 percent of its bytes (the download stalled
// in its response headers, there only), under a deadline
// that leaves room for it: each completes with the right digest and
// bytes, waits out the stall rather than failing or resuming around it
// (no connection is cut, and about the blob's size crosses the proxy),
// and DownloadBlobTo leaves only its file.
func TestShortStallCompletes(t *testing.T) {
	const margin = 64 << 10 // request and response headers
	for _, tc := range stallCases {
		points := cutPoints
		if tc.at == 0 {
			points = []float64{0} // in the headers
		}
		for _, at := range points {
			tc.at = at
			t.Run(fmt.Sprintf("%s/%.0f%%", tc.name, at*100), func(t *testing.T) {
				t.Parallel()
				srv := acrtest.NewServer(t, nil)
				data := randomBytes(tc.size)
				want := digest.FromBytes(data)
				if !tc.up {
					newSeeder(t, srv, "", "").blob(stallRepo, data)
				}
				proxy := faulttest.NewProxy(t, srv.Host)
				client, _ := acr.NewClient(proxy.URL, nil, nil)
				tc.arm(proxy, shortStall)
				dir := t.TempDir()
				ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
				defer cancel()
				start := time.Now()
				got, body, err := tc.run(ctx, client, proxy, stallRepo, data, dir)
				took := time.Since(start)
				if err != nil {
					t.Fatalf("after %v: %v", took, err)
				}
				if n := proxy.Stalls(); n != 1 {
					t.Fatalf("the proxy stalled %d connections, want 1", n)
				}
				if took < shortStall {
					t.Errorf("the transfer took %v, less than the %v stall", took, shortStall)
				}
				if n := proxy.Cuts(); n != 0 {
					t.Errorf("the proxy cut %d connections, want none", n)
				}
				if got != want {
					t.Fatalf("got %s, want %s", got, want)
				}
				moved := proxy.Forwarded(tc.dir())
				if tc.up {
					assertStored(t, srv, stallRepo, want, data)
				} else if !bytes.Equal(body, data) {
					t.Fatalf("got %d bytes that differ from the blob's %d", len(body), len(data))
				}
				if moved < int64(tc.size) || moved >= int64(tc.size)+margin {
					t.Errorf("%d bytes crossed the proxy for a %d-byte blob, want the blob once", moved, tc.size)
				}
				t.Logf("%d bytes in %v through a %v stall", moved, took.Round(time.Millisecond), shortStall)
				if tc.to {
					ents, _ := filepath.Glob(filepath.Join(dir, "*"))
					if len(ents) != 1 || filepath.Base(ents[0]) != "blob" {
						t.Errorf("the download directory holds %v, want only blob", ents)
					}
				}
			})
		}
	}
}

// TestNoLeaksAfterStalls runs each transfer of TestStallFailsAtDeadline
// into a stall that outlasts its deadline and into one that it waits out,
// and an upload to a registry that stops answering, and checks that no
// goroutine or file descriptor outlives them (as TestNoLeaksAfterFaults
// does for cuts).
func TestNoLeaksAfterStalls(t *testing.T) {
	faulttest.NoLeaks(t, func() {
		srv := acrtest.NewServer(t, nil)
		defer srv.HTTP.Close()
		proxy := faulttest.NewProxy(t, srv.Host)
		defer proxy.Close()
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		client, err := acr.NewClient(proxy.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
		if err != nil {
			t.Fatal(err)
		}
		blobs := map[int][]byte{}
		for _, tc := range stallCases {
			if _, ok := blobs[tc.size]; !ok {
				blobs[tc.size] = randomBytes(tc.size)
				newSeeder(t, srv, "", "").blob("leak", blobs[tc.size])
			}
		}
		for _, stall := range []time.Duration{faulttest.StallForever, 100 * time.Millisecond} {
			for _, tc := range stallCases {
				tc.arm(proxy, stall)
				// A stall that never ends must fail at the deadline; a
				// short one must be waited out, with room for a loaded
				// machine (go test -race runs packages side by side).
				deadline := 500 * time.Millisecond
				if stall != faulttest.StallForever {
					deadline = 10 * time.Second
				}
				ctx, cancel := context.WithTimeout(t.Context(), deadline)
				_, _, err := tc.run(ctx, client, proxy, "leak", blobs[tc.size], t.TempDir())
				cancel()
				if (err == nil) != (stall != faulttest.StallForever) {
					t.Fatalf("%s, stall of %v: got %v", tc.name, stall, err)
				}
			}
		}
		// Last, as it leaves every connection stalled.
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		_, _, err = hungUpload.run(ctx, client, proxy, "leak", blobs[hungUpload.size], "")
		cancel()
		if err == nil {
			t.Fatalf("%s: got no error", hungUpload.name)
		}
		tr.CloseIdleConnections()
	})
}
