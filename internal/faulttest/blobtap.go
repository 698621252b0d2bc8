package faulttest

import (
	"net/http"
	"strings"
	"sync"
	"time"
)

// BlobTap stands in front of a registry and watches its blob downloads
// (GET /v2/NAME/blobs/DIGEST): it records each one's Range header and
// counts the body bytes of its 200 and 206 answers, so that a test can
// tell a resumed download from a restarted one by what was sent. Armed,
// it cuts or stalls every download after a number of body bytes, hides the
// Range header from the registry (which then answers 200 with the whole
// blob), or turns a Range of bytes=N- into bytes=0- (a 206 from another
// byte than asked). It is safe for concurrent use.
type BlobTap struct {
	h http.Handler

	mu        sync.Mutex
	downloads []tapped
	served    int64
	cutAfter  int64
	stall     func()
	dropRange bool
	zeroRange bool
	inFlight  int // downloads whose handler has not returned
	resets    int // Reset calls, so that a download from before one is not marked after it
}

// tapped is one download the tap saw.
type tapped struct {
	rg           string // its Range header
	unauthorized bool   // answered 401
}

// NewBlobTap returns a tap in front of h, disarmed.
func NewBlobTap(h http.Handler) *BlobTap { return &BlobTap{h: h} }

// CutAfter arms the tap to close each download's connection after n body
// bytes (n <= 0: never).
func (b *BlobTap) CutAfter(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutAfter, b.stall = n, nil
}

// StallAfter arms the tap to stop each download after n body bytes, which
// are flushed to the client, call reached, and hold the connection until
// the client goes away.
func (b *BlobTap) StallAfter(n int64, reached func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cutAfter, b.stall = n, reached
}

// DropRange arms the tap to delete the Range header of downloads, as a
// registry or proxy that does not serve ranges would ignore it.
func (b *BlobTap) DropRange() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropRange = true
}

// RangeFromZero arms the tap to turn every Range into bytes=0-, so that
// the registry answers 206 with a Content-Range from byte 0.
func (b *BlobTap) RangeFromZero() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.zeroRange = true
}

// Reset disarms the tap and forgets what it saw.
func (b *BlobTap) Reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.downloads, b.served, b.cutAfter, b.stall, b.dropRange, b.zeroRange = nil, 0, 0, nil, false, false
	b.resets++
}

// Seen returns the Range header of each download since the last Reset (""
// for none), in the order they came, and the body bytes sent. Downloads
// answered 401 are left out: a client with credentials sends them again. It first waits, up to ten
// seconds, for the downloads' handlers to return: a client can have read
// the last bytes before the handler's write of them returned and was
// counted.
func (b *BlobTap) Seen() (ranges []string, served int64) {
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		b.mu.Lock()
		if b.inFlight == 0 || time.Now().After(deadline) {
			defer b.mu.Unlock()
			for _, d := range b.downloads {
				if !d.unauthorized {
					ranges = append(ranges, d.rg)
				}
			}
			return ranges, b.served
		}
		b.mu.Unlock()
	}
}

func (b *BlobTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") || strings.Contains(r.URL.Path, "/blobs/uploads/") {
		b.h.ServeHTTP(w, r)
		return
	}
	b.mu.Lock()
	b.inFlight++
	b.downloads = append(b.downloads, tapped{rg: r.Header.Get("Range")})
	k, gen := len(b.downloads)-1, b.resets
	tw := &tapWriter{ResponseWriter: w, tap: b, gen: gen, left: b.cutAfter, stall: b.stall, done: r.Context().Done()}
	if b.dropRange {
		r.Header.Del("Range")
	}
	if b.zeroRange && r.Header.Get("Range") != "" {
		r.Header.Set("Range", "bytes=0-")
	}
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.inFlight--
		if tw.status == http.StatusUnauthorized && gen == b.resets {
			b.downloads[k].unauthorized = true
		}
	}()
	b.h.ServeHTTP(tw, r)
}

// tapWriter counts the body bytes of an answer with content and, with
// left > 0, cuts or stalls it once left of them are out.
type tapWriter struct {
	http.ResponseWriter
	tap    *BlobTap
	gen    int // the tap's Reset count when the download came
	left   int64
	stall  func()
	done   <-chan struct{}
	status int
	ended  bool
}

func (w *tapWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *tapWriter) Write(p []byte) (int, error) {
	if w.ended {
		return 0, http.ErrHijacked
	}
	n := len(p)
	if w.left > 0 && int64(n) >= w.left {
		n, w.ended = int(w.left), true
	}
	m, err := w.ResponseWriter.Write(p[:n])
	if w.status == 0 || w.status == http.StatusOK || w.status == http.StatusPartialContent {
		w.tap.mu.Lock()
		// Bytes of a download from before a Reset are not counted after
		// it: its client may have read them, finished and let the test
		// reset the tap before this handler's Write returned.
		if w.gen == w.tap.resets {
			w.tap.served += int64(m)
		}
		w.tap.mu.Unlock()
	}
	if w.left > 0 {
		w.left -= int64(m)
	}
	if !w.ended {
		return m, err
	}
	w.ResponseWriter.(http.Flusher).Flush()
	if w.stall != nil {
		w.stall()
		<-w.done
		return m, http.ErrHijacked
	}
	if conn, _, herr := w.ResponseWriter.(http.Hijacker).Hijack(); herr == nil {
		conn.Close()
	}
	return m, http.ErrHijacked
}
