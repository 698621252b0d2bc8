package transfer_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The benchmarks copy an image from the in-process emulator (memory store,
// loopback HTTP) into a new OCI layout (a pull) or into a second emulator,
// so that one profile holds the client and the registries:
//
//	go test -run '^$' -bench . -benchtime 3x -cpuprofile cpu.out ./transfer
//
// bench/run.sh measures the acrctl binary against the peers instead.

// benchImages are the images copied: one large layer (a single stream,
// bound by hashing it) and eight smaller ones (streams in parallel).
var benchImages = []struct {
	name   string
	layers []int
}{
	{"1x256MiB", []int{256 << 20}},
	{"8x32MiB", []int{32 << 20, 32 << 20, 32 << 20, 32 << 20, 32 << 20, 32 << 20, 32 << 20, 32 << 20}},
}

// benchClient serves a fresh emulator until b ends or stop is called, and
// returns a client of it.
func benchClient(b *testing.B) (c *acr.Client, stop func()) {
	b.Helper()
	reg, err := emulator.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	var once sync.Once
	stop = func() { once.Do(func() { hs.Close(); reg.Close() }) }
	b.Cleanup(stop)
	if c, err = acr.NewClient(hs.URL, nil, nil); err != nil {
		b.Fatal(err)
	}
	return c, stop
}

// benchPushImage pushes an image of random layers of the given sizes to
// repo "bench" and returns its digest and total size.
func benchPushImage(b *testing.B, c *acr.Client, sizes []int) (string, int64) {
	b.Helper()
	ctx := b.Context()
	cfg, err := c.UploadBlob(ctx, "bench", bytes.NewReader([]byte(`{"architecture":"amd64","os":"linux"}`)),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		b.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{}}
	m.SchemaVersion = 2
	total := cfg.Size
	rng := rand.NewChaCha8([32]byte{1})
	for _, n := range sizes {
		data := make([]byte, n)
		rng.Read(data)
		l, err := c.UploadBlob(ctx, "bench", bytes.NewReader(data), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayerGzip})
		if err != nil {
			b.Fatal(err)
		}
		m.Layers = append(m.Layers, l)
		total += l.Size
	}
	desc, err := c.SetImage(ctx, "bench", m, nil)
	if err != nil {
		b.Fatal(err)
	}
	return desc.Digest.String(), total
}

// BenchmarkCopyToLayout pulls an image from a registry into a new layout:
// the download, the client-side digest check and the file writes.
func BenchmarkCopyToLayout(b *testing.B) {
	for _, im := range benchImages {
		b.Run(im.name, func(b *testing.B) {
			src, _ := benchClient(b)
			ref, size := benchPushImage(b, src, im.layers)
			dir := b.TempDir()
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				os.RemoveAll(filepath.Join(dir, fmt.Sprint(i-1))) // keep the disk use flat
				b.StartTimer()
				l, err := transfer.OpenLayout(filepath.Join(dir, fmt.Sprint(i)))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := transfer.Copy(b.Context(), transfer.Repository(src, "bench"), ref, l, "v1", nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCopyBetweenRegistries copies an image from one registry to a
// fresh second one: the client relays the bytes unhashed and the
// destination verifies them.
func BenchmarkCopyBetweenRegistries(b *testing.B) {
	for _, im := range benchImages {
		b.Run(im.name, func(b *testing.B) {
			src, _ := benchClient(b)
			ref, size := benchPushImage(b, src, im.layers)
			b.SetBytes(size)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				dst, stop := benchClient(b)
				b.StartTimer()
				if _, err := transfer.Copy(b.Context(), transfer.Repository(src, "bench"), ref, transfer.Repository(dst, "bench"), "v1", nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				stop() // the registry holds the image in memory
				b.StartTimer()
			}
		})
	}
}
