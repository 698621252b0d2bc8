package transfer_test

import (
	"context"
	"encoding/json"
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

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
)

// turnWatch watches a copy's blob uploads from the registries' side. The
// destination holds every upload of a large blob before it reads any of
// its body, until all have arrived or turnHold passes, and counts what
// had happened by then: the uploads that got that far (the bodies the
// client sent without a turn coming back, since none can be written in
// full while nothing reads it) and the large blobs fetched from the
// source. After the hold, it takes turnCommit to commit each blob, as a
// registry syncing it to disk before it answers would, and turnOpen to
// open each upload session.
type turnWatch struct {
	large   map[string]bool // the digests of the large blobs
	missing string          // a blob the source answers 404 for

	mu sync.Mutex
	turnCounts
}

// turnCounts is what a turnWatch counts.
type turnCounts struct {
	held          int
	fetched       int
	released      bool
	heldAtRelease int
	fetchedAtRel  int
	committing    int
	maxCommitting int // the most uploads committing when a body started
	opening       int
	maxOpening    int // the most upload sessions being opened at once
}

const (
	turnHold   = 3 * time.Second
	turnCommit = 500 * time.Millisecond
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
			if r.Method == http.MethodGet && tw.missing != "" && strings.HasSuffix(r.URL.Path, "/blobs/"+tw.missing) {
				rw.Header().Set("Content-Type", "application/json")
				rw.WriteHeader(http.StatusNotFound)
				io.WriteString(rw, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}`)
				return
			}
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

// watch records r, holds it or makes it slow, as the watch says.
func (w *turnWatch) watch(r *http.Request) {
	d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
	switch {
	case r.Method == http.MethodGet && w.large[d]:
		w.mu.Lock()
		w.fetched++
		w.mu.Unlock()
	case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") && !r.URL.Query().Has("digest"):
		w.mu.Lock()
		w.opening++
		w.maxOpening = max(w.maxOpening, w.opening)
		w.mu.Unlock()
		time.Sleep(turnOpen)
		w.mu.Lock()
		w.opening--
		w.mu.Unlock()
	case r.Method == http.MethodPut && w.large[r.URL.Query().Get("digest")]:
		w.mu.Lock()
		w.maxCommitting = max(w.maxCommitting, w.committing)
		w.held++
		w.mu.Unlock()
		for end := time.Now().Add(turnHold); ; time.Sleep(time.Millisecond) {
			w.mu.Lock()
			if !w.released && (w.held == len(w.large) || time.Now().After(end)) {
				w.released, w.heldAtRelease, w.fetchedAtRel = true, w.held, w.fetched
			}
			released := w.released
			w.mu.Unlock()
			if released {
				break
			}
		}
		r.Body = &lastBytes{ReadCloser: r.Body, left: r.ContentLength, last: func() {
			w.mu.Lock()
			w.committing++
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
// one. A copy from a registry fetches a blob only once its turn comes; one
// from a layout sends its files with sendfile, which reports the body
// sent too. A registry elsewhere gets every body at once.
func TestBlobBodiesTakeTurns(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	const blobs = 8
	sizes := make([]int, blobs)
	for i := range sizes {
		// Larger than the kernel buffers a body can fill while the
		// registry reads nothing (tcp_wmem's 4 MiB and a window).
		sizes[i] = 6<<20 + i
	}
	var watching atomic.Pointer[turnWatch]
	src := watchedRegistry(t, "", &watching)
	img := pushImage(t, src, "app", "amd64", sizes...)
	m, err := src.GetManifest(t.Context(), "app", img.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var manifest ocispec.Manifest
	if err := json.Unmarshal(m.Bytes, &manifest); err != nil {
		t.Fatal(err)
	}
	large := map[string]bool{}
	for _, l := range manifest.Layers {
		large[l.Digest.String()] = true
	}
	copyWatched := func(t *testing.T, from transfer.Target, ref, host string) turnCounts {
		t.Helper()
		dst := transfer.Repository(watchedRegistry(t, host, &watching), "app")
		w := &turnWatch{large: large}
		watching.Store(w)
		defer watching.Store(nil)
		if _, err := transfer.Copy(t.Context(), from, ref, dst, "v1", nil); err != nil {
			t.Fatal(err)
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		return w.turnCounts
	}
	tookTurns := func(t *testing.T, w turnCounts) {
		t.Helper()
		if w.heldAtRelease != 2 {
			t.Errorf("%d uploads sent their bodies before the registry read any; want 2, the turns", w.heldAtRelease)
		}
		if w.maxCommitting < 2 {
			t.Errorf("a body started while at most %d uploads were committing; want 2: a turn goes back when the body is sent", w.maxCommitting)
		}
		if w.maxOpening <= 2 {
			t.Errorf("at most %d upload sessions were being opened at once; want more than the turns: a session opens before its turn", w.maxOpening)
		}
	}

	t.Run("from a registry", func(t *testing.T) {
		w := copyWatched(t, transfer.Repository(src, "app"), img.Digest.String(), "")
		tookTurns(t, w)
		if w.fetchedAtRel != 2 {
			t.Errorf("%d large blobs were fetched from the source before the destination read any body; want 2, the turns", w.fetchedAtRel)
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
		tookTurns(t, copyWatched(t, layout, "v1", ""))
	})
	t.Run("a blob the source lost", func(t *testing.T) {
		// Fetched with the turn in hand, it fails the copy as a fetch,
		// and its turn goes back: the copy ends.
		var lost string
		for d := range large {
			lost = d
			break
		}
		dst := transfer.Repository(watchedRegistry(t, "", &watching), "app")
		watching.Store(&turnWatch{large: large, missing: lost})
		defer watching.Store(nil)
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		_, err := transfer.Copy(ctx, transfer.Repository(src, "app"), img.Digest.String(), dst, "v1", nil)
		if err == nil || !strings.Contains(err.Error(), "fetch "+lost) || !strings.Contains(err.Error(), "BLOB_UNKNOWN") || ctx.Err() != nil {
			t.Fatalf("copy with a blob the source lost: %v; want it to fail promptly on fetch %s, BLOB_UNKNOWN", err, lost)
		}
	})
	t.Run("to a registry elsewhere", func(t *testing.T) {
		w := copyWatched(t, transfer.Repository(src, "app"), img.Digest.String(), "registry.example")
		if w.heldAtRelease != blobs {
			t.Errorf("%d of %d uploads sent their bodies before the registry read any; want all, not in turns", w.heldAtRelease, blobs)
		}
	})
}
