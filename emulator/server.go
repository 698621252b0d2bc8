// Package emulator is a local registry that speaks the OCI distribution
// spec v1.1 and Azure Container Registry's data-plane API: the /acr/v1
// metadata endpoints, the lock flags, and the /oauth2 token exchange. It is
// to ACR what Azurite is to Azure Storage: the official Azure SDKs, docker,
// oras, crane and regctl work against it unchanged.
//
// A [Server] is an [http.Handler]; serve it with net/http, or in tests with
// package acrtest. State lives in a [store.Store]: in memory by default, or
// on disk when [Options.Dir] is set, where every acknowledged write survives
// a crash.
//
// # In another project's tests
//
// acrtest.NewServer starts a Server on 127.0.0.1 for one test (NewTLSServer
// over https, trusted by its HTTP.Client()) and stops it when the test
// ends; parallel tests each start their own. [Server.PutBlob] and
// [Server.PutManifest], or acrtest's Server.PushImage, seed content
// without HTTP or credentials.
//
// Authentication is off until [Options] sets Users (Basic credentials, as
// for ACR's admin user), AADTokens or AnonymousPull. Microsoft's Go SDK
// (azcontainerregistry) signs in only with an azcore.TokenCredential, an
// Entra ID identity, or anonymously with a nil one: give it a credential
// whose GetToken returns one of AADTokens, as the package example does. It
// sends tokens over plain http too; the .NET and Python SDKs need https
// (acrtest's NewTLSServer, or [SelfSignedCertificate]). Like ACR, the
// registry answers a token it does not accept with 401, which the Go SDK
// retries with backoff for about 9 s: a test of that refusal sets
// azcore.ClientOptions.Retry.MaxRetries to -1. Throttle, FailRate and
// Latency inject ACR's throttling, failures and slowness.
//
// # Serving on this machine
//
// A registry on 127.0.0.1 is within reach of every web page the user
// visits. [Options.CheckHost] refuses (421) a Host that is not loopback or
// in AllowedHosts, against DNS rebinding, and state-changing requests that
// a browser sends from another site are always refused (403). Failed
// sign-ins are throttled per address (an IPv6 /64) and user name, idle
// upload sessions expire ([Options.UploadIdleTimeout]), bearer tokens
// stop working when their user is removed or its scope map narrowed, and
// internal errors reach the client without detail (the detail goes to
// Options.Logger).
//
// The package never imports the client library: client and server are
// written from the specs separately so that one cannot hide the other's
// misreading.
package emulator

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/emulator/token"
	"github.com/acrgo/acr/internal/spec"
)

