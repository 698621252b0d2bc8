package acr_test

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// referenceClient connects to the reference registry (distribution v3.1.2)
// that .ci/reference.sh starts and names in ACRGO_REFERENCE_URL. Without it,
// the test is skipped: plain `go test` needs no external server.
func referenceClient(t *testing.T) *acr.Client {
	t.Helper()
	ref := acrtest.ReferenceRegistry(t)
	var cred acr.Credential
	if ref.User != "" {
		cred = acr.BasicCredential(ref.User, ref.Password)
	}
	c, err := acr.NewClient(ref.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReferenceRegistry runs the OCI subset of the client against the
// reference registry: what works on any registry works there, and what
// needs ACR says so. (transfer's TestReferenceRegistryLayoutRoundTrip
// copies through an OCI layout there.)
func TestReferenceRegistry(t *testing.T) {
	c := referenceClient(t)
	ctx := t.Context()
	repo := "acrgo/ref-" + digest.FromString(t.Name()).Encoded()[:8]
	big := randomBytes(9<<20 + 17)
	layer, err := c.UploadBlob(ctx, repo, bytes.NewReader(big), &acr.UploadBlobOptions{ChunkSize: 4 << 20, MediaType: ocispec.MediaTypeImageLayer})
	if err != nil {
		t.Fatalf("chunked upload: %v", err)
	}
	cfg, err := c.UploadBlob(ctx, repo, bytes.NewReader([]byte(`{"architecture":"amd64","os":"linux"}`)), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatalf("monolithic upload: %v", err)
	}
	rc, err := c.DownloadBlob(ctx, repo, layer.Digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, big) {
		t.Fatalf("download: %v", err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	desc, err := c.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: "v2"}); err != nil {
		t.Fatal(err)
	}
	gm, err := c.GetManifest(ctx, repo, "v1", nil)
	if err != nil || gm.Digest != desc.Digest {
		t.Fatalf("GetManifest: %v", err)
	}
	var names []string
	for tp, err := range c.Tags(ctx, repo, nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tp.Name)
	}
	if !slices.Equal(names, []string{"v1", "v2"}) {
		t.Fatalf("tags: got %v", names)
	}
	found := false
	for r, err := range c.Repositories(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		found = found || r == repo
	}
	if !found {
		t.Fatalf("catalog lacks %s", repo)
	}
	if mounted, err := c.MountBlob(ctx, repo+"-copy", repo, layer.Digest); err != nil || !mounted {
		t.Fatalf("mount: %v %v", err, mounted)
	}
	for r, err := range c.Referrers(ctx, repo, desc.Digest, "") {
		t.Fatalf("referrers of an image without any: %v %v", r, err)
	}
	if _, err := c.GetRepositoryProperties(ctx, repo); !errors.Is(err, acr.ErrNotSupported) {
		t.Fatalf("ACR properties on the reference registry: got %v, want ErrNotSupported", err)
	}
	if _, err := c.DeleteManifest(ctx, repo, "v2"); err != nil {
		t.Fatalf("delete manifest: %v", err)
	}
	if ok, _ := c.ManifestExists(ctx, repo, "v1"); ok {
		t.Fatal("the tag of a deleted manifest still resolves")
	}
	if err := c.DeleteBlob(ctx, repo, cfg.Digest); err != nil {
		t.Fatalf("delete blob: %v", err)
	}
}
