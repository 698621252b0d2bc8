package emulator_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// TestHostileInput sends malformed requests and checks each gets a clear
// 4xx with the right code and changes nothing.
func TestHostileInput(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{MaxManifestSize: 64 << 10})
	im := c.pushImage("good", "v1", "base")
	data := []byte("some content")
	good := digest.FromBytes(data)
	wrong := digest.FromString("something else")
	mt := "application/vnd.oci.image.manifest.v1+json"

	tests := []struct {
		name   string
		method string
		path   string
		body   []byte
		hdr    []string
		status int
		code   string
	}{
		{"bad digest on monolithic upload", "POST", "/v2/good/blobs/uploads/?digest=sha256:zz", data, nil, 400, "DIGEST_INVALID"},
		{"unsupported algorithm", "POST", "/v2/good/blobs/uploads/?digest=md5:" + strings.Repeat("a", 32), data, nil, 400, "DIGEST_INVALID"},
		{"digest does not match content", "POST", "/v2/good/blobs/uploads/?digest=" + wrong.String(), data, nil, 400, "DIGEST_INVALID"},
		{"uppercase name", "GET", "/v2/Bad/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"dot-dot name", "GET", "/v2/a/../b/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"escaped dot-dot name", "GET", "/v2/a%2F..%2Fb/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"name too long", "GET", "/v2/" + strings.Repeat("a", 300) + "/tags/list", nil, nil, 400, "NAME_INVALID"},
		{"invalid tag", "PUT", "/v2/good/manifests/-bad", im.manifest, []string{"Content-Type", mt}, 400, "TAG_INVALID"},
		{"manifest digest mismatch", "PUT", "/v2/good/manifests/" + wrong.String(), im.manifest, []string{"Content-Type", mt}, 400, "DIGEST_INVALID"},
		{"malformed JSON manifest", "PUT", "/v2/good/manifests/x", []byte(`{"schemaVersion":2,`), []string{"Content-Type", mt}, 400, "MANIFEST_INVALID"},
		{"oversize manifest", "PUT", "/v2/good/manifests/big", bytes.Repeat([]byte(" "), 65<<10), []string{"Content-Type", mt}, 413, "SIZE_INVALID"},
		{"manifest references missing blob", "PUT", "/v2/good/manifests/missing",
			[]byte(`{"schemaVersion":2,"mediaType":"` + mt + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + wrong.String() + `","size":3},"layers":[]}`),
			[]string{"Content-Type", mt}, 400, "MANIFEST_BLOB_UNKNOWN"},
		{"descriptor size lies", "PUT", "/v2/good/manifests/lies",
			[]byte(`{"schemaVersion":2,"mediaType":"` + mt + `","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + im.config.String() + `","size":999999},"layers":[]}`),
			[]string{"Content-Type", mt}, 400, "MANIFEST_INVALID"},
		{"schema 1", "PUT", "/v2/good/manifests/s1", []byte(`{"schemaVersion":1}`), []string{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}, 400, "MANIFEST_INVALID"},
		{"unknown upload session", "PATCH", "/v2/good/blobs/uploads/nope", data, nil, 404, "BLOB_UPLOAD_UNKNOWN"},
		{"blob in another repository", "GET", "/v2/other/blobs/" + im.layer.String(), nil, nil, 404, "NAME_UNKNOWN"},
		{"unknown manifest", "GET", "/v2/good/manifests/nope", nil, nil, 404, "MANIFEST_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.do(tt.method, tt.path, tt.body, tt.hdr...)
			if r.StatusCode != tt.status || r.errorCode() != tt.code {
				t.Fatalf("got %d %s, want %d %s; body %s", r.StatusCode, r.errorCode(), tt.status, tt.code, r.body)
			}
			if b := decode[struct{ Errors []struct{ Message string } }](t, r); len(b.Errors) == 0 || b.Errors[0].Message == "" {
				t.Fatalf("error body without a message: %s", r.body)
			}
		})
	}
	// Nothing changed: only the good repository with one tag, and no blob
	// stored under the wrong digest.
	cat := decode[struct{ Repositories []string }](t, c.do("GET", "/v2/_catalog", nil).want(t, http.StatusOK))
	if len(cat.Repositories) != 1 || cat.Repositories[0] != "good" {
		t.Fatalf("got repositories %v, want [good]", cat.Repositories)
	}
	tags := decode[struct{ Tags []string }](t, c.do("GET", "/v2/good/tags/list", nil).want(t, http.StatusOK))
	if len(tags.Tags) != 1 {
		t.Fatalf("got tags %v, want [v1]", tags.Tags)
	}
	if _, err := srv.Registry.Store().StatBlob(t.Context(), wrong); err == nil {
		t.Fatal("a blob is stored under a digest its content does not have")
	}
	c.do("HEAD", "/v2/good/blobs/"+good.String(), nil).want(t, http.StatusNotFound)
}

// TestOutOfOrderChunk checks that a chunk at the wrong offset gets 416 with
// the session's Range, and that the session stays usable.
func TestOutOfOrderChunk(t *testing.T) {
	c, _ := newClient(t, nil)
	data := []byte("0123456789abcdef")
	loc := c.do("POST", "/v2/o/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	loc = c.do("PATCH", loc, data[:8], "Content-Range", "0-7").want(t, http.StatusAccepted).Header.Get("Location")
	r := c.do("PATCH", loc, data[10:], "Content-Range", "10-15").want(t, http.StatusRequestedRangeNotSatisfiable)
	if r.Header.Get("Range") != "0-7" {
		t.Fatalf("416: got Range %q, want 0-7", r.Header.Get("Range"))
	}
	c.do("PATCH", loc, data[0:4], "Content-Range", "0-3").want(t, http.StatusRequestedRangeNotSatisfiable)
	c.do("PATCH", loc, data[8:], "Content-Range", "8-10").want(t, http.StatusBadRequest)
	loc = c.do("GET", loc, nil).want(t, http.StatusNoContent).Header.Get("Location")
	loc = c.do("PATCH", loc, data[8:], "Content-Range", "8-15").want(t, http.StatusAccepted).Header.Get("Location")
	// A wrong digest at completion stores nothing.
	bad := digest.FromString("x")
	c.do("PUT", loc+"&digest="+bad.String(), nil).want(t, http.StatusBadRequest)
	c.do("HEAD", "/v2/o/blobs/"+bad.String(), nil).want(t, http.StatusNotFound)
	c.do("HEAD", "/v2/o/blobs/"+digest.FromBytes(data).String(), nil).want(t, http.StatusNotFound)
}

// TestUploadSessionLimit checks that the server caps open sessions.
func TestUploadSessionLimit(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{MaxUploadSessions: 2})
	c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusAccepted)
	loc := c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	r := c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	c.do("DELETE", loc, nil).want(t, http.StatusNoContent)
	c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusAccepted)
}
