package acr_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/google/go-containerregistry/pkg/registry"
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

// TestGoContainerRegistryServer runs listing, property and deletion calls
// against go-containerregistry's registry (pkg/registry: the in-memory
// registry many Go projects test with, also `crane registry serve`). It
// serves any path that ends in /_catalog, /acr/v1/_catalog included, and
// answers the rest of /acr/v1 with 404 METHOD_UNKNOWN: a client must take
// it for a registry without ACR's API from that answer on, whichever call
// comes first, instead of failing every call after a catalog.
func TestGoContainerRegistryServer(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ctx := t.Context()
	newClient := func() *acr.Client {
		c, err := acr.NewClient(host, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := newClient()
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd, err := c.UploadBlob(ctx, "app", bytes.NewReader(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		cd.Digest.String() + `","size":` + strconv.Itoa(len(cfg)) + `},"layers":[]}`)
	for _, tag := range []string{"v1", "v2"} {
		if _, err := c.SetManifest(ctx, "app", m, "", &acr.SetManifestOptions{Tag: tag}); err != nil {
			t.Fatal(err)
		}
	}

	// The catalog answers through /acr/v1/_catalog; the tags that follow
	// meet METHOD_UNKNOWN and come from the OCI tag list.
	if got := collect(t, c.Repositories(ctx, nil)); !slices.Equal(got, []string{"app"}) {
		t.Errorf("Repositories: %v, want [app]", got)
	}
	var tags []string
	for tp := range slices.Values(collect(t, c.Tags(ctx, "app", nil))) {
		tags = append(tags, tp.Name)
	}
	if !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("Tags after the catalog: %v, want [v1 v2]", tags)
	}
	if _, err := c.GetRepositoryProperties(ctx, "app"); !errors.Is(err, acr.ErrNotSupported) {
		t.Errorf("GetRepositoryProperties after the catalog: %v, want ErrNotSupported", err)
	}

	// A fresh client whose first call is an /acr/v1 property read.
	if _, err := newClient().GetTagProperties(ctx, "app", "v1"); !errors.Is(err, acr.ErrNotSupported) {
		t.Errorf("GetTagProperties first: %v, want ErrNotSupported", err)
	}
	// One whose catalog comes first and a tag deletion next: the deletion
	// falls back to the OCI DELETE by tag.
	c = newClient()
	collect(t, c.Repositories(ctx, nil))
	if err := c.DeleteTag(ctx, "app", "v1"); err != nil {
		t.Fatalf("DeleteTag after the catalog: %v", err)
	}
	if got := collect(t, c.TagNames(ctx, "app", nil)); !slices.Equal(got, []string{"v2"}) {
		t.Errorf("TagNames after the deletion: %v, want [v2]", got)
	}
}

// TestACRAPIConfirmedStays: a registry that answered a repository's ACR
// properties has the API; a METHOD_UNKNOWN from one /acr/v1 endpoint later
// (a proxy in front of ACR that does not route it) fails that call, but
// does not make the client treat the registry as plain OCI, as it does
// when only the catalog answered.
func TestACRAPIConfirmedStays(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	newSeeder(t, srv, "", "").image("app", "amd64", "one", "v1")
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/_manifests") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"errors":[{"code":"METHOD_UNKNOWN","message":"not routed"}]}`)
			return
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	c, err := acr.NewClient(strings.TrimPrefix(proxy.URL, "http://"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := c.GetRepositoryProperties(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	for _, err := range c.Manifests(ctx, "app", nil) {
		if err == nil || errors.Is(err, acr.ErrNotSupported) {
			t.Errorf("the unrouted listing: %v, want the registry's METHOD_UNKNOWN error", err)
		}
		break
	}
	if _, err := c.GetTagProperties(ctx, "app", "v1"); err != nil {
		t.Errorf("after one METHOD_UNKNOWN, the tag's ACR properties: %v; the client took the registry for plain OCI", err)
	}
}
