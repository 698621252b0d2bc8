package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// The tests in this file check manifest GET and HEAD against the Accept
// header (negotiate in manifests.go): the emulator on its own, and beside
// the reference registry (distribution v3.1.2) on the same requests.

const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
)

// acceptFixture is one manifest pushed for the Accept tests.
type acceptFixture struct {
	name      string // also its tag
	mediaType string
	body      []byte
	digest    digest.Digest
	// child is what a client gets by tag when it does not accept lists:
	// the list's linux/amd64 image, if any.
	child *acceptFixture
}

// acceptRepo is the repository that holds the fixtures on both servers.
const acceptRepo = "accept/matrix"

// pushAcceptFixtures pushes, through c, the manifests the Accept tests
// read: an OCI image manifest, an OCI index, a Docker v2 manifest, and
// three Docker manifest lists (with a Docker v2 linux/amd64 image, with
// no linux/amd64 image, and with an OCI manifest as its linux/amd64
// image), each tagged with its name. It uses only the OCI distribution
// API, so it works against any registry.
func pushAcceptFixtures(c *client) map[string]*acceptFixture {
	c.t.Helper()
	blob := func(data string) (digest.Digest, int) {
		d := digest.FromString(data)
		r := c.do("POST", "/v2/"+acceptRepo+"/blobs/uploads/", nil).want(c.t, http.StatusAccepted)
		loc, err := url.Parse(r.Header.Get("Location"))
		if err != nil {
			c.t.Fatalf("upload Location %q: %v", r.Header.Get("Location"), err)
		}
		q := loc.Query()
		q.Set("digest", d.String())
		loc.RawQuery = q.Encode()
		c.do("PUT", r.Request.URL.ResolveReference(loc).String(), []byte(data), "Content-Type", "application/octet-stream").want(c.t, http.StatusCreated)
		return d, len(data)
	}
	put := func(name, mediaType, body string, tagged bool) *acceptFixture {
		f := &acceptFixture{name: name, mediaType: mediaType, body: []byte(body), digest: digest.FromString(body)}
		ref := f.digest.String()
		if tagged {
			ref = name
		}
		c.do("PUT", "/v2/"+acceptRepo+"/manifests/"+ref, f.body, "Content-Type", mediaType).want(c.t, http.StatusCreated)
		return f
	}
	desc := func(mediaType string, d digest.Digest, size int, platform string) string {
		s := fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d`, mediaType, d, size)
		if os, arch, ok := strings.Cut(platform, "/"); ok {
			s += fmt.Sprintf(`,"platform":{"architecture":%q,"os":%q}`, arch, os)
		}
		return s + "}"
	}
	image := func(name, mediaType, configType, layerType, arch string, tagged bool) *acceptFixture {
		cd, cn := blob(`{"architecture":"` + arch + `","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		ld, ln := blob("layer of " + name)
		return put(name, mediaType, `{"schemaVersion":2,"mediaType":"`+mediaType+`","config":`+desc(configType, cd, cn, "")+
			`,"layers":[`+desc(layerType, ld, ln, "")+`]}`, tagged)
	}
	list := func(name, mediaType string, children map[string]*acceptFixture) *acceptFixture {
		var ds []string
		for _, p := range []string{"linux/arm64", "linux/amd64"} {
			if ch := children[p]; ch != nil {
				ds = append(ds, desc(ch.mediaType, ch.digest, len(ch.body), p))
			}
		}
		f := put(name, mediaType, `{"schemaVersion":2,"mediaType":"`+mediaType+`","manifests":[`+strings.Join(ds, ",")+`]}`, true)
		f.child = children["linux/amd64"]
		return f
	}
	const (
		ociConfig    = "application/vnd.oci.image.config.v1+json"
		ociLayer     = "application/vnd.oci.image.layer.v1.tar+gzip"
		dockerConfig = "application/vnd.docker.container.image.v1+json"
		dockerLayer  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	)
	ociImage := image("oci-manifest", mtOCIManifest, ociConfig, ociLayer, "amd64", true)
	dockerImage := image("docker-manifest", mtDockerManifest, dockerConfig, dockerLayer, "amd64", true)
	dockerArm := image("docker-arm64", mtDockerManifest, dockerConfig, dockerLayer, "arm64", false)
	fs := []*acceptFixture{
		ociImage, dockerImage,
		list("oci-index", mtOCIIndex, map[string]*acceptFixture{"linux/amd64": ociImage}),
		list("docker-list", mtDockerList, map[string]*acceptFixture{"linux/arm64": dockerArm, "linux/amd64": dockerImage}),
		list("docker-list-arm64", mtDockerList, map[string]*acceptFixture{"linux/arm64": dockerArm}),
		list("docker-list-oci", mtDockerList, map[string]*acceptFixture{"linux/amd64": ociImage}),
	}
	m := map[string]*acceptFixture{}
	for _, f := range fs {
		m[f.name] = f
	}
	return m
}

// acceptCases are the Accept headers of the matrix: none, the ones that
// name no manifest type, each type alone, what Microsoft's clients and
// ours send, and parsing corners (parameters, case, several header lines,
// a malformed entry, which distribution skips).
var acceptCases = []struct {
	name  string
	lines []string // one Accept header line each
}{
	{"no Accept", nil},
	{"*/*", []string{"*/*"}},
	{"application/json", []string{"application/json"}},
	{"OCI manifest", []string{mtOCIManifest}},
	{"OCI index", []string{mtOCIIndex}},
	{"Docker v2", []string{mtDockerManifest}},
	{"Docker list", []string{mtDockerList}},
	{"every type (this library, oras, crane)", []string{acceptAll[1]}},
	{"Go SDK GetManifest with Accept v2 (two lines)", []string{"application/json", mtDockerManifest}},
	{"Go SDK GetManifest with Accept index (two lines)", []string{"application/json", mtOCIIndex}},
	{"JavaScript SDK getManifest", []string{mtOCIManifest + ", " + mtDockerManifest + ", " + mtOCIIndex + ", " + mtDockerList + ", application/vnd.docker.container.image.v1+json"}},
	{".NET SDK GetManifest", []string{"*/*, " + mtDockerManifest + ", " + mtDockerList + ", application/vnd.docker.container.image.v1+json, " + mtOCIManifest + ", " + mtOCIIndex + ", application/vnd.cncf.oras.artifact.manifest.v1+json"}},
	{"az acr manifest show (2.45)", []string{"*/*, application/vnd.oci.artifact.manifest.v1+json, application/vnd.cncf.oras.artifact.manifest.v1+json, " + mtOCIManifest}},
	{"q values and upper case", []string{"Application/VND.OCI.Image.Manifest.v1+JSON;q=0.9, " + mtDockerManifest + " ; q=0.1"}},
	{"lists on two lines", []string{mtOCIIndex, mtDockerList}},
	{"a malformed entry is skipped", []string{mtOCIManifest + ";=, , " + mtOCIIndex}},
}

func acceptHeader(lines []string) []string {
	var h []string
	for _, l := range lines {
		h = append(h, "Accept", l)
	}
	return h
}

// errorCodeMessage returns the first error's code and message of an OCI
// error body, or empty strings.
func errorCodeMessage(r response) (code, message string) {
	var b errorBody
	if err := json.Unmarshal(r.body, &b); err != nil || len(b.Errors) == 0 {
		return "", ""
	}
	return b.Errors[0].Code, b.Errors[0].Message
}

// TestAcceptNegotiation checks what the emulator answers to a manifest GET
// or HEAD whose Accept header names no manifest type (none, */*,
// application/json): OCI manifests and indexes are refused, as ACR and
// distribution refuse them, a Docker manifest list by tag resolves to its
// linux/amd64 image, which the client then does not accept either, and the
// rest is served as stored. A client that accepts every type gets every
// manifest as stored.
func TestAcceptNegotiation(t *testing.T) {
	c, _ := newClient(t, nil)
	fs := pushAcceptFixtures(c)
	type want struct {
		status        int
		code, message string
		served        *acceptFixture
	}
	refuseOCI := want{http.StatusNotFound, "MANIFEST_UNKNOWN", "OCI manifest found, but accept header does not support OCI manifests", nil}
	refuseIndex := want{http.StatusNotFound, "MANIFEST_UNKNOWN", "OCI index found, but accept header does not support OCI indexes", nil}
	noV2 := want{http.StatusBadRequest, "MANIFEST_INVALID", "Schema 2 manifest not supported by client", nil}
	noAmd64 := want{http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown", nil}
	served := func(f *acceptFixture) want { return want{status: http.StatusOK, served: f} }
	cases := []struct {
		fixture      string
		byTag, byDig want
	}{
		{"oci-manifest", refuseOCI, refuseOCI},
		{"oci-index", refuseIndex, refuseIndex},
		{"docker-manifest", served(fs["docker-manifest"]), served(fs["docker-manifest"])},
		{"docker-list", noV2, served(fs["docker-list"])},
		{"docker-list-arm64", noAmd64, served(fs["docker-list-arm64"])},
		{"docker-list-oci", served(fs["oci-manifest"]), served(fs["docker-list-oci"])},
	}
	for _, accept := range [][]string{nil, {"*/*"}, {"application/json"}, {"application/json", "text/plain;q=0.5, */*;q=0.1"}} {
		for _, tc := range cases {
			f := fs[tc.fixture]
			for _, ref := range []string{f.name, f.digest.String()} {
				w := tc.byTag
				if ref != f.name {
					w = tc.byDig
				}
				for _, method := range []string{"GET", "HEAD"} {
					what := fmt.Sprintf("%s %s:%s with Accept %q", method, tc.fixture, ref, accept)
					r := c.do(method, "/v2/"+acceptRepo+"/manifests/"+ref, nil, acceptHeader(accept)...)
					if r.StatusCode != w.status {
						t.Errorf("%s: got status %d, want %d; body %s", what, r.StatusCode, w.status, r.body)
						continue
					}
					if w.served != nil {
						if got := r.Header.Get("Content-Type") + " " + r.Header.Get("Docker-Content-Digest"); got != w.served.mediaType+" "+w.served.digest.String() {
							t.Errorf("%s: got %s, want %s %s", what, got, w.served.mediaType, w.served.digest)
						}
						if method == "GET" && string(r.body) != string(w.served.body) {
							t.Errorf("%s: got body %s, want %s", what, r.body, w.served.body)
						}
						continue
					}
					if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
						t.Errorf("%s: got Content-Type %q, want an application/json error", what, r.Header.Get("Content-Type"))
					}
					if method == "HEAD" {
						continue
					}
					if code, msg := errorCodeMessage(r); code != w.code || msg != w.message {
						t.Errorf("%s: got %s %q, want %s %q", what, code, msg, w.code, w.message)
					}
					// The detail says what to send instead.
					if _, _, detail := errorOf(t, r); !strings.Contains(detail, "Accept header") {
						t.Errorf("%s: detail %s does not say which Accept header to send", what, detail)
					}
				}
			}
		}
	}
	for _, f := range fs {
		for _, ref := range []string{f.name, f.digest.String()} {
			r := c.do("GET", "/v2/"+acceptRepo+"/manifests/"+ref, nil, acceptAll...).want(t, http.StatusOK)
			if r.Header.Get("Content-Type") != f.mediaType || r.Header.Get("Docker-Content-Digest") != f.digest.String() || string(r.body) != string(f.body) {
				t.Errorf("GET %s accepting every type: got %s %s, want %s %s as stored", ref, r.Header.Get("Content-Type"), r.Header.Get("Docker-Content-Digest"), f.mediaType, f.digest)
			}
		}
	}
}

// TestReferenceRegistryAcceptNegotiation sends the same manifest GETs and
// HEADs, for every Accept header of acceptCases, to the emulator and to
// the reference registry (distribution v3.1.2, started by
// .ci/reference.sh), for an OCI manifest, an OCI index, a Docker v2
// manifest and three Docker manifest lists, by tag and by digest, and
// compares the answers: status, Content-Type, Docker-Content-Digest,
// Content-Length, ETag and body when served; status, media type, error
// code and message when refused.
//
// Two differences are expected and checked as such. An OCI index the
// Accept header leaves out: distribution v3 serves it (its "OCI index
// found" refusal became unreachable when v3 gave indexes their own type),
// while ACR refuses it (Azure/azure-cli#25280, Azure/acr-cli#132), and the
// emulator follows ACR. And error bodies: ACR and the emulator send
// "application/json; charset=utf-8" (recordings), distribution
// "application/json"; so errors compare by media type.
// referenceClient is a client of the reference registry that .ci/reference.sh
// started, with its Basic credentials when it has them.
func referenceClient(t *testing.T, ref acrtest.Reference) *client {
	dist := &client{t: t, base: ref.URL, hc: &http.Client{}}
	if ref.User != "" {
		dist.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(ref.User+":"+ref.Password))
	}
	return dist
}

