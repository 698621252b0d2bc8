// Package acrtest runs the local registry in process for tests, the way
// net/http/httptest runs a handler.
//
//	srv := acrtest.NewServer(t, nil)           // open registry in memory
//	resp, err := http.Get(srv.URL + "/v2/")
//
// The server listens on 127.0.0.1 and is stopped, and its store closed,
// when the test ends.
package acrtest

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// Server is a running in-process registry.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41233.
	URL string
	// Host is the registry host as clients name it: 127.0.0.1:PORT.
	Host string
	// Registry is the handler, for direct access to its store.
	Registry *emulator.Server
	// HTTP is the underlying test server; its Client trusts the TLS
	// certificate of a server from NewTLSServer.
	HTTP *httptest.Server
	// StorageURL is the base URL of the storage server that blob downloads
	// are redirected to, for a server from NewRedirectingServer; "" for
	// others.
	StorageURL string
}

// NewServer starts a registry with opts (nil: open, in memory) and stops it
// when t ends.
func NewServer(t testing.TB, opts *emulator.Options) *Server {
	t.Helper()
	return start(t, opts, false)
}

// NewTLSServer is like NewServer but serves HTTPS with a self-signed
// certificate that Server.HTTP.Client() trusts.
func NewTLSServer(t testing.TB, opts *emulator.Options) *Server {
	t.Helper()
	return start(t, opts, true)
}

// NewRedirectingServer is like NewServer, but blob downloads are answered
// with a 307 redirect to a second server, on another origin, that plays
// Azure Storage, as ACR redirects them: the redirect carries a signed URL,
// and the storage server refuses requests that bring an Authorization
// header. Clients under test must follow the redirect and leave their
// registry credentials behind. opts.BlobStorageURL is set by this function.
func NewRedirectingServer(t testing.TB, opts *emulator.Options) *Server {
	t.Helper()
	var reg atomic.Pointer[emulator.Server]
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := reg.Load(); s != nil {
			s.StorageHandler().ServeHTTP(w, r)
			return
		}
		http.Error(w, "acrtest: the registry is not running", http.StatusServiceUnavailable)
	}))
	t.Cleanup(storage.Close)
	var o emulator.Options
	if opts != nil {
		o = *opts
	}
	// Storage is named localhost and the registry 127.0.0.1: another host,
	// as Azure Storage is, so that clients which keep credentials across
	// ports of one host (Go's http.Client does) are tested as against ACR.
	storageURL := strings.Replace(storage.URL, "://127.0.0.1:", "://localhost:", 1)
	o.BlobStorageURL = storageURL
	srv := start(t, &o, false)
	reg.Store(srv.Registry)
	srv.StorageURL = storageURL
	return srv
}

// PlainOCI wraps a registry so that it looks like a plain OCI 1.1 registry
// that is not ACR, for testing the paths a client takes there: /acr/v1
// answers 404, and a DELETE of a manifest by tag deletes the tag (the OCI
// 1.1 way, which ACR, and so the emulator, refuses with 405).
func PlainOCI(reg http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/acr/") {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodDelete {
			name, ref, ok := strings.Cut(strings.TrimPrefix(r.URL.EscapedPath(), "/v2/"), "/manifests/")
			if ok && name != "" && ref != "" && !strings.ContainsAny(ref, ":/") {
				r = r.Clone(r.Context())
				r.URL.Path, r.URL.RawPath = "", ""
				if r.URL, _ = url.Parse("/acr/v1/" + name + "/_tags/" + ref); r.URL == nil {
					http.NotFound(w, r)
					return
				}
			}
		}
		reg.ServeHTTP(w, r)
	})
}

func start(t testing.TB, opts *emulator.Options, tls bool) *Server {
	t.Helper()
	reg, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("acrtest: start registry: %v", err)
	}
	hs := httptest.NewUnstartedServer(reg)
	if tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.Close()
		if err := reg.Close(); err != nil {
			t.Errorf("acrtest: close registry: %v", err)
		}
	})
	return &Server{URL: hs.URL, Host: hs.Listener.Addr().String(), Registry: reg, HTTP: hs}
}
