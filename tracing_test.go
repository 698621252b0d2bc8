package acr_test

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/tracing/azotel"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// traced is a registry, a client of it that traces to an in-memory
// exporter, and the exporter.
type traced struct {
	srv    *acrtest.Server
	client *acr.Client
	exp    *tracetest.InMemoryExporter
}

const traceUser, tracePass = "tracer", "pa55word-not-for-spans"

// newTraced starts a registry with basic authentication, wrapped by wrap
// when it is not nil, and a client of it with the OpenTelemetry adapter.
func newTraced(t *testing.T, wrap func(http.Handler) http.Handler, opts *acr.ClientOptions) *traced {
	t.Helper()
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{traceUser: tracePass}})
	endpoint := srv.URL
	if wrap != nil {
		hs := httptest.NewServer(wrap(srv.Registry))
		t.Cleanup(hs.Close)
		endpoint = hs.URL
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	var o acr.ClientOptions
	if opts != nil {
		o = *opts
	}
	o.TracingProvider = azotel.NewTracingProvider(tp, nil)
	c, err := acr.NewClient(endpoint, acr.BasicCredential(traceUser, tracePass), &o)
	if err != nil {
		t.Fatal(err)
	}
	return &traced{srv: srv, client: c, exp: exp}
}

// tree renders the spans as an indented outline of names, children in the
// order they started, with each HTTP span's path and status code, and the
// error.type of spans with status error.
func tree(spans tracetest.SpanStubs) string {
	children := map[oteltrace.SpanID][]tracetest.SpanStub{}
	for _, s := range spans {
		children[s.Parent.SpanID()] = append(children[s.Parent.SpanID()], s)
	}
	var b strings.Builder
	var walk func(id oteltrace.SpanID, depth int)
	walk = func(id oteltrace.SpanID, depth int) {
		kids := children[id]
		for i := 1; i < len(kids); i++ {
			for j := i; j > 0 && kids[j].StartTime.Before(kids[j-1].StartTime); j-- {
				kids[j], kids[j-1] = kids[j-1], kids[j]
			}
		}
		for _, s := range kids {
			b.WriteString(strings.Repeat("  ", depth) + s.Name)
			if u, err := url.Parse(attr(s, "url.full")); err == nil && u.Path != "" {
				b.WriteString(" " + u.Path)
			}
			if a := attr(s, "http.response.status_code"); a != "" {
				b.WriteString(" " + a)
			}
			if s.Status.Code == codes.Error {
				b.WriteString(" !" + attr(s, "error.type"))
			}
			b.WriteString("\n")
			walk(s.SpanContext.SpanID(), depth+1)
		}
	}
	walk(oteltrace.SpanID{}, 0)
	return b.String()
}

// attr returns the value of attribute key of s, or "".
func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.String()
		}
	}
	return ""
}

func find(spans tracetest.SpanStubs, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// TestTraceRetriesAndTokens checks that one operation gets one span, under
// which every HTTP attempt has its own: the challenge, the token request,
// a throttled attempt and its retry, which records its resend count.
func TestTraceRetriesAndTokens(t *testing.T) {
	var throttled atomic.Bool
	tr := newTraced(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/manifests/") && r.Header.Get("Authorization") != "" && throttled.CompareAndSwap(false, true) {
				w.Header().Set("Retry-After", "0")
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			h.ServeHTTP(w, r)
		})
	}, nil)
	newSeeder(t, tr.srv, traceUser, tracePass).image("app", "amd64", "one", "v1")
	if _, err := tr.client.GetManifest(t.Context(), "app", "v1", nil); err != nil {
		t.Fatal(err)
	}
	const want = `Client.GetManifest
  HTTP GET /v2/app/manifests/v1 401 !401
  HTTP GET /oauth2/token 200
  HTTP GET /v2/app/manifests/v1 503 !503
  HTTP GET /v2/app/manifests/v1 200
`
	spans := tr.exp.GetSpans()
	if got := tree(spans); got != want {
		t.Fatalf("got spans\n%s\nwant\n%s", got, want)
	}
	https := find(spans, "HTTP GET")
	if u := attr(https[1], "url.full"); !strings.Contains(u, "/oauth2/token?") {
		t.Errorf("the second HTTP span has url.full %q, want the token request", u)
	}
	if got := attr(https[3], "http.request.resend_count"); got != "1" {
		t.Errorf("the retry has http.request.resend_count %q, want 1", got)
	}
	if got := attr(https[2], "http.request.resend_count"); got != "" {
		t.Errorf("the first attempt has http.request.resend_count %q, want none", got)
	}
	if op := find(spans, "Client.GetManifest")[0]; op.Status.Code == codes.Error {
		t.Errorf("Client.GetManifest succeeded after a retry but has status %v", op.Status)
	}
}

