package transfer_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/tracing/azotel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	oteltrace "go.opentelemetry.io/otel/trace"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
)

// staticToken is an Entra ID credential that hands out one token.
type staticToken string

func (s staticToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// authRecorder is an HTTP transport that notes every Authorization header
// the client sends, so a test can look for those secrets in the spans.
type authRecorder struct {
	mu    sync.Mutex
	seen  []string
	inner http.RoundTripper
}

func (a *authRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if v := r.Header.Get("Authorization"); v != "" {
		a.mu.Lock()
		a.seen = append(a.seen, v)
		a.mu.Unlock()
	}
	return a.inner.RoundTrip(r)
}

// TestCopyTrace runs the copy that `acrctl copy` runs, between two
// registries (basic auth on one, an Entra ID token on the other, blob
// downloads redirected to storage) with the OpenTelemetry adapter and an
// in-memory exporter, and checks the span tree: transfer.Copy at the root,
// the client's operations under it, and an HTTP span per exchange, token
// requests included, with the attributes the Azure SDK guidelines name and
// no secret anywhere.
func TestCopyTrace(t *testing.T) {
	const user, pass, aad = "copier", "pa55word-of-the-source", "entra-token-of-the-destination"
	src := acrtest.NewRedirectingServer(t, &emulator.Options{Users: map[string]string{user: pass}})
	dst := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{aad}})
	seed, err := acr.NewClient(src.URL, acr.BasicCredential(user, pass), nil)
	if err != nil {
		t.Fatal(err)
	}
	index, _, _ := pushMultiArch(t, seed, "app")

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	rec := &authRecorder{inner: http.DefaultTransport.(*http.Transport).Clone()}
	t.Cleanup(rec.inner.(*http.Transport).CloseIdleConnections)
	opts := &acr.ClientOptions{TracingProvider: azotel.NewTracingProvider(tp, nil), HTTPClient: &http.Client{Transport: rec}}
	srcC, err := acr.NewClient(src.URL, acr.BasicCredential(user, pass), opts)
	if err != nil {
		t.Fatal(err)
	}
	dstC, err := acr.NewClient(dst.URL, acr.TokenCredential(staticToken(aad)), opts)
	if err != nil {
		t.Fatal(err)
	}
	got, err := transfer.Copy(t.Context(), transfer.Repository(srcC, "app"), "v1", transfer.Repository(dstC, "mirror/app"), "v1",
		&transfer.CopyOptions{Referrers: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != index.Digest {
		t.Fatalf("copied %s, want %s", got.Digest, index.Digest)
	}
	spans := exp.GetSpans()
	refresh, err := dstC.RefreshToken(t.Context()) // the ACR refresh token the copy used (cached)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[oteltrace.SpanID]tracetest.SpanStub{}
	for _, s := range spans {
		byID[s.SpanContext.SpanID()] = s
	}
	var root tracetest.SpanStub
	roots := 0
	for _, s := range spans {
		if !s.Parent.IsValid() {
			root = s
			roots++
		}
	}
	if roots != 1 || root.Name != "transfer.Copy" || root.SpanKind != oteltrace.SpanKindInternal || root.Status.Code == codes.Error {
		t.Fatalf("got %d root spans, the last %q (kind %v, status %v), want one transfer.Copy of kind internal without error",
			roots, root.Name, root.SpanKind, root.Status)
	}

	ops := map[string]int{}
	hosts := map[string]bool{}
	var tokenPaths []string
	requestIDs := map[string]bool{}
	for _, s := range spans {
		attrs := map[string]string{}
		for _, kv := range s.Attributes {
			attrs[string(kv.Key)] = kv.Value.String()
		}
		if attrs["az.namespace"] != "Microsoft.ContainerRegistry" {
			t.Errorf("span %q: az.namespace = %q, want Microsoft.ContainerRegistry", s.Name, attrs["az.namespace"])
		}
		if s.SpanContext.TraceID() != root.SpanContext.TraceID() {
			t.Errorf("span %q is in another trace", s.Name)
		}
		parent := byID[s.Parent.SpanID()]
		switch {
		case s.Name == "transfer.Copy":
		case strings.HasPrefix(s.Name, "Client."):
			ops[s.Name]++
			if s.SpanKind != oteltrace.SpanKindInternal || parent.Name != "transfer.Copy" {
				t.Errorf("span %q: kind %v, parent %q; want internal, under transfer.Copy", s.Name, s.SpanKind, parent.Name)
			}
		case strings.HasPrefix(s.Name, "HTTP "):
			if s.SpanKind != oteltrace.SpanKindClient || !strings.HasPrefix(parent.Name, "Client.") {
				t.Errorf("span %q: kind %v, parent %q; want client, under a Client operation", s.Name, s.SpanKind, parent.Name)
			}
			checkHTTPSpan(t, s.Name, attrs, s.Status)
			hosts[attrs["server.address"]+":"+attrs["server.port"]] = true
			if u, err := url.Parse(attrs["url.full"]); err == nil && strings.HasPrefix(u.Path, "/oauth2/") {
				tokenPaths = append(tokenPaths, s.Name+" "+u.Host+u.Path)
			}
			if id := attrs["az.client_request_id"]; requestIDs[id] {
				t.Errorf("span %q: az.client_request_id %s repeats that of another attempt", s.Name, id)
			} else {
				requestIDs[id] = true
			}
		default:
			t.Errorf("unexpected span %q", s.Name)
		}
	}
	for _, op := range []string{"Client.GetManifest", "Client.BlobExists", "Client.DownloadBlob", "Client.UploadBlob",
		"Client.ManifestExists", "Client.SetManifest", "Client.Referrers"} {
		if ops[op] == 0 {
			t.Errorf("no %s span under transfer.Copy; got %v", op, ops)
		}
	}
	if !hosts[src.Host] || !hosts[dst.Host] {
		t.Errorf("HTTP spans reached %v, want both %s and %s", hosts, src.Host, dst.Host)
	}
	// The source hands out tokens for basic credentials (GET /oauth2/token);
	// the destination exchanges the Entra token (POST /oauth2/exchange) and
	// then the refresh token (POST /oauth2/token).
	for _, want := range []string{"HTTP GET " + src.Host + "/oauth2/token", "HTTP POST " + dst.Host + "/oauth2/exchange",
		"HTTP POST " + dst.Host + "/oauth2/token"} {
		if !slices.Contains(tokenPaths, want) {
			t.Errorf("no span %q among the token requests %v", want, tokenPaths)
		}
	}

	secrets := []string{pass, base64.StdEncoding.EncodeToString([]byte(user + ":" + pass)), aad, refresh.Token, "Bearer ", "Basic "}
	rec.mu.Lock()
	for _, h := range rec.seen {
		_, cred, _ := strings.Cut(h, " ")
		secrets = append(secrets, cred)
	}
	rec.mu.Unlock()
	if len(rec.seen) == 0 {
		t.Fatal("the client sent no Authorization header; the secret check would prove nothing")
	}
	dump := dumpSpans(spans)
	for _, s := range secrets {
		if s != "" && strings.Contains(dump, s) {
			t.Errorf("a span carries the secret %.12q...", s)
		}
	}
}

// safeQuery are the query parameters whose values may appear in url.full.
var safeQuery = map[string]bool{"service": true, "scope": true, "n": true, "last": true, "orderby": true, "digest": true,
	"mount": true, "from": true, "api-version": true, "artifacttype": true, "mode": true}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// checkHTTPSpan checks the attributes of an HTTP span.
func checkHTTPSpan(t *testing.T, name string, attrs map[string]string, status sdktrace.Status) {
	t.Helper()
	method := strings.TrimPrefix(name, "HTTP ")
	if attrs["http.request.method"] != method {
		t.Errorf("span %q: http.request.method = %q", name, attrs["http.request.method"])
	}
	u, err := url.Parse(attrs["url.full"])
	if err != nil || u.User != nil || u.Hostname() != attrs["server.address"] || u.Port() != attrs["server.port"] {
		t.Errorf("span %q: url.full %q does not match server.address %q and server.port %q",
			name, attrs["url.full"], attrs["server.address"], attrs["server.port"])
	} else {
		for k, vs := range u.Query() {
			if !safeQuery[strings.ToLower(k)] && (len(vs) != 1 || vs[0] != "REDACTED") {
				t.Errorf("span %q: url.full %q shows the value of query parameter %q", name, attrs["url.full"], k)
			}
		}
	}
	if !uuidRE.MatchString(attrs["az.client_request_id"]) {
		t.Errorf("span %q: az.client_request_id = %q, want a UUID", name, attrs["az.client_request_id"])
	}
	if attrs["az.service_request_id"] == "" {
		t.Errorf("span %q: no az.service_request_id (the emulator sends X-Ms-Request-Id)", name)
	}
	code := attrs["http.response.status_code"]
	n, _ := strconv.Atoi(code)
	switch {
	case n == 0:
		t.Errorf("span %q: no http.response.status_code", name)
	case n >= 400:
		if status.Code != codes.Error || attrs["error.type"] != code {
			t.Errorf("span %q: status %s gave span status %v and error.type %q, want Error and %s", name, code, status, attrs["error.type"], code)
		}
	default:
		if status.Code == codes.Error || attrs["error.type"] != "" {
			t.Errorf("span %q: status %s gave span status %v and error.type %q, want neither error", name, code, status, attrs["error.type"])
		}
	}
}

// dumpSpans renders everything spans carry: names, attributes, statuses,
// events and their attributes.
func dumpSpans(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "%s %s %s\n", s.Name, s.Status.Code, s.Status.Description)
		for _, kv := range s.Attributes {
			fmt.Fprintf(&b, "  %s=%s\n", kv.Key, kv.Value.String())
		}
		for _, ev := range s.Events {
			fmt.Fprintf(&b, "  event %s\n", ev.Name)
			for _, kv := range ev.Attributes {
				fmt.Fprintf(&b, "    %s=%s\n", kv.Key, kv.Value.String())
			}
		}
	}
	return b.String()
}
