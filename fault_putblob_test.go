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
	for _, at := range cutPoints {
		t.Run(fmt.Sprintf("%.0f%%", at*100), func(t *testing.T) {
			for i := range rounds {
				srv := acrtest.NewServer(t, nil)
				proxy := faulttest.NewProxy(t, srv.Host)
				client, _ := acr.NewClient(proxy.URL, nil, nil)
				proxy.CutAfter(faulttest.Upstream, int64(float64(len(data))*at), true)
				// The content starts 6 bytes into its reader, as a blob
				// inside a larger file would: a resume seeks from there.
				src := bytes.NewReader(append([]byte("header"), data...))
				src.Seek(6, io.SeekStart)
				if err := putBlob(t.Context(), client, "put", desc, src); err != nil {
					t.Fatalf("round %d: PutBlob: %v", i, err)
				}
				if n := proxy.Cuts(); n != 1 {
					t.Fatalf("round %d: the proxy cut %d connections, want 1", i, n)
				}
				assertStored(t, srv, "put", desc.Digest, data)
			}
		})
	}
}
