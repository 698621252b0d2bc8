// Package acrtest runs the local registry in process for tests, the way
// net/http/httptest runs a handler.
//
//	srv := acrtest.NewServer(t, nil)           // open registry in memory
//	resp, err := http.Get(srv.URL + "/v2/")
//
// The server listens on 127.0.0.1 and is stopped, and its store closed,
// when the test ends; each parallel test can start its own. Clients under
// test take Server.HTTP.Client() (which trusts NewTLSServer's certificate)
// as their transport: acr.ClientOptions.HTTPClient, or
// azcore.ClientOptions.Transport for Microsoft's Go SDK:
//
//	srv := acrtest.NewTLSServer(t, &emulator.Options{AADTokens: []string{"test-token"}})
//	opts := azcore.ClientOptions{Transport: srv.HTTP.Client()}
//	client, err := azcontainerregistry.NewClient(srv.URL, cred, &azcontainerregistry.ClientOptions{ClientOptions: opts})
//
// where cred is an azcore.TokenCredential whose GetToken returns
// "test-token" (the emulator package's example shows one). Seed content
// with Server.PushImage; auth, fault injection and a request log are
// emulator.Options. For one registry shared by a package's tests, start
// it in TestMain with emulator.New and httptest.NewServer, as the emulator
// package's example does, and seed it with its PutBlob and PutManifest.
package acrtest

import (
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Server is a running in-process registry.
type Server struct {
	// URL is the base URL, such as http://127.0.0.1:41233.
	URL string
	// Host is the registry host as clients name it: 127.0.0.1:PORT.
	Host string
	// Registry is the handler: its PutBlob and PutManifest seed it, and
	// Store reaches its store.
	Registry *emulator.Server
	// HTTP is the underlying test server; its Client trusts the TLS
	// certificate of a server from NewTLSServer (HTTP.Certificate() is
	// that certificate, for clients in other processes).
	HTTP *httptest.Server
	// StorageURL is the base URL of the storage server that blob downloads
	// are redirected to, for a server from NewRedirectingServer; "" for
	// others.
	StorageURL string

	// images counts PushImage's images, so that each is another.
	images atomic.Int64
}

// NewServer starts a registry with opts (nil: open, in memory) and stops it
// when t ends.
func NewServer(t testing.TB, opts *emulator.Options) *Server {
	t.Helper()
	return start(t, opts, false)
}

// NewTLSServer is like NewServer but serves HTTPS with a self-signed
// certificate that Server.HTTP.Client() trusts. An acr.Client can trust it
// instead through acr.ClientOptions.TLSConfig, a pool holding
// Server.HTTP.Certificate() as RootCAs (and keep its own tuned transport).
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

// PushImage seeds the registry with a small OCI image in repo, tagged with
// tags (none: untagged), and returns its manifest's descriptor. Each call
// pushes another image (a config and a layer of its own), so tags pushed by
// separate calls point at separate manifests, last updated in the order
// pushed (unless emulator.Options.Now stands still). It writes through Registry.PutBlob and Registry.PutManifest, not
// HTTP: it needs no credentials, is not throttled or failed by injected
// faults, and is fast enough to seed thousands of tags. The test fails if
// the registry refuses the image (a write-locked repository or tag).
func (s *Server) PushImage(t testing.TB, repo string, tags ...string) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	n := s.images.Add(1)
	config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte(fmt.Sprintf("acrtest image %d of %s\n", n, repo))
	var descs [2]ocispec.Descriptor
	for i, b := range [][]byte{config, layer} {
		d, err := s.Registry.PutBlob(ctx, repo, b)
		if err != nil {
			t.Fatalf("acrtest: push image to %s: %v", repo, err)
		}
		descs[i] = ocispec.Descriptor{Digest: d, Size: int64(len(b))}
	}
	descs[0].MediaType, descs[1].MediaType = ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayer
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: descs[0], Layers: descs[1:]}
	body, err := json.Marshal(m)
	if err != nil {
		t.Fatalf("acrtest: push image to %s: %v", repo, err)
	}
	desc := ocispec.Descriptor{MediaType: m.MediaType, Digest: digest.FromBytes(body), Size: int64(len(body))}
	refs := tags
	if len(refs) == 0 {
		refs = []string{desc.Digest.String()}
	}
	for _, ref := range refs {
		if _, err := s.Registry.PutManifest(ctx, repo, ref, body, m.MediaType); err != nil {
			t.Fatalf("acrtest: push image to %s: %v", repo, err)
		}
	}
	return desc
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
	// The server's own complaints (a client that speaks http to the TLS
	// server, or distrusts its certificate) go to the test's log, not to
	// the process's stderr.
	tl := &testLog{t: t}
	hs.Config.ErrorLog = log.New(tl, "acrtest: ", 0)
	if tls {
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(func() {
		hs.Close()
		tl.stop()
		if err := reg.Close(); err != nil {
			t.Errorf("acrtest: close registry: %v", err)
		}
	})
	return &Server{URL: hs.URL, Host: hs.Listener.Addr().String(), Registry: reg, HTTP: hs}
}

// testLog writes lines to a test's log until stop, and drops them after:
// a test's log cannot be written once the test has ended.
type testLog struct {
	mu      sync.Mutex
	t       testing.TB
	stopped bool
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testLog) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
