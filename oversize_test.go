package acr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Bounds for operations on content whose descriptors or headers claim
// huge sizes: they fail within oversizeTime, allocating less than
// oversizeAlloc. The count is the whole process's: the client, the
// in-process registry, and what earlier tests leave running (tens of MiB
// under -race); a buffer sized by a claim (512 MiB and up) exceeds it.
const (
	oversizeTime  = 5 * time.Second
	oversizeAlloc = 256 << 20
)

// oversizeClaims are the sizes the tests claim: one that no allocation
// could satisfy, one past any int64 arithmetic, and one that a careless
// preallocation would satisfy, visibly.
var oversizeClaims = []int64{1 << 50, math.MaxInt64, 512 << 20}

// bounded runs op and fails t unless it returns an error quickly,
// allocating little: a size claimed by a descriptor or header must never
// size an allocation or a wait.
func bounded(t *testing.T, what string, op func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*oversizeTime)
	defer cancel()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := op(ctx)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	switch {
	case err == nil:
		t.Errorf("%s: got no error, want one", what)
	case took > oversizeTime:
		t.Errorf("%s: failed after %v, want within %v: %v", what, took, oversizeTime, err)
	case alloc > oversizeAlloc:
		t.Errorf("%s: allocated %d MiB, want under %d MiB", what, alloc>>20, oversizeAlloc>>20)
	default:
		t.Logf("%s: %v, %d KiB allocated: %v", what, took.Round(time.Millisecond), alloc>>10, err)
	}
	return err
}

// TestOversizePutBlob pushes small content under descriptors that claim
// huge sizes: PutBlob refuses it as a digest mismatch, at once, and the
// registry stores nothing.
func TestOversizePutBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	data := randomBytes(3*mib + 1)
	d := digest.FromBytes(data)
	for _, size := range oversizeClaims {
		err := bounded(t, fmt.Sprintf("PutBlob claiming %d bytes", size), func(ctx context.Context) error {
			return client.PutBlob(ctx, "big", ocispec.Descriptor{Digest: d, Size: size}, strings.NewReader(string(data)))
		})
		if err != nil && !errors.Is(err, acr.ErrDigestMismatch) {
			t.Errorf("got %v, want ErrDigestMismatch", err)
		}
		if _, ok, _ := client.BlobExists(t.Context(), "big", d); ok {
			t.Fatal("the registry stored a blob whose descriptor lied about its size")
		}
	}
}

// liar is a registry that serves an image whose layer descriptor claims
// size, and blobs and manifests whose Content-Length claims size while
// the body is short.
type liar struct {
	size     int64
	manifest []byte
	md       digest.Digest
	blobs    map[digest.Digest][]byte
	// claim, when set, makes blob and manifest responses announce size
	// in Content-Length (and Content-Range) and then end early.
	claim bool
}

// newLiar builds an image: a config and a layer, the layer's descriptor
// claiming size.
func newLiar(size int64) *liar {
	l := &liar{size: size, blobs: map[digest.Digest][]byte{}}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := randomBytes(2*mib + 5)
	l.blobs[digest.FromBytes(cfg)], l.blobs[digest.FromBytes(layer)] = cfg, layer
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(layer), Size: size}}}
	m.SchemaVersion = 2
	l.manifest, _ = json.Marshal(m)
	l.md = digest.FromBytes(l.manifest)
	return l
}

func (l *liar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch {
	case r.URL.Path == "/v2/":
		return
	case strings.HasPrefix(r.URL.Path, "/v2/app/manifests/"):
		h.Set("Content-Type", ocispec.MediaTypeImageManifest)
		h.Set("Docker-Content-Digest", l.md.String())
		l.send(w, r, l.manifest)
	case strings.HasPrefix(r.URL.Path, "/v2/app/blobs/"):
		b, ok := l.blobs[digest.Digest(strings.TrimPrefix(r.URL.Path, "/v2/app/blobs/"))]
		if !ok {
			http.NotFound(w, r)
			return
		}
		l.send(w, r, b)
	default:
		http.NotFound(w, r)
	}
}

// send writes b, or, when l claims, announces l.size bytes, sends b and
// breaks the connection.
func (l *liar) send(w http.ResponseWriter, r *http.Request, b []byte) {
	if !l.claim {
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		if r.Method != http.MethodHead {
			w.Write(b)
		}
		return
	}
	status := http.StatusOK
	from := int64(0)
	if rg := r.Header.Get("Range"); rg != "" {
		from, _ = strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"), 10, 64)
		status = http.StatusPartialContent
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, l.size-1, l.size))
	}
	w.Header().Set("Content-Length", strconv.FormatInt(l.size-from, 10))
	w.WriteHeader(status)
	if r.Method == http.MethodHead {
		return
	}
	if from < int64(len(b)) {
		w.Write(b[from:])
	}
	w.(http.Flusher).Flush()
	panic(http.ErrAbortHandler)
}

// TestOversizeDownloads has a registry announce huge Content-Lengths for
// a blob and a manifest and then send a few MiB: DownloadBlob,
// DownloadBlobTo and GetManifest fail at once, leave no file, and allocate
// little.
func TestOversizeDownloads(t *testing.T) {
	for _, size := range oversizeClaims {
		l := newLiar(size)
		l.claim = true
		hs := httptest.NewServer(l)
		defer hs.Close()
		client, _ := acr.NewClient(hs.URL, nil, nil)
		var layer digest.Digest
		for d, b := range l.blobs {
			if len(b) > mib {
				layer = d
			}
		}
		bounded(t, fmt.Sprintf("DownloadBlob announcing %d bytes", size), func(ctx context.Context) error {
			rc, err := client.DownloadBlob(ctx, "app", layer)
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		})
		dir := t.TempDir()
		bounded(t, fmt.Sprintf("DownloadBlobTo announcing %d bytes", size), func(ctx context.Context) error {
			_, err := client.DownloadBlobTo(ctx, "app", layer, filepath.Join(dir, "blob"))
			return err
		})
		assertEmptyDir(t, dir)
		bounded(t, fmt.Sprintf("GetManifest announcing %d bytes", size), func(ctx context.Context) error {
			_, err := client.GetManifest(ctx, "app", "v1", nil)
			return err
		})
	}
}

// writeLayout writes an OCI layout holding the liar's image, tagged v1,
// and, tagged "index", an index whose one child claims the size too.
func writeLayout(t *testing.T, l *liar) string {
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
	for _, b := range l.blobs {
		put(b)
	}
	put(l.manifest)
	child := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: l.md, Size: l.size}
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{child}}
	idx.SchemaVersion = 2
	ib, _ := json.Marshal(idx)
	top := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{
		{MediaType: ocispec.MediaTypeImageManifest, Digest: l.md, Size: int64(len(l.manifest)), Annotations: map[string]string{ocispec.AnnotationRefName: "v1"}},
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
	for _, size := range oversizeClaims {
		l := newLiar(size)
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
				err := bounded(t, what, func(ctx context.Context) error {
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
