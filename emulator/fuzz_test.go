package emulator_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// FuzzManifestPut sends arbitrary manifest bodies and media types: the
// registry must answer with 201 or a 4xx, never a 5xx or a panic.
func FuzzManifestPut(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`), "application/vnd.oci.image.index.v1+json")
	f.Add([]byte(`{"schemaVersion":2,"config":{"digest":"sha256:x","size":-1},"layers":[{"urls":["x"]}]}`), "")
	f.Add([]byte(`{"subject":{"digest":"sha512:00"}}`), "application/vnd.example+json")
	f.Add([]byte(`[]`), "application/vnd.oci.image.manifest.v1+json")
	srv, err := emulator.New(nil)
	if err != nil {
		f.Fatal(err)
	}
	defer srv.Close()
	f.Fuzz(func(t *testing.T, body []byte, mediaType string) {
		req := httptest.NewRequest(http.MethodPut, "/v2/fuzz/manifests/latest", bytes.NewReader(body))
		req.Header.Set("Content-Type", mediaType)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body)
		}
	})
}
