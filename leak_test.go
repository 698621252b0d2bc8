package acr_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// openFDs counts this process's open file descriptors.
func openFDs(t *testing.T) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}

// settle waits for goroutines to wind down to at most want.
func settle(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > want; i++ {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

// TestNoLeaksAfterFaults runs uploads and downloads through connections cut
// at several points, lets them finish or fail, and checks that no goroutine
// or file descriptor outlives them.
func TestNoLeaksAfterFaults(t *testing.T) {
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	func() {
		srv := acrtest.NewServer(t, nil)
		proxy := newFaultProxy(t, srv.Host)
		defer proxy.close()
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		client, err := acr.NewClient(proxy.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		data := randomBytes(10 * mib) // above asyncHashMin: the download hashes in a goroutine
		for i, at := range cutPoints {
			proxy.cutAfter(upstream, int64(float64(len(data))*at), true)
			desc, err := client.UploadBlob(t.Context(), "leak", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: 2 * mib})
			if err != nil {
				t.Fatalf("upload %d: %v", i, err)
			}
			proxy.cutAfter(downstream, int64(float64(len(data))*at), true)
			rc, err := client.DownloadBlob(t.Context(), "leak", desc.Digest, nil)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				// A reader abandoned midway must release everything on Close.
				io.CopyN(io.Discard, rc, mib)
			} else if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("download %d: %v", i, err)
			}
			rc.Close()
		}
		tr.CloseIdleConnections()
		srv.HTTP.Close()
	}()
	// The test server's cleanup runs at the end of the test; everything of
	// the client, the proxy and its connections must be gone now.
	if g := settle(baseG); g > baseG {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines remain, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if fd := openFDs(t); fd > baseFD+2 {
		t.Fatalf("%d file descriptors open, %d before", fd, baseFD)
	}
}
