package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal and returns its controlling side and the
// terminal a program writes to, 120 columns wide; the test closes both.
func openPTY(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("naming the pseudo-terminal: %v", err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tty.Close() })
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 120}); err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// TestBlobGetProgressOneRequest runs blob get with stderr on a terminal,
// where it draws a progress line with a percentage: the line learns the
// blob's size from the download's own answer, so the registry sees one GET
// and no HEAD, and the last line drawn shows every byte of a known total.
func TestBlobGetProgressOneRequest(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("progress\n"), 70_000) // 615 KiB
	desc, err := client.UploadBlob(t.Context(), "hello", bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	target, _ := url.Parse(srv.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	var blobReqs []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/blobs/") {
			mu.Lock()
			blobReqs = append(blobReqs, r.Method)
			mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()
	host := strings.TrimPrefix(front.URL, "http://")

	ptmx, tty := openPTY(t)
	drawn := make(chan []byte)
	go func() {
		// The terminal's output, up to the error reading it once the
		// test closes the terminal side.
		all, _ := io.ReadAll(ptmx)
		drawn <- all
	}()
	out := filepath.Join(t.TempDir(), "blob.bin")
	var stdout bytes.Buffer
	code := run(t.Context(), []string{"blob", "get", host + "/hello@" + desc.Digest.String(), "--output-file", out},
		strings.NewReader(""), &stdout, tty)
	tty.Close()
	terminal := string(<-drawn)
	if code != 0 {
		t.Fatalf("blob get exited %d: %s", code, terminal)
	}
	if got, err := os.ReadFile(out); err != nil || digest.FromBytes(got) != desc.Digest {
		t.Fatalf("the file does not hold the blob (%d bytes, %v)", len(got), err)
	}
	lines := strings.Split(terminal, "\r")
	var last string
	for _, l := range lines {
		if strings.Contains(l, "Downloading") {
			last = l
		}
	}
	if !strings.Contains(last, "100%") || !strings.Contains(last, "615.2 KiB / 615.2 KiB") {
		t.Errorf("the last progress line drawn is %q; want 100%% of 615.2 KiB", last)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(blobReqs, []string{http.MethodGet}) {
		t.Errorf("blob requests %v; want one GET", blobReqs)
	}
}
