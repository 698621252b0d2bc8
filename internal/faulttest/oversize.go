package faulttest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Liar is a registry that serves, as repository "app" tagged anything, an
// image whose layer descriptor claims Size bytes while the layer holds a
// few MiB; with Claim, blob and manifest responses also announce Size in
// Content-Length (and Content-Range) and then end early. It is for tests
// that a size claimed by a descriptor or header never sizes an allocation
// or a wait.
type Liar struct {
	// Size is the claimed size.
	Size int64
	// Manifest is the image manifest, and ManifestDigest its digest.
	Manifest       []byte
	ManifestDigest digest.Digest
	// Blobs are the config and the layer, by digest.
	Blobs map[digest.Digest][]byte
	// Claim makes responses announce Size and end early. Set it before
	// the liar serves.
	Claim bool
}

// NewLiar builds the liar's image: a config and a random layer of 2 MiB
// and 5 bytes, the layer's descriptor claiming size.
func NewLiar(size int64) *Liar {
	l := &Liar{Size: size, Blobs: map[digest.Digest][]byte{}}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := make([]byte, 2<<20+5)
	rand.Read(layer)
	l.Blobs[digest.FromBytes(cfg)], l.Blobs[digest.FromBytes(layer)] = cfg, layer
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest,
		Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.FromBytes(cfg), Size: int64(len(cfg))},
		Layers: []ocispec.Descriptor{{MediaType: ocispec.MediaTypeImageLayerGzip, Digest: digest.FromBytes(layer), Size: size}}}
	m.SchemaVersion = 2
	l.Manifest, _ = json.Marshal(m)
	l.ManifestDigest = digest.FromBytes(l.Manifest)
	return l
}

// ServeHTTP serves the image's manifest and blobs in repository "app".
func (l *Liar) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	switch {
	case r.URL.Path == "/v2/":
		return
	case strings.HasPrefix(r.URL.Path, "/v2/app/manifests/"):
		h.Set("Content-Type", ocispec.MediaTypeImageManifest)
		h.Set("Docker-Content-Digest", l.ManifestDigest.String())
		l.send(w, r, l.Manifest)
	case strings.HasPrefix(r.URL.Path, "/v2/app/blobs/"):
		b, ok := l.Blobs[digest.Digest(strings.TrimPrefix(r.URL.Path, "/v2/app/blobs/"))]
		if !ok {
			http.NotFound(w, r)
			return
		}
		l.send(w, r, b)
	default:
		http.NotFound(w, r)
	}
}

// send writes b, or, when l claims, announces l.Size bytes, sends b and
// breaks the connection.
func (l *Liar) send(w http.ResponseWriter, r *http.Request, b []byte) {
	if !l.Claim {
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
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, l.Size-1, l.Size))
	}
	w.Header().Set("Content-Length", strconv.FormatInt(l.Size-from, 10))
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

// Bounds for operations on content whose descriptors or headers claim
// huge sizes: they fail within OversizeTime, allocating less than
// OversizeAlloc. The count is the whole process's: the client, the
// in-process registry, and what earlier tests leave running (tens of MiB
// under -race); a buffer sized by a claim (512 MiB and up) exceeds it.
const (
	OversizeTime  = 5 * time.Second
	OversizeAlloc = 256 << 20
)

// OversizeClaims are the sizes the tests claim: one that no allocation
// could satisfy, one past any int64 arithmetic, and one that a careless
// preallocation would satisfy, visibly.
var OversizeClaims = []int64{1 << 50, 1<<63 - 1, 512 << 20}

// Bounded runs op and fails t unless it returns an error within
// OversizeTime, allocating less than OversizeAlloc: a size claimed by a
// descriptor or header must never size an allocation or a wait. It returns
// op's error.
func Bounded(t testing.TB, what string, op func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 4*OversizeTime)
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
	case took > OversizeTime:
		t.Errorf("%s: failed after %v, want within %v: %v", what, took, OversizeTime, err)
	case alloc > OversizeAlloc:
		t.Errorf("%s: allocated %d MiB, want under %d MiB", what, alloc>>20, OversizeAlloc>>20)
	default:
		t.Logf("%s: %v, %d KiB allocated: %v", what, took.Round(time.Millisecond), alloc>>10, err)
	}
	return err
}
