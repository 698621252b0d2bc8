package transport

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// safeQueryKeys are query parameters whose values are logged as they are.
// Every other value is replaced: storage redirects carry signatures (SAS
// "sig", S3 "X-Amz-Signature") and upload locations carry opaque state.
var safeQueryKeys = map[string]bool{
	"service": true, "scope": true, "n": true, "last": true, "orderby": true, "digest": true,
	"mount": true, "from": true, "api-version": true, "artifacttype": true, "mode": true,
}

const redacted = "REDACTED"

// Redact returns u as a string without user info or fragment, and with the
// values of query parameters other than well-known harmless ones (service,
// scope, n, last, orderby, digest, mount, from, api-version, artifactType)
// replaced by "REDACTED". Use it for URLs in errors and logs.
func Redact(u *url.URL) string {
	if u == nil {
		return ""
	}
	r := *u
	r.User = nil
	r.Fragment, r.RawFragment = "", ""
	if r.RawQuery != "" {
		q, err := url.ParseQuery(r.RawQuery)
		if err != nil {
			r.RawQuery = redacted
		} else {
			for k, vs := range q {
				if !safeQueryKeys[strings.ToLower(k)] {
					for i := range vs {
						vs[i] = redacted
					}
				}
			}
			r.RawQuery = q.Encode()
		}
	}
	r.ForceQuery = false
	return r.String()
}

// redactString redacts a URL given as a string.
func redactString(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return Redact(u)
}

// redactError rewrites the URL inside a *url.Error, which net/http puts
// there verbatim, query secrets included.
func redactError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = redactString(ue.URL)
	}
	return err
}

// requestIDHeaders are the response headers registries put their request
// id in, in order of preference.
var requestIDHeaders = []string{
	"X-Ms-Request-Id", "X-Request-Id", "Docker-Request-Id", "X-Docker-Request-Id",
	"X-Github-Request-Id", "X-Amz-Request-Id", "X-Amzn-Requestid", "X-Ms-Correlation-Request-Id",
}

// RequestID returns the registry's request id from response headers h
// (X-Ms-Request-Id on ACR), or "".
func RequestID(h http.Header) string {
	for _, k := range requestIDHeaders {
		if v := h.Get(k); v != "" {
			return v
		}
	}
	return ""
}

// logExchange writes the Debug record of one HTTP exchange. It never sees
// headers other than the response's request id.
func (c *Client) logExchange(ctx context.Context, kind string, r *http.Request, resp *http.Response, err error, attempt int, d time.Duration) {
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{
		slog.String("kind", kind),
		slog.String("method", r.Method),
		slog.String("url", Redact(r.URL)),
		slog.Int("attempt", attempt),
		slog.Duration("duration", d),
	}
	if resp != nil {
		attrs = append(attrs, slog.Int("status", resp.StatusCode))
		if id := RequestID(resp.Header); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		if resp.Request != nil && resp.Request.URL != nil && resp.Request.URL.String() != r.URL.String() {
			attrs = append(attrs, slog.String("final_url", Redact(resp.Request.URL)))
		}
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "http", attrs...)
}

// logRedirect writes the Debug record of a redirect the HTTP client is
// about to follow.
func (c *Client) logRedirect(next, prev *http.Request, status int, stripped bool) {
	ctx := next.Context()
	if !c.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	c.log.LogAttrs(ctx, slog.LevelDebug, "redirect",
		slog.String("method", prev.Method),
		slog.String("from", Redact(prev.URL)),
		slog.String("to", Redact(next.URL)),
		slog.Int("status", status),
		slog.Bool("authorization_removed", stripped))
}
