package transfer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// mtArtifact is the OCI artifact manifest of the OCI 1.1 release
// candidates, which ACR stores and serves only to clients that name it in
// Accept (as the emulator does).
const mtArtifact = "application/vnd.oci.artifact.manifest.v1+json"

// pushArtifact pushes an OCI artifact manifest tagged tag whose one blob
// is a file named scan.json holding content, referring to subject.
func pushArtifact(t *testing.T, c *acr.Client, repo, tag string, subject ocispec.Descriptor, content string) ocispec.Descriptor {
	t.Helper()
	b, err := c.UploadBlob(t.Context(), repo, bytes.NewReader([]byte(content)), &acr.UploadBlobOptions{MediaType: "application/json"})
	if err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf(`{"mediaType":%q,"artifactType":"application/vnd.example.scan","blobs":[{"mediaType":"application/json","digest":%q,"size":%d,"annotations":{%q:"scan.json"}}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		mtArtifact, b.Digest, b.Size, ocispec.AnnotationTitle, subject.MediaType, subject.Digest, subject.Size)
	d, err := c.SetManifest(t.Context(), repo, []byte(body), mtArtifact, &acr.SetManifestOptions{Tag: tag})
	if err != nil {
		t.Fatal(err)
	}
	return ocispec.Descriptor{MediaType: mtArtifact, Digest: d, Size: int64(len(body))}
}

// TestCopyArtifactManifest copies an OCI artifact manifest (ACR holds them
// from oras 1.0 and notation's early releases) as a manifest, with its
// blobs: as a referrer of the image it refers to, by its own tag through an
// OCI layout to another registry, and into files. Before the client named
// the type in Accept and walked an artifact's blobs, each of these failed
// with "blob unknown", having fetched the manifest as a blob.
func TestCopyArtifactManifest(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	image := pushImage(t, src, "app", "amd64", 1000)
	image.Platform = nil
	if _, err := src.SetManifest(t.Context(), "app", mustManifest(t, src, "app", image).Bytes, image.MediaType, &acr.SetManifestOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	art := pushArtifact(t, src, "app", "scan", image, `{"scan":"clean"}`)

	// As a referrer of the image.
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "mirror"), "v1",
		&transfer.CopyOptions{Referrers: true}); err != nil {
		t.Fatalf("copying an image whose referrer is an artifact manifest: %v", err)
	}
	m, err := dst.GetManifest(t.Context(), "mirror", art.Digest.String(), nil)
	if err != nil || m.MediaType != mtArtifact {
		t.Fatalf("the artifact in the destination: %v (%s)", err, m.MediaType)
	}
	if n := countReferrers(t, transfer.Repository(dst, "mirror"), image); n != 1 {
		t.Errorf("the image has %d referrers in the destination, want the artifact", n)
	}

	// By its own tag, through an OCI layout.
	layout, err := transfer.OpenLayout(filepath.Join(t.TempDir(), "layout"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "scan", layout, "scan", nil); err != nil {
		t.Fatalf("copying the artifact into an OCI layout: %v", err)
	}
	if _, err := transfer.Copy(t.Context(), layout, "scan", transfer.Repository(dst, "from-layout"), "scan", nil); err != nil {
		t.Fatalf("copying the artifact from an OCI layout: %v", err)
	}
	got := mustManifest(t, dst, "from-layout", art)
	if got.Digest != art.Digest || got.MediaType != mtArtifact {
		t.Errorf("through the layout: got %s %s, want %s %s", got.MediaType, got.Digest, mtArtifact, art.Digest)
	}

	// Into files: its blob is its file.
	dir := t.TempDir()
	if _, err := transfer.PullFiles(t.Context(), transfer.Repository(src, "app"), "scan", dir, nil); err != nil {
		t.Fatalf("pulling the artifact's files: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "scan.json")); err != nil || string(b) != `{"scan":"clean"}` {
		t.Errorf("scan.json: %q, %v", b, err)
	}
}

func mustManifest(t *testing.T, c *acr.Client, repo string, d ocispec.Descriptor) acr.Manifest {
	t.Helper()
	m, err := c.GetManifest(t.Context(), repo, d.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
