package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
)

// DefaultAudience is the Entra ID audience of Azure Container Registry in
// the public cloud. National clouds have their own; see Options.Audience.
const DefaultAudience = "https://containerregistry.azure.net"

// DefaultUserAgent is sent when Options.UserAgent is empty.
const DefaultUserAgent = "acrgo"

// NoticeDelay is the shortest wait before a retry that a Client logs at
// Info level rather than Debug: long enough for a person to wonder why
// nothing happens (a registry's throttling asks for seconds or a minute).
const NoticeDelay = time.Second

// defaultMaxRetries is the number of retries when Options.MaxRetries is 0.
const defaultMaxRetries = 3

// Options configures a [Client]. The zero value is usable: an anonymous,
// silent client with default retries.
type Options struct {
	// HTTPClient sends the requests. Nil means a client tuned for parallel
	// transfers (a keep-alive pool of 64 connections per host, HTTP/2 where
	// the server offers it). The Client works on a copy, whose
	// CheckRedirect wraps the given one with the redirect rules of the
	// package documentation.
	HTTPClient *http.Client
	// TLSConfig configures TLS on the default transport: a private
	// certificate authority in RootCAs, a client certificate,
	// InsecureSkipVerify for a test registry. The Client uses a clone. Nil
	// means Go's defaults (the system's roots). Setting it with HTTPClient
	// is an error: configure that client's transport instead.
	TLSConfig *tls.Config
	// Logger receives a Debug record per HTTP exchange and per retry; a
	// retry that waits NoticeDelay or more is logged at Info level, with
	// the delay and the reason. Nil is silent.
	Logger *slog.Logger
	// UserAgent is sent with every request that has no User-Agent of its
	// own. Empty means DefaultUserAgent.
	UserAgent string
	// MaxRetries is the number of times a failed request is sent again.
	// Zero means 3; a negative value turns retries off.
	MaxRetries int
	// Audience is the Entra ID audience whose "/.default" scope is asked of
	// Credential.TokenCredential. Empty means DefaultAudience.
	Audience string
	// AllowInsecure permits sending credentials over plain http to hosts
	// that are not loopback. Use it only on a trusted network.
	AllowInsecure bool
	// Credential holds the secrets for the registry. The zero value is
	// anonymous.
	Credential Credential
	// Tracer starts a span (kind client) per HTTP exchange, token requests
	// and retries included, as a child of the span in the request's
	// context. The zero value traces nothing.
	Tracer tracing.Tracer
}

// Client sends requests to a registry, authenticating and retrying them.
// It is safe for concurrent use and should be reused: it holds the token
// cache and the connection pool.
type Client struct {
	hc            *http.Client
	log           *slog.Logger
	userAgent     string
	maxRetries    int
	audience      string
	allowInsecure bool
	cred          Credential
	kind          credKind
	tracer        tracing.Tracer

	// Clock and randomness; tests replace them (or run in a synctest bubble).
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(n int64) int64 // uniform in [0, n), n > 0

	tokens  flight[tokenKey, string]           // access tokens by origin and scope set
	refresh flight[string, string]             // ACR refresh tokens by origin and service
	lookups flight[string, resolvedCredential] // Lookup answers by host

	mu      sync.Mutex
	origins map[string]challengeInfo // how each origin last challenged
}