// Options configures a [Server]. The zero value, or nil, is an open registry
// in memory.
type Options struct {
	// Dir, when set, persists the registry on disk in this directory: blobs,
	// metadata, upload sessions and the token signing key.
	Dir string
	// DiskOptions configures the store opened in Dir (see
	// [store.DiskOptions]); it is ignored with Store or without Dir.
	DiskOptions *store.DiskOptions
	// Store overrides the storage. When set, Dir only holds the signing key
	// (if any). The server closes the store when it is closed. Because the
	// caller may change such a store behind the server's back, the server
	// does not keep sorted listings between requests for it.
	Store store.Store

	// Users holds NAME -> PASSWORD pairs accepted with Basic authentication
	// on every endpoint and on GET /oauth2/token. Setting any of Users,
	// AADTokens or AnonymousPull turns authentication on. New refuses an
	// empty name or password, a name with a colon, and the name
	// 00000000-0000-0000-0000-000000000000, which ACR reserves for
	// refresh tokens.
	Users map[string]string
	// AADTokens lists the Entra ID access tokens that POST /oauth2/exchange
	// accepts. Real ones cannot be validated offline, so the server takes a
	// list of opaque strings: in tests, give the client under test an
	// azcore.TokenCredential whose GetToken returns one, as the package
	// example does.
	AADTokens []string
	// AnonymousPull lets clients without credentials obtain pull-only tokens,
	// as ACR's anonymous pull access does.
	AnonymousPull bool
	// ScopeMaps limits users of Users to some repositories and actions, as
	// ACR's repository-scoped tokens with scope maps are limited: a user
	// listed here may do only what its permissions say, and, as on ACR,
	// cannot list the catalog. Users not listed may do everything.
	ScopeMaps map[string][]RepositoryPermission

	// MaxManifestSize caps manifest bodies; 0 means 4 MiB, ACR's limit.
	MaxManifestSize int64
	// MaxUploadSessions caps concurrently open upload sessions; 0 means 1024.
	MaxUploadSessions int
	// MaxUploadSessionsPerClient caps the sessions one client (a user, a
	// token subject, or an address when anonymous) may hold open, so that
	// none can take them all; 0 means an eighth of MaxUploadSessions.
	MaxUploadSessionsPerClient int
	// UploadIdleTimeout is how long an upload session may receive no
	// bytes before the registry cancels it and removes its data; 0 means
	// DefaultUploadIdleTimeout. A sweep looks for such sessions on the
	// first request after a quarter of this (at most a minute) since the
	// last, so that abandoned sessions neither pile up data nor hold the
	// session caps.
	// A session that is receiving a chunk, however long, is not idle;
	// one idle for less can be resumed (GET its status, PATCH on).
	UploadIdleTimeout time.Duration
	// MaxBlobSize, when positive, caps the size of one blob: a push or
	// chunk that would make a blob larger is refused with 413 Request
	// Entity Too Large (an upload session keeps what it held). 0 means no
	// limit.
	MaxBlobSize int64
	// BodyIdleTimeout ends a request whose body sends nothing for this
	// long, so slow or stalled clients cannot hold connections and upload
	// sessions forever; 0 means one minute. Progress, however slow,
	// extends it.
	BodyIdleTimeout time.Duration

	// CheckHost guards a registry on this machine against web pages that
	// reach it through DNS rebinding (a name the page controls, pointed
	// at 127.0.0.1): a request whose Host header names neither the
	// loopback interface (localhost, 127.0.0.0/8, ::1) nor one of
	// AllowedHosts gets 421 Misdirected Request. acrctl serve sets it
	// when it listens on loopback, its default, or is given --allow-host.
	// Whatever it is, state-changing requests that a browser sends from
	// another site's page (Sec-Fetch-Site cross-site, or an Origin other
	// than the registry) are refused with 403; registry clients send
	// neither header.
	CheckHost bool
	// AllowedHosts are more host names or IP addresses, without port,
	// that CheckHost accepts: the names under which clients reach a
	// registry served on the network.
	AllowedHosts []string

	// BlobStorageURL, when set, makes blob downloads (GET) answer 307
	// Temporary Redirect to a signed URL under this base, as ACR redirects
	// them to Azure Storage; serve Server.StorageHandler there, on another
	// origin. HEAD requests are still answered by the registry.
	BlobStorageURL string
	// BlobRedirectTTL is how long a redirect's URL stays valid; 0 means
	// DefaultBlobRedirectTTL.
	BlobRedirectTTL time.Duration

	// SoftDeleteRetention, when positive, keeps deleted manifests and tags
	// this long, listed and restored through /acr/v1/_deleted, as ACR's
	// soft-delete policy does; their blobs stay until it runs out (and
	// garbage collection removes them).
	SoftDeleteRetention time.Duration

	// Throttle, when positive, answers requests beyond this many per second
	// (a token bucket holding one second's worth) with 429 TOOMANYREQUESTS
	// and Retry-After, as ACR throttles, and every answer carries ACR's
	// X-Ms-Ratelimit-Remaining-Calls-Per-Second header.
	Throttle float64
	// FailRate is the fraction of requests, from 0 to 1, that fail: half
	// answered 503, half with the connection cut before any answer.
	FailRate float64
	// Latency delays every answer.
	Latency time.Duration

	// Logger receives one record per request at Info level. Nil is silent.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Server is the registry. It is an http.Handler and safe for concurrent use.
type Server struct {
	opts   Options
	store  store.Store
	signer *token.Signer
	now    func() time.Time
	auth   bool

	uploads atomic.Int64  // open upload sessions, for MaxUploadSessions
	owners  sessionOwners // each client's open sessions
	// uploadIdle is Options.UploadIdleTimeout, in nanoseconds; tests
	// change it while the server runs.
	uploadIdle atomic.Int64
	// sweepEvery is how often idle sessions are looked for; lastSweep
	// is when they last were (UnixNano).
	sweepEvery time.Duration
	lastSweep  atomic.Int64
	// authFails throttles failed sign-ins.
	authFails authFailures

	// storage signs blob download redirects; nil without BlobStorageURL.
	storage *blobStorage

	// lists keeps time-ordered listings between their pages.
	lists listCache

	// faults injects Options.Throttle, FailRate and Latency; nil for none.
	faults *faults

	// hosts is Options.CheckHost and AllowedHosts.
	hosts hostPolicy

	// scopeMaps holds the validated Options.ScopeMaps.
	scopeMaps map[string]scopeMap
}

// New creates a server. Close it to release the store.
func New(opts *Options) (*Server, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	s := &Server{opts: o, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.MaxManifestSize <= 0 {
		s.opts.MaxManifestSize = spec.MaxManifestSize
	}
	if s.opts.MaxUploadSessions <= 0 {
		s.opts.MaxUploadSessions = 1024
	}
	if s.opts.MaxUploadSessionsPerClient <= 0 {
		s.opts.MaxUploadSessionsPerClient = max(1, s.opts.MaxUploadSessions/8)
	}
	if o.MaxBlobSize < 0 || o.UploadIdleTimeout < 0 {
		return nil, fmt.Errorf("emulator: MaxBlobSize %d, UploadIdleTimeout %v: want 0 (the default) or more", o.MaxBlobSize, o.UploadIdleTimeout)
	}
	if s.opts.BodyIdleTimeout <= 0 {
		s.opts.BodyIdleTimeout = time.Minute
	}
	s.auth = len(o.Users) > 0 || len(o.AADTokens) > 0 || o.AnonymousPull
	if o.Throttle < 0 || o.FailRate < 0 || o.FailRate > 1 || o.Latency < 0 || math.IsNaN(o.Throttle) || math.IsNaN(o.FailRate) {
		return nil, fmt.Errorf("emulator: Throttle %g, FailRate %g, Latency %v: want Throttle >= 0, FailRate from 0 to 1 and Latency >= 0", o.Throttle, o.FailRate, o.Latency)
	}
	if err := checkCredentials(o); err != nil {
		return nil, err
	}
	s.faults = newFaults(o)
	var err error
	if s.hosts, err = newHostPolicy(o); err != nil {
		return nil, err
	}
	for user, perms := range o.ScopeMaps {
		if _, ok := o.Users[user]; !ok {
			return nil, fmt.Errorf("emulator: a scope map names user %q, who is not in Users: add the user with a password", user)
		}
		m, err := newScopeMap(user, perms)
		if err != nil {
			return nil, err
		}
		if s.scopeMaps == nil {
			s.scopeMaps = map[string]scopeMap{}
		}
		s.scopeMaps[user] = m
	}
	if o.BlobStorageURL != "" {
		if s.storage, err = newBlobStorage(o.BlobStorageURL, o.BlobRedirectTTL); err != nil {
			return nil, err
		}
	}
	switch {
	case o.Store != nil:
		s.store = o.Store
	case o.Dir != "":
		if s.store, err = store.OpenDisk(filepath.Join(o.Dir), o.DiskOptions); err != nil {
			return nil, fmt.Errorf("emulator: open data directory: %w", err)
		}
	default:
		s.store = store.NewMemory()
	}
	if o.Store == nil {
		// The server owns this store: every write goes through it (or
		// through Server.Store), so its version says when a kept listing
		// is stale.
		vs := &versionedStore{Store: s.store}
		s.store, s.lists.store = vs, vs
	}
	if o.Dir != "" {
		s.signer, err = token.LoadOrCreateSigner(filepath.Join(o.Dir, "token.key"))
		if err != nil {
			s.store.Close()
			return nil, fmt.Errorf("emulator: signing key: %w", err)
		}
	} else {
		key := make([]byte, 32)
		rand.Read(key)
		s.signer = token.NewSigner(key)
	}
	for u := range s.store.Uploads(context.Background()) {
		_ = u
		s.uploads.Add(1)
	}
	idle := o.UploadIdleTimeout
	if idle <= 0 {
		idle = DefaultUploadIdleTimeout
	}
	s.uploadIdle.Store(int64(idle))
	s.sweepEvery = min(time.Minute, max(10*time.Millisecond, idle/4))
	s.lastSweep.Store(time.Now().UnixNano())
	return s, nil
}

// Close releases the store.
func (s *Server) Close() error { return s.store.Close() }

// Store returns the server's store, for offline maintenance such as
// garbage collection.
func (s *Server) Store() store.Store { return s.store }

// apiError is an error a handler returns to be written as an OCI error body.
type apiError struct {
	status  int
	code    spec.ErrorCode
	message string
	detail  any
	header  http.Header
	bare    bool // no body at all, as ACR's /oauth2 refusals
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %s: %s", e.status, e.code, e.message) }

func newError(status int, code spec.ErrorCode, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, message: fmt.Sprintf(format, args...)}
}

// statusWriter records the status and size of a response for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
	n      int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

// ReadFrom keeps sendfile available through the wrapper.
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r)
	w.n += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	reqID := newRequestID()
	path := r.URL.EscapedPath()
	if len(r.Host) > maxHost {
		// Hosts go into challenges and tokens; none is this long.
		s.writeError(sw, r, newError(http.StatusBadRequest, spec.ErrorCodeUnsupported,
			"the Host header has %d characters; a registry's host:port has at most %d", len(r.Host), maxHost))
		s.logRequest(r, sw, start, reqID)
		return
	}
	err := s.hosts.check(r)
	if err == nil {
		err = checkCrossSite(r)
	}
	if err != nil {
		s.writeError(sw, r, err)
		s.logRequest(r, sw, start, reqID)
		return
	}
	if !strings.HasPrefix(path, "/v2") && !strings.HasPrefix(path, "/acr/") && !strings.HasPrefix(path, "/oauth2/") {
		// Outside its APIs ACR answers like this, with none of its
		// headers (G TestBlobClient_CancelUpload_fail).
		sw.Header().Set("Content-Type", "application/octet-stream")
		sw.Header().Set("Content-Length", "9")
		sw.WriteHeader(http.StatusNotFound)
		io.WriteString(sw, "Not found")
		s.logRequest(r, sw, start, reqID)
		return
	}
	// The headers of every ACR answer (../shared/docs/acr-recordings,
	// "Common headers"). X-Ms-Request-Id and the echoed client request id
	// come with /v2 and /oauth2 answers and /acr/v1 deletes; /acr/v1 reads
	// and updates carry only the correlation id. Strict-Transport-Security
	// is sent over TLS only: ACR serves nothing else, and over plain http
	// it means nothing.
	h := sw.Header()
	h.Set(spec.HeaderAPIVersion, "registry/2.0")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Ms-Correlation-Request-Id", newRequestID())
	if !strings.HasPrefix(path, "/acr/") || r.Method == http.MethodDelete {
		h.Set("X-Ms-Request-Id", reqID)
		if v := r.Header.Get("X-Ms-Client-Request-Id"); v != "" && len(v) <= 128 {
			h.Set("X-Ms-Client-Request-Id", v)
		}
	}
	if r.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
	}
	h.Set("Access-Control-Expose-Headers", "Docker-Content-Digest, WWW-Authenticate, Link, X-Ms-Correlation-Request-Id")
	if s.faults != nil && s.faults.inject(sw, r) {
		s.logRequest(r, sw, start, reqID)
		return
	}

	s.maybeSweepUploads(r.Context())
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = newIdleBody(w, r.Body, s.opts.BodyIdleTimeout)
	}
	if err := s.serve(sw, r); err != nil {
		s.writeError(sw, r, err)
	}
	s.logRequest(r, sw, start, reqID)
}

