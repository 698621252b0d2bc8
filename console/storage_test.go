package console

import (
	"encoding/json"
	"testing"

	"github.com/acrgo/acr"
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
