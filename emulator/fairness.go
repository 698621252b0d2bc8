package emulator

import (
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/acrgo/acr/internal/spec"
)

// clientKey names who a request comes from, for per-client limits: the
// user or token subject it authenticated as, or, anonymous or on an open
// registry, its address.
func clientKey(r *http.Request, id identity) string {
	if id.name != "" && id.name != "anonymous" {
		return "id:" + id.name
	}
	return "addr:" + remoteHost(r)
}

// remoteHost is the address a request came from, without its port.
func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

// sessionOwners counts each client's open upload sessions, so that one
// client cannot take them all (the global cap was shared by everyone: one
// client could lock the others out for up to an hour). Sessions that
// survive a restart are counted globally only.
type sessionOwners struct {
	mu    sync.Mutex
	count map[string]int
	owner map[string]string // session id -> client
}

// reserve takes one of client's sessions; false when it has limit open.
func (o *sessionOwners) reserve(client string, limit int) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.count == nil {
		o.count, o.owner = map[string]int{}, map[string]string{}
	}
	if o.count[client] >= limit {
		return false
	}
	o.count[client]++
	return true
}

// bind records that session id is client's.
func (o *sessionOwners) bind(id, client string) {
	o.mu.Lock()
	o.owner[id] = client
	o.mu.Unlock()
}

// unreserve gives back a reservation that made no session.
func (o *sessionOwners) unreserve(client string) {
	o.mu.Lock()
	o.dec(client)
	o.mu.Unlock()
}

// release gives back the reservation of session id, if it has one.
func (o *sessionOwners) release(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c, ok := o.owner[id]; ok {
		delete(o.owner, id)
		o.dec(c)
	}
}

func (o *sessionOwners) dec(client string) {
	if o.count[client] <= 1 {
		delete(o.count, client)
		return
	}
	o.count[client]--
}

// Failed sign-ins are throttled per address and user name, on the
// registry's clock (Options.Now): after
// authFailLimit failures in authFailWindow, that pair gets 429 until the
// window ends. A legitimate user elsewhere, or under another name, is not
// affected.
const (
	authFailLimit  = 10
	authFailWindow = time.Minute
	// authFailKeys bounds the memory the throttle may hold.
	authFailKeys = 10000
)

// authFailures counts failed sign-ins per key in fixed windows.
type authFailures struct {
	mu   sync.Mutex
	keys map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

// blocked returns how long key must wait, or 0.
func (a *authFailures) blocked(key string, now time.Time) time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.keys[key]
	if w == nil || now.Sub(w.start) >= authFailWindow || w.n < authFailLimit {
		return 0
	}
	return w.start.Add(authFailWindow).Sub(now)
}

// fail counts one failure of key.
func (a *authFailures) fail(key string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		a.keys = map[string]*failWindow{}
	}
	w := a.keys[key]
	if w == nil || now.Sub(w.start) >= authFailWindow {
		if w == nil && len(a.keys) >= authFailKeys {
			for k, v := range a.keys {
				if now.Sub(v.start) >= authFailWindow {
					delete(a.keys, k)
				}
			}
			if len(a.keys) >= authFailKeys {
				clear(a.keys) // under a flood of keys, forget rather than grow
			}
		}
		w = &failWindow{start: now}
		a.keys[key] = w
	}
	w.n++
}

// signInKey is the throttle's key for a sign-in as user from r.
func signInKey(r *http.Request, user string) string {
	return remoteHost(r) + "\x00" + user
}

// checkSignIn refuses a sign-in whose key failed too often lately.
func (s *Server) checkSignIn(r *http.Request, user string) error {
	wait := s.authFails.blocked(signInKey(r, user), s.now())
	if wait <= 0 {
		return nil
	}
	secs := max(1, int(wait.Seconds()+0.999))
	return &apiError{status: http.StatusTooManyRequests, code: spec.ErrorCodeTooManyRequests,
		message: "too many failed sign-ins from this address for this user: wait " + strconv.Itoa(secs) + " s, and check the credentials",
		header:  http.Header{"Retry-After": {strconv.Itoa(secs)}}}
}

// failedSignIn counts a failed sign-in.
func (s *Server) failedSignIn(r *http.Request, user string) {
	s.authFails.fail(signInKey(r, user), s.now())
}
