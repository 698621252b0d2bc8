package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Refusals that are not {"errors":[...]} bodies, on purpose. Each mirrors
// what ACR itself answers, recorded by the Azure SDKs
// (../shared/docs/acr-recordings/README.md, "Other error bodies"), or is
// refused by Go's HTTP server before any registry code runs:
//
//   - exceptionRouter: a malformed digest in a blob path or in an
//     /acr/v1/{name}/_manifests/{digest} path, and a mount whose digest or
//     source repository is malformed, never reach ACR's handlers: 404
//     text/plain "404 page not found\n" (G
//     TestClient_GetManifestProperties_wrongDigest.json,
//     TestBlobClient_GetBlob_fail.json, TestBlobClient_MountBlob_fail.json).
//   - exceptionOutside: a path outside /v2, /acr and /oauth2 gets ACR's 404
//     application/octet-stream "Not found" (G
//     TestBlobClient_CancelUpload_fail.json).
//   - exceptionOAuth: /oauth2/exchange with an Entra ID token it does not
//     accept, and /oauth2/token with a bad refresh token, answer 401 with
//     an empty body and no challenge (G Test_authenticationClient_*_fail).
//   - exceptionHTTP: requests that are not valid HTTP/1.1 (an unparsable or
//     doubled Content-Length, a header block over net/http's 1 MB limit)
//     are refused by net/http itself with a text/plain 400 or 431 and the
//     connection closed; ACR's front end refuses them before the registry
//     too.
const (
	exceptionRouter  = "router 404 text/plain, as ACR"
	exceptionOutside = "404 Not found outside the APIs, as ACR"
	exceptionOAuth   = "ACR's empty 401 on /oauth2 refusals"
	exceptionHTTP    = "net/http refuses malformed HTTP"
)

// refusal checks r is a 4xx in statuses with an OCI error body whose code
// is one of codes (any non-empty code when codes is empty). HEAD answers
// have no body: their status alone is checked. It returns what is wrong,
// or "".
func refusal(r response, statuses []int, codes []string) string {
	if r.err != nil {
		return r.String()
	}
	if !slices.Contains(statuses, r.status) {
		return fmt.Sprintf("got %d, want %v: %s", r.status, statuses, r)
	}
	if r.method == http.MethodHead {
		if len(r.body) != 0 {
			return fmt.Sprintf("a HEAD answer with a body: %s", r)
		}
		return ""
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return fmt.Sprintf("Content-Type %q, want application/json: %s", ct, r)
	}
	code, ok := r.errorCode()
	if !ok {
		return fmt.Sprintf(`the body is not {"errors":[{"code":...}]}: %s`, r)
	}
	if len(codes) > 0 && !slices.Contains(codes, code) {
		return fmt.Sprintf("code %s, want %s: %s", code, strings.Join(codes, " or "), r)
	}
	return ""
}

// refused checks one refusal and prints its line.
func (s *suite) refused(what string, r response, status int, codes ...string) bool {
	return s.refusedAny(what, r, []int{status}, codes...)
}

func (s *suite) refusedAny(what string, r response, statuses []int, codes ...string) bool {
	if p := refusal(r, statuses, codes); p != "" {
		s.fail("%s: %s", what, p)
		return false
	}
	code, _ := r.errorCode()
	if r.method == http.MethodHead {
		code = "(HEAD, no body)"
	}
	s.ok("%s: %d %s", what, r.status, code)
	return true
}

// exception checks one of the documented non-JSON refusals.
func (s *suite) exception(what, kind string, r response) bool {
	var problem string
	ct := r.header.Get("Content-Type")
	switch {
	case r.err != nil:
		problem = r.String()
	case kind == exceptionRouter:
		if r.status != http.StatusNotFound || ct != "text/plain; charset=utf-8" ||
			(r.method != http.MethodHead && string(r.body) != "404 page not found\n") {
			problem = fmt.Sprintf("want 404 text/plain \"404 page not found\\n\": %s", r)
		}
	case kind == exceptionOutside:
		if r.status != http.StatusNotFound || string(r.body) != "Not found" {
			problem = fmt.Sprintf(`want 404 "Not found": %s`, r)
		}
	case kind == exceptionOAuth:
		if r.status != http.StatusUnauthorized || len(r.body) != 0 || r.header.Get("Www-Authenticate") != "" {
			problem = fmt.Sprintf("want 401 with an empty body and no challenge: %s", r)
		}
	case kind == exceptionHTTP:
		if (r.status != http.StatusBadRequest && r.status != http.StatusRequestHeaderFieldsTooLarge) || !strings.HasPrefix(ct, "text/plain") {
			problem = fmt.Sprintf("want net/http's 400 or 431 text/plain: %s", r)
		}
	default:
		problem = "unknown exception " + kind
	}
	if problem != "" {
		s.fail("%s: %s", what, problem)
		return false
	}
	s.ok("%s: %d (%s)", what, r.status, kind)
	return true
}

