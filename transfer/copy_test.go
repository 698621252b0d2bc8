package transfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func newRegistry(t *testing.T) *acr.Client {
	t.Helper()
	srv := acrtest.NewServer(t, nil)
	c, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushImage pushes an image with layers of the given sizes for a platform.
func pushImage(t *testing.T, c *acr.Client, repo, arch string, sizes ...int) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	cfg, err := c.UploadBlob(ctx, repo, bytes.NewReader([]byte(fmt.Sprintf(`{"architecture":%q,"os":"linux"}`, arch))),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	for _, n := range sizes {
		data := make([]byte, n)
		rand.Read(data)
		l, err := c.UploadBlob(ctx, repo, bytes.NewReader(data), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayerGzip})
		if err != nil {
			t.Fatal(err)
		}
		m.Layers = append(m.Layers, l)
	}
	desc, err := c.SetImage(ctx, repo, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	desc.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
	return desc
}

// pushMultiArch pushes an index of two platforms tagged "v1", with a
// signature and an SBOM referring to the index.
func pushMultiArch(t *testing.T, c *acr.Client, repo string) (index ocispec.Descriptor, amd, arm ocispec.Descriptor) {
	t.Helper()
	amd = pushImage(t, c, repo, "amd64", 1000, 300000)
	arm = pushImage(t, c, repo, "arm64", 2000, 5<<20)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{amd, arm}}
	idx.SchemaVersion = 2
	index, err := c.SetIndex(t.Context(), repo, idx, &acr.SetManifestOptions{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []string{"application/vnd.example.signature", "application/vnd.example.sbom"} {
		empty, _ := c.UploadBlob(t.Context(), repo, bytes.NewReader([]byte("{}")), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
		body, _ := c.UploadBlob(t.Context(), repo, bytes.NewReader([]byte(at)), nil)
		r := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: at, Config: empty, Layers: []ocispec.Descriptor{body}, Subject: &index}
		r.SchemaVersion = 2
		if _, err := c.SetImage(t.Context(), repo, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	return index, amd, arm
}

func countReferrers(t *testing.T, tg transfer.Target, d ocispec.Descriptor) int {
	n := 0
	for _, err := range tg.Referrers(t.Context(), d, "") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	return n
}

func TestCopyRegistryToRegistryWithReferrers(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	index, _, arm := pushMultiArch(t, src, "app")
	var copied atomic.Int64
	got, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "mirror/app"), "v1",
		&transfer.CopyOptions{Referrers: true, Progress: func(p transfer.Progress) {
			if p.Done && !p.Skipped {
				copied.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != index.Digest {
		t.Fatalf("root %s, want %s", got.Digest, index.Digest)
	}
	m, err := dst.GetManifest(t.Context(), "mirror/app", "v1", nil)
	if err != nil || m.Digest != index.Digest {
		t.Fatalf("tag in destination: %v %s", err, m.Digest)
	}
	rc, err := dst.DownloadBlob(t.Context(), "mirror/app", mustImage(t, src, "app", arm).Layers[1].Digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if n := countReferrers(t, transfer.Repository(dst, "mirror/app"), index); n != 2 {
		t.Fatalf("got %d referrers in the destination, want 2", n)
	}
	// A second copy finds everything in place.
	before := copied.Load()
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "mirror/app"), "v1", &transfer.CopyOptions{Referrers: true,
		Progress: func(p transfer.Progress) {
			if p.Done && !p.Skipped && p.Desc.MediaType != ocispec.MediaTypeImageManifest && p.Desc.MediaType != ocispec.MediaTypeImageIndex {
				copied.Add(1)
			}
		}}); err != nil {
		t.Fatal(err)
	}
	if copied.Load() != before {
		t.Fatalf("the second copy moved %d blobs again", copied.Load()-before)
	}
}

func mustImage(t *testing.T, c *acr.Client, repo string, d ocispec.Descriptor) ocispec.Manifest {
	t.Helper()
	m, err := c.GetManifest(t.Context(), repo, d.Digest.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	im, err := m.Image()
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func TestCopyByPlatform(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	_, amd, arm := pushMultiArch(t, src, "app")
	got, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "app"), "arm",
		&transfer.CopyOptions{Platforms: []ocispec.Platform{{OS: "linux", Architecture: "arm64"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != arm.Digest {
		t.Fatalf("one platform: root %s, want the arm64 manifest %s", got.Digest, arm.Digest)
	}
	if ok, _ := dst.ManifestExists(t.Context(), "app", amd.Digest.String()); ok {
		t.Fatal("the amd64 manifest was copied too")
	}
	both, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "app"), "both",
		&transfer.CopyOptions{Platforms: []ocispec.Platform{{OS: "linux", Architecture: "arm64"}, {OS: "linux", Architecture: "amd64"}}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dst.GetManifest(t.Context(), "app", "both", nil)
	if err != nil || m.Digest != both.Digest || !m.IsIndex() {
		t.Fatalf("two platforms: %v %+v", err, m.Descriptor())
	}
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "app"), "none",
		&transfer.CopyOptions{Platforms: []ocispec.Platform{{OS: "windows", Architecture: "amd64"}}}); err == nil {
		t.Fatal("copying a platform the index lacks succeeded")
	}
}

func TestLayoutRoundTrip(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	index, _, _ := pushMultiArch(t, src, "app")
	dir := filepath.Join(t.TempDir(), "layout")
	layout, err := transfer.OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", layout, "v1", &transfer.CopyOptions{Referrers: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"oci-layout", "index.json", "blobs/sha256/" + index.Digest.Encoded()} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("layout lacks %s: %v", f, err)
		}
	}
	var idx ocispec.Index
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	json.Unmarshal(b, &idx)
	tagged := 0
	for _, m := range idx.Manifests {
		if m.Annotations[ocispec.AnnotationRefName] == "v1" && m.Digest == index.Digest {
			tagged++
		}
	}
	if tagged != 1 {
		t.Fatalf("index.json: got %d entries tagged v1 for the index, want 1: %s", tagged, b)
	}
	if n := countReferrers(t, layout, index); n != 2 {
		t.Fatalf("layout referrers: got %d, want 2", n)
	}
	reopened, err := transfer.OpenLayout(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Copy(t.Context(), reopened, "v1", transfer.Repository(dst, "back"), "v1", &transfer.CopyOptions{Referrers: true}); err != nil {
		t.Fatal(err)
	}
	if m, err := dst.GetManifest(t.Context(), "back", "v1", nil); err != nil || m.Digest != index.Digest {
		t.Fatalf("back in a registry: %v", err)
	}
	// A corrupted blob in the layout fails the copy with a digest error.
	amdLayer := filepath.Join(dir, "blobs", "sha256")
	entries, _ := os.ReadDir(amdLayer)
	for _, e := range entries {
		p := filepath.Join(amdLayer, e.Name())
		if fi, _ := os.Stat(p); fi.Size() == 300000 {
			os.WriteFile(p, make([]byte, 300000), 0o644)
		}
	}
	_, err = transfer.Copy(t.Context(), reopened, "v1", transfer.Repository(newRegistry(t), "x"), "v1", nil)
	if !errors.Is(err, acr.ErrDigestMismatch) {
		t.Fatalf("copy from a corrupted layout: got %v, want ErrDigestMismatch", err)
	}
}

// TestCopyByDigestToLayout: a copy by digest into a layout lists the
// manifest in index.json, untagged, as the layout's entry point (it was left
// out, so the layout looked empty: "holds 0 manifests"), once however often
// it is copied, and the layout resolves it with no reference.
func TestCopyByDigestToLayout(t *testing.T) {
	src := newRegistry(t)
	img := pushImage(t, src, "app", "amd64", 100)
	dir := filepath.Join(t.TempDir(), "layout")
	for range 2 {
		layout, err := transfer.OpenLayout(dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), img.Digest.String(), layout, img.Digest.String(), nil); err != nil {
			t.Fatal(err)
		}
	}
	var idx ocispec.Index
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	json.Unmarshal(b, &idx)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != img.Digest || idx.Manifests[0].Annotations[ocispec.AnnotationRefName] != "" {
		t.Fatalf("index.json: %s, want one untagged entry for %s", b, img.Digest)
	}
	layout, _ := transfer.OpenLayout(dir)
	if d, err := layout.Resolve(t.Context(), ""); err != nil || d.Digest != img.Digest {
		t.Errorf("Resolve(\"\") = %v, %v; want %s", d.Digest, err, img.Digest)
	}
}

func TestCancelledCopyLeavesNoTag(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	pushMultiArch(t, src, "app")
	ctx, cancel := context.WithCancel(t.Context())
	_, err := transfer.Copy(ctx, transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "app"), "v1",
		&transfer.CopyOptions{Concurrency: 1, Progress: func(p transfer.Progress) {
			if p.Bytes > 0 {
				cancel()
			}
		}})
	if err == nil {
		t.Fatal("a cancelled copy reported success")
	}
	if ok, _ := dst.ManifestExists(t.Context(), "app", "v1"); ok {
		t.Fatal("a cancelled copy left the tag pointing at a partial graph")
	}
}

// TestCopyFromLyingRegistry copies from a registry that corrupts a layer in
// flight (same length, one byte flipped): the client streams it without
// hashing, and the destination registry refuses it, so the copy fails with
// ErrDigestMismatch and the destination gets no tag.
func TestCopyFromLyingRegistry(t *testing.T) {
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	lying := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
			rec := httptest.NewRecorder()
			reg.ServeHTTP(rec, r)
			body := rec.Body.Bytes()
			if len(body) > 1000 {
				body[len(body)/2] ^= 0xff
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(body)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer lying.Close()
	src, err := acr.NewClient(lying.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	pushImage(t, src, "app", "amd64", 300000)
	dst := newRegistry(t)
	_, err = transfer.Copy(t.Context(), transfer.Repository(src, "app"), mustTag(t, src), transfer.Repository(dst, "app"), "v1", nil)
	if !errors.Is(err, acr.ErrDigestMismatch) {
		t.Fatalf("copy from a lying registry: got %v, want ErrDigestMismatch", err)
	}
	if ok, _ := dst.ManifestExists(t.Context(), "app", "v1"); ok {
		t.Fatal("the destination was tagged despite the corrupt layer")
	}
	// To a layout, the client verifies itself, and keeps nothing of the
	// corrupt layer: no temporary file, no blob under its digest.
	dir := filepath.Join(t.TempDir(), "l")
	layout, _ := transfer.OpenLayout(dir)
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), mustTag(t, src), layout, "v1", nil); !errors.Is(err, acr.ErrDigestMismatch) {
		t.Fatalf("copy to a layout from a lying registry: got %v, want ErrDigestMismatch", err)
	}
	files, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		info, err := f.Info()
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(f.Name(), ".tmp-") || info.Size() >= 300000 {
			t.Errorf("the failed copy left %s (%d bytes) in the layout", f.Name(), info.Size())
		}
	}
}

// mustTag returns the digest of the only manifest pushed to src's "app".
func mustTag(t *testing.T, c *acr.Client) string {
	t.Helper()
	for m, err := range c.Manifests(t.Context(), "app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		return m.Digest.String()
	}
	t.Fatal("no manifest")
	return ""
}

// TestCopyPutsRootByTag checks the manifest requests of a copy to a
// registry by tag: the root goes up once, by tag, and is neither asked for
// by digest nor fetched back. With Referrers the tag is still put last, on
// its own.
func TestCopyPutsRootByTag(t *testing.T) {
	src := newRegistry(t)
	index, _, _ := pushMultiArch(t, src, "app")
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var mu sync.Mutex
	var rootReqs []string
	counting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/manifests/v1") || strings.HasSuffix(r.URL.Path, "/manifests/"+index.Digest.String()) {
			mu.Lock()
			rootReqs = append(rootReqs, r.Method+" "+r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:])
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer counting.Close()
	dst, err := acr.NewClient(counting.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		repo      string
		referrers bool
		want      []string
	}{
		{"plain", false, []string{"PUT v1"}},
		{"with-referrers", true, []string{"HEAD " + index.Digest.String(), "PUT " + index.Digest.String(), "GET " + index.Digest.String(), "PUT v1"}},
	} {
		t.Run(tc.repo, func(t *testing.T) {
			rootReqs = nil
			got, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, tc.repo), "v1",
				&transfer.CopyOptions{Referrers: tc.referrers})
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest != index.Digest {
				t.Fatalf("got root %s, want %s", got.Digest, index.Digest)
			}
			d, err := transfer.Repository(dst, tc.repo).Resolve(t.Context(), "v1")
			if err != nil || d.Digest != index.Digest {
				t.Fatalf("v1 at the destination resolves to %s (%v), want %s", d.Digest, err, index.Digest)
			}
			mu.Lock()
			defer mu.Unlock()
			// Resolve above added one GET v1.
			if want := append(tc.want, "GET v1"); !slices.Equal(rootReqs, want) {
				t.Errorf("requests for the root manifest: got %q, want %q", rootReqs, want)
			}
		})
	}
}
