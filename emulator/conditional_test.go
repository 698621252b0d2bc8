package emulator_test

import (
	"net/http"
	"testing"

	"github.com/acrgo/acr/acrtest"
)

// ifNoneMatchCases are the If-None-Match headers the conditional tests
// send, by what they name: the manifest's own digest quoted (the ETag the
// registry sends), unquoted, another manifest's, and "*".
func ifNoneMatchCases(own, other string) map[string]string {
	return map[string]string{
		"own, quoted":   `"` + own + `"`,
		"own, unquoted": own,
		"another":       `"` + other + `"`,
		"*":             "*",
	}
}

// TestManifestIfNoneMatch: a manifest GET or HEAD whose If-None-Match names
// the manifest the reference resolves to, quoted or not, is 304 Not
// Modified with its ETag and no body, whatever the Accept header says (the
// check comes first, as in distribution); any other value is answered as
// without it. A blob GET with its ETag is 304 as well.
func TestManifestIfNoneMatch(t *testing.T) {
	c, _ := newClient(t, nil)
	fixtures := pushAcceptFixtures(c)
	oci, index := fixtures["oci-manifest"], fixtures["oci-index"]
	if oci == nil || index == nil {
		t.Fatalf("fixtures: got %v, want oci-manifest and oci-index among them", fixtures)
	}
	for _, ref := range []string{oci.name, oci.digest.String()} {
		for _, method := range []string{"GET", "HEAD"} {
			for what, inm := range ifNoneMatchCases(oci.digest.String(), index.digest.String()) {
				r := c.do(method, "/v2/"+acceptRepo+"/manifests/"+ref, nil, append([]string{"If-None-Match", inm}, acceptAll...)...)
				own := what == "own, quoted" || what == "own, unquoted"
				switch {
				case own && (r.StatusCode != http.StatusNotModified || len(r.body) != 0 || r.Header.Get("Etag") != `"`+oci.digest.String()+`"`):
					t.Errorf("%s %s, If-None-Match %s: got %d, ETag %q, %d body bytes; want 304 with the ETag and no body",
						method, ref, what, r.StatusCode, r.Header.Get("Etag"), len(r.body))
				case !own && (r.StatusCode != http.StatusOK || r.Header.Get("Docker-Content-Digest") != oci.digest.String()):
					t.Errorf("%s %s, If-None-Match %s: got %d %s; want 200 and the manifest", method, ref, what, r.StatusCode, r.body)
				}
			}
		}
	}
	// Blobs too (http.ServeContent answers it).
	b := c.pushBlob("inm/blob", []byte("conditional"))
	if r := c.do("GET", "/v2/inm/blob/blobs/"+b.String(), nil, "If-None-Match", `"`+b.String()+`"`); r.StatusCode != http.StatusNotModified || len(r.body) != 0 {
		t.Errorf("blob GET with its ETag in If-None-Match: got %d, %d body bytes; want 304 and no body", r.StatusCode, len(r.body))
	}
	// Before negotiation: an Accept that would refuse the manifest.
	r := c.do("GET", "/v2/"+acceptRepo+"/manifests/"+oci.name, nil, "If-None-Match", `"`+oci.digest.String()+`"`)
	if r.StatusCode != http.StatusNotModified {
		t.Errorf("GET with a matching If-None-Match and no Accept: got %d %s, want 304", r.StatusCode, r.body)
	}
}

// TestReferenceRegistryIfNoneMatch compares the emulator's answers to
// conditional manifest requests with distribution v3.1.2's, for every
// Accept fixture by tag and by digest, GET and HEAD, with each
// If-None-Match case, with every manifest type accepted and, for the
// matching cases, with no Accept header.
func TestReferenceRegistryIfNoneMatch(t *testing.T) {
	ref := acrtest.ReferenceRegistry(t)
	emu, _ := newClient(t, nil)
	dist := referenceClient(t, ref)
	fixtures := pushAcceptFixtures(emu)
	pushAcceptFixtures(dist)
	other := fixtures["oci-manifest"].digest.String()
	compared := 0
	for _, f := range fixtures {
		if f.digest.String() == other {
			other = fixtures["oci-index"].digest.String()
		}
		for _, r := range []string{f.name, f.digest.String()} {
			for _, method := range []string{"GET", "HEAD"} {
				for what, inm := range ifNoneMatchCases(f.digest.String(), other) {
					accepts := [][]string{acceptAll}
					if what == "own, quoted" || what == "own, unquoted" {
						accepts = append(accepts, nil)
					}
					for _, accept := range accepts {
						hdr := append([]string{"If-None-Match", inm}, accept...)
						path := "/v2/" + acceptRepo + "/manifests/" + r
						e, d := emu.do(method, path, nil, hdr...), dist.do(method, path, nil, hdr...)
						compared++
						if diff := compareManifestAnswers(e, d, method); diff != "" {
							t.Errorf("%s %s:%s, If-None-Match %s, %d Accept lines: %s", method, f.name, r, what, len(accept)/2, diff)
						}
					}
				}
			}
		}
		other = fixtures["oci-manifest"].digest.String()
	}
	t.Logf("%d requests compared", compared)
	if compared == 0 {
		t.Fatalf("no fixtures: %v", fixtures)
	}
}
