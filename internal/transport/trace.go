package transport

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"strconv"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"

	"github.com/acrgo/acr/internal/trace"
)

// headerClientRequestID is the header that carries the client's id of a
// request, which ACR echoes and logs; it is sent only while tracing, so
// that a span can be matched with the service's records.
const headerClientRequestID = "X-Ms-Client-Request-Id"

// httpEnd ends the span of one HTTP attempt with its outcome.
type httpEnd func(resp *http.Response, err error)

func noHTTPEnd(*http.Response, error) {}

// startHTTP starts the span (kind client) of one HTTP exchange, a child of
// the span in r's context, and returns r with the span in its context. Its attributes
// hold the redacted URL and never a header but the request ids and the
// User-Agent. attempt counts from 1; later attempts record
// http.request.resend_count. It does nothing when tracing is off.
func (c *Client) startHTTP(r *http.Request, attempt int) (*http.Request, httpEnd) {
	if !c.tracer.Enabled() {
		return r, noHTTPEnd
	}
	id := r.Header.Get(headerClientRequestID)
	if id == "" {
		id = newRequestID()
		r.Header.Set(headerClientRequestID, id)
	}
	port := r.URL.Port()
	if port == "" {
		port = "443"
		if r.URL.Scheme == "http" {
			port = "80"
		}
	}
	p, _ := strconv.Atoi(port)
	attrs := []tracing.Attribute{
		{Key: trace.AttrMethod, Value: r.Method},
		{Key: trace.AttrURL, Value: Redact(r.URL)},
		{Key: trace.AttrServerAddress, Value: r.URL.Hostname()},
		{Key: trace.AttrServerPort, Value: p},
		{Key: trace.AttrClientRequestID, Value: id},
		{Key: trace.AttrUserAgent, Value: r.Header.Get("User-Agent")},
	}
	if attempt > 1 {
		attrs = append(attrs, tracing.Attribute{Key: trace.AttrResendCount, Value: attempt - 1})
	}
	ctx, span := c.tracer.Start(r.Context(), "HTTP "+r.Method, &tracing.SpanOptions{Kind: tracing.SpanKindClient, Attributes: attrs})
	return r.WithContext(ctx), func(resp *http.Response, err error) {
		switch {
		case err != nil:
			// err went through redactError: its URL has no secrets.
			span.SetAttributes(tracing.Attribute{Key: trace.AttrErrorType, Value: trace.ErrorType(err)})
			span.SetStatus(tracing.SpanStatusError, err.Error())
		case resp != nil:
			span.SetAttributes(tracing.Attribute{Key: trace.AttrStatusCode, Value: resp.StatusCode})
			if rid := RequestID(resp.Header); rid != "" {
				span.SetAttributes(tracing.Attribute{Key: trace.AttrServiceRequestID, Value: rid})
			}
			if resp.StatusCode >= 400 {
				span.SetAttributes(tracing.Attribute{Key: trace.AttrErrorType, Value: strconv.Itoa(resp.StatusCode)})
				span.SetStatus(tracing.SpanStatusError, resp.Status)
			}
		}
		span.End()
	}
}

// newRequestID returns a random UUID (version 4), the form of the Azure
// SDKs' client request ids.
func newRequestID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