func TestReferenceRegistryAcceptNegotiation(t *testing.T) {
	ref := acrtest.ReferenceRegistry(t)
	emu, _ := newClient(t, nil)
	dist := referenceClient(t, ref)
	emuFixtures, distFixtures := pushAcceptFixtures(emu), pushAcceptFixtures(dist)
	for name, f := range emuFixtures {
		if distFixtures[name].digest != f.digest {
			t.Fatalf("fixture %s: digest %s on the emulator, %s on the reference", name, f.digest, distFixtures[name].digest)
		}
	}
	compared, divergent := 0, 0
	for _, accept := range acceptCases {
		for _, f := range emuFixtures {
			for _, r := range []string{f.name, f.digest.String()} {
				for _, method := range []string{"GET", "HEAD"} {
					what := fmt.Sprintf("%s %s:%s with Accept %s", method, f.name, r, accept.name)
					path := "/v2/" + acceptRepo + "/manifests/" + r
					e := emu.do(method, path, nil, acceptHeader(accept.lines)...)
					d := dist.do(method, path, nil, acceptHeader(accept.lines)...)
					compared++
					if f.mediaType == mtOCIIndex && !acceptsIndex(accept.lines) {
						divergent++
						if d.StatusCode != http.StatusOK || d.Header.Get("Docker-Content-Digest") != f.digest.String() {
							t.Errorf("%s: the reference answered %d %s, where distribution v3.1.2 serves the index; "+
								"if distribution now refuses it, compare these cases like the others", what, d.StatusCode, d.body)
						}
						if code, msg := errorCodeMessage(e); e.StatusCode != http.StatusNotFound ||
							method == "GET" && (code != "MANIFEST_UNKNOWN" || msg != "OCI index found, but accept header does not support OCI indexes") {
							t.Errorf("%s: the emulator answered %d %s, want ACR's 404 MANIFEST_UNKNOWN for an index not accepted", what, e.StatusCode, e.body)
						}
						continue
					}
					if diff := compareManifestAnswers(e, d, method); diff != "" {
						t.Errorf("%s: %s", what, diff)
					}
				}
			}
		}
	}
	t.Logf("%d requests compared; %d of them the expected OCI index difference", compared, divergent)
}

