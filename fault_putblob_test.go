package acr_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestPutBlobResumesAfterCut cuts the connection once while PutBlob
// streams a blob from a seekable source (a file, an OCI layout's blob), at
// 10, 50 and 90 percent, many times over: PutBlob resumes from the
// registry's offset and stores exactly the blob. (net/http may still read
// the broken request's body after Do returns, and the registry may still
// be appending what arrived of it when asked for its offset: both must be
// waited out before the source is moved.)
func TestPutBlobResumesAfterCut(t *testing.T) {
	const rounds = 8
	data := randomBytes(6*mib + 7)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	// The content starts 6 bytes into its reader, as a blob inside a
	// larger file would: a resume seeks from there. A file goes out with
	// sendfile (see fileBody), which cannot be revoked mid-send.
	withHeader := append([]byte("header"), data...)
	sources := map[string]func(t *testing.T) io.ReadSeeker{
		"reader": func(t *testing.T) io.ReadSeeker { return bytes.NewReader(withHeader) },
		"file":   func(t *testing.T) io.ReadSeeker { return openTempFile(t, withHeader).(io.ReadSeeker) },
	}
	for _, at := range cutPoints {
		for name, open := range sources {
			t.Run(fmt.Sprintf("%s/%.0f%%", name, at*100), func(t *testing.T) {
				for i := range rounds {
					putAfterCut(t, i, at, open(t), desc, data)
				}
			})
		}
	}
}

// putAfterCut is one round of TestPutBlobResumesAfterCut: src holds the
// content from byte 6, and the connection is cut at share at of it.
func putAfterCut(t *testing.T, i int, at float64, src io.ReadSeeker, desc ocispec.Descriptor, data []byte) {
	t.Helper()
	srv := acrtest.NewServer(t, nil)
	proxy := faulttest.NewProxy(t, srv.Host)
	client, _ := acr.NewClient(proxy.URL, nil, nil)
	proxy.CutAfter(faulttest.Upstream, int64(float64(len(data))*at), true)
	src.Seek(6, io.SeekStart)
	if err := putBlob(t.Context(), client, "put", desc, src); err != nil {
		t.Fatalf("round %d: PutBlob: %v", i, err)
	}
	if n := proxy.Cuts(); n != 1 {
		t.Fatalf("round %d: the proxy cut %d connections, want 1", i, n)
	}
	assertStored(t, srv, "put", desc.Digest, data)
}
