package acr_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// seeder pushes content over the raw wire protocol, independently of the
// client under test, so that tests of reads do not depend on its writes.
type seeder struct {
	t    testingTB
	base string
	user string
	pass string
	hc   *http.Client // nil: http.DefaultClient
}

// testingTB is the part of testing.TB the seeder uses.
type testingTB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func newSeeder(t testing.TB, srv *acrtest.Server, user, pass string) *seeder {
	return &seeder{t: t, base: srv.URL, user: user, pass: pass, hc: srv.HTTP.Client()}
}

func (s *seeder) do(method, path string, body []byte, hdr ...string) *http.Response {
	s.t.Helper()
	req, err := http.NewRequest(method, s.base+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if s.user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(s.user+":"+s.pass)))
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	hc := s.hc
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func (s *seeder) blob(repo string, data []byte) digest.Digest {
	s.t.Helper()
	d := digest.FromBytes(data)
	if r := s.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data); r.StatusCode != http.StatusCreated {
		s.t.Fatalf("seed blob: status %d", r.StatusCode)
	}
	return d
}

// image pushes a small image for platform arch under the given tags and
// returns its digest.
func (s *seeder) image(repo, arch, seed string, tags ...string) digest.Digest {
	s.t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":%q,"os":"linux","seed":%q}`, arch, seed))
	layer := []byte("layer " + seed)
	cd, ld := s.blob(repo, cfg), s.blob(repo, layer)
	m := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		cd, len(cfg), ld, len(layer)))
	d := digest.FromBytes(m)
	refs := append([]string{d.String()}, tags...)
	for _, ref := range refs {
		if r := s.do("PUT", "/v2/"+repo+"/manifests/"+ref, m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"); r.StatusCode != http.StatusCreated {
			s.t.Fatalf("seed manifest %s: status %d", ref, r.StatusCode)
		}
	}
	return d
}
