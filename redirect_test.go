package acr_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestDownloadsFollowStorageRedirects downloads from a registry that, as
// ACR does, redirects blob GETs to storage on another origin, which
// refuses requests that carry the registry's Authorization header: every
// download path (streamed, and to a file in parallel ranges) follows the
// redirects without credentials and gets the right bytes. (transfer's
// TestCopyFollowsStorageRedirects copies a whole image the same way.)
func TestDownloadsFollowStorageRedirects(t *testing.T) {
	srv := acrtest.NewRedirectingServer(t, &emulator.Options{Users: map[string]string{"admin": "s3cret"}})
	client, err := acr.NewClient(srv.Host, acr.BasicCredential("admin", "s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(5*mib + 17)
	desc, err := client.UploadBlob(t.Context(), "app", bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}

	rc, err := client.DownloadBlob(t.Context(), "app", desc.Digest, nil)
	if err != nil {
		t.Fatalf("DownloadBlob: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("DownloadBlob: %d bytes, %v; want the %d uploaded", len(got), err, len(data))
	}

	path := filepath.Join(t.TempDir(), "blob")
	if n, err := downloadFile(t.Context(), client, "app", desc.Digest, path, &acr.DownloadBlobToOptions{Parts: 3, PartSize: mib}); err != nil || n != int64(len(data)) {
		t.Fatalf("DownloadBlobTo in ranges: %d bytes, %v", n, err)
	}
	if b, err := os.ReadFile(path); err != nil || !bytes.Equal(b, data) {
		t.Fatalf("DownloadBlobTo wrote %d bytes that differ from the blob (%v)", len(b), err)
	}

}
