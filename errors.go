package acr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/acrgo/acr/internal/transport"
)

// Sentinel errors. A *ResponseError matches ErrNotFound, ErrUnauthorized,
// ErrInsufficientScope, ErrForbidden, ErrLocked, ErrUploadSessionLost and
// ErrTagInUse by status, code and challenge;
// client-side failures wrap the others. Match them with errors.Is.
var (
	// ErrNotFound reports a missing repository, tag, manifest or blob (HTTP 404).
	ErrNotFound = errors.New("acr: not found")
	// ErrUnauthorized reports missing or rejected credentials (HTTP 401).
	ErrUnauthorized = errors.New("acr: unauthorized")
	// ErrForbidden reports credentials that lack a permission (HTTP 403).
	ErrForbidden = errors.New("acr: forbidden")
	// ErrInsufficientScope reports credentials the registry accepted whose
	// token lacks what the request needs: a 401 whose challenge says
	// error="insufficient_scope", as ACR answers anonymous access and
	// repository-scoped tokens outside their rights. Such an error matches
	// ErrUnauthorized too; the fix is a credential with more rights, not
	// another sign-in.
	ErrInsufficientScope = errors.New("acr: insufficient scope")
	// ErrLocked reports an operation that a lock flag (deleteEnabled,
	// writeEnabled, readEnabled) refused: ACR's REGISTRY_DISALLOWED_OPERATION.
	ErrLocked = errors.New("acr: disallowed by a lock")
	// ErrInvalidReference reports a repository name, tag, digest or
	// reference that does not follow the distribution spec's grammar. It is
	// returned before any request is sent.
	ErrInvalidReference = errors.New("acr: invalid reference")
	// ErrNotSupported reports an operation the registry does not offer,
	// such as ACR metadata on a registry without the /acr/v1 API.
	ErrNotSupported = errors.New("acr: not supported by this registry")
	// ErrDigestMismatch reports content whose digest differs from the one
	// expected.
	ErrDigestMismatch = errors.New("acr: digest mismatch")
	// ErrUploadSessionLost reports an upload session the registry no longer
	// knows (404 BLOB_UPLOAD_UNKNOWN or BLOB_UPLOAD_INVALID, which ACR
	// answers now and then during long uploads): only a new session, sent
	// from the start, can go on. UploadBlob and transfer.Copy
	// start over by themselves where they can.
	ErrUploadSessionLost = errors.New("acr: upload session lost")
	// ErrTagInUse reports a restore of a soft-deleted manifest refused
	// because a tag to restore now points at another manifest (409
	// TAG_IN_USE). Restore with RestoreOptions.Force to move the tag.
	ErrTagInUse = errors.New("acr: tag in use")
)

// ErrorInfo is one entry of a registry's {"errors":[...]} body.
type ErrorInfo struct {
	Code    string          `json:"code"`
	Message string          `json:"message"`
	Detail  json.RawMessage `json:"detail,omitempty"`
}

// ResponseError is a response with an unexpected status. URL has its query
// removed, so it carries no secrets.
type ResponseError struct {
	StatusCode int
	Method     string
	URL        string
	// Errors are the OCI error entries of the body, when it had them.
	Errors []ErrorInfo
	// RequestID is the registry's request id (X-Ms-Request-Id on ACR, or
	// X-Ms-Correlation-Request-Id where ACR sends only that), for
	// support cases.
	RequestID string
	// RetryAfter is the delay the registry asked for with Retry-After
	// (capped at a minute), or 0. The client has waited it out already
	// where it retried; it is for callers that retry on their own, such
	// as after a throttled request whose streamed body cannot be resent.
	RetryAfter time.Duration
	// body is the start of a body that was not an OCI error document.
	body string
	// MissingScope is, for a 401 whose challenge says
	// error="insufficient_scope", the scope that challenge asks for, such
	// as "repository:app:delete": what the credential lacks.
	MissingScope string
	// insufficientScope records a challenge with error="insufficient_scope".
	insufficientScope bool
	// token is the token endpoint's refusal this error stands for, when a
	// request failed at its token request (URL is then the endpoint's).
	token *transport.TokenError
}

// tokenResponseError returns the *ResponseError of a token endpoint that
// answered te, or nil when te carries no answer (the request failed, or
// Entra ID refused).
func tokenResponseError(te *transport.TokenError) *ResponseError {
	if te.StatusCode == 0 {
		return nil
	}
	re := &ResponseError{StatusCode: te.StatusCode, Method: te.Method, URL: te.Endpoint, RequestID: te.RequestID,
		RetryAfter: transport.RetryAfter(te.RetryAfter, time.Now()), token: te}
	if te.Code != "" || te.Message != "" {
		re.Errors = []ErrorInfo{{Code: te.Code, Message: te.Message}}
	}
	return re
}

