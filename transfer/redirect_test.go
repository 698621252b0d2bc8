package transfer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
)

// TestCopyFollowsStorageRedirects copies an image to an OCI layout from a
// registry that, as ACR does, redirects blob GETs to storage on another
// origin, which refuses requests that carry the registry's Authorization
// header: Copy follows the redirects without credentials and writes the
// right bytes.
func TestCopyFollowsStorageRedirects(t *testing.T) {
	srv := acrtest.NewRedirectingServer(t, &emulator.Options{Users: map[string]string{"admin": "s3cret"}})
	client, err := acr.NewClient(srv.Host, acr.BasicCredential("admin", "s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	img := pushCopyImage(t, client, "img", 2*mib, 100)
	dir := filepath.Join(t.TempDir(), "layout")
	layout, err := transfer.OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Copy(t.Context(), transfer.Repository(client, "img"), "v1", layout, "v1", nil); err != nil {
		t.Fatalf("copy to a layout: %v", err)
	}
	for d, b := range img.blobs {
		f, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", d.Encoded()))
		if err != nil || digest.FromBytes(f) != d || !bytes.Equal(f, b) {
			t.Fatalf("layout blob %s: %d bytes, %v", d, len(f), err)
		}
	}
}
