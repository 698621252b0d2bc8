package acr_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// TestNoProbeOnACRHosts: a client of an ACR login server (*.azurecr.io and
// the national clouds' domains) uses /acr/v1 at once, without first
// probing GET /acr/v1/_catalog?n=1 with a catalog token; another host is
// probed once.
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
		{"registry.example.com", 1},
		{"azurecr.io.example.com", 1},
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
	}
}

// roundTripFunc is an http.RoundTripper made of a function.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
