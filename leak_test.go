package acr_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
)

// TestNoLeaksAfterFaults runs uploads and downloads through connections cut
// at several points, lets them finish or fail, and checks that no goroutine
// or file descriptor outlives them.
func TestNoLeaksAfterFaults(t *testing.T) {
	faulttest.NoLeaks(t, func() {
		srv := acrtest.NewServer(t, nil)
		proxy := faulttest.NewProxy(t, srv.Host)
		defer proxy.Close()
		tr := http.DefaultTransport.(*http.Transport).Clone()
		defer tr.CloseIdleConnections()
		client, err := acr.NewClient(proxy.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		data := randomBytes(10 * mib) // above asyncHashMin: the download hashes in a goroutine
		for i, at := range cutPoints {
			proxy.CutAfter(faulttest.Upstream, int64(float64(len(data))*at), true)
			desc, err := client.UploadBlob(t.Context(), "leak", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: 2 * mib})
			if err != nil {
				t.Fatalf("upload %d: %v", i, err)
			}
			proxy.CutAfter(faulttest.Downstream, int64(float64(len(data))*at), true)
			rc, err := client.DownloadBlob(t.Context(), "leak", desc.Digest, nil)
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				// A reader abandoned midway must release everything on Close.
				io.CopyN(io.Discard, rc, mib)
			} else if _, err := io.Copy(io.Discard, rc); err != nil {
				t.Fatalf("download %d: %v", i, err)
			}
			rc.Close()
		}
		tr.CloseIdleConnections()
		// The test server's cleanup runs at the end of the test, after
		// the check: everything of the client, the proxy and its
		// connections must be gone once this returns.
		srv.HTTP.Close()
	})
}