// logRequest logs one request, when there is a logger.
func (s *Server) logRequest(r *http.Request, sw *statusWriter, start time.Time, reqID string) {
	if s.opts.Logger != nil {
		s.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.n),
			slog.Duration("duration", time.Since(start)), slog.String("request_id", reqID))
	}
}

func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// writeError writes err as an OCI error body. Errors that are not apiErrors
// are internal: they are logged and reported without detail.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	if !errors.As(err, &ae) {
		switch {
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			ae = newError(http.StatusRequestTimeout, spec.ErrorCodeBlobUploadInvalid, "request cancelled or timed out")
		case errors.Is(err, store.ErrReadOnly):
			// The detail names files of the server: it goes to the log,
			// and the client learns what it can act on.
			s.logInternal(r, w, err)
			why := "read-only or full"
			var errno syscall.Errno
			if errors.As(err, &errno) {
				why += ": " + errno.Error()
			}
			ae = newError(http.StatusServiceUnavailable, spec.ErrorCodeUnsupported,
				"the registry's storage refuses writes (%s); retry later, or ask its operator (the server's log has the detail)", why)
		default:
			s.logInternal(r, w, err)
			ae = newError(http.StatusInternalServerError, "UNKNOWN",
				"internal error; the server's log has the detail under this answer's X-Ms-Correlation-Request-Id")
		}
	}
	for k, vs := range ae.header {
		w.Header()[k] = vs
	}
	if ae.bare {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(ae.status)
		return
	}
	body, _ := json.Marshal(spec.ErrorBody{Errors: []spec.ErrorInfo{{Code: ae.code, Message: ae.message, Detail: ae.detail}}})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// A HEAD answer has no body but the length the body would have had,
	// as ACR's (G TestBlobClient_CheckChunkExists).
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(ae.status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// logInternal logs an error the client is not told the detail of (it can
// name the server's files), under the answer's correlation id.
func (s *Server) logInternal(r *http.Request, w http.ResponseWriter, err error) {
	if s.opts.Logger != nil {
		id := w.Header().Get("X-Ms-Correlation-Request-Id")
		if id == "" {
			id = w.Header().Get("X-Ms-Request-Id") // the storage handler's
		}
		s.opts.Logger.LogAttrs(r.Context(), slog.LevelError, "internal error",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.String("request_id", id), slog.String("error", err.Error()))
	}
}

// writeJSON writes v as a JSON body with status.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) error {
	return writeJSONAs(w, r, status, "application/json; charset=utf-8", v)
}