// Unwrap returns the token endpoint's refusal the error stands for, if any.
func (e *ResponseError) Unwrap() error {
	if e.token == nil {
		return nil
	}
	return e.token
}

// maxErrorBody caps how much of an error body is read.
const maxErrorBody = 8 << 10

// Error returns one line: method, URL, status, and the first error code and
// message.
func (e *ResponseError) Error() string {
	if e.token != nil {
		// Names the credential tried and what the endpoint said.
		return strings.TrimPrefix(e.token.Error(), "transport: ")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d %s", e.Method, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	for i, ei := range e.Errors {
		if i == 2 {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-2)
			break
		}
		fmt.Fprintf(&b, "; %s: %s", oneLine(ei.Code, 100), oneLine(ei.Message, maxMessage))
	}
	if len(e.Errors) == 0 && e.body != "" {
		fmt.Fprintf(&b, "; %s", oneLine(e.body, 300))
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (request id %s)", oneLine(e.RequestID, 100))
	}
	return b.String()
}

// Is matches the sentinel errors by status and error code.
func (e *ResponseError) Is(target error) bool {
	if e.token != nil && target != ErrUnauthorized && target != ErrForbidden {
		return false // a token endpoint's 404 is not the repository's
	}
	switch target {
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrInsufficientScope:
		return e.StatusCode == http.StatusUnauthorized && e.insufficientScope
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrLocked:
		return e.HasCode("REGISTRY_DISALLOWED_OPERATION")
	case ErrDigestMismatch:
		return e.HasCode("DIGEST_INVALID") && e.StatusCode == http.StatusBadRequest
	case ErrUploadSessionLost:
		return e.StatusCode == http.StatusNotFound && (e.HasCode("BLOB_UPLOAD_UNKNOWN") || e.HasCode("BLOB_UPLOAD_INVALID"))
	case ErrTagInUse:
		return e.HasCode("TAG_IN_USE")
	}
	return false
}

// HasCode reports whether any error entry has code.
func (e *ResponseError) HasCode(code string) bool {
	for _, ei := range e.Errors {
		if ei.Code == code {
			return true
		}
	}
	return false
}

// maxMessage is the most of a registry's error message an Error shows: the
// local registry's refusals name their fix after the reason, past 300
// bytes for a lock.
const maxMessage = 700

// oneLine makes registry text safe for a one-line error: valid UTF-8,
// without control characters (which could forge log lines or drive a
// terminal), single spaced, at most max bytes.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// redactURL drops the query and user info, which may carry secrets.
func redactURL(u *url.URL) string {
	r := *u
	r.User = nil
	r.RawQuery = ""
	r.Fragment = ""
	return r.String()
}

// newResponseError reads a capped error body from resp and closes it.
func newResponseError(resp *http.Response) error {
	defer resp.Body.Close()
	e := &ResponseError{StatusCode: resp.StatusCode, Method: resp.Request.Method, URL: redactURL(resp.Request.URL),
		RequestID: requestID(resp.Header), RetryAfter: transport.RetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	for _, v := range resp.Header.Values("Www-Authenticate") {
		if strings.Contains(strings.ToLower(v), `error="insufficient_scope"`) {
			e.insufficientScope = true
			if _, rest, ok := strings.Cut(v, `scope="`); ok {
				if sc, _, ok := strings.Cut(rest, `"`); ok {
					e.MissingScope = oneLine(sc, 300)
				}
			}
		}
	}
	body := make([]byte, maxErrorBody)
	// A short body, or one that breaks off, is read as far as it goes.
	n, _ := io.ReadFull(resp.Body, body)
	body = body[:n]
	var doc struct {
		Errors []ErrorInfo `json:"errors"`
	}
	if json.Unmarshal(body, &doc) == nil && len(doc.Errors) > 0 {
		e.Errors = doc.Errors
	} else if resp.Request.Method != http.MethodHead {
		e.body = string(body)
	}
	return e
}

// isNotFound reports whether err is the registry's 404, whatever its OCI
// code.
func isNotFound(err error) bool {
	var re *ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

func requestID(h http.Header) string {
	for _, k := range []string{"X-Ms-Request-Id", "X-Ms-Correlation-Request-Id", "X-Request-Id", "Docker-Request-Id"} {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}
