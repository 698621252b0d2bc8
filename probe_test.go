package acr_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// TestNoProbeOnACRHosts: a client of an ACR login server (*.azurecr.io and
// the national clouds' domains) uses /acr/v1 at once, without first
// probing GET /acr/v1/_catalog?n=1 with a catalog token; another host does
// too, and learns from the answer: a success, or a 404 saying the
// repository does not exist, settles it, while an answer that leaves it
// open (a 400 with an OCI error, which any registry could send) costs one
// probe.
func TestNoProbeOnACRHosts(t *testing.T) {
	srv := acrtest.NewTLSServer(t, nil)
	newSeeder(t, srv, "", "").image("app", "amd64", "one", "v1")
	for _, tc := range []struct {
		host   string
		probes int32
	}{
		{"myregistry.azurecr.io", 0},
		{"myregistry.westeurope.data.azurecr.io", 0},
		{"myregistry.azurecr.cn", 0},
		{"myregistry.azurecr.us:443", 0},
		{"registry.example.com", 0},
		{"azurecr.io.example.com", 0},
	} {
		var probes atomic.Int32
		tr := srv.HTTP.Client().Transport.(*http.Transport).Clone()
		tr.TLSClientConfig.ServerName = "example.com" // in httptest's certificate
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, srv.Host)
		}
		hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.URL.Path == "/acr/v1/_catalog" && r.URL.Query().Get("n") == "1" {
				probes.Add(1)
			}
			return tr.RoundTrip(r)
		})}
		client, err := acr.NewClient(tc.host, nil, &acr.ClientOptions{HTTPClient: hc})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.GetRepositoryProperties(t.Context(), "app"); err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		if _, err := client.GetTagProperties(t.Context(), "app", "v1"); err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		if got := probes.Load(); got != tc.probes {
			t.Errorf("%s: %d probes, want %d", tc.host, got, tc.probes)
		}
		// A fresh client's first call meets a missing repository: ACR's
		// NAME_UNKNOWN settles it.
		fresh, _ := acr.NewClient(tc.host, nil, &acr.ClientOptions{HTTPClient: hc})
		if _, err := fresh.GetRepositoryProperties(t.Context(), "missing"); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("%s: missing repository: %v, want ErrNotFound", tc.host, err)
		}
		if _, err := fresh.GetTagProperties(t.Context(), "app", "v1"); err != nil {
			t.Fatalf("%s: %v", tc.host, err)
		}
		if got := probes.Load(); got != tc.probes {
			t.Errorf("%s after a missing repository: %d probes, want %d", tc.host, got, tc.probes)
		}
		// Soft delete is off: a 400 UNSUPPORTED, which leaves it open on
		// a host that is not ACR's.
		open, _ := acr.NewClient(tc.host, nil, &acr.ClientOptions{HTTPClient: hc})
		if _, err := open.RestoreManifest(t.Context(), "app", digest.FromString("x"), nil); err == nil || errors.Is(err, acr.ErrNotSupported) {
			t.Errorf("%s: RestoreManifest without soft delete: %v, want the registry's refusal", tc.host, err)
		}
		want := tc.probes
		if strings.HasSuffix(tc.host, ".example.com") {
			want++
		}
		if got := probes.Load(); got != want {
			t.Errorf("%s after an open answer: %d probes, want %d", tc.host, got, want)
		}
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