// acceptsIndex reports whether Accept header lines name the OCI index type
// as distribution parses them.
func acceptsIndex(lines []string) bool {
	for _, l := range lines {
		for t := range strings.SplitSeq(l, ",") {
			if mt, _, err := mime.ParseMediaType(t); err == nil && mt == mtOCIIndex {
				return true
			}
		}
	}
	return false
}

// compareManifestAnswers describes how the emulator's answer e differs from
// the reference's d, or returns "".
func compareManifestAnswers(e, d response, method string) string {
	var diffs []string
	differ := func(what, eg, dg string) {
		if eg != dg {
			diffs = append(diffs, fmt.Sprintf("%s: emulator %q, reference %q", what, eg, dg))
		}
	}
	differ("status", fmt.Sprint(e.StatusCode), fmt.Sprint(d.StatusCode))
	if e.StatusCode != d.StatusCode {
		return fmt.Sprintf("%s; bodies: emulator %s, reference %s", strings.Join(diffs, "; "), e.body, d.body)
	}
	if e.StatusCode == http.StatusOK {
		for _, h := range []string{"Content-Type", "Docker-Content-Digest", "Content-Length", "Etag"} {
			differ(h, e.Header.Get(h), d.Header.Get(h))
		}
		if method == "GET" {
			differ("body", string(e.body), string(d.body))
		}
		return strings.Join(diffs, "; ")
	}
	emt, _, _ := mime.ParseMediaType(e.Header.Get("Content-Type"))
	dmt, _, _ := mime.ParseMediaType(d.Header.Get("Content-Type"))
	differ("Content-Type media type", emt, dmt)
	if method == "GET" {
		ec, em := errorCodeMessage(e)
		dc, dm := errorCodeMessage(d)
		differ("error code", ec, dc)
		differ("error message", em, dm)
	}
	return strings.Join(diffs, "; ")
}