// New returns a Client configured by opts; nil opts means defaults. It fails
// when opts.Credential sets more than one kind of credential.
func New(opts *Options) (*Client, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	kind, err := o.Credential.kind()
	if err != nil {
		return nil, err
	}
	if o.TLSConfig != nil && o.HTTPClient != nil {
		return nil, errors.New("transport: Options sets both HTTPClient and TLSConfig: set the TLS configuration on HTTPClient's transport, or leave HTTPClient nil")
	}
	c := &Client{
		log:           o.Logger,
		userAgent:     o.UserAgent,
		maxRetries:    o.MaxRetries,
		audience:      strings.TrimRight(o.Audience, "/"),
		allowInsecure: o.AllowInsecure,
		cred:          o.Credential,
		kind:          kind,
		tracer:        o.Tracer,
		now:           time.Now,
		sleep:         sleepContext,
		jitter:        rand.Int64N,
		origins:       make(map[string]challengeInfo),
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.audience == "" {
		c.audience = DefaultAudience
	}
	c.hc = c.httpClient(o.HTTPClient, o.TLSConfig)
	return c, nil
}

// defaultTransport is the tuned transport behind a nil Options.HTTPClient,
// with a clone of conf as its TLS configuration when conf is not nil.
func defaultTransport(conf *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = http.ProxyFromEnvironment
	t.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ForceAttemptHTTP2 = true
	t.MaxIdleConns = 256
	t.MaxIdleConnsPerHost = 64 // the pool must cover parallel blob transfers, or connections churn
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	if conf != nil {
		t.TLSClientConfig = conf.Clone()
	}
	return t
}

// httpClient copies base (or builds the default, with conf) and installs
// the redirect policy.
func (c *Client) httpClient(base *http.Client, conf *tls.Config) *http.Client {
	hc := &http.Client{Transport: defaultTransport(conf)}
	if base != nil {
		cp := *base
		hc = &cp
	}
	next := hc.CheckRedirect
	hc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := c.checkRedirect(req, via); err != nil {
			return err
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return hc
}

// Do sends req, which must carry a context and an absolute http or https
// URL, and returns the registry's response after authentication and
// retries. The caller closes resp.Body.
//
// scopes are the token scopes the request needs, such as
// "repository:library/hello:pull" or "registry:catalog:*". They are a hint:
// the first attempt carries a cached token for them, and the Client fetches
// one before sending when the origin has challenged before, so most requests
// need no 401 round trip. Scopes from the server's challenge are added to
// them. A request whose body cannot be rewound (no Request.GetBody) is sent
// at most once, so pass the scopes it needs, or it may come back as a 401.
//
// A request that already carries an Authorization header is sent as it is,
// without the challenge flow. A 401 that remains after one re-authentication
// is returned as the response; a token request that fails returns a
// *[TokenError]; credentials that would travel in clear text return an error
// wrapping [ErrInsecure]. Do does not modify req.
func (c *Client) Do(req *http.Request, scopes ...string) (*http.Response, error) {
	if req == nil || req.URL == nil {
		return nil, errors.New("transport: nil request or URL")
	}
	body := &bodySource{req: req}
	defer body.closeUnused()
	if !req.URL.IsAbs() || req.URL.Host == "" || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		return nil, fmt.Errorf("transport: %s %s: the URL must be absolute http or https", req.Method, Redact(req.URL))
	}
	ctx := req.Context()
	hints := NormalizeScopes(scopes...)
	retryable := c.maxRetries > 0 && body.rewindable() &&
		(idempotent(req.Method) || req.Method == http.MethodPost || req.GetBody != nil)
	for attempt := 1; ; attempt++ {
		resp, err := c.attempt(ctx, req, body, hints, attempt)
		if !retryable || attempt > c.maxRetries {
			return resp, err
		}
		if err != nil && !idempotent(req.Method) && body.partlySent() {
			// The server may hold part of a PATCH or POST body: sending it
			// again blindly could apply it twice, and the caller knows
			// better (a chunked upload resumes from the session's offset).
			return resp, err
		}
		delay, ok := c.retryDelay(ctx, resp, err, attempt)
		if !ok {
			return resp, err
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(delay).After(dl) {
			return resp, err // waiting would outlive the caller: hand back what we have
		}
		reason := describe(resp, err)
		discard(resp)
		level := slog.LevelDebug
		if delay >= NoticeDelay {
			level = slog.LevelInfo // a wait a person notices: say why
		}
		c.log.LogAttrs(ctx, level, "retry",
			slog.String("method", req.Method), slog.String("url", Redact(req.URL)),
			slog.Int("attempt", attempt), slog.String("reason", reason), slog.Duration("delay", delay))
		if serr := c.sleep(ctx, delay); serr != nil {
			return nil, fmt.Errorf("transport: %s %s: gave up after %d attempts (last: %s): %w",
				req.Method, Redact(req.URL), attempt, reason, serr)
		}
	}
}

// attempt sends req once from the retry loop's point of view: with the
// cached or pre-fetched authorization, and once more after a challenge.
func (c *Client) attempt(ctx context.Context, req *http.Request, body *bodySource, hints []string, attempt int) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		r, err := c.outgoing(ctx, req, body, "")
		if err != nil {
			return nil, err
		}
		return c.send(ctx, "registry", r, attempt)
	}
	u := req.URL
	org := origin(u)
	authz, err := c.preauthorize(ctx, u, org, hints, attempt)
	if err != nil {
		return nil, err
	}
	r, err := c.outgoing(ctx, req, body, authz)
	if err != nil {
		return nil, err
	}
	resp, err := c.send(ctx, "registry", r, attempt)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if resp.Request != nil && resp.Request.URL != nil && !SameOrigin(resp.Request.URL, u) {
		return resp, nil // a redirect target asks for credentials: never offer them
	}
	ch, ok := pickChallenge(resp.Header.Values("Www-Authenticate"))
	if !ok {
		return resp, nil
	}
	info := c.learn(org, ch)
	if !body.canResend() {
		return resp, nil // the next request for these scopes will be authorized up front
	}
	c.forget(org, authz)
	authz2, err := c.authorize(ctx, u, org, info, hints, attempt)
	if err != nil {
		discard(resp)
		return nil, err
	}
	if authz2 == "" || authz2 == authz {
		return resp, nil // nothing new to offer
	}
	r, err = c.outgoing(ctx, req, body, authz2)
	if err != nil {
		return resp, nil
	}
	discard(resp)
	return c.send(ctx, "registry", r, attempt)
}

