package acr

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"

	"github.com/acrgo/acr/internal/spec"
	"github.com/acrgo/acr/internal/trace"
	"github.com/acrgo/acr/internal/transport"
)

// Audiences of Entra ID tokens for ACR in each cloud. Set
// ClientOptions.Audience to the one of the registry's cloud.
const (
	AudienceAzurePublic     = "https://containerregistry.azure.net"
	AudienceAzureChina      = "https://containerregistry.azure.cn"
	AudienceAzureGovernment = "https://containerregistry.azure.us"
)

// Azure Resource Manager audiences, which ACR also accepts in the token
// exchange unless the registry turned off "authentication as ARM". Use them
// where a credential cannot get tokens for the audiences above, as some
// managed identities cannot. The .NET library names them
// ContainerRegistryAudience.AzureResourceManager*.
const (
	AudienceARMPublic     = "https://management.azure.com"
	AudienceARMChina      = "https://management.chinacloudapi.cn"
	AudienceARMGovernment = "https://management.usgovcloudapi.net"
)

// DefaultPageSize is the number of items a listing asks for per page when
// ClientOptions.PageSize is 0: the most ACR answers in one page. Registries
// may answer fewer and link to the next page; ECR refuses more than 1,000.
const DefaultPageSize = 1000

// ClientOptions configures a [Client]. Nil, or a zero field, means the
// default.
type ClientOptions struct {
	// HTTPClient sends the requests. The default reuses connections with a
	// pool sized for parallel transfers.
	HTTPClient *http.Client
	// TLSConfig configures TLS on the default HTTP client, which keeps its
	// tuning: a registry's private certificate authority in RootCAs, a
	// client certificate, or InsecureSkipVerify for a throwaway test
	// registry. The client uses a clone. Nil means Go's defaults (the
	// system's roots). With it, an endpoint given as a bare host is reached
	// over https, a loopback host too. NewClient refuses it together with
	// HTTPClient: configure that client's transport instead.
	TLSConfig *tls.Config
	// Logger receives a debug record per HTTP attempt (method, URL without
	// query, status, attempt, duration, request id) and per retry; never a
	// credential. A retry that waits a second or more (throttling, whose
	// Retry-After may ask for a minute) is an Info record named "retry"
	// with the attributes method, url, attempt, reason and delay, so that
	// a logger at Info level can tell a person why nothing happens. Nil is
	// silent.
	Logger *slog.Logger
	// UserAgent is prepended to the client's own User-Agent.
	UserAgent string
	// MaxRetries bounds retries of throttled (429), unavailable (5xx) and
	// failed-connection requests; 0 means 3, negative means none.
	MaxRetries int
	// Audience is the Entra ID audience of the registry's cloud;
	// AudienceAzurePublic by default.
	Audience string
	// PageSize is the number of items asked per page when listing; 0 means
	// 1,000, the most ACR answers in one page (its own default is 100, which
	// makes a listing of 10,000 tags take 100 requests instead of 10).
	// Left at 0, the tag list of a registry without ACR's API is asked
	// for whole, in one request where the registry allows it (TagNames).
	PageSize int
	// AllowInsecure permits sending credentials over plain http to a host
	// that is not loopback. Do not set it outside isolated test networks.
	AllowInsecure bool
	// TracingProvider receives a span per operation (kind internal, named
	// like "Client.GetManifest") and per HTTP attempt (kind client, named
	// "HTTP GET"; retries, token requests and challenges included), after
	// the Azure SDK's tracing conventions. For OpenTelemetry use
	// azotel.NewTracingProvider (module
	// github.com/Azure/azure-sdk-for-go/sdk/tracing/azotel). Attributes
	// carry URLs with secret query values redacted and never a header but
	// request ids and the User-Agent. While tracing, each request carries a
	// random x-ms-client-request-id, recorded as az.client_request_id. The
	// zero value traces nothing.
	TracingProvider tracing.Provider
}

// Client talks to one registry. It is immutable and safe for concurrent
// use; share one per registry so that connections and tokens are reused.
// Repository names are parameters of its methods.
type Client struct {
	endpoint *url.URL
	host     string
	tr       *transport.Client
	pageSize int
	// pageSizeSet records that ClientOptions.PageSize chose the page size
	// (listings without ACR's API then page; see TagNames).
	pageSizeSet bool
	credKind    string
	tracer      tracing.Tracer

	// acrAPI records whether the registry serves ACR's /acr/v1 API:
	// 0 not yet known, 1 yes, 2 no. It is probed once, on first need.
	acrAPI atomic.Int32

	// open records that the registry answered Granted's GET /v2/ without
	// a challenge: it authenticates nobody there, and Granted does not ask
	// again.
	open atomic.Bool

	// referrers records whether the registry serves the referrers API and
	// serialises this client's updates of referrers tags.
	referrers referrersTagState

	// background counts work that outlives the calls that started it:
	// the cancelling of upload sessions a failed upload left open.
	background backgroundWork

	// localSends counts the file bodies being sent to registries on this
	// machine over plain HTTP (see sendsBy).
	localSends atomic.Int32
}