// tolerated checks an input whose answer the specs leave open (a success
// is allowed): it must not be a 5xx, and a refusal must be a 4xx with an
// OCI error body.
func (s *suite) tolerated(what string, r response, success ...int) bool {
	if r.err == nil && slices.Contains(success, r.status) {
		s.ok("%s: %d (allowed)", what, r.status)
		return true
	}
	if r.err == nil && r.status >= 400 && r.status < 500 {
		return s.refused(what, r, r.status)
	}
	s.fail("%s: want %v or a 4xx with an OCI error: %s", what, success, r)
	return false
}

// registryState is what hostile inputs must not change: the catalog and,
// for each repository under abuse/, its tags and manifests.
func (s *suite) registryState(ctx context.Context) (string, error) {
	var b strings.Builder
	repos, err := s.pages(ctx, "/v2/_catalog?n=1000", func(body []byte) ([]string, error) {
		var v struct{ Repositories []string }
		err := json.Unmarshal(body, &v)
		return v.Repositories, err
	})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "catalog: %v\n", repos)
	for _, repo := range repos {
		if !strings.HasPrefix(repo, "abuse/") {
			continue
		}
		tags, err := s.pages(ctx, "/v2/"+repo+"/tags/list?n=1000", func(body []byte) ([]string, error) {
			var v struct{ Tags []string }
			err := json.Unmarshal(body, &v)
			return v.Tags, err
		})
		if err != nil {
			return "", err
		}
		ms, err := s.pages(ctx, "/acr/v1/"+repo+"/_manifests?n=1000", func(body []byte) ([]string, error) {
			var v struct {
				Manifests []struct {
					Digest string
					Tags   []string
				}
			}
			err := json.Unmarshal(body, &v)
			var out []string
			for _, m := range v.Manifests {
				out = append(out, m.Digest+fmt.Sprint(m.Tags))
			}
			return out, err
		})
		if err != nil {
			return "", err
		}
		slices.Sort(tags)
		slices.Sort(ms)
		fmt.Fprintf(&b, "%s: tags %v manifests %v\n", repo, tags, ms)
	}
	return b.String(), nil
}

// pages follows a listing's Link headers and collects its items.
func (s *suite) pages(ctx context.Context, path string, items func([]byte) ([]string, error)) ([]string, error) {
	var all []string
	for range 1000 {
		r := s.c.do(ctx, "GET", path, nil)
		if r.status != http.StatusOK {
			return nil, fmt.Errorf("%s", r)
		}
		got, err := items(r.body)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", r, err)
		}
		all = append(all, got...)
		if path = nextLink(r.header); path == "" {
			return all, nil
		}
	}
	return nil, fmt.Errorf("%s: more than 1,000 pages", path)
}

// hostileRun holds the state of the hostile phase: the repository every
// input aims at and what it must still hold afterwards.
type hostileRun struct {
	s        *suite
	ctx      context.Context
	base     string // repository with one image, tagged v1
	other    string // a second repository with one blob
	manifest []byte
	mdigest  string
	config   []byte
	layer    []byte // 1,000 bytes
	baseline string
	inputs   int
	sessions []string // upload sessions to cancel at the end
}

func (s *suite) hostilePhase(ctx context.Context) {
	h := &hostileRun{s: s, ctx: ctx, base: "abuse/base", other: "abuse/other"}
	if !h.setup() {
		return
	}
	groups := []struct {
		name string
		run  func()
	}{
		{"digests", h.digests},
		{"names", h.names},
		{"manifests", h.manifests},
		{"metadata", h.metadata},
		{"uploads", h.uploads},
		{"ranges", h.ranges},
		{"tokens", h.tokens},
		{"credentials", h.credentials},
		{"raw HTTP", h.rawHTTP},
	}
	for _, g := range groups {
		g.run()
		h.unchanged(g.name)
	}
	for _, loc := range h.sessions {
		s.c.do(ctx, "DELETE", loc, nil)
	}
	s.ok("hostile: the registry's catalog, tags and manifests are unchanged after %d inputs", h.inputs)
	// Inputs that change the registry on purpose, each checked for its
	// own outcome.
	h.referrerChain("acr")
	h.referrerChain("v2")
	h.mediaTypes()
	h.concurrentCompletion()
	h.concurrentChunks()
	h.concurrentTagWrites()
	h.sessionFlood()
	h.signInThrottle()
}

