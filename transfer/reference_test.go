package transfer_test

import (
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
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

// TestReferenceRegistryLayoutRoundTrip copies an image from the reference
// registry to an OCI layout and back to another repository: the bytes
// survive, and the copy back has the source's digest.
func TestReferenceRegistryLayoutRoundTrip(t *testing.T) {
	c := referenceClient(t)
	ctx := t.Context()
	repo := "acrgo/ref-" + digest.FromString(t.Name()).Encoded()[:8]
	img := pushCopyImage(t, c, repo, 9*mib+17, 1000)
	layout, err := transfer.OpenLayout(t.TempDir() + "/oci")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Copy(ctx, transfer.Repository(c, repo), "v1", layout, "v1", nil); err != nil {
		t.Fatalf("copy to layout: %v", err)
	}
	back, err := transfer.Copy(ctx, layout, "v1", transfer.Repository(c, repo+"-back"), "v1", nil)
	if err != nil {
		t.Fatalf("copy from layout: %v", err)
	}
	if back.Digest != img.root.Digest {
		t.Fatalf("copied back %s, want %s", back.Digest, img.root.Digest)
	}
	for d, b := range img.blobs {
		assertHeld(t, c, repo+"-back", d, b)
	}
}
