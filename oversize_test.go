package acr_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestOversizeUploadKnownBlob pushes small content under descriptors that claim
// huge sizes: UploadBlob with that Descriptor refuses it as a digest mismatch, at once, and the
// registry stores nothing.
func TestOversizeUploadKnownBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	data := randomBytes(3*mib + 1)
	d := digest.FromBytes(data)
	for _, size := range faulttest.OversizeClaims {
		err := faulttest.Bounded(t, fmt.Sprintf("UploadBlob of a Descriptor claiming %d bytes", size), func(ctx context.Context) error {
			return putBlob(ctx, client, "big", ocispec.Descriptor{Digest: d, Size: size}, strings.NewReader(string(data)))
		})
		if err != nil && !errors.Is(err, acr.ErrDigestMismatch) {
			t.Errorf("got %v, want ErrDigestMismatch", err)
		}
		if _, ok, _ := client.BlobExists(t.Context(), "big", d); ok {
			t.Fatal("the registry stored a blob whose descriptor lied about its size")
		}
	}
}

// TestOversizeDownloads has a registry announce huge Content-Lengths for
// a blob and a manifest and then send a few MiB: DownloadBlob,
// DownloadBlobTo and GetManifest fail at once, leave no file, and allocate
// little.
func TestOversizeDownloads(t *testing.T) {
	for _, size := range faulttest.OversizeClaims {
		l := faulttest.NewLiar(size)
		l.Claim = true
		hs := httptest.NewServer(l)
		defer hs.Close()
		client, _ := acr.NewClient(hs.URL, nil, nil)
		var layer digest.Digest
		for d, b := range l.Blobs {
			if len(b) > mib {
				layer = d
			}
		}
		faulttest.Bounded(t, fmt.Sprintf("DownloadBlob announcing %d bytes", size), func(ctx context.Context) error {
			rc, err := client.DownloadBlob(ctx, "app", layer, nil)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		})
		dir := t.TempDir()
		faulttest.Bounded(t, fmt.Sprintf("DownloadBlobTo announcing %d bytes", size), func(ctx context.Context) error {
			_, err := downloadFile(ctx, client, "app", layer, filepath.Join(dir, "blob"), nil)
			return err
		})
		assertEmptyDir(t, dir)
		faulttest.Bounded(t, fmt.Sprintf("GetManifest announcing %d bytes", size), func(ctx context.Context) error {
			_, err := client.GetManifest(ctx, "app", "v1", nil)
			return err
		})
	}
}