// outgoing clones req for one send, with a fresh body and authz (if any).
func (c *Client) outgoing(ctx context.Context, req *http.Request, body *bodySource, authz string) (*http.Request, error) {
	rc, err := body.next()
	if err != nil {
		return nil, err
	}
	r := req.Clone(ctx)
	r.Body = rc
	if authz != "" {
		r.Header.Set("Authorization", authz)
	}
	return r, nil
}

// send performs one HTTP exchange and logs it. kind names the endpoint for
// the log: "registry", "token" or "exchange".
func (c *Client) send(ctx context.Context, kind string, r *http.Request, attempt int) (*http.Response, error) {
	if r.Header.Get("User-Agent") == "" {
		r.Header.Set("User-Agent", c.userAgent)
	}
	r, end := c.startHTTP(r, attempt)
	start := c.now()
	resp, err := c.hc.Do(r)
	if err != nil {
		resp = nil // after a refused redirect the response body is already closed
		err = redactError(err)
	}
	end(resp, err)
	c.logExchange(ctx, kind, r, resp, err, attempt, c.now().Sub(start))
	return resp, err
}

// idempotent reports whether a method may be repeated without changing the
// outcome (RFC 9110 section 9.2.2).
func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPut, http.MethodDelete, http.MethodOptions:
		return true
	}
	return false
}

// bodySource hands out the request body: the caller's on the first send,
// then fresh copies from GetBody. It notes whether the latest copy was
// read from, that is whether the server may hold part of it.
type bodySource struct {
	req  *http.Request
	used bool
	last *trackedBody
}

// trackedBody records whether any byte of a body was read. The HTTP
// client may read it from another goroutine.
type trackedBody struct {
	io.ReadCloser
	read atomic.Bool
}

func (t *trackedBody) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.read.Store(true)
	}
	return n, err
}

// partlySent reports whether the latest body handed out was read from.
func (b *bodySource) partlySent() bool { return b.last != nil && b.last.read.Load() }

func (b *bodySource) empty() bool { return b.req.Body == nil || b.req.Body == http.NoBody }

// rewindable reports whether the body can be sent any number of times.
func (b *bodySource) rewindable() bool { return b.empty() || b.req.GetBody != nil }

// canResend reports whether next will succeed.
func (b *bodySource) canResend() bool { return !b.used || b.rewindable() }

var errNotRewindable = errors.New("transport: the request body was already sent and has no GetBody to send it again")

func (b *bodySource) next() (io.ReadCloser, error) {
	if b.empty() {
		return b.req.Body, nil
	}
	rc := b.req.Body
	if b.used {
		if b.req.GetBody == nil {
			return nil, errNotRewindable
		}
		var err error
		if rc, err = b.req.GetBody(); err != nil {
			return nil, err
		}
	}
	b.used = true
	b.last = &trackedBody{ReadCloser: rc}
	if sc, ok := rc.(syscall.Conn); ok {
		return &trackedFileBody{b.last, sc}, nil
	}
	return b.last, nil
}

// trackedFileBody is a trackedBody over a body that is a file: it keeps
// the file's SyscallConn visible, which net/http's transport uses to send
// the body with sendfile(2). The body counts as read from once sendfile
// may have used it.
type trackedFileBody struct {
	*trackedBody
	sc syscall.Conn
}

func (t *trackedFileBody) SyscallConn() (syscall.RawConn, error) {
	t.read.Store(true)
	return t.sc.SyscallConn()
}

// closeUnused closes the caller's body when it was never handed to the
// HTTP client, which would have closed it, as http.Client.Do promises.
func (b *bodySource) closeUnused() {
	if !b.used && !b.empty() {
		b.req.Body.Close()
	}
}

// discard drains a little of a response body, so the connection can be
// reused, and closes it.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	io.CopyN(io.Discard, resp.Body, 4<<10)
	resp.Body.Close()
}

// describe summarises a failed attempt for logs and errors.
func describe(resp *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	if resp != nil {
		return resp.Status
	}
	return "no response"
}
