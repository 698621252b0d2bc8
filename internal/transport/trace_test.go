package transport

import (
	"context"
	"net/http"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/tracing"
)

// TestStartHTTPOff checks that without a tracer an exchange gets no span,
// no client request id and no allocation.
func TestStartHTTPOff(t *testing.T) {
	c, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "https://r.example/v2/", nil)
	if n := testing.AllocsPerRun(100, func() {
		r2, end := c.startHTTP(r, 1)
		end(nil, nil)
		if r2 != r {
			t.Fatal("startHTTP replaced the request without a tracer")
		}
	}); n != 0 {
		t.Errorf("startHTTP without a tracer allocates %v times, want 0", n)
	}
	if v := r.Header.Get(headerClientRequestID); v != "" {
		t.Errorf("an untraced request carries %s %q", headerClientRequestID, v)
	}
}

// TestStartHTTPOn checks that a traced exchange carries a client request
// id, kept when the caller set one, and a span in its context.
func TestStartHTTPOn(t *testing.T) {
	type spanKey struct{}
	var names []string
	tr := tracing.NewTracer(func(ctx context.Context, name string, o *tracing.SpanOptions) (context.Context, tracing.Span) {
		names = append(names, name)
		return context.WithValue(ctx, spanKey{}, name), tracing.Span{}
	}, nil)
	c, err := New(&Options{Tracer: tr})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequestWithContext(t.Context(), http.MethodPatch, "https://r.example/v2/a/blobs/uploads/x?_state=secret", nil)
	r2, end := c.startHTTP(r, 2)
	end(&http.Response{StatusCode: 202, Header: http.Header{}}, nil)
	if r2.Context().Value(spanKey{}) != "HTTP PATCH" || len(names) != 1 {
		t.Errorf("spans %v, and the request's context holds %v; want one HTTP PATCH in it", names, r2.Context().Value(spanKey{}))
	}
	if id := r.Header.Get(headerClientRequestID); len(id) != 36 {
		t.Errorf("client request id %q, want a UUID", id)
	}
	r.Header.Set(headerClientRequestID, "mine")
	r3, _ := c.startHTTP(r, 1)
	if got := r3.Header.Get(headerClientRequestID); got != "mine" {
		t.Errorf("client request id %q, want the caller's, mine", got)
	}
}
