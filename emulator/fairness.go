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

// authFailures counts failed sign-ins per key in fixed windows. A sign-in
// in progress counts as a failure until it succeeds, so that concurrent
// guesses cannot all pass the check before the first is counted.
type authFailures struct {
	mu   sync.Mutex
	keys map[string]*failWindow
}

type failWindow struct {
	start   time.Time
	n       int // failures in the window
	pending int // sign-ins under way
}

// overflowKey is the key every new key shares while the table is full of
// keys with failures in their window: under a flood of names the throttle
// holds on (new names share ten attempts a window) rather than forget.
const overflowKey = "\x00overflow"

// begin starts a sign-in as key: it returns how long key must wait, or 0
// and the key under which end must count the outcome.
func (a *authFailures) begin(key string, now time.Time) (string, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.keys == nil {
		a.keys = map[string]*failWindow{}
	}
	w := a.keys[key]
	if w == nil && len(a.keys) >= authFailKeys {
		for k, v := range a.keys {
			if now.Sub(v.start) >= authFailWindow && v.pending == 0 {
				delete(a.keys, k)
			}
		}
		if len(a.keys) >= authFailKeys {
			key, w = overflowKey, a.keys[overflowKey]
		}
	}
	if w == nil || now.Sub(w.start) >= authFailWindow {
		if w == nil {
			w = &failWindow{}
			a.keys[key] = w
		}
		w.start, w.n = now, 0
	}
	if w.n+w.pending >= authFailLimit {
		return "", max(time.Second, w.start.Add(authFailWindow).Sub(now))
	}
	w.pending++
	return key, 0
}

// end counts the outcome of a sign-in begin let through.
func (a *authFailures) end(key string, failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.keys[key]
	if w == nil {
		return
	}
	w.pending--
	if failed {
		w.n++
	}
	if w.n == 0 && w.pending == 0 {
		delete(a.keys, key)
	}
}

// signInKey is the throttle's key for a sign-in as user from r.
func signInKey(r *http.Request, user string) string {
	return remoteHost(r) + "\x00" + user
}

// signIn runs check, the verification of a sign-in as user from r, unless
// that address and user failed too often lately; it reports check's
// verdict, or a 429 error naming the wait.
func (s *Server) signIn(r *http.Request, user string, check func() bool) (bool, error) {
	key, wait := s.authFails.begin(signInKey(r, user), s.now())
	if wait > 0 {
		secs := max(1, int(wait.Seconds()+0.999))
		return false, &apiError{status: http.StatusTooManyRequests, code: spec.ErrorCodeTooManyRequests,
			message: "too many failed sign-ins from this address for this user: wait " + strconv.Itoa(secs) + " s, and check the credentials",
			header:  http.Header{"Retry-After": {strconv.Itoa(secs)}}}
	}
	ok := check()
	s.authFails.end(key, !ok)
	return ok, nil
}