// TestAcceptArtifactManifest checks an OCI artifact manifest (the OCI 1.1
// release candidates' type, which ACR stores and distribution v3 refuses):
// a GET or HEAD whose Accept header does not name the type is 404
// MANIFEST_UNKNOWN "OCI artifact found, but accept header does not support
// OCI artifacts", by tag and by digest, as ACR answered crane
// (go-containerregistry#1697); one that names it gets it as stored, and
// the referrers of its subject list it.
func TestAcceptArtifactManifest(t *testing.T) {
	c, _ := newClient(t, nil)
	fs := pushAcceptFixtures(c)
	subject := fs["oci-manifest"]
	const mtArtifact = "application/vnd.oci.artifact.manifest.v1+json"
	blob := `{"scan":"clean"}`
	bd := digest.FromString(blob)
	c.do("POST", "/v2/"+acceptRepo+"/blobs/uploads/?digest="+bd.String(), []byte(blob), "Content-Type", "application/octet-stream").want(t, http.StatusCreated)
	body := fmt.Sprintf(`{"mediaType":%q,"artifactType":"application/vnd.example.scan","blobs":[{"mediaType":"application/json","digest":%q,"size":%d}],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`,
		mtArtifact, bd, len(blob), subject.mediaType, subject.digest, len(subject.body))
	d := digest.FromString(body)
	c.do("PUT", "/v2/"+acceptRepo+"/manifests/scan", []byte(body), "Content-Type", mtArtifact).want(t, http.StatusCreated)
	for _, tc := range acceptCases {
		for _, ref := range []string{"scan", d.String()} {
			for _, method := range []string{"GET", "HEAD"} {
				what := fmt.Sprintf("%s %s with %s", method, ref, tc.name)
				names := strings.Contains(strings.ToLower(strings.Join(tc.lines, ",")), mtArtifact)
				r := c.do(method, "/v2/"+acceptRepo+"/manifests/"+ref, nil, acceptHeader(tc.lines)...)
				if names {
					if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != mtArtifact || r.Header.Get("Docker-Content-Digest") != d.String() ||
						(method == "GET" && string(r.body) != body) {
						t.Errorf("%s: got %d %s %s, want 200 and the artifact as stored", what, r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Docker-Content-Digest"))
					}
					continue
				}
				if r.StatusCode != http.StatusNotFound {
					t.Errorf("%s: got status %d, want 404", what, r.StatusCode)
					continue
				}
				if method == "GET" {
					if code, msg := errorCodeMessage(r); code != "MANIFEST_UNKNOWN" || msg != "OCI artifact found, but accept header does not support OCI artifacts" {
						t.Errorf("%s: got %s %q, want ACR's refusal of an OCI artifact", what, code, msg)
					}
				}
			}
		}
	}
	r := c.do("GET", "/v2/"+acceptRepo+"/referrers/"+subject.digest.String(), nil).want(t, http.StatusOK)
	if !strings.Contains(string(r.body), d.String()) || !strings.Contains(string(r.body), mtArtifact) {
		t.Errorf("the referrers of the artifact's subject do not list it: %s", r.body)
	}
}
