package emulator

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/acrgo/acr/internal/spec"
)

// clientKey names who a request comes from, for per-client limits: the
// user or token subject it authenticated as, or, anonymous or on an open
// registry, its address.
func clientKey(r *http.Request, id identity) string {
	if id.name != "" && id.name != anonymousSubject {
		return "id:" + id.name
	}
	return "addr:" + clientAddr(r)
}

// clientAddr is the address a request came from, as per-client limits
// count it: an IPv4 address, or the /64 prefix of an IPv6 address, since
// one host commonly holds a whole /64 and may send from any address in it.
func clientAddr(r *http.Request) string {
	h := r.RemoteAddr
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	ip, err := netip.ParseAddr(h)
	if err != nil {
		return h
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p.String()
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

// Failed sign-ins are throttled per client address (an IPv6 /64, see
// clientAddr) and user name, on the registry's clock (Options.Now): after
// authFailLimit failures in authFailWindow, that pair gets 429 until the
// window ends. A legitimate user elsewhere, or under another name, is not
// affected: one address that guesses under thousands of names fills only
// its own share of the table, and a correct password from an address that
// did not fail keeps signing in.
const (
	authFailLimit  = 10
	authFailWindow = time.Minute
	// authFailNames caps the user names tracked per address: an
	// address's further names share one window of its own (its
	// overflow), so that a flood of names from one address is throttled
	// without growing the table or touching other addresses.
	authFailNames = 20
	// authFailAddrs caps the addresses tracked, which bounds the memory
	// the throttle may hold (authFailAddrs * (authFailNames+1) windows).
	// Beyond it, new addresses share one overflow window: only an
	// attacker failing from that many addresses (or /64s) at once
	// reaches it.
	authFailAddrs = 5000
)

// authFailures counts failed sign-ins per address and user name in fixed
// windows. A sign-in in progress counts as a failure until it succeeds, so
// that concurrent guesses cannot all pass the check before the first is
// counted.
type authFailures struct {
	mu        sync.Mutex
	addrs     map[string]map[string]*failWindow // address -> user -> window
	lastPrune time.Time
}

type failWindow struct {
	start   time.Time
	n       int // failures in the window
	pending int // sign-ins under way
}

// failKey names the window a sign-in counts in.
type failKey struct{ addr, user string }

// overflowKey stands for an address's names beyond authFailNames, and
// for the addresses beyond authFailAddrs: under a flood the throttle holds
// on (the overflow shares ten attempts a window) rather than forget.
const overflowKey = "\x00overflow"

// begin starts a sign-in as user from addr: it returns how long the sign-in
// must wait, or 0 and the key under which end must count the outcome.
func (a *authFailures) begin(addr, user string, now time.Time) (failKey, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.addrs == nil {
		a.addrs = map[string]map[string]*failWindow{}
	}
	names := a.addrs[addr]
	if names == nil && len(a.addrs) >= authFailAddrs {
		a.prune(now)
		if len(a.addrs) >= authFailAddrs {
			addr, names = overflowKey, a.addrs[overflowKey]
		}
	}
	if names == nil {
		names = map[string]*failWindow{}
		a.addrs[addr] = names
	}
	w := names[user]
	if w == nil && len(names) >= authFailNames {
		pruneNames(names, now)
		if len(names) >= authFailNames {
			user, w = overflowKey, names[overflowKey]
		}
	}
	if w == nil || now.Sub(w.start) >= authFailWindow {
		if w == nil {
			w = &failWindow{}
			names[user] = w
		}
		w.start, w.n = now, 0
	}
	key := failKey{addr, user}
	if w.n+w.pending >= authFailLimit {
		return key, max(time.Second, w.start.Add(authFailWindow).Sub(now))
	}
	w.pending++
	return key, 0
}

// prune forgets the windows that ended with no sign-in under way, and the
// addresses left without any; at most once a second, so that a flood at
// the cap does not scan the table on every request.
func (a *authFailures) prune(now time.Time) {
	if d := now.Sub(a.lastPrune); d >= 0 && d < time.Second {
		return
	}
	a.lastPrune = now
	for addr, names := range a.addrs {
		pruneNames(names, now)
		if len(names) == 0 {
			delete(a.addrs, addr)
		}
	}
}

// pruneNames forgets an address's windows that ended with no sign-in
// under way.
func pruneNames(names map[string]*failWindow, now time.Time) {
	for k, w := range names {
		if now.Sub(w.start) >= authFailWindow && w.pending == 0 {
			delete(names, k)
		}
	}
}

// end counts the outcome of a sign-in begin let through.
func (a *authFailures) end(key failKey, failed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	names := a.addrs[key.addr]
	w := names[key.user]
	if w == nil {
		return
	}
	w.pending--
	if failed {
		w.n++
	}
	if w.n == 0 && w.pending == 0 {
		delete(names, key.user)
		if len(names) == 0 {
			delete(a.addrs, key.addr)
		}
	}
}

// signIn runs check, the verification of a sign-in as user from r, unless
// that address and user failed too often lately; it reports check's
// verdict, or a 429 error naming the wait.
func (s *Server) signIn(r *http.Request, user string, check func() bool) (bool, error) {
	key, wait := s.authFails.begin(clientAddr(r), user, s.now())
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
