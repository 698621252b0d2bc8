package console

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/acrgo/acr"
)

// Options configure a console. Exactly one of Client and SignIn is set.
type Options struct {
	// Client browses the registry for every session. Visitors get a
	// session only with a one-time token from Server.NewToken, unless Open
	// is set.
	Client *acr.Client
	// Open, with Client, gives every visitor a session without a token:
	// for a registry that has no authentication of its own, where the
	// console can do nothing a visitor could not do with the registry's
	// API directly. A visitor's CSRF token is derived from its cookie, and
	// its session is kept in memory only once it has a message for the
	// next page, so visitors that only look cost nothing.
	Open bool
	// SignIn, when set, makes the console ask for a user name and password
	// and returns a client that uses them. The console checks them with a
	// request and keeps the client on the server: the credentials never
	// go back to the browser.
	SignIn func(ctx context.Context, username, password string) (*acr.Client, error)
	// Prefix is the path the console is served under, such as "/console/";
	// "" means "/". It must start and end with "/".
	Prefix string
	// LoopbackOnly refuses requests whose Host header is not a loopback
	// address or localhost, so that a web page whose name an attacker
	// points at 127.0.0.1 (DNS rebinding) cannot read the console.
	LoopbackOnly bool
	// Logger receives a record per refused or failed request; nil is
	// silent. It never receives a token or credential.
	Logger *slog.Logger
}

// Server serves the console. It is safe for concurrent use.
type Server struct {
	opts   Options
	prefix string
	mux    *http.ServeMux
	log    *slog.Logger
	// cookie and loginCookie name this server's cookies: a random suffix
	// per server, since browsers share cookies between the ports of one
	// host, and two consoles on 127.0.0.1 must not sign each other out.
	cookie, loginCookie string
	// key derives the CSRF tokens of an open console's visitors from their
	// cookies, so that a visitor costs no memory until it has a flash.
	key []byte

	mu       sync.Mutex
	tokens   map[string]time.Time
	sessions map[string]*session
}

// session is a signed-in browser: its client and CSRF token stay here; the
// browser holds only the session's random id, in an HttpOnly cookie.
type session struct {
	id       string
	stored   bool // in Server.sessions; an open console's visitor is not, until needed
	client   *acr.Client
	user     string
	csrf     string
	lastSeen time.Time
	flash    string
}

// Lifetimes and bounds of tokens and sessions.
const (
	tokenTTL    = 24 * time.Hour
	sessionIdle = 12 * time.Hour
	maxSessions = 1000
	maxTokens   = 100
	// maxBody bounds every request's body: the console's forms are small.
	maxBody = 64 << 10
)

// New returns a console server.
func New(opts *Options) (*Server, error) {
	if opts == nil {
		return nil, errors.New("console: nil options: set Options.Client or Options.SignIn")
	}
	o := *opts
	if (o.Client == nil) == (o.SignIn == nil) {
		return nil, errors.New("console: set exactly one of Options.Client (one client for all) and Options.SignIn (each visitor signs in)")
	}
	if o.Open && o.Client == nil {
		return nil, errors.New("console: Options.Open needs Options.Client")
	}
	if o.Prefix == "" {
		o.Prefix = "/"
	}
	if !strings.HasPrefix(o.Prefix, "/") || !strings.HasSuffix(o.Prefix, "/") {
		return nil, errors.New("console: Options.Prefix " + o.Prefix + " must start and end with /, such as /console/")
	}
	suffix := randomString()[:10]
	s := &Server{opts: o, prefix: o.Prefix, log: o.Logger, tokens: map[string]time.Time{}, sessions: map[string]*session{},
		cookie: cookieName + "_" + suffix, loginCookie: cookieName + "_login_" + suffix, key: []byte(randomString())}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s, nil
}

// Prefix is the path the console is served under.
func (s *Server) Prefix() string { return s.prefix }

// NewToken returns a random one-time token: the first request to the
// console that carries it as ?token= gets a session, and the token is
// spent. Tokens not used expire after a day; of more than 100 unused
// tokens, the oldest is dropped.
func (s *Server) NewToken() string {
	t := randomString()
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for k, exp := range s.tokens {
		if now.After(exp) {
			delete(s.tokens, k)
		}
	}
	if len(s.tokens) >= maxTokens {
		var oldest string
		for k, exp := range s.tokens {
			if oldest == "" || exp.Before(s.tokens[oldest]) {
				oldest = k
			}
		}
		delete(s.tokens, oldest)
	}
	s.tokens[t] = now.Add(tokenTTL)
	return t
}

// cookieName starts the names of the console's cookies.
const cookieName = "acrconsole"

func randomString() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// securityHeaders are on every answer: a strict CSP (scripts and styles
// only from the console's own files, nothing inline), no framing, no
// referrer (a one-time token must not leak), no caching.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
}

