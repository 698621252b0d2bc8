package faulttest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// SessionLoss says which upload-session requests a SessionLoser loses, and
// how.
type SessionLoss struct {
	// Lose reports whether to lose the nth request to a session (PATCH or
	// PUT, counted from 1 in the order they arrive).
	Lose func(n int) bool
	// Cut makes the losing request end in a dropped connection, after part
	// of its body, instead of a 404: the client learns that the session
	// is gone when it asks for the session's offset.
	Cut bool
	// NoMonolithic opens a session for a monolithic POST (as registries
	// without monolithic uploads do), so that the blob follows in a PUT.
	NoMonolithic bool
}

// SessionLoser is a registry that forgets upload sessions the way ACR now
// and then does during long uploads: the requests its SessionLoss chooses
// are read to the end and answered 404 BLOB_UPLOAD_UNKNOWN, and the
// session is never heard of again. Every other request goes to the
// registry it stands in front of. It is safe for concurrent use.
type SessionLoser struct {
	// URL is the base URL of its server, http://127.0.0.1:PORT.
	URL string

	h    http.Handler
	loss SessionLoss

	mu    sync.Mutex
	n     int             // session requests seen
	posts int             // sessions opened
	lost  map[string]bool // paths of lost sessions
}

// NewSessionLoser serves registry h behind a SessionLoser on 127.0.0.1 and
// stops the server when t ends.
func NewSessionLoser(t testing.TB, h http.Handler, loss SessionLoss) *SessionLoser {
	t.Helper()
	s := &SessionLoser{h: h, loss: loss, lost: map[string]bool{}}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	s.URL = hs.URL
	return s
}

// ServeHTTP loses the chosen session requests and passes on the rest.
func (s *SessionLoser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inSession := strings.Contains(r.URL.Path, "/blobs/uploads/") && !strings.HasSuffix(r.URL.Path, "/blobs/uploads/")
	s.mu.Lock()
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
		s.posts++
	}
	lose := false
	if inSession && (r.Method == http.MethodPatch || r.Method == http.MethodPut) {
		s.n++
		lose = s.loss.Lose(s.n)
		if lose {
			s.lost[r.URL.Path] = true
		}
	}
	gone := inSession && s.lost[r.URL.Path]
	s.mu.Unlock()
	if lose && s.loss.Cut {
		io.CopyN(io.Discard, r.Body, 64<<10)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if s.loss.NoMonolithic && r.Method == http.MethodPost && r.URL.Query().Has("digest") {
		io.Copy(io.Discard, r.Body)
		r.URL.RawQuery, r.Body, r.ContentLength = "", http.NoBody, 0
	}
	if gone {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}`)
		return
	}
	s.h.ServeHTTP(w, r)
}

// Lost returns how many sessions it has lost.
func (s *SessionLoser) Lost() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lost)
}

// Sessions returns how many upload sessions clients have opened (POSTs).
func (s *SessionLoser) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}