// TestTraceOperationError checks the span of a failed operation: status
// error, error.type naming the error's type, and a description without
// credentials.
func TestTraceOperationError(t *testing.T) {
	tr := newTraced(t, nil, nil)
	_, err := tr.client.GetManifest(t.Context(), "app", "missing", nil)
	if !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("got %v, want ErrNotFound", err)
	}
	op := find(tr.exp.GetSpans(), "Client.GetManifest")
	if len(op) != 1 {
		t.Fatalf("got %d Client.GetManifest spans, want 1", len(op))
	}
	if op[0].Status.Code != codes.Error || op[0].Status.Description != err.Error() || attr(op[0], "error.type") != "*acr.ResponseError" {
		t.Errorf("got status %v, error.type %q; want Error %q, *acr.ResponseError", op[0].Status, attr(op[0], "error.type"), err)
	}
	dump := tree(tr.exp.GetSpans())
	for _, s := range tr.exp.GetSpans() {
		dump += s.Status.Description
		for _, kv := range s.Attributes {
			dump += kv.Value.String()
		}
	}
	for _, secret := range []string{tracePass, base64.StdEncoding.EncodeToString([]byte(traceUser + ":" + tracePass))} {
		if strings.Contains(dump, secret) {
			t.Errorf("a span carries the secret %q", secret)
		}
	}
}

// TestTraceNesting checks that a method calling another method of the
// client makes one span (as the Azure SDK guidelines ask), and that a
// range over an iterator makes one span over all its page requests.
func TestTraceNesting(t *testing.T) {
	tr := newTraced(t, nil, &acr.ClientOptions{PageSize: 2})
	s := newSeeder(t, tr.srv, traceUser, tracePass)
	s.image("app", "amd64", "one", "a", "b", "c", "d", "e")
	cfg := s.blob("app", []byte(`{"architecture":"arm64","os":"linux"}`))
	ctx := t.Context()
	tr.exp.Reset()
	m := ocispec.Manifest{Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfg, Size: 37},
		Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	desc, err := tr.client.SetImage(ctx, "app", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range tr.client.Tags(ctx, "app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 5 {
		t.Fatalf("listed %d tags, want 5", n)
	}
	// SetImage calls SetManifest, which makes no span of its own. The
	// listing fetches a token and reads three pages of two tags (the first
	// page tells that the registry serves ACR's API), all in one span.
	want := `Client.SetImage
  HTTP PUT /v2/app/manifests/` + desc.Digest.String() + ` 401 !401
  HTTP GET /oauth2/token 200
  HTTP PUT /v2/app/manifests/` + desc.Digest.String() + ` 201
Client.Tags
  HTTP GET /oauth2/token 200
  HTTP GET /acr/v1/app/_tags 200
  HTTP GET /acr/v1/app/_tags 200
  HTTP GET /acr/v1/app/_tags 200
`
	if got := tree(tr.exp.GetSpans()); got != want {
		t.Fatalf("got spans\n%s\nwant\n%s", got, want)
	}
}

// TestTraceOff checks that a client without a provider creates no span and
// sends no client request id, while one with a provider does.
func TestTraceOff(t *testing.T) {
	var ids atomic.Int32
	srv := acrtest.NewServer(t, nil)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Ms-Client-Request-Id") != "" {
			ids.Add(1)
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Tracer().Enabled() {
		t.Error("a client without a TracingProvider has an enabled tracer")
	}
	if _, err := c.ManifestExists(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if ids.Load() != 0 {
		t.Errorf("an untraced client sent %d client request ids, want 0", ids.Load())
	}
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	c, err = acr.NewClient(hs.URL, nil, &acr.ClientOptions{TracingProvider: azotel.NewTracingProvider(tp, nil)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ManifestExists(t.Context(), "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if ids.Load() != 1 || len(exp.GetSpans()) != 2 {
		t.Errorf("a traced client sent %d client request ids and made %d spans, want 1 and 2", ids.Load(), len(exp.GetSpans()))
	}
}

// BenchmarkTracing measures GetManifest against the emulator without a
// provider and with the OpenTelemetry adapter (spans dropped by a
// never-sampling provider, and recorded by an always-sampling one).
func BenchmarkTracing(b *testing.B) {
	srv := acrtest.NewServer(b, nil)
	newSeeder(b, srv, "", "").image("app", "amd64", "one", "v1")
	never := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()))
	always := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	for _, bc := range []struct {
		name string
		opts *acr.ClientOptions
	}{
		{"off", nil},
		{"otel-unsampled", &acr.ClientOptions{TracingProvider: azotel.NewTracingProvider(never, nil)}},
		{"otel-sampled", &acr.ClientOptions{TracingProvider: azotel.NewTracingProvider(always, nil)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c, err := acr.NewClient(srv.URL, nil, bc.opts)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.GetManifest(ctx, "app", "v1", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
