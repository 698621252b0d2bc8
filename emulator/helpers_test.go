package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// client is a minimal raw HTTP client for exercising the wire protocol.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
	auth string // Authorization header value, if any
}

func newClient(t *testing.T, opts *emulator.Options) (*client, *acrtest.Server) {
	t.Helper()
	srv := acrtest.NewServer(t, opts)
	return &client{t: t, base: srv.URL, hc: srv.HTTP.Client()}, srv
}

// acceptAll is the Accept header of a client that reads every manifest
// type, as the library, oras and crane send one. A manifest GET or HEAD
// that names no manifest type gets no OCI manifest or index, as on ACR
// and distribution (see negotiate), so every test that reads manifests
// sends this or a narrower list.
var acceptAll = []string{"Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"}

type response struct {
	*http.Response
	body []byte
}

func (r response) errorCode() string {
	var b struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(r.body, &b) != nil || len(b.Errors) == 0 {
		return ""
	}
	return b.Errors[0].Code
}

func (c *client) do(method, path string, body []byte, hdr ...string) response {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	url := path
	if !strings.HasPrefix(path, "http") {
		url = c.base + path
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, url, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{resp, b}
}

// want fails the test unless the response has the status.
func (r response) want(t *testing.T, status int) response {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: got status %d, want %d; body: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.body)
	}
	return r
}

// pushBlob uploads data monolithically and returns its digest.
func (c *client) pushBlob(repo string, data []byte) digest.Digest {
	c.t.Helper()
	d := digest.FromBytes(data)
	c.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data).want(c.t, http.StatusCreated)
	return d
}

// image is a minimal pushed image.
type image struct {
	config, layer digest.Digest
	manifest      []byte
	digest        digest.Digest
}

// pushImage pushes a config, one layer and a manifest under ref.
func (c *client) pushImage(repo, ref, seed string) image {
	c.t.Helper()
	cfg := []byte(`{"architecture":"amd64","os":"linux","seed":"` + seed + `"}`)
	layer := []byte("layer " + seed)
	im := image{config: c.pushBlob(repo, cfg), layer: c.pushBlob(repo, layer)}
	im.manifest = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + im.config.String() + `","size":` + itoa(len(cfg)) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + im.layer.String() + `","size":` + itoa(len(layer)) + `}]}`)
	im.digest = digest.FromBytes(im.manifest)
	c.do("PUT", "/v2/"+repo+"/manifests/"+ref, im.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(c.t, http.StatusCreated)
	return im
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func decode[T any](t *testing.T, r response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
	return v
}