// backgroundWork counts running background tasks. Unlike a WaitGroup it
// may be waited on while tasks start: each Drain waits for the count to
// reach zero, through a channel closed when it does.
type backgroundWork struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to zero; nil while n is zero
}

// start counts a task in.
func (b *backgroundWork) start() {
	b.mu.Lock()
	if b.n == 0 {
		b.idle = make(chan struct{})
	}
	b.n++
	b.mu.Unlock()
}

// done counts a task out.
func (b *backgroundWork) done() {
	b.mu.Lock()
	if b.n--; b.n == 0 {
		close(b.idle)
		b.idle = nil
	}
	b.mu.Unlock()
}

// wait returns a channel that is closed when no task is running.
func (b *backgroundWork) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.idle == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return b.idle
}

// Drain waits, until ctx ends, for the client's background work to finish:
// the DELETEs that cancel the upload sessions of failed or interrupted
// uploads, which go on after the call that failed has returned. A program
// about to exit calls it (with a short timeout) so that an interrupted
// push leaves no session open on the registry. It reports ctx's error when
// the wait was cut short.
func (c *Client) Drain(ctx context.Context) error {
	idle := c.background.wait()
	select {
	case <-idle:
		return nil // nothing to wait for, even with ctx ended
	default:
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// NewClient creates a client for the registry at endpoint, such as
// "https://myregistry.azurecr.io" or "myregistry.azurecr.io" (https is
// assumed, except for loopback hosts, which get http). cred may be nil for
// anonymous access.
func NewClient(endpoint string, cred Credential, opts *ClientOptions) (*Client, error) {
	var o ClientOptions
	if opts != nil {
		o = *opts
	}
	if o.HTTPClient != nil && o.TLSConfig != nil {
		return nil, errors.New("acr: ClientOptions sets both HTTPClient and TLSConfig: set the TLS configuration on HTTPClient's transport, or leave HTTPClient nil")
	}
	if o.TLSConfig != nil && !strings.Contains(endpoint, "://") {
		endpoint = "https://" + strings.TrimSpace(endpoint) // TLS asked for: a loopback host too
	}
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return nil, err
	}
	var tc transport.Credential
	if cred != nil {
		tc = cred.transportCredential()
	}
	ua := "acrgo/0.1"
	if o.UserAgent != "" {
		ua = o.UserAgent + " " + ua
	}
	tracer := trace.NewTracer(o.TracingProvider)
	tr, err := transport.New(&transport.Options{HTTPClient: o.HTTPClient, TLSConfig: o.TLSConfig, Logger: o.Logger, UserAgent: ua,
		MaxRetries: o.MaxRetries, Audience: o.Audience, AllowInsecure: o.AllowInsecure, Credential: tc, Tracer: tracer})
	if err != nil {
		return nil, fmt.Errorf("acr: %w", err)
	}
	c := &Client{endpoint: u, host: u.Host, tr: tr, pageSize: o.PageSize, pageSizeSet: o.PageSize > 0, credKind: credentialKind(cred), tracer: tracer}
	if c.pageSize <= 0 {
		c.pageSize = DefaultPageSize
	}
	return c, nil
}

// parseEndpoint accepts a URL or a bare host and returns scheme://host.
// Its errors never quote a password: an endpoint with a user name or
// password is refused, since the password would be kept in shell history,
// process lists and logs, and not sent as the credential anyway.
func parseEndpoint(endpoint string) (*url.URL, error) {
	shown := redactUserinfo(endpoint)
	s := strings.TrimRight(strings.TrimSpace(endpoint), "/")
	if !strings.Contains(s, "://") {
		scheme := "https"
		if isLoopbackHost(s) {
			scheme = "http"
		}
		s = scheme + "://" + s
	}
	if shown != endpoint {
		return nil, fmt.Errorf("acr: endpoint %q: a user name or password does not go in the endpoint, where shell history, process lists and logs keep it; give only scheme and host and pass the credential to NewClient (acrctl: --username with --password-stdin, or acrctl login)", shown)
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("acr: endpoint %q is not a registry URL such as https://myregistry.azurecr.io", shown)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("acr: endpoint %q: scheme %q is not http or https", shown, u.Scheme)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
		return nil, fmt.Errorf("acr: endpoint %q: give only scheme and host, without path, query or user", shown)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// redactUserinfo returns endpoint with the user information of its
// authority (what precedes the last '@' before the first '/', '?' or '#',
// after the scheme) replaced by "REDACTED", or endpoint itself when it has
// none. It works on strings url.Parse refuses, so that no error quotes a
// password however malformed the rest is.
func redactUserinfo(endpoint string) string {
	start := 0
	if i := strings.Index(endpoint, "://"); i >= 0 {
		start = i + len("://")
	}
	end := len(endpoint)
	if i := strings.IndexAny(endpoint[start:], "/?#"); i >= 0 {
		end = start + i
	}
	at := strings.LastIndexByte(endpoint[start:end], '@')
	if at < 0 {
		return endpoint
	}
	return endpoint[:start] + "REDACTED" + endpoint[start+at:]
}

// isLoopbackHost reports whether host[:port] names the loopback interface.
func isLoopbackHost(hostport string) bool { return transport.IsLoopbackHost(hostport) }

// Endpoint returns the registry's base URL, such as https://myregistry.azurecr.io.
func (c *Client) Endpoint() string { return c.endpoint.String() }

// Host returns the registry host as references name it.
func (c *Client) Host() string { return c.host }

// acrPath builds an /acr/v1 path with the repository escaped as one
// segment (library%2Fhello), as the Azure SDKs send it.
func acrPath(repo string, rest ...string) string {
	p := "/acr/v1/" + url.PathEscape(repo)
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// v2Path builds a /v2 path with the repository's slashes raw, as OCI
// clients send it.
func v2Path(repo string, rest ...string) string {
	p := "/v2/" + repo
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// url resolves an escaped path and query against the endpoint.
func (c *Client) url(escapedPath string, q url.Values) (*url.URL, error) {
	u, err := url.Parse(c.endpoint.String() + escapedPath)
	if err != nil {
		return nil, err
	}
	if len(q) > 0 {
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// request is one API call.
type request struct {
	method string
	path   string // escaped
	query  url.Values
	header http.Header
	body   []byte // JSON or form body; nil for none
	scope  string // token scope the call needs
	// ok lists the statuses that count as success; nil means any 2xx.
	ok []int
}

// do sends r and returns the response when its status is a success; other
// statuses become a *ResponseError. The caller closes the body.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u, err := c.url(r.path, r.query)
	if err != nil {
		return nil, err
	}
	return c.doURL(ctx, u, r)
}

func (c *Client) doURL(ctx context.Context, u *url.URL, r request) (*http.Response, error) {
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if r.body != nil {
		b := r.body
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		req.ContentLength = int64(len(b))
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := c.tr.Do(req, strings.Fields(r.scope)...)
	return c.result(resp, err, r.method, u, r.ok)
}

// result turns a transport outcome into the client's: a success status
// returns the response, anything else a *ResponseError, and a credential
// the registry or its token endpoint refused matches ErrUnauthorized with
// a hint naming the credential tried.
func (c *Client) result(resp *http.Response, err error, method string, u *url.URL, ok []int) (*http.Response, error) {
	if err != nil {
		var te *transport.TokenError
		if errors.As(err, &te) {
			if re := tokenResponseError(te); re != nil {
				if re.StatusCode == http.StatusUnauthorized {
					return nil, fmt.Errorf("acr: %s %s: %w (credential: %s; check it, or sign in to %s again)",
						method, redactURL(u), re, c.credKind, c.host)
				}
				return nil, fmt.Errorf("acr: %s %s: %w", method, redactURL(u), re)
			}
		}
		return nil, fmt.Errorf("acr: %s %s: %w", method, redactURL(u), err)
	}
	if success(resp.StatusCode, ok) {
		return resp, nil
	}
	rerr := newResponseError(resp)
	if re, ok := rerr.(*ResponseError); ok && errors.Is(rerr, ErrInsufficientScope) {
		lacks := "its rights do not cover this"
		if re.MissingScope != "" {
			lacks = "it lacks " + re.MissingScope
			if acts := spec.ScopeMapActions(re.MissingScope); len(acts) > 0 {
				lacks += " (in an ACR scope map: " + strings.Join(acts, ", ") + ")"
			}
		}
		return nil, fmt.Errorf("%w (credential: %s, accepted, but %s; use one whose role or scope map allows it)", rerr, c.credKind, lacks)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%w (credential: %s; check it, or sign in to %s again)", rerr, c.credKind, c.host)
	}
	return nil, rerr
}

func success(status int, ok []int) bool {
	if ok == nil {
		return status >= 200 && status < 300
	}
	for _, s := range ok {
		if s == status {
			return true
		}
	}
	return false
}

// maxJSONBody caps JSON response bodies: a 10,000-tag page is under 2 MiB.
const maxJSONBody = 32 << 20

// doJSON sends r and decodes a JSON response into out (when non-nil).
func (c *Client) doJSON(ctx context.Context, r request, out any) (*http.Response, error) {
	resp, err := c.do(ctx, r)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxJSONBody))
		return resp, nil
	}
	dec := json.NewDecoder(io.LimitReader(resp.Body, maxJSONBody))
	if err := dec.Decode(out); err != nil {
		return nil, fmt.Errorf("acr: %s %s: the registry's JSON response does not decode: %w", r.method, redactURL(resp.Request.URL), err)
	}
	return resp, nil
}

// jsonBody marshals v for a request.
func jsonBody(v any) ([]byte, http.Header) {
	b, _ := json.Marshal(v)
	return b, http.Header{"Content-Type": {"application/json"}}
}

// maxResumes bounds how often one upload, download or listing resumes after dropped
// connections.
const maxResumes = 8

// scopeRepo formats a repository scope.
func scopeRepo(repo, actions string) string { return "repository:" + repo + ":" + actions }

const scopeCatalog = "registry:catalog:*"