// setup pushes the image the inputs aim at and records the registry's
// state.
func (h *hostileRun) setup() bool {
	s, ctx := h.s, h.ctx
	h.config = []byte(`{"architecture":"amd64","os":"linux"}`)
	h.layer = []byte(strings.Repeat("x", 1000))
	for _, b := range [][]byte{h.config, h.layer} {
		if r := s.c.do(ctx, "POST", "/v2/"+h.base+"/blobs/uploads/?digest="+digestOf(b), b); r.status != http.StatusCreated {
			s.fail("hostile setup: upload a blob: %s", r)
			return false
		}
	}
	h.manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}]}`,
		ociManifest, ociConfig, digestOf(h.config), len(h.config), ociLayer, digestOf(h.layer), len(h.layer))
	h.mdigest = digestOf(h.manifest)
	if r := s.c.do(ctx, "PUT", "/v2/"+h.base+"/manifests/v1", h.manifest, "Content-Type", ociManifest); r.status != http.StatusCreated {
		s.fail("hostile setup: push the manifest: %s", r)
		return false
	}
	if r := s.c.do(ctx, "POST", "/v2/"+h.other+"/blobs/uploads/?digest="+digestOf([]byte("other")), []byte("other")); r.status != http.StatusCreated {
		s.fail("hostile setup: upload to %s: %s", h.other, r)
		return false
	}
	st, err := s.registryState(ctx)
	if err != nil {
		s.fail("hostile setup: read the registry's state: %v", err)
		return false
	}
	h.baseline = st
	return true
}

// unchanged fails when the group of inputs changed the registry.
func (h *hostileRun) unchanged(group string) {
	st, err := h.s.registryState(h.ctx)
	switch {
	case err != nil:
		h.s.fail("hostile %s: read the registry's state: %v", group, err)
	case st != h.baseline:
		h.s.fail("hostile %s: the inputs changed the registry:\n--- before\n%s--- after\n%s", group, h.baseline, st)
		h.baseline = st
	}
}

func (h *hostileRun) do(method, path string, body []byte, hdr ...string) response {
	h.inputs++
	return h.s.c.do(h.ctx, method, path, body, hdr...)
}

// absent checks that no blob is stored under d in repo.
func (h *hostileRun) absent(what, repo, d string) {
	r := h.s.c.do(h.ctx, "HEAD", "/v2/"+repo+"/blobs/"+d, nil)
	h.s.check(r.status == http.StatusNotFound, what, "HEAD %s: %s", d, r)
}

func (h *hostileRun) digests() {
	s, base := h.s, h.base
	data := []byte("hostile content")
	good := digestOf(data)
	wrong := digestOf([]byte("something else"))
	up := "/v2/" + base + "/blobs/uploads/?digest="
	s.refused("monolithic upload, digest sha256:zz", h.do("POST", up+"sha256:zz", data), 400, "DIGEST_INVALID")
	s.refused("monolithic upload, algorithm md5", h.do("POST", up+"md5:"+strings.Repeat("a", 32), data), 400, "DIGEST_INVALID")
	s.refused("monolithic upload, 63 hex digits", h.do("POST", up+good[:len(good)-1], data), 400, "DIGEST_INVALID")
	s.refused("monolithic upload, upper-case hex", h.do("POST", up+"sha256:"+strings.ToUpper(good[7:]), data), 400, "DIGEST_INVALID")
	s.refused("monolithic upload, digest of other content", h.do("POST", up+wrong, data), 400, "DIGEST_INVALID")
	h.absent("monolithic upload, digest of other content: nothing stored under the claimed digest", base, wrong)
	h.absent("monolithic upload, digest of other content: nothing stored under the content's digest", base, good)
	s.exception("GET blob sha256:zz", exceptionRouter, h.do("GET", "/v2/"+base+"/blobs/sha256:zz", nil))
	s.exception("HEAD blob 'wrong digest'", exceptionRouter, h.do("HEAD", "/v2/"+base+"/blobs/wrong%20digest", nil))
	s.exception("DELETE blob sha256:zz", exceptionRouter, h.do("DELETE", "/v2/"+base+"/blobs/sha256:zz", nil))
	s.exception("GET /acr/v1 manifest 'wrong-digest'", exceptionRouter, h.do("GET", "/acr/v1/"+base+"/_manifests/wrong-digest", nil))
	s.exception("mount of digest sha256:zz", exceptionRouter, h.do("POST", "/v2/"+base+"/blobs/uploads/?mount=sha256:zz&from="+h.other, nil))
	s.exception("mount from 'wrong name'", exceptionRouter, h.do("POST", "/v2/"+base+"/blobs/uploads/?mount="+digestOf(h.layer)+"&from=wrong%20name", nil))
	s.exception("GET /favicon.ico", exceptionOutside, h.do("GET", "/favicon.ico", nil))
	s.exception("GET /metrics", exceptionOutside, h.do("GET", "/metrics", nil))
	s.refused("GET /v2/x (no such endpoint)", h.do("GET", "/v2/x", nil), 404)
	s.refused("GET referrers of sha256:zz", h.do("GET", "/v2/"+base+"/referrers/sha256:zz", nil), 400, "DIGEST_INVALID")
	s.refused("DELETE unknown blob", h.do("DELETE", "/v2/"+base+"/blobs/"+wrong, nil), 404, "BLOB_UNKNOWN")
	s.refused("GET another repository's blob (no mount)", h.do("GET", "/v2/"+h.other+"/blobs/"+digestOf(h.layer), nil), 404, "BLOB_UNKNOWN")
	// A mount from a repository that does not exist is not an error: the
	// OCI spec answers it with a plain upload session.
	r := h.do("POST", "/v2/"+h.other+"/blobs/uploads/?mount="+digestOf(h.layer)+"&from=abuse/nothing-here", nil)
	if s.check(r.status == http.StatusAccepted && r.header.Get("Location") != "",
		"mount from a repository that does not exist: 202 and a plain session", "%s", r) {
		h.sessions = append(h.sessions, r.header.Get("Location"))
	}
}

func (h *hostileRun) names() {
	s := h.s
	data := []byte("name content")
	d := digestOf(data)
	// An empty path component matches no route: a 404, from the router
	// of /v2 (with an OCI body) rather than the name check.
	s.refusedAny(`upload to repository "abuse//base"`, h.do("POST", "/v2/abuse//base/blobs/uploads/?digest="+d, data), []int{400, 404})
	for _, name := range []string{
		"Abuse/upper", "abuse/../base", "abuse%2F..%2Fbase", "-abuse/base", "abuse/base.", "abuse/base_",
		"abuse/" + strings.Repeat("a", 250), "abuse/a%00b", "abuse/%C3%A9", "abuse/a%20b", "abuse/a%2Fb%2F..",
	} {
		r := h.do("POST", "/v2/"+name+"/blobs/uploads/?digest="+d, data)
		s.refused(fmt.Sprintf("upload to repository %q", short(name)), r, 400, "NAME_INVALID")
	}
	s.refused("tags of an upper-case repository", h.do("GET", "/v2/Abuse/base/tags/list", nil), 400, "NAME_INVALID")
	s.refused("manifest into a 256-character repository", h.do("PUT", "/v2/abuse/"+strings.Repeat("b", 250)+"/manifests/v1", h.manifest,
		"Content-Type", ociManifest), 400, "NAME_INVALID")
	s.refused("tags of a repository that does not exist", h.do("GET", "/v2/abuse/nothing-here/tags/list", nil), 404, "NAME_UNKNOWN")
	s.refused("properties of a repository that does not exist", h.do("GET", "/acr/v1/abuse/nothing-here", nil), 404, "NAME_UNKNOWN")
}

func (h *hostileRun) manifests() {
	s, base := h.s, h.base
	put := func(what, ref string, body []byte, ct string, statuses []int, codes ...string) {
		s.refusedAny(what, h.do("PUT", "/v2/"+base+"/manifests/"+ref, body, "Content-Type", ct), statuses, codes...)
	}
	b400 := []int{400}
	put("tag -bad", "-bad", h.manifest, ociManifest, b400, "TAG_INVALID")
	put("tag .hidden", ".hidden", h.manifest, ociManifest, b400, "TAG_INVALID")
	put("129-character tag", strings.Repeat("t", 129), h.manifest, ociManifest, b400, "TAG_INVALID")
	put("tag a%2Fb", "a%2Fb", h.manifest, ociManifest, []int{400, 404})
	put("manifest under another digest", digestOf([]byte("other")), h.manifest, ociManifest, b400, "DIGEST_INVALID")
	put("truncated JSON", "x", []byte(`{"schemaVersion":2,`), ociManifest, b400, "MANIFEST_INVALID")
	put("binary body", "x", []byte{0xff, 0xfe, 0, 1, 2}, ociManifest, b400, "MANIFEST_INVALID")
	put("empty body", "x", []byte{}, ociManifest, b400, "MANIFEST_INVALID")
	put("JSON array", "x", []byte(`[]`), ociManifest, b400, "MANIFEST_INVALID")
	put("JSON null", "x", []byte(`null`), ociManifest, b400, "MANIFEST_INVALID")
	put("schema 1", "s1", []byte(`{"schemaVersion":1,"name":"abuse/base","tag":"s1","fsLayers":[],"history":[]}`),
		"application/vnd.docker.distribution.manifest.v1+prettyjws", b400)
	put("schemaVersion 3", "x", []byte(`{"schemaVersion":3,"mediaType":"`+ociManifest+`"}`), ociManifest, b400, "MANIFEST_INVALID")
	put("no config", "x", []byte(`{"schemaVersion":2,"mediaType":"`+ociManifest+`","layers":[]}`), ociManifest, b400, "MANIFEST_INVALID")
	cfg := fmt.Sprintf(`"config":{"mediaType":%q,"digest":%q,"size":%d}`, ociConfig, digestOf(h.config), len(h.config))
	layer := func(d string, size int) string {
		return fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, ociLayer, d, size)
	}
	img := func(extra string) []byte {
		return []byte(`{"schemaVersion":2,"mediaType":"` + ociManifest + `",` + cfg + extra + `}`)
	}
	put("layer that is not in the repository", "x", img(`,"layers":[`+layer(digestOf([]byte("missing")), 7)+`]`), ociManifest, b400, "MANIFEST_BLOB_UNKNOWN")
	put("layer of another repository", "x", img(`,"layers":[`+layer(digestOf([]byte("other")), 5)+`]`), ociManifest, b400, "MANIFEST_BLOB_UNKNOWN")
	put("layer whose size lies", "x", img(`,"layers":[`+layer(digestOf(h.layer), 999999)+`]`), ociManifest, b400, "MANIFEST_INVALID")
	put("layer with a negative size", "x", img(`,"layers":[`+layer(digestOf(h.layer), -1)+`]`), ociManifest, b400, "MANIFEST_INVALID")
	put("layer with digest sha256:zz", "x", img(`,"layers":[`+layer("sha256:zz", 1000)+`]`), ociManifest, b400, "MANIFEST_INVALID", "DIGEST_INVALID")
	put("annotation that is not a string", "x", img(`,"layers":[],"annotations":{"a":{"b":1}}`), ociManifest, b400, "MANIFEST_INVALID")
	put("image manifest body with an index's mediaType and a config", "x", []byte(`{"schemaVersion":2,"mediaType":"`+ociIndex+`",`+cfg+`,"manifests":[]}`),
		ociIndex, b400, "MANIFEST_INVALID")

	// 10,001 descriptors that would all be valid: over the cap of 10,000.
	many := make([]string, 10001)
	for i := range many {
		many[i] = layer(digestOf(h.layer), len(h.layer))
	}
	put("10,001 layers", "x", img(`,"layers":[`+strings.Join(many, ",")+`]`), ociManifest, b400, "MANIFEST_INVALID")
	for i := range many {
		many[i] = fmt.Sprintf(`{"mediaType":%q,"digest":%q,"size":%d}`, ociManifest, h.mdigest, len(h.manifest))
	}
	put("index of 10,001 manifests", "x", []byte(`{"schemaVersion":2,"mediaType":"`+ociIndex+`","manifests":[`+strings.Join(many, ",")+`]}`),
		ociIndex, b400, "MANIFEST_INVALID")
	// A deep bomb: 1.5 million nested arrays in an unknown field.
	const depth = 1_500_000
	put("1.5 million nested arrays", "x", []byte(`{"schemaVersion":2,"mediaType":"`+ociManifest+`",`+cfg+`,"layers":[],"x":`+
		strings.Repeat("[", depth)+strings.Repeat("]", depth)+`}`), ociManifest, b400, "MANIFEST_INVALID")
	big := append(img(`,"layers":[],"annotations":{"pad":"`), []byte(strings.Repeat("p", maxManifest))...)
	big = append(big, `"}}`...)
	put("manifest of 4 MiB + 4 KiB", "big", big, ociManifest, []int{400, 413}, "MANIFEST_INVALID", "SIZE_INVALID")

	s.refused("DELETE manifest by tag", h.do("DELETE", "/v2/"+base+"/manifests/v1", nil), 405, "UNSUPPORTED")
	s.refused("DELETE unknown manifest", h.do("DELETE", "/v2/"+base+"/manifests/"+digestOf([]byte("nope")), nil), 404, "MANIFEST_UNKNOWN")
	s.refused("GET unknown tag", h.do("GET", "/v2/"+base+"/manifests/nope", nil), 404, "MANIFEST_UNKNOWN")
	s.refused("HEAD unknown tag", h.do("HEAD", "/v2/"+base+"/manifests/nope", nil), 404)
	s.refused("PUT /v2/_catalog", h.do("PUT", "/v2/_catalog", []byte("{}")), 405, "UNSUPPORTED")
	s.refused("POST tags/list", h.do("POST", "/v2/"+base+"/tags/list", nil), 405, "UNSUPPORTED")
}

func (h *hostileRun) metadata() {
	s, base := h.s, h.base
	json := "application/json"
	s.refused("PATCH repository, invalid JSON", h.do("PATCH", "/acr/v1/"+base, []byte(`{"writeEnabled":`), "Content-Type", json), 400)
	s.refused("PATCH repository, a string for a boolean", h.do("PATCH", "/acr/v1/"+base, []byte(`{"writeEnabled":"no"}`), "Content-Type", json), 400)
	s.refused("PATCH tag, invalid JSON", h.do("PATCH", "/acr/v1/"+base+"/_tags/v1", []byte(`[`), "Content-Type", json), 400)
	s.refused("PATCH manifest, invalid JSON", h.do("PATCH", "/acr/v1/"+base+"/_manifests/"+h.mdigest, []byte(`{{`), "Content-Type", json), 400)
	s.refused("PATCH repository, 2 MB of JSON", h.do("PATCH", "/acr/v1/"+base, []byte(`{"x":"`+strings.Repeat("y", 2<<20)+`"}`),
		"Content-Type", json), 400, "UNSUPPORTED", "SIZE_INVALID")
	s.refused("GET unknown tag properties", h.do("GET", "/acr/v1/"+base+"/_tags/nope", nil), 404, "TAG_UNKNOWN")
	s.refused("DELETE unknown tag", h.do("DELETE", "/acr/v1/"+base+"/_tags/nope", nil), 404, "TAG_UNKNOWN")
	for _, q := range []string{"n=-1", "n=abc", "n=99999999999999999999", "n=1e3"} {
		s.refused("catalog "+q, h.do("GET", "/v2/_catalog?"+q, nil), 400)
		s.refused("tags list "+q, h.do("GET", "/v2/"+base+"/tags/list?"+q, nil), 400)
		s.refused("ACR manifests "+q, h.do("GET", "/acr/v1/"+base+"/_manifests?"+q, nil), 400)
	}
	s.tolerated("catalog last=<20,000 characters>", h.do("GET", "/v2/_catalog?last="+strings.Repeat("z", 20000), nil), 200)
	s.tolerated("ACR tags orderby=sideways", h.do("GET", "/acr/v1/"+base+"/_tags?orderby=sideways", nil), 200)
	s.tolerated("referrers artifactType=<20,000 characters>",
		h.do("GET", "/v2/"+base+"/referrers/"+h.mdigest+"?artifactType="+strings.Repeat("a", 20000), nil), 200)
}

func (h *hostileRun) uploads() {
	s, base, ctx := h.s, h.base, h.ctx
	up := "/v2/" + base + "/blobs/uploads/"
	for _, m := range []string{"GET", "PATCH", "PUT", "DELETE"} {
		path := up + "00000000-0000-0000-0000-000000000000"
		if m == "PUT" {
			path += "?digest=" + digestOf(nil)
		}
		s.refused(m+" unknown upload session", h.do(m, path, nil), 404, "BLOB_UPLOAD_UNKNOWN")
	}
	s.refusedAny("upload session id of 20,000 characters", h.do("GET", up+strings.Repeat("a", 20000), nil), []int{400, 404})
	s.refusedAny("upload session id ..%2F..%2Fmeta.db", h.do("PATCH", up+"..%2F..%2Fmeta.db", []byte("x")), []int{400, 404})
	s.refusedAny("upload session id %2E%2E", h.do("DELETE", up+"%2E%2E", nil), []int{400, 404})

	// A session with 8 bytes in it, then chunks that do not fit.
	data := []byte("0123456789abcdef")
	start := func() string {
		r := s.c.do(ctx, "POST", up, nil)
		loc := r.header.Get("Location")
		if r.status != http.StatusAccepted || loc == "" {
			s.fail("start an upload session: %s", r)
			return ""
		}
		h.sessions = append(h.sessions, loc)
		return loc
	}
	holds := func(what, loc, want string) {
		r := s.c.do(ctx, "GET", loc, nil)
		s.check(r.status == http.StatusNoContent && r.header.Get("Range") == want, what+": the session still holds "+want,
			"%s (Range %q)", r, r.header.Get("Range"))
	}
	loc := start()
	if loc == "" {
		return
	}
	r := s.c.do(ctx, "PATCH", loc, data[:8], "Content-Range", "0-7", "Content-Type", "application/octet-stream")
	if r.status != http.StatusAccepted {
		s.fail("first chunk: %s", r)
		return
	}
	loc = r.header.Get("Location")
	r = h.do("PATCH", loc, data[10:], "Content-Range", "10-15")
	if s.refused("chunk out of order (10-15 after 0-7)", r, 416) {
		s.check(r.header.Get("Range") == "0-7", "chunk out of order: its 416 names the session's Range 0-7", "Range %q", r.header.Get("Range"))
	}
	s.refused("chunk overlapping what is stored (0-3)", h.do("PATCH", loc, data[:4], "Content-Range", "0-3"), 416)
	s.refusedAny("Content-Range 8-10 on an 8-byte chunk", h.do("PATCH", loc, data[8:], "Content-Range", "8-10"), []int{400, 416})
	s.refused("Content-Range -1--1", h.do("PATCH", loc, data[8:], "Content-Range", "-1--1"), 416, "BLOB_UPLOAD_RANGE_INVALID")
	s.refused("Content-Range abc", h.do("PATCH", loc, data[8:], "Content-Range", "abc"), 416, "BLOB_UPLOAD_RANGE_INVALID")
	s.refusedAny("Content-Range 8-9223372036854775807 with 8 bytes", h.do("PATCH", loc, data[8:], "Content-Range", "8-9223372036854775807"),
		[]int{400, 416})
	h.inputs++
	r = s.c.send(ctx, "PATCH", loc, []byte("0123456789"), req{hdr: []string{"Content-Range", "0-9223372036854775807"}, chunked: true})
	s.refused("Content-Range 0-9223372036854775807, chunked 10-byte body", r, 416)
	holds("after six refused chunks", loc, "0-7")
	bad := digestOf([]byte("x"))
	s.refused("completion with a wrong digest", h.do("PUT", withDigest(loc, bad), data[8:], "Content-Range", "8-15"), 400, "DIGEST_INVALID")
	h.absent("completion with a wrong digest: nothing under the claimed digest", base, bad)
	h.absent("completion with a wrong digest: nothing under the content's digest", base, digestOf(data))

	loc = start()
	if loc == "" {
		return
	}
	s.refused("completion without a digest", h.do("PUT", loc, []byte("abc")), 400, "DIGEST_INVALID")
	s.refused("completion with digest sha256:zz", h.do("PUT", withDigest(loc, "sha256:zz"), []byte("abc")), 400, "DIGEST_INVALID")
	// Another repository's session.
	loc = start()
	if loc == "" {
		return
	}
	foreign := strings.Replace(loc, "/v2/"+base+"/", "/v2/"+h.other+"/", 1)
	s.refused("another repository's session: PATCH", h.do("PATCH", foreign, []byte("abc")), 404, "BLOB_UPLOAD_UNKNOWN")
	s.refused("another repository's session: PUT", h.do("PUT", withDigest(foreign, digestOf(nil)), nil), 404, "BLOB_UPLOAD_UNKNOWN")
	s.refused("another repository's session: DELETE", h.do("DELETE", foreign, nil), 404, "BLOB_UPLOAD_UNKNOWN")
	holds("another repository's session", loc, "0-0")
}

func (h *hostileRun) ranges() {
	s, base := h.s, h.base
	d := digestOf(h.layer)
	path := "/v2/" + base + "/blobs/" + d
	for _, rg := range []string{"bytes=100000-200000", "bytes=zz", "bytes=9-2", "bytes=1000-", "bytes=-0"} {
		r := h.do("GET", path, nil, "Range", rg)
		if s.refused("blob GET Range "+rg, r, 416) {
			s.check(r.header.Get("Content-Range") == "bytes */1000", "blob GET Range "+rg+": Content-Range bytes */1000",
				"Content-Range %q", r.header.Get("Content-Range"))
		}
	}
	s.tolerated("blob GET Range bytes=0-99999999999999999999999", h.do("GET", path, nil, "Range", "bytes=0-99999999999999999999999"), 200, 206)
	s.tolerated("blob GET Range bytes=0-1,5-6", h.do("GET", path, nil, "Range", "bytes=0-1,5-6"), 200, 206)
	r := h.s.c.do(h.ctx, "GET", path, nil)
	s.check(r.status == http.StatusOK && digestOf(r.body) == d, "the blob still reads whole after the bad ranges", "%s", r)
}

// tokens: oversized and malformed token requests get a 400 (issue 16: 500
// "token ... exceeds 16384"); refusals of credentials are ACR's bare 401.
func (h *hostileRun) tokens() {
	s := h.s
	host := strings.TrimPrefix(strings.TrimPrefix(s.cfg.url, "http://"), "https://")
	anon := s.c.withAuth("")
	long := strings.Repeat("a", 20000)
	h.inputs++
	s.refused("token: a 20,000-character repository in scope (anonymous)",
		anon.do(h.ctx, "GET", "/oauth2/token?service="+host+"&scope=repository:"+long+":pull", nil), 400)
	many := make([]string, 400)
	for i := range many {
		many[i] = fmt.Sprintf("scope=repository:r%d-%s:pull", i, strings.Repeat("x", 40))
	}
	h.inputs++
	s.refused("token: 400 scopes (anonymous)", anon.do(h.ctx, "GET", "/oauth2/token?service="+host+"&"+strings.Join(many, "&"), nil), 400)
	h.inputs++
	s.refused("token: 400 scopes (as -user)", s.c.do(h.ctx, "GET", "/oauth2/token?service="+host+"&"+strings.Join(many, "&"), nil), 400)
	h.inputs++
	s.refused("GET /v2/ with a 20 KB Host header", s.c.send(h.ctx, "GET", "/v2/", nil, req{host: strings.Repeat("h", 20000)}), 400)
	h.inputs++
	s.refused("token with a 20 KB Host header", anon.send(h.ctx, "GET", "/oauth2/token?scope=repository:abuse/base:pull", nil,
		req{host: strings.Repeat("h", 20000)}), 400)
	form := "application/x-www-form-urlencoded"
	if s.cfg.aadToken != "" {
		h.inputs++
		s.refused("exchange: a 20,000-character tenant", anon.do(h.ctx, "POST", "/oauth2/exchange",
			[]byte("grant_type=access_token&access_token="+s.cfg.aadToken+"&service="+host+"&tenant="+long), "Content-Type", form), 400)
	} else {
		s.fail("exchange: a 20,000-character tenant: give -aad-token (the server's --aad-token) to send it")
	}
	h.inputs++
	s.refused("exchange: grant_type=password", anon.do(h.ctx, "POST", "/oauth2/exchange",
		[]byte("grant_type=password&service="+host), "Content-Type", form), 400)
	h.inputs++
	s.exception("exchange: an unknown Entra ID token", exceptionOAuth, anon.do(h.ctx, "POST", "/oauth2/exchange",
		[]byte("grant_type=access_token&access_token=not-a-token&service="+host), "Content-Type", form))
	h.inputs++
	s.exception("token: a forged refresh token", exceptionOAuth, anon.do(h.ctx, "POST", "/oauth2/token",
		[]byte("grant_type=refresh_token&refresh_token=eyJhbGciOiJub25lIn0.e30.&scope=repository:abuse/base:pull&service="+host), "Content-Type", form))
	h.inputs++
	s.refused("token: grant_type=foo", anon.do(h.ctx, "POST", "/oauth2/token", []byte("grant_type=foo&service="+host), "Content-Type", form), 400)
	h.inputs++
	s.refused("token: scope 'nonsense'", anon.do(h.ctx, "GET", "/oauth2/token?service="+host+"&scope=nonsense", nil), 400)
	h.inputs++
	s.refused("token: another registry's service", anon.do(h.ctx, "GET", "/oauth2/token?service=evil.example&scope=repository:abuse/base:pull", nil), 400)
	h.inputs++
	s.refused("token: a 1 MB form body", anon.do(h.ctx, "POST", "/oauth2/token",
		[]byte("grant_type=password&service="+host+"&x="+strings.Repeat("y", 1<<20)), "Content-Type", form), 400, "UNSUPPORTED", "SIZE_INVALID")
	h.inputs++
	s.refused("token: PUT /oauth2/token", anon.do(h.ctx, "PUT", "/oauth2/token", nil), 405, "UNSUPPORTED")
}

func (h *hostileRun) credentials() {
	s, base := h.s, h.base
	for _, tc := range []struct{ what, auth string }{
		{"garbage bearer token", "Bearer garbage"},
		{"unsigned (alg none) bearer token", "Bearer eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJjaSIsImFjY2VzcyI6W3sidHlwZSI6InJlcG9zaXRvcnkiLCJuYW1lIjoiYWJ1c2UvYmFzZSIsImFjdGlvbnMiOlsicHVsbCIsInB1c2giXX1dfQ."},
		{"Basic that is not base64", "Basic !!!"},
		{"Basic with an unknown user", basicAuth("nobody-" + fmt.Sprint(h.inputs) + ":wrong")},
		{"a 64 KiB Authorization header", "Bearer " + strings.Repeat("A", 64<<10)},
		{"no credentials", ""},
	} {
		h.inputs++
		r := s.c.withAuth(tc.auth).do(h.ctx, "POST", "/v2/"+base+"/blobs/uploads/?digest="+digestOf([]byte("c")), []byte("c"))
		if s.refused("push with "+tc.what, r, 401, "UNAUTHORIZED") {
			s.check(strings.HasPrefix(r.header.Get("Www-Authenticate"), "Bearer realm="), "push with "+tc.what+": a Bearer challenge",
				"WWW-Authenticate %q", r.header.Get("Www-Authenticate"))
		}
	}
	// A token this server minted for another host name (audience): another
	// name of this machine, which a registry served on loopback answers to
	// (it refuses names that are not loopback, against DNS rebinding).
	other := "localhost"
	if u, err := url.Parse(s.cfg.url); err == nil {
		if u.Hostname() == "localhost" {
			other = "127.0.0.1"
		}
		if u.Port() != "" {
			other += ":" + u.Port()
		}
	}
	h.inputs++
	r := s.c.send(h.ctx, "GET", "/oauth2/token?scope=repository:"+base+":pull,push", nil, req{host: other})
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tok) != nil || tok.AccessToken == "" {
		s.fail("get a token for host %s: %s", other, r)
	} else {
		h.inputs++
		r = s.c.withAuth("Bearer "+tok.AccessToken).do(h.ctx, "POST", "/v2/"+base+"/blobs/uploads/?digest="+digestOf([]byte("c")), []byte("c"))
		s.refused("push with a token minted for another host", r, 401, "UNAUTHORIZED")
	}
	// An anonymous token used to push.
	h.inputs++
	r = s.c.withAuth("").do(h.ctx, "GET", "/oauth2/token?scope=repository:"+base+":pull,push", nil)
	if r.status != http.StatusOK || json.Unmarshal(r.body, &tok) != nil || tok.AccessToken == "" {
		s.fail("get an anonymous token (the server needs --anonymous-pull): %s", r)
	} else {
		h.inputs++
		r = s.c.withAuth("Bearer "+tok.AccessToken).do(h.ctx, "POST", "/v2/"+base+"/blobs/uploads/?digest="+digestOf([]byte("c")), []byte("c"))
		s.refusedAny("push with an anonymous pull token", r, []int{401, 403}, "UNAUTHORIZED", "DENIED")
	}
	h.absent("no credential pushed anything", base, digestOf([]byte("c")))
}
