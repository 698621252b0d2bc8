package transfer_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
)

// turnWatch watches the blob uploads of a copy from the registries' side.
// A destination it watches holds each upload's last bytes for commit, as a
// registry syncing the blob to disk before it answers would; it records
// how many bodies were being received at once, and how many uploads were
// committing when another body started. A source it watches records how
// many blobs were fetched and not yet received by the destination.
type turnWatch struct {
	mu            sync.Mutex
	receiving     int
	committing    int
	maxReceiving  int
	maxCommitting int // the most uploads committing when a body started
	inFlight      map[string]bool
	maxInFlight   int
	opening       int
	maxOpening    int // the most upload sessions being opened at once
	// gather, when set, holds every upload before it reads its body until
	// that many uploads have arrived, or for turnGatherWait.
	gather int
}

// turnGatherWait bounds how long a watch's gather holds an upload.
const turnGatherWait = 2 * time.Second

// turnCommit and turnOpen are how long a watched destination takes to
// commit a blob and to open an upload session.
const (
	turnCommit = 300 * time.Millisecond
	turnOpen   = 50 * time.Millisecond
)

// watchedRegistry starts a local registry that the watch in w (when set)
// watches, and returns a client of it whose host is host, or the
// registry's own 127.0.0.1 address when host is empty.
func watchedRegistry(t *testing.T, host string, w *atomic.Pointer[turnWatch]) *acr.Client {
	t.Helper()
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if tw := w.Load(); tw != nil {
			tw.watch(r)
		}
		reg.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	if host == "" {
		c, err := acr.NewClient(srv.URL, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// A registry elsewhere, as far as the client can tell: every dial goes
	// to this server.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, srv.Listener.Addr().String())
	}
	c, err := acr.NewClient("http://"+host, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// watch records r, when it fetches a blob or uploads one of over 1 MiB.
func (w *turnWatch) watch(r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:"):
		d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
		w.mu.Lock()
		w.inFlight[d] = true
		w.maxInFlight = max(w.maxInFlight, len(w.inFlight))
		w.mu.Unlock()
	case r.Method == http.MethodPost && r.URL.Query().Has("digest"):
		// A small blob, sent whole in the request that opens its upload.
		w.mu.Lock()
		delete(w.inFlight, r.URL.Query().Get("digest"))
		w.mu.Unlock()
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/"):
		// Opening an upload session takes a while (the distribution
		// registry syncs a file for it, behind other blobs' commits).
		w.mu.Lock()
		w.opening++
		w.maxOpening = max(w.maxOpening, w.opening)
		w.mu.Unlock()
		time.Sleep(turnOpen)
		w.mu.Lock()
		w.opening--
		w.mu.Unlock()
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && r.ContentLength > 1<<20:
		d := r.URL.Query().Get("digest")
		w.mu.Lock()
		w.receiving++
		w.maxReceiving = max(w.maxReceiving, w.receiving)
		w.maxCommitting = max(w.maxCommitting, w.committing)
		w.mu.Unlock()
		for end := time.Now().Add(turnGatherWait); w.gather > 0 && time.Now().Before(end); time.Sleep(time.Millisecond) {
			w.mu.Lock()
			all := w.maxReceiving >= w.gather
			w.mu.Unlock()
			if all {
				break
			}
		}
		r.Body = &lastBytes{ReadCloser: r.Body, left: r.ContentLength, last: func() {
			w.mu.Lock()
			w.receiving--
			w.committing++
			delete(w.inFlight, d)
			w.mu.Unlock()
			time.Sleep(turnCommit)
			w.mu.Lock()
			w.committing--
			w.mu.Unlock()
		}}
	}
}

// lastBytes calls last before it returns the body's last bytes.
type lastBytes struct {
	io.ReadCloser
	left int64
	last func()
}

func (b *lastBytes) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if b.left > 0 {
		if b.left -= int64(n); b.left <= 0 {
			b.last()
		}
	}
	return n, err
}

// TestBlobBodiesTakeTurns checks that a copy to a registry on this machine
// sends as many blob bodies at once as it may run threads (two here), and
// that a blob gives its turn back once its body is sent, not when the
// registry answers: another body goes while the registry commits. Upload
// sessions open before a turn is taken, as a registry may be slow to open
// one. A copy
// from a registry fetches a blob only with a turn in hand; one from a
// layout sends its files with sendfile, which reports the body sent too.
// A registry elsewhere gets every body at once.
func TestBlobBodiesTakeTurns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const blobs = 8
	sizes := make([]int, blobs)
	for i := range sizes {
		sizes[i] = 5<<20 + i
	}
	var watching atomic.Pointer[turnWatch]
	src := watchedRegistry(t, "", &watching)
	img := pushImage(t, src, "app", "amd64", sizes...)
	copyWatched := func(t *testing.T, from transfer.Target, ref, host string, gather int) *turnWatch {
		t.Helper()
		dst := transfer.Repository(watchedRegistry(t, host, &watching), "app")
		w := &turnWatch{inFlight: map[string]bool{}, gather: gather}
		watching.Store(w)
		defer watching.Store(nil)
		if _, err := transfer.Copy(t.Context(), from, ref, dst, "v1", nil); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w
	}
	tookTurns := func(t *testing.T, w *turnWatch) {
		t.Helper()
		if w.maxReceiving > 4 {
			t.Errorf("the registry received %d blob bodies at once; want 2 (up to 4 while it reads the end of bodies the client has sent)", w.maxReceiving)
		}
		if w.maxCommitting < 2 {
			t.Errorf("a body started while at most %d uploads were committing; want 2: a turn goes back when the body is sent", w.maxCommitting)
		}
		if w.maxOpening <= 2 {
			t.Errorf("at most %d upload sessions were being opened at once; want more than the turns: a session opens before its turn", w.maxOpening)
		}
	}

	t.Run("from a registry", func(t *testing.T) {
		w := copyWatched(t, transfer.Repository(src, "app"), img.Digest.String(), "", 0)
		tookTurns(t, w)
		if w.maxInFlight > 4 {
			t.Errorf("%d blobs were fetched from the source and not yet received by the destination; want 2 (up to 4 as above)", w.maxInFlight)
		}
	})
	t.Run("from a layout", func(t *testing.T) {
		layout, err := transfer.OpenLayout(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), img.Digest.String(), layout, "v1", nil); err != nil {
			t.Fatal(err)
		}
		tookTurns(t, copyWatched(t, layout, "v1", "", 0))
	})
	t.Run("to a registry elsewhere", func(t *testing.T) {
		// The registry reads no body before all have arrived: in turns,
		// two would arrive and wait until turnGatherWait ends.
		w := copyWatched(t, transfer.Repository(src, "app"), img.Digest.String(), "registry.example", blobs)
		if w.maxReceiving != blobs {
			t.Errorf("the registry received at most %d of %d blob bodies at once; want them all sent at once, not in turns", w.maxReceiving, blobs)
		}
	})
}
