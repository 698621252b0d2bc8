package acr_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestUploadLocationOnAnotherOrigin checks that an upload Location on
// another host is refused: no content and no credential goes there.
func TestUploadLocationOnAnotherOrigin(t *testing.T) {
	var reached atomic.Int32
	var sawAuth atomic.Bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		if r.Header.Get("Authorization") != "" {
			sawAuth.Store(true)
		}
	}))
	defer elsewhere.Close()
	reg, err := emulator.New(&emulator.Options{Users: map[string]string{"u": "p"}})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	hijack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") && r.Header.Get("Authorization") != "" {
			w.Header().Set("Location", elsewhere.URL+"/v2/x/blobs/uploads/stolen")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer hijack.Close()
	client, _ := acr.NewClient(hijack.URL, acr.BasicCredential("u", "p"), nil)
	for _, size := range []int{100, 3 << 20} {
		_, err := client.UploadBlob(t.Context(), "x", bytes.NewReader(make([]byte, size)), nil)
		if err == nil || !strings.Contains(err.Error(), "another origin") {
			t.Fatalf("upload of %d bytes: got %v, want a refusal of the other origin", size, err)
		}
		data := make([]byte, size)
		err = putBlob(t.Context(), client, "x", ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(size)}, bytes.NewReader(data))
		if err == nil {
			t.Fatalf("PutBlob of %d bytes followed a Location to another origin", size)
		}
	}
	if reached.Load() != 0 || sawAuth.Load() {
		t.Fatalf("%d requests reached the other origin (authorization sent: %v)", reached.Load(), sawAuth.Load())
	}
}

// TestCredentialsNeedTLS checks that credentials are refused over plain
// http to a host that is not loopback, unless the caller opts in.
func TestCredentialsNeedTLS(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	// Reach the loopback server under a non-loopback name: an http proxy
	// would be the real case; a Host override in the transport shows it.
	var gotAuth atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); strings.HasPrefix(a, "Basic ") {
			if b, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(a, "Basic ")); strings.Contains(string(b), "p") {
				gotAuth.Store(true)
			}
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	defer front.Close()
	tr := &http.Transport{Proxy: func(*http.Request) (*url.URL, error) { return url.Parse(front.URL) }}
	client, _ := acr.NewClient("http://registry.example.com", acr.BasicCredential("u", "p"), &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
	for _, err := range client.Repositories(t.Context(), nil) {
		if err == nil || !strings.Contains(err.Error(), "http") {
			t.Fatalf("credentials over plain http to a remote host: got %v, want a refusal", err)
		}
		break
	}
	if gotAuth.Load() {
		t.Fatal("the password was sent over plain http")
	}
}