// ServeHTTP serves the console's pages under its prefix.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w.Header())
	if s.opts.LoopbackOnly && !loopbackHost(r.Host) {
		s.log.Info("console: refused a request for another host name", "host", r.Host, "remote", r.RemoteAddr)
		http.Error(w, "the console answers only to 127.0.0.1, [::1] and localhost", http.StatusMisdirectedRequest)
		return
	}
	if !strings.HasPrefix(r.URL.Path, s.prefix) {
		if r.URL.Path+"/" == s.prefix {
			http.Redirect(w, r, s.prefix, http.StatusFound)
			return
		}
		http.NotFound(w, r)
		return
	}
	if !strings.HasPrefix(r.URL.Path, s.prefix+"static/") {
		w.Header().Set("Cache-Control", "no-store")
	}
	// Bodies are bounded before anything reads them, and the console's
	// forms are never multipart: such a body is refused unread.
	if r.ContentLength > maxBody {
		http.Error(w, "the request body is too large for the console (64 KiB at most)", http.StatusRequestEntityTooLarge)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); strings.HasPrefix(mt, "multipart/") {
		http.Error(w, "the console accepts no multipart bodies: its forms send application/x-www-form-urlencoded", http.StatusUnsupportedMediaType)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if !s.routed(r) {
		// A page the console does not have: its own error page, with the
		// way back, not net/http's bare "404 page not found".
		s.errorPage(w, r, s.sessionOf(r), http.StatusNotFound, "The console has no page at "+r.URL.Path+".",
			"Check the address, or start from the repositories page.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// routed reports whether a route of the console has r's path, for some
// method: a path with no route gets the console's 404 page, a route asked
// with the wrong method keeps the mux's 405.
func (s *Server) routed(r *http.Request) bool {
	for _, m := range []string{r.Method, http.MethodGet, http.MethodPost} {
		if _, pattern := s.mux.Handler(&http.Request{Method: m, URL: r.URL, Host: r.Host}); pattern != "" {
			return true
		}
	}
	return false
}

// sessionOf returns the request's session, or nil. An open console's
// visitor with a cookie always has one: kept if it has a flash, else made
// anew from the cookie, with the same CSRF token.
func (s *Server) sessionOf(r *http.Request) *session {
	c, err := r.Cookie(s.cookie)
	if err != nil || c.Value == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[c.Value]
	if ss != nil && time.Since(ss.lastSeen) > sessionIdle {
		delete(s.sessions, c.Value)
		ss = nil
	}
	if ss == nil {
		if !s.opts.Open {
			return nil
		}
		return s.openSession(c.Value)
	}
	ss.lastSeen = time.Now()
	return ss
}

// openSession is the session of an open console's visitor with cookie id,
// not stored: its CSRF token is derived from id.
func (s *Server) openSession(id string) *session {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(id))
	csrf := base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	return &session{id: id, client: s.opts.Client, csrf: csrf, lastSeen: time.Now()}
}

// store keeps ss, dropping the least recently used session when there
// are too many. The caller holds s.mu.
func (s *Server) store(ss *session) {
	if ss.stored {
		return
	}
	if len(s.sessions) >= maxSessions {
		var lru string
		for k, v := range s.sessions {
			if lru == "" || v.lastSeen.Before(s.sessions[lru].lastSeen) {
				lru = k
			}
		}
		delete(s.sessions, lru)
	}
	ss.stored = true
	s.sessions[ss.id] = ss
}

// startSession makes a session for client and sets its cookie. An open
// console's session is not stored until it needs to be.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, c *acr.Client, user string) *session {
	id := randomString()
	var ss *session
	if s.opts.Open {
		ss = s.openSession(id)
	} else {
		ss = &session{id: id, client: c, user: user, csrf: randomString(), lastSeen: time.Now()}
		s.mu.Lock()
		s.store(ss)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: id, Path: s.prefix, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return ss
}

func (s *Server) endSession(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookie); err == nil {
		s.mu.Lock()
		delete(s.sessions, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: s.prefix, MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

// spendToken reports whether t is a live one-time token, and spends it.
func (s *Server) spendToken(t string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, exp := range s.tokens {
		if subtle.ConstantTimeCompare([]byte(k), []byte(t)) == 1 {
			delete(s.tokens, k)
			return time.Now().Before(exp)
		}
	}
	return false
}

// authed wraps a page handler: it finds or makes the session, exchanges a
// one-time token, sends visitors without a session to sign in, and checks
// the CSRF token of every state-changing request.
// pageTimeout bounds the registry calls of a page or an action, and
// storageTimeout those of the storage page, which reads every manifest.
var (
	pageTimeout    = time.Minute
	storageTimeout = 10 * time.Minute
)

func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, ss *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if t := r.URL.Query().Get("token"); t != "" {
			spent := s.spendToken(t)
			if !spent && s.sessionOf(r) != nil {
				// The link again, in the browser it signed in: to the
				// page, without the token.
				q := r.URL.Query()
				q.Del("token")
				http.Redirect(w, r, (&url.URL{Path: r.URL.Path, RawQuery: q.Encode()}).String(), http.StatusSeeOther)
				return
			}
			if !spent {
				s.log.Info("console: refused a used or unknown one-time token", "remote", r.RemoteAddr)
				s.errorPage(w, r, nil, http.StatusForbidden, "This sign-in link was used already or is not valid.",
					"A link works once. Restart acrctl console for a new one, or open the console in the browser that used it.")
				return
			}
			s.startSession(w, r, s.opts.Client, "")
			q := r.URL.Query()
			q.Del("token")
			u := url.URL{Path: r.URL.Path, RawQuery: q.Encode()}
			http.Redirect(w, r, u.String(), http.StatusSeeOther)
			return
		}
		ss := s.sessionOf(r)
		if ss == nil {
			switch {
			case s.opts.Open:
				ss = s.startSession(w, r, s.opts.Client, "")
			case s.opts.SignIn != nil:
				q := r.URL.Query()
				if q.Get("fragment") != "" {
					// A part of a page, fetched by script: the script
					// reloads the page, which asks to sign in.
					http.Error(w, "sign in first", http.StatusUnauthorized)
					return
				}
				q.Del("fragment")
				// Back to the page after signing in; a change (a POST)
				// is not repeated: its form is gone, so to the first page.
				next := s.prefix
				if r.Method == http.MethodGet || r.Method == http.MethodHead {
					next = r.URL.Path
					if len(q) > 0 {
						next += "?" + q.Encode()
					}
				}
				http.Redirect(w, r, s.prefix+"login?next="+url.QueryEscape(next), http.StatusSeeOther)
				return
			default:
				s.errorPage(w, r, nil, http.StatusUnauthorized, "Open the console with the link acrctl console printed.",
					"That link carries a one-time token that signs this browser in. Without it, the console shows nothing, since it acts with your registry credentials.")
				return
			}
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !s.checkCSRF(r, ss.csrf) {
				s.log.Info("console: refused a request without its CSRF token", "path", r.URL.Path, "remote", r.RemoteAddr)
				s.errorPage(w, r, ss, http.StatusForbidden, "Refused: the request lacks the console's CSRF token.",
					"Changes are accepted only from the console's own forms. Reload the page and try again.")
				return
			}
		}
		// A registry that stops answering (a hung process, a dropped
		// network) gets the page's 504, not a request that waits forever.
		limit := pageTimeout
		if r.URL.Path == s.prefix+"storage" {
			limit = storageTimeout
		}
		ctx, cancel := context.WithTimeout(r.Context(), limit)
		defer cancel()
		h(w, r.WithContext(ctx), ss)
	}
}

// checkCSRF checks a state-changing request: its form's csrf field must be
// the session's token, and it must come from this server's pages.
func (s *Server) checkCSRF(r *http.Request, want string) bool {
	if !sameOrigin(r) {
		return false
	}
	got := r.PostFormValue("csrf")
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether a state-changing request may come from this
// server's pages: its Origin, when sent, is this server, and its
// Sec-Fetch-Site, when sent, is not another site. Browsers send Origin
// "null" from sandboxed frames, data: URLs and some redirects, so null is
// accepted only where Sec-Fetch-Site vouches for the request.
func sameOrigin(r *http.Request) bool {
	site := r.Header.Get("Sec-Fetch-Site")
	if site != "" && site != "same-origin" && site != "none" {
		return false
	}
	switch o := r.Header.Get("Origin"); o {
	case "":
	case "null":
		if site != "same-origin" {
			return false
		}
	default:
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return false
		}
	}
	return true
}

// safeNext is where to go after signing in: next when it is a path of the
// console, cleaned, else the console's first page.
func (s *Server) safeNext(next string) string {
	if next == "" || strings.HasPrefix(next, "//") || strings.Contains(next, "\\") {
		return s.prefix
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" {
		return s.prefix
	}
	p := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && p != "/" {
		p += "/"
	}
	if !strings.HasPrefix(p, s.prefix) && p+"/" != s.prefix {
		return s.prefix
	}
	q := u.Query()
	q.Del("fragment")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// setFlash keeps a message for the session's next page. An open
// console's visitor is stored from now on, to keep it.
func (s *Server) setFlash(ss *session, msg string) {
	s.mu.Lock()
	ss.flash = msg
	s.store(ss)
	s.mu.Unlock()
}

func (s *Server) takeFlash(ss *session) string {
	if ss == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f := ss.flash
	ss.flash = ""
	return f
}

// loopbackHost reports whether a Host header names this machine.
func loopbackHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
