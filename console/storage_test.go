package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestStorageCountsArtifactBlobs: the storage page adds up the blobs of
// OCI artifact manifests (what oras 1.0 and early notation pushed, and ACR
// keeps), as it does an image's config and layers: before, a repository of
// artifacts counted only its manifests' bytes.
func TestStorageCountsArtifactBlobs(t *testing.T) {
	r := localRegistry(t, nil)
	subject := r.seed.image("app/web", "v1", "amd64", "base", nil)
	blob := r.seed.blob("app/web", make([]byte, 70_000), "application/vnd.example.sbom")
	body, err := json.Marshal(map[string]any{
		"mediaType":    acr.MediaTypeArtifactManifest,
		"artifactType": "application/vnd.example.sbom",
		"blobs":        []ocispec.Descriptor{blob},
		"subject":      subject,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.seed.c.SetManifest(t.Context(), "app/web", body, acr.MediaTypeArtifactManifest, nil); err != nil {
		t.Fatal(err)
	}
	u := measureStorage(t.Context(), r.seed.c)
	if len(u.Errs) > 0 {
		t.Fatalf("measureStorage: %v", u.Errs)
	}
	if len(u.Repos) != 1 || u.Repos[0].Manifests != 2 {
		t.Fatalf("measureStorage: %+v, want app/web with 2 manifests", u.Repos)
	}
	// The image: its manifest, a config and a 4,000-byte layer; the
	// artifact: its manifest and its 70,000-byte blob.
	if got := u.Repos[0].Size; got < 74_000+int64(len(body)) {
		t.Errorf("app/web counts %d bytes, want at least %d: the artifact's blob is left out", got, 74_000+len(body))
	}
	if u.Blobs != 5 {
		t.Errorf("measureStorage counts %d distinct blobs and manifests, want 5 (2 manifests, config, layer, the artifact's blob)", u.Blobs)
	}
}

// TestStorageReadsInParallel: the storage page reads a repository's
// manifests several at a time (one at a time, a registry 50-100 ms away
// took minutes for a few thousand), and counts the same as before.
func TestStorageReadsInParallel(t *testing.T) {
	em, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	var inFlight, most atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/manifests/") && r.Method == http.MethodGet {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(20 * time.Millisecond)
		}
		em.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	seed := newSeeder(t, hs.URL, nil)
	for i := range 20 {
		seed.image("app", fmt.Sprint("v", i), "amd64", fmt.Sprint("layer", i), nil)
	}
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := measureStorage(t.Context(), c)
	if len(u.Errs) > 0 || len(u.Repos) != 1 || u.Repos[0].Manifests != 20 || u.Blobs != 20+2*20-19 {
		t.Errorf("measureStorage: %+v, want app with 20 manifests and 41 blobs (20 manifests, one shared config, 20 layers)", u)
	}
	if n := most.Load(); n < 2 || n > storageConcurrency {
		t.Errorf("at most %d manifest reads in flight, want 2 to %d", n, storageConcurrency)
	}
}
