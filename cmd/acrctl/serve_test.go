package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr"
)

// TestServeRedirectsBlobsToStorage runs `acrctl serve --storage-addr` and
// checks, through the library, that blob downloads are redirected to the
// storage listener, succeed there without the registry's credentials, and
// are refused when the credentials come along.
func TestServeRedirectsBlobsToStorage(t *testing.T) {
	bin := buildAcrctl(t)
	_, base := startServe(t, bin, "--memory", "--user", "admin:s3cret", "--storage-addr", "127.0.0.1:0")
	client, err := acr.NewClient(strings.TrimPrefix(base, "http://"), acr.BasicCredential("admin", "s3cret"), nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 3<<20)
	rand.Read(data)
	desc, err := client.UploadBlob(t.Context(), "app", bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := client.DownloadBlob(t.Context(), "app", desc.Digest)
	if err != nil {
		t.Fatalf("download through the redirect: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("downloaded %d bytes (%v), want the %d uploaded", len(got), err, len(data))
	}

	// By hand: the registry redirects to another port, which refuses the
	// registry's credentials.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v2/app/blobs/"+desc.Digest.String(), nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, "http://127.0.0.1:") || strings.HasPrefix(loc, base) {
		t.Fatalf("GET blob: %d to %q, want 307 to the storage listener", resp.StatusCode, loc)
	}
	req, _ = http.NewRequestWithContext(t.Context(), http.MethodGet, loc, nil)
	req.SetBasicAuth("admin", "s3cret")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("storage answered %d to a request with the registry's credentials, want 403", resp.StatusCode)
	}
}

// TestServeStorageAddrNeedsReachableHost: redirects name the storage
// address, so a wildcard or empty host is refused.
func TestServeStorageAddrNeedsReachableHost(t *testing.T) {
	for _, addr := range []string{":5001", "0.0.0.0:5001", "[::]:5001", "5001"} {
		acrctl(t, "", "serve", "--memory", "--addr", "127.0.0.1:0", "--storage-addr", addr).fails(t, 2, "--storage-addr", "clients can reach")
	}
}