// writeJSONAs writes v as a JSON body with status and a content type.
func writeJSONAs(w http.ResponseWriter, r *http.Request, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
	return nil
}

// serve routes a request after authorization.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) error {
	rt := parseRoute(r.URL.EscapedPath())
	if rt.kind == routeUnknown {
		return newError(http.StatusNotFound, spec.ErrorCodeUnsupported, "no such endpoint: %s %s", r.Method, r.URL.Path)
	}
	if routerRefuses(rt, r) {
		routerNotFound(w)
		return nil
	}
	if rt.repo != "" {
		if err := spec.ValidateName(rt.repo); err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeNameInvalid, "%v", err)
		}
	}
	switch rt.kind {
	case routeOAuthExchange:
		return s.handleExchange(w, r)
	case routeOAuthToken:
		return s.handleToken(w, r)
	}
	id, err := s.authorize(w, r, rt)
	if err != nil {
		// Clients that send a first attempt without credentials send its
		// body too (the Python SDK PATCHes a whole blob that way), and
		// one whose body is cut off mid-send sees a broken connection
		// instead of the 401. Read and discard it first, as ACR's answer
		// to such requests suggests it does (N CanGetBlobLocation), up to
		// a bound that keeps the cost of a request limited.
		if r.Body != nil {
			io.CopyN(io.Discard, r.Body, maxUnauthorizedBody)
		}
		return err
	}
	switch rt.kind {
	case routeBase:
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			return methodNotAllowed(r)
		}
		return writeJSON(w, r, http.StatusOK, struct{}{})
	case routeCatalog:
		return s.handleCatalog(w, r, id, false)
	case routeACRCatalog:
		return s.handleCatalog(w, r, id, true)
	case routeTagsList:
		return s.handleTagsList(w, r, rt)
	case routeManifest:
		return s.handleManifest(w, r, rt, id)
	case routeBlob:
		return s.handleBlob(w, r, rt)
	case routeUploadStart:
		return s.handleUploadStart(w, r, rt, id)
	case routeUpload:
		return s.handleUpload(w, r, rt)
	case routeReferrers:
		return s.handleReferrers(w, r, rt)
	case routeACRRepo:
		return s.handleACRRepo(w, r, rt)
	case routeACRTags:
		return s.handleACRTags(w, r, rt)
	case routeACRTag:
		return s.handleACRTag(w, r, rt)
	case routeACRManifests:
		return s.handleACRManifests(w, r, rt)
	case routeACRManifest:
		return s.handleACRManifest(w, r, rt)
	case routeDeletedCatalog:
		return s.handleDeletedCatalog(w, r)
	case routeDeletedManifests:
		return s.handleDeletedList(w, r, rt, store.DeletedManifestKind)
	case routeDeletedTags:
		return s.handleDeletedList(w, r, rt, store.DeletedTagKind)
	case routeDeletedManifest:
		return s.handleRestore(w, r, rt)
	}
	return newError(http.StatusNotFound, spec.ErrorCodeUnsupported, "no such endpoint")
}

