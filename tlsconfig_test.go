package acr_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// TestTLSConfig: a client given ClientOptions.TLSConfig with the private
// certificate of a TLS registry (the local registry, as acrctl's --ca-file
// gives it) uploads and downloads through it, also when named by its bare
// loopback host; without it the same client is refused by certificate
// verification; and TLSConfig with HTTPClient is refused at construction,
// naming both.
func TestTLSConfig(t *testing.T) {
	srv := acrtest.NewTLSServer(t, nil)
	pool := x509.NewCertPool()
	pool.AddCert(srv.HTTP.Certificate())
	client, err := acr.NewClient("https://"+srv.Host, nil, &acr.ClientOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	blob := bytes.Repeat([]byte("tls"), 100_000)
	desc, err := client.UploadBlob(t.Context(), "app", bytes.NewReader(blob), nil)
	if err != nil {
		t.Fatalf("upload over TLS with the registry's certificate: %v", err)
	}
	rc, err := client.DownloadBlob(t.Context(), "app", desc.Digest, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("download: %d bytes, %v; want the %d uploaded", len(got), err, len(blob))
	}

	// A bare loopback host means https when TLS is configured (plain http
	// otherwise).
	bare, err := acr.NewClient(srv.Host, nil, &acr.ClientOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := bare.BlobExists(t.Context(), "app", desc.Digest); err != nil || !ok {
		t.Fatalf("the bare host %s with TLSConfig: found %v, %v", srv.Host, ok, err)
	}

	plain, err := acr.NewClient("https://"+srv.Host, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = plain.GetRepositoryProperties(t.Context(), "app")
	if _, ok := errors.AsType[x509.UnknownAuthorityError](err); !ok {
		t.Fatalf("without TLSConfig: %v, want x509.UnknownAuthorityError", err)
	}

	_, err = acr.NewClient("https://"+srv.Host, nil, &acr.ClientOptions{TLSConfig: &tls.Config{RootCAs: pool}, HTTPClient: &http.Client{}})
	if err == nil || !strings.Contains(err.Error(), "both HTTPClient and TLSConfig") {
		t.Fatalf("HTTPClient with TLSConfig: %v, want a refusal naming both", err)
	}
}
