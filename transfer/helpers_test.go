package transfer_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

const mib = 1 << 20

// cutPoints are where the fault tests break a copy, as a share of it.
var cutPoints = []float64{0.10, 0.50, 0.90}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// assertStored checks, past any proxy and the client under test, that the
// registry holds data under d in repo.
func assertStored(t *testing.T, srv *acrtest.Server, repo string, d digest.Digest, data []byte) {
	t.Helper()
	resp, err := http.Get(srv.URL + "/v2/" + repo + "/blobs/" + d.String())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, data) {
		t.Fatalf("the registry holds %d bytes (status %d, %v) under %s, want the %d copied", len(got), resp.StatusCode, err, d, len(data))
	}
}

// assertHeld checks that repo holds data under d, read back through client
// (which verifies the digest).
func assertHeld(t *testing.T, client *acr.Client, repo string, d digest.Digest, data []byte) {
	t.Helper()
	rc, err := client.DownloadBlob(t.Context(), repo, d, nil)
	if err != nil {
		t.Fatalf("download %s: %v", d, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the registry holds %d bytes under %s (%v), want the %d copied", len(got), d, err, len(data))
	}
}
