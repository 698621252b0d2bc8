package transfer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// writeLayout writes an OCI layout holding the liar's image, tagged v1,
// and, tagged "index", an index whose one child claims the size too.
func writeLayout(t *testing.T, l *faulttest.Liar) string {
	t.Helper()
	dir := t.TempDir()
	put := func(b []byte) digest.Digest {
		d := digest.FromBytes(b)
		p := filepath.Join(dir, "blobs", "sha256", d.Encoded())
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return d
	}
	for _, b := range l.Blobs {
		put(b)
	}
	put(l.Manifest)
	child := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: l.ManifestDigest, Size: l.Size}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{child}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	top := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: l.ManifestDigest, Size: int64(len(l.Manifest)), Annotations: map[string]string{ocispec.AnnotationRefName: "v1"}},
		{MediaType: ocispec.MediaTypeImageIndex, Digest: put(ib), Size: int64(len(ib)), Annotations: map[string]string{ocispec.AnnotationRefName: "index"}},
	}}
	top.SchemaVersion = 2
	tb, _ := json.Marshal(top)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), tb, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestOversizeCopy copies images whose descriptors claim huge sizes, from
// an OCI layout and from a registry, to a registry and to a layout: every
// Copy fails with a digest mismatch at once, allocating little, and the
// destination has no tag and no partial blob.
func TestOversizeCopy(t *testing.T) {
	for _, size := range faulttest.OversizeClaims {
		l := faulttest.NewLiar(size)
		src := httptest.NewServer(l)
		defer src.Close()
		srcClient, _ := acr.NewClient(src.URL, nil, nil)
		lay, err := transfer.OpenLayout(writeLayout(t, l))
		if err != nil {
			t.Fatal(err)
		}
		sources := []struct {
			name string
			tg   transfer.Target
			ref  string
		}{
			{"layout", lay, "v1"},
			{"layout index", lay, "index"},
			{"registry", transfer.Repository(srcClient, "app"), "v1"},
		}
		for _, s := range sources {
			dst := acrtest.NewServer(t, nil)
			dstClient, _ := acr.NewClient(dst.URL, nil, nil)
			out := t.TempDir()
			dstLayout, err := transfer.OpenLayout(out)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range []struct {
				name string
				tg   transfer.Target
			}{{"registry", transfer.Repository(dstClient, "copy")}, {"layout", dstLayout}} {
				what := fmt.Sprintf("Copy %s to %s, claiming %d bytes", s.name, d.name, size)
				err := faulttest.Bounded(t, what, func(ctx context.Context) error {
					_, err := transfer.Copy(ctx, s.tg, s.ref, d.tg, "v1", nil)
					return err
				})
				if err != nil && !errors.Is(err, acr.ErrDigestMismatch) && !strings.Contains(err.Error(), "over the 4 MiB limit") {
					t.Errorf("%s: got %v, want ErrDigestMismatch or the manifest size limit", what, err)
				}
				if _, err := d.tg.Resolve(t.Context(), "v1"); err == nil {
					t.Errorf("%s: the destination has the tag of a failed copy", what)
				}
			}
			// Nothing of the lying layer is left in the layout.
			filepath.WalkDir(out, func(p string, e os.DirEntry, err error) error {
				if err == nil && !e.IsDir() {
					if fi, _ := e.Info(); fi != nil && fi.Size() > mib {
						t.Errorf("the destination layout holds %s (%d bytes) after failed copies", p, fi.Size())
					}
				}
				return nil
			})
		}
	}
}