// maxHost bounds the Host header: a DNS name (253) with a port.
const maxHost = 253 + 6

// maxUnauthorizedBody bounds the body read and discarded before a 401.
const maxUnauthorizedBody = 256 << 20

// routerRefuses reports whether ACR's router would refuse the request before
// any handler or authentication sees it: a malformed blob digest, a manifest
// properties reference that is not a digest, and a mount with a malformed
// digest or source repository (G TestClient_GetManifestProperties_wrongDigest,
// TestBlobClient_GetBlob_fail, TestBlobClient_MountBlob_fail).
func routerRefuses(rt route, r *http.Request) bool {
	switch rt.kind {
	case routeBlob, routeACRManifest, routeDeletedManifest:
		_, err := spec.ParseDigest(rt.ref)
		return err != nil
	case routeUploadStart:
		q := r.URL.Query()
		if !q.Has("mount") {
			return false
		}
		if _, err := spec.ParseDigest(q.Get("mount")); err != nil {
			return true
		}
		return q.Get("from") != "" && spec.ValidateName(q.Get("from")) != nil
	}
	return false
}

// routerNotFound writes the 404 of ACR's router: plain text, without the
// registry's CORS header.
func routerNotFound(w http.ResponseWriter) {
	h := w.Header()
	h.Del("Access-Control-Expose-Headers")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", "19")
	w.WriteHeader(http.StatusNotFound)
	io.WriteString(w, "404 page not found\n")
}

func methodNotAllowed(r *http.Request) error {
	return newError(http.StatusMethodNotAllowed, spec.ErrorCodeUnsupported, "method %s is not allowed on %s", r.Method, r.URL.Path)
}

// idleBody moves the connection's read deadline forward whenever body
// bytes arrive, so a request body may take as long as it needs while it
// makes progress, but a stalled one fails after the idle timeout.
type idleBody struct {
	io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration
	ok      bool
}

func newIdleBody(w http.ResponseWriter, body io.ReadCloser, timeout time.Duration) io.ReadCloser {
	b := &idleBody{ReadCloser: body, rc: http.NewResponseController(w), timeout: timeout}
	b.ok = b.rc.SetReadDeadline(time.Now().Add(timeout)) == nil
	if !b.ok {
		return body // not a network connection (tests, recorders)
	}
	return b
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	}
	return n, err
}
