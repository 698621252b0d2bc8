package faulttest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Storm answers bursts of 429 and 503 with Retry-After in front of a
// registry: the first attempts of every third request (by method, path,
// digest and Range) fail, up to three in a row, which the client's
// default of three retries rides out. The PUT that completes a blob upload
// fails once per blob, with a 429: when it streams the blob, the transport
// cannot send it again, and the caller (transfer.Copy) starts the blob
// once more after the Retry-After. Set its fields before it serves; it is
// then safe for concurrent use.
type Storm struct {
	// Handler is the registry the storm stands in front of.
	Handler http.Handler
	// Fails is how many attempts of a chosen request fail; always > 3
	// fails them forever.
	Fails int
	// Match, when set, limits the storm to the requests it accepts.
	Match func(*http.Request) bool
	// RetryAfter, when set, replaces every Retry-After, so that a storm
	// over real connections ends quickly.
	RetryAfter string

	mu     sync.Mutex
	n      int                  // requests seen
	seen   map[string]int       // failed attempts by request
	due    map[string]time.Time // when a request told to wait may return
	failed int
	early  int // requests that returned before their Retry-After
}

// ServeHTTP fails the chosen requests and passes on the rest.
func (s *Storm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := r.Method + " " + r.URL.Path + " " + q.Get("digest") + q.Get("mount") + " " + r.Header.Get("Range")
	fails := s.Fails
	putBlob := r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && fails <= 3
	if putBlob {
		// A PUT that streams a blob cannot be sent again; Copy starts the
		// blob once more, in a new session. Fail it once per blob.
		key, fails = "PUT blob "+q.Get("digest"), 1
	}
	now := time.Now()
	s.mu.Lock()
	if s.seen == nil {
		s.seen, s.due = map[string]int{}, map[string]time.Time{}
	}
	if due, ok := s.due[key]; ok && now.Before(due) {
		s.early++
	}
	delete(s.due, key)
	k, ok := s.seen[key]
	if !ok && (s.Match == nil || s.Match(r)) {
		s.n++
		if s.n%3 == 1 || putBlob {
			ok = true
		}
	}
	fail := ok && (k < fails || s.Fails > 3)
	if ok {
		s.seen[key] = k + 1
	}
	h := w.Header()
	if fail {
		s.failed++
		switch k % 3 {
		case 0:
			h.Set("Retry-After", "3")
		case 1:
			h.Set("Retry-After", "1")
		}
		if s.RetryAfter != "" {
			h.Set("Retry-After", s.RetryAfter)
		}
		// The POST that opens a session is the same request for every
		// blob: a concurrent one is not a retry.
		opens := r.Method == http.MethodPost && q.Get("digest") == "" && q.Get("mount") == ""
		if secs, err := strconv.Atoi(h.Get("Retry-After")); err == nil && !opens {
			s.due[key] = now.Add(time.Duration(secs) * time.Second)
		}
	}
	s.mu.Unlock()
	if !fail {
		s.Handler.ServeHTTP(w, r)
		return
	}
	h.Set("Content-Type", "application/json")
	switch k % 3 {
	case 0:
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"errors":[{"code":"TOOMANYREQUESTS","message":"throttled"}]}`))
	case 1:
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}`))
	default:
		w.WriteHeader(http.StatusServiceUnavailable)
	}
}

// Failed returns how many requests the storm has failed.
func (s *Storm) Failed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// CheckWaited fails t if a request came back before its Retry-After.
func (s *Storm) CheckWaited(t testing.TB) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.early > 0 {
		t.Errorf("%d requests came back before the Retry-After they were given", s.early)
	}
}
