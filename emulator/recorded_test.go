package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// The tests in this file check the facts that ACR's recorded traffic shows
// (../shared/docs/acr-recordings/README.md, "Facts an emulator must
// reproduce"). Each names the recording it comes from; G is the Go SDK's
// recordings, J the JavaScript SDK's, N the .NET SDK's, P the Python SDK's.

// acrUnauthorized is the message of every recorded 401 from a registry
// endpoint, with or without a token.
const acrUnauthorized = "authentication required, visit https://aka.ms/acr/authorization for more information."

// errorBody is an OCI error body with its detail left raw.
type errorBody struct {
	Errors []struct {
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Detail  json.RawMessage `json:"detail"`
	} `json:"errors"`
}

func errorOf(t *testing.T, r response) (code, message, detail string) {
	t.Helper()
	b := decode[errorBody](t, r)
	if len(b.Errors) != 1 {
		t.Fatalf("%s %s: want one error, got %s", r.Request.Method, r.Request.URL, r.body)
	}
	return b.Errors[0].Code, b.Errors[0].Message, string(b.Errors[0].Detail)
}

// authServer is a registry with a user, anonymous pull and an image in
// "alpine" (tag 3.17.1), as the recordings' registries had.
func authServer(t *testing.T) (*client, string, image) {
	t.Helper()
	c, srv := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}, AnonymousPull: true})
	c.auth = basic("u", "p")
	im := c.pushImage("alpine", "3.17.1", "alpine")
	c.auth = ""
	return c, srv.Host, im
}

func TestRecordedChallenges(t *testing.T) {
	c, host, im := authServer(t)
	prefix := `Bearer realm="http://` + host + `/oauth2/token",service="` + host + `"`
	cases := []struct {
		method, path string
		scope        string // the challenge's scope; "" for none
		detail       string // the 401 body's detail
	}{
		// G TestClient_CheckDockerV2Support: no scope, detail null.
		{"GET", "/v2/", "", `null`},
		// G TestClient_GetRepositoryProperties and the others: one detail
		// entry per action, with capitalised keys.
		{"GET", "/acr/v1/alpine", "repository:alpine:metadata_read",
			`[{"Type":"repository","Name":"alpine","Action":"metadata_read"}]`},
		{"GET", "/acr/v1/_catalog", "registry:catalog:*", `[{"Type":"registry","Name":"catalog","Action":"*"}]`},
		{"DELETE", "/acr/v1/alpine/_tags/3.17.1", "repository:alpine:delete",
			`[{"Type":"repository","Name":"alpine","Action":"delete"}]`},
		{"PATCH", "/acr/v1/alpine", "repository:alpine:metadata_write",
			`[{"Type":"repository","Name":"alpine","Action":"metadata_write"}]`},
		{"GET", "/v2/alpine/blobs/" + im.layer.String(), "repository:alpine:pull",
			`[{"Type":"repository","Name":"alpine","Action":"pull"}]`},
		// N CanGetBlobLocation, G TestBlobClient_StartUpload: uploads need
		// pull and push.
		{"POST", "/v2/hello-world/blobs/uploads/", "repository:hello-world:pull,push",
			`[{"Type":"repository","Name":"hello-world","Action":"pull"},{"Type":"repository","Name":"hello-world","Action":"push"}]`},
		// G TestBlobClient_MountBlob: the source repository is named.
		{"POST", "/v2/hello-world/blobs/uploads/?from=alpine&mount=" + url.QueryEscape(im.layer.String()),
			"repository:hello-world:pull,push repository:alpine:pull",
			`[{"Type":"repository","Name":"hello-world","Action":"pull"},{"Type":"repository","Name":"hello-world","Action":"push"},` +
				`{"Type":"repository","Name":"alpine","Action":"pull"}]`},
		{"DELETE", "/v2/alpine/manifests/" + im.digest.String(), "repository:alpine:delete",
			`[{"Type":"repository","Name":"alpine","Action":"delete"}]`},
	}
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, nil).want(t, http.StatusUnauthorized)
		want := prefix
		if tc.scope != "" {
			want += `,scope="` + tc.scope + `"`
		}
		if got := r.Header.Get("Www-Authenticate"); got != want {
			t.Errorf("%s %s: challenge\n%s\nwant\n%s", tc.method, tc.path, got, want)
		}
		code, msg, detail := errorOf(t, r)
		if code != "UNAUTHORIZED" || msg != acrUnauthorized || detail != tc.detail {
			t.Errorf("%s %s: body %s, want detail %s", tc.method, tc.path, r.body, tc.detail)
		}
	}

	// G TestBlobClient_CheckChunkExists: a 401 to HEAD has no body but the
	// length the body would have had.
	r := c.do("HEAD", "/v2/alpine/blobs/"+im.layer.String(), nil).want(t, http.StatusUnauthorized)
	if r.ContentLength <= 0 || len(r.body) != 0 {
		t.Errorf("HEAD 401: Content-Length %d, body %q", r.ContentLength, r.body)
	}

	// G TestBlobClient_StartUpload: a token that lacks the scope gets the
	// same challenge with error="insufficient_scope".
	c.auth = "Bearer " + c.token(basic("u", "p"), "repository:hello-world:pull")
	r = c.do("POST", "/v2/hello-world/blobs/uploads/", nil).want(t, http.StatusUnauthorized)
	want := prefix + `,scope="repository:hello-world:pull,push",error="insufficient_scope"`
	if got := r.Header.Get("Www-Authenticate"); got != want {
		t.Errorf("insufficient scope: challenge\n%s\nwant\n%s", got, want)
	}
	if _, msg, _ := errorOf(t, r); msg != acrUnauthorized {
		t.Errorf("insufficient scope: message %q", msg)
	}
	// ... and a token with the scope the challenge named gets through.
	c.auth = "Bearer " + c.token(basic("u", "p"), "repository:hello-world:pull,push")
	c.do("POST", "/v2/hello-world/blobs/uploads/", nil).want(t, http.StatusAccepted)
}

// TestRecordedMount follows G TestBlobClient_MountBlob: the client asks for
// the scope the challenge named, and with it the blob is mounted. ACR
// answered that request with 202 and a new session although the blob was
// in the source, for reasons the recording does not show. The registry
// mounts instead, as the OCI spec asks of a registry that can (the
// conformance suite counts a 202 as mounting unsupported), since clients
// must handle both answers anyway.
func TestRecordedMount(t *testing.T) {
	c, _, im := authServer(t)
	path := "/v2/hello-world/blobs/uploads/?from=alpine&mount=" + url.QueryEscape(im.layer.String())
	r := c.do("POST", path, nil).want(t, http.StatusUnauthorized)
	scope := regexp.MustCompile(`scope="([^"]*)"`).FindStringSubmatch(r.Header.Get("Www-Authenticate"))[1]
	c.auth = "Bearer " + c.token(basic("u", "p"), scope)
	r = c.do("POST", path, nil).want(t, http.StatusCreated)
	if got := r.Header.Get("Location"); got != "/v2/hello-world/blobs/"+im.layer.String() {
		t.Errorf("mount Location %q", got)
	}
	c.do("HEAD", "/v2/hello-world/blobs/"+im.layer.String(), nil).want(t, http.StatusOK)

	// A token with push but no pull on the source gets a plain session.
	c.auth = "Bearer " + c.token(basic("u", "p"), "repository:other:pull,push")
	r = c.do("POST", "/v2/other/blobs/uploads/?from=alpine&mount="+url.QueryEscape(im.layer.String()), nil).want(t, http.StatusAccepted)
	if r.Header.Get("Range") != "0-0" {
		t.Errorf("fallback session Range %q", r.Header.Get("Range"))
	}
}

// TestRecordedAnonymous follows G Test_authenticationPolicy_anonymousAccess,
// J recording_should_list_repositories_with_anonymous_access and P
// test_anon_access: anonymous tokens list the catalog and read metadata;
// writes are refused with insufficient_scope, not at the token endpoint.
func TestRecordedAnonymous(t *testing.T) {
	c, host, _ := authServer(t)
	form := url.Values{"grant_type": {"password"}, "refresh_token": {""}, "scope": {"registry:catalog:*"}, "service": {host}}
	r := c.do("POST", "/oauth2/token?api-version=2021-07-01", []byte(form.Encode()),
		"Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusOK)
	tok := decode[map[string]any](t, r)
	if tok["access_token"] == nil || tok["refresh_token"] != nil {
		t.Fatalf("anonymous token answer %s", r.body)
	}
	c.auth = "Bearer " + tok["access_token"].(string)
	r = c.do("GET", "/acr/v1/_catalog", nil).want(t, http.StatusOK)
	if diff := cmp.Diff(`{"repositories":["alpine"]}`, string(r.body)); diff != "" {
		t.Errorf("anonymous catalog (-want +got):\n%s", diff)
	}
	c.do("GET", "/v2/_catalog", nil).want(t, http.StatusOK)

	for _, tc := range []struct{ method, path, scope string }{
		{"GET", "/acr/v1/alpine", "repository:alpine:metadata_read"},
		{"GET", "/acr/v1/alpine/_tags", "repository:alpine:metadata_read"},
		{"GET", "/v2/alpine/manifests/3.17.1", "repository:alpine:pull"},
		{"PATCH", "/acr/v1/alpine", "repository:alpine:metadata_write"},
		{"DELETE", "/acr/v1/alpine/_tags/3.17.1", "repository:alpine:delete"},
	} {
		form.Set("scope", tc.scope)
		r := c.do("POST", "/oauth2/token", []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusOK)
		c.auth = "Bearer " + decode[struct {
			AccessToken string `json:"access_token"`
		}](t, r).AccessToken
		var body []byte
		if tc.method == "PATCH" {
			body = []byte(`{"writeEnabled":false}`)
		}
		r = c.do(tc.method, tc.path, body, append([]string{"Content-Type", "application/json"}, acceptAll...)...)
		if tc.method == "GET" {
			r.want(t, http.StatusOK)
			continue
		}
		r.want(t, http.StatusUnauthorized)
		if !strings.HasSuffix(r.Header.Get("Www-Authenticate"), `scope="`+tc.scope+`",error="insufficient_scope"`) {
			t.Errorf("%s %s anonymously: challenge %q", tc.method, tc.path, r.Header.Get("Www-Authenticate"))
		}
	}
}

// TestRecordedErrors checks the error bodies the recordings show.
func TestRecordedErrors(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("alpine", "3.17.1", "alpine")
	type want struct {
		status             int
		code, msg, detail  string
		contentType, exact string // for bodies that are not OCI errors
	}
	cases := []struct {
		name, method, path string
		hdr                []string
		want               want
	}{
		{"G TestClient_GetManifest_wrongTag", "GET", "/v2/alpine/manifests/wrong-tag", nil,
			want{status: 404, code: "MANIFEST_UNKNOWN", msg: `manifest tagged by "wrong-tag" is not found`, detail: `{"Tag":"wrong-tag"}`}},
		{"G TestClient_GetRepositoryProperties_wrongName", "GET", "/acr/v1/wrong-name", nil,
			want{status: 404, code: "NAME_UNKNOWN", msg: `repository "wrong-name" is not found`}},
		{"G TestClient_UpdateRepositoryProperties_wrongRepository", "PATCH", "/acr/v1/wrong-repository", nil,
			want{status: 404, code: "NAME_UNKNOWN", msg: `repository "wrong-repository" is not found`}},
		{"tags of a missing repository", "GET", "/acr/v1/wrong-name/_tags", nil,
			want{status: 404, code: "NAME_UNKNOWN", msg: `repository "wrong-name" is not found`}},
		{"G TestClient_GetTagProperties_wrongTag", "GET", "/acr/v1/alpine/_tags/wrong-tag", nil,
			want{status: 404, code: "TAG_UNKNOWN", msg: "the specified tag does not exist"}},
		{"J deleteblob nonexistent", "DELETE", "/v2/alpine/blobs/" + digest.FromString("absent").String(), nil,
			want{status: 404, code: "BLOB_UNKNOWN", msg: "blob unknown to registry"}},
		{"G TestClient_DeleteManifest_wrongDigest", "DELETE", "/v2/alpine/manifests/error-digest", nil,
			want{status: 405, code: "UNSUPPORTED", msg: "A manifest can only be deleted by digest."}},
		{"G TestClient_GetManifestProperties_wrongDigest", "GET", "/acr/v1/alpine/_manifests/wrong-digest", nil,
			want{status: 404, contentType: "text/plain; charset=utf-8", exact: "404 page not found\n"}},
		{"G TestBlobClient_GetBlob_fail", "GET", "/v2/alpine/blobs/wrong%20digest", nil,
			want{status: 404, contentType: "text/plain; charset=utf-8", exact: "404 page not found\n"}},
		{"G TestBlobClient_CheckBlobExists_fail", "HEAD", "/v2/alpine/blobs/wrong%20digest", nil,
			want{status: 404, contentType: "text/plain; charset=utf-8"}},
		{"G TestBlobClient_CancelUpload_fail", "DELETE", "/wrong%20location", nil,
			want{status: 404, contentType: "application/octet-stream", exact: "Not found"}},
	}
	for _, tc := range cases {
		r := c.do(tc.method, tc.path, nil, tc.hdr...).want(t, tc.want.status)
		if tc.want.contentType != "" {
			if got := r.Header.Get("Content-Type"); got != tc.want.contentType {
				t.Errorf("%s: Content-Type %q, want %q", tc.name, got, tc.want.contentType)
			}
			if tc.method != "HEAD" && string(r.body) != tc.want.exact {
				t.Errorf("%s: body %q, want %q", tc.name, r.body, tc.want.exact)
			}
			continue
		}
		code, msg, detail := errorOf(t, r)
		if code != tc.want.code || msg != tc.want.msg {
			t.Errorf("%s: %s %q, want %s %q", tc.name, code, msg, tc.want.code, tc.want.msg)
		}
		if tc.want.detail != "" && detail != tc.want.detail || tc.want.detail == "" && detail != "" {
			t.Errorf("%s: detail %s, want %s", tc.name, detail, tc.want.detail)
		}
	}
	// The manifest is still there: the refused tag delete did nothing.
	c.do("GET", "/v2/alpine/manifests/"+im.digest.String(), nil, acceptAll...).want(t, http.StatusOK)
}

// TestRecordedOAuthFailures follows G Test_authenticationClient_*_fail:
// 401 with an empty body and no challenge.
func TestRecordedOAuthFailures(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{AADTokens: []string{"good"}})
	for _, tc := range []struct{ path, form string }{
		{"/oauth2/exchange?api-version=2021-07-01", "access_token=wrong&grant_type=access_token&service=" + srv.Host + "&tenant=wrong-tenant"},
		{"/oauth2/token?api-version=2021-07-01", "grant_type=refresh_token&refresh_token=wrong&scope=registry%3Acatalog%3A%2A&service=" + srv.Host},
	} {
		r := c.do("POST", tc.path, []byte(tc.form), "Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusUnauthorized)
		if len(r.body) != 0 || r.Header.Get("Content-Length") != "0" || r.Header.Get("Www-Authenticate") != "" {
			t.Errorf("%s: body %q, Content-Length %q, challenge %q", tc.path, r.body, r.Header.Get("Content-Length"), r.Header.Get("Www-Authenticate"))
		}
	}
}

// TestRecordedRefreshTokenClaims follows the sanitised refresh token of G
// Test_authenticationClient_ExchangeACRRefreshTokenForACRAccessToken: its
// permissions claim has capitalised keys.
func TestRecordedRefreshTokenClaims(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{AADTokens: []string{"good"}})
	r := c.do("POST", "/oauth2/exchange", []byte("grant_type=access_token&access_token=good&service="+srv.Host),
		"Content-Type", "application/x-www-form-urlencoded").want(t, http.StatusOK)
	rt := decode[struct {
		RefreshToken string `json:"refresh_token"`
	}](t, r).RefreshToken
	parts := strings.Split(rt, ".")
	if len(parts) != 3 {
		t.Fatalf("refresh token %q is not a JWT", rt)
	}
	payload, err := jwtPayload(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		Permissions struct {
			Actions    []string
			NotActions []string
		} `json:"permissions"`
		GrantType string `json:"grant_type"`
		Issuer    string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(payload), `"permissions":{"Actions":[`) || claims.GrantType != "refresh_token" ||
		claims.Issuer != "Azure Container Registry" {
		t.Errorf("refresh token claims %s", payload)
	}
	for _, a := range []string{"read", "write", "delete", "deleted/read", "deleted/restore/action"} {
		if !contains(claims.Permissions.Actions, a) {
			t.Errorf("refresh token permissions %v lack %q", claims.Permissions.Actions, a)
		}
	}
}

func jwtPayload(seg string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(seg)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestRecordedUploads follows G TestBlobClient_CompleteUpload_uploadByChunk,
// …uploadByChunkFailOver, …GetUploadStatus and …completeUpload_wrongDigest.
func TestRecordedUploads(t *testing.T) {
	c, _ := newClient(t, nil)
	r := c.do("POST", "/v2/hello-world/blobs/uploads/", nil).want(t, http.StatusAccepted)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, "/v2/hello-world/blobs/uploads/") || !strings.Contains(loc, "?_nouploadcache=false&_state=") {
		t.Fatalf("Location %q", loc)
	}
	if r.Header.Get("Range") != "0-0" || r.Header.Get("Content-Length") != "0" || r.Header.Get("Docker-Upload-Uuid") == "" {
		t.Errorf("upload start headers %v", r.Header)
	}
	data := make([]byte, 1472)
	for i := range data {
		data[i] = byte(i)
	}
	// Without the "bytes " prefix, as the Go SDK sends it.
	r = c.do("PATCH", loc, data[:736], "Content-Range", "0-735", "Content-Type", "application/octet-stream").want(t, http.StatusAccepted)
	if r.Header.Get("Range") != "0-735" {
		t.Errorf("after the first chunk: Range %q", r.Header.Get("Range"))
	}
	loc = r.Header.Get("Location")
	// A malformed Content-Range is refused and the session survives.
	r = c.do("PATCH", loc, data[736:], "Content-Range", "-1--1").want(t, http.StatusRequestedRangeNotSatisfiable)
	code, msg, detail := errorOf(t, r)
	if code != "BLOB_UPLOAD_RANGE_INVALID" || msg != "blob upload range invalid" ||
		detail != `{"Range":"-1--1","Reason":"the Content-Range header format is invalid"}` {
		t.Errorf("bad Content-Range: %s", r.body)
	}
	r = c.do("GET", loc, nil).want(t, http.StatusNoContent)
	if r.Header.Get("Range") != "0-735" || r.Header.Get("Location") == "" {
		t.Errorf("status: Range %q Location %q", r.Header.Get("Range"), r.Header.Get("Location"))
	}
	// With the prefix, as other clients send it.
	r = c.do("PATCH", loc, data[736:], "Content-Range", "bytes 736-1471").want(t, http.StatusAccepted)
	if r.Header.Get("Range") != "0-1471" {
		t.Errorf("after the second chunk: Range %q", r.Header.Get("Range"))
	}
	loc = r.Header.Get("Location")
	r = c.do("PUT", loc+"&digest=sha256%3A00000000", nil).want(t, http.StatusBadRequest)
	if code, msg, _ := errorOf(t, r); code != "DIGEST_INVALID" || msg != "provided digest did not match uploaded content" {
		t.Errorf("malformed digest: %s", r.body)
	}
	d := digest.FromBytes(data)
	r = c.do("PUT", loc+"&digest="+url.QueryEscape(d.String()), nil).want(t, http.StatusCreated)
	if r.Header.Get("Location") != "/v2/hello-world/blobs/"+d.String() || r.Header.Get("Docker-Content-Digest") != d.String() ||
		r.Header.Get("Content-Length") != "0" {
		t.Errorf("completion headers %v", r.Header)
	}

	// G TestBlobClient_StartUpload: cancelling answers 204 with the uuid.
	r = c.do("POST", "/v2/hello-world/blobs/uploads/", nil).want(t, http.StatusAccepted)
	uuid := r.Header.Get("Docker-Upload-Uuid")
	r = c.do("DELETE", r.Header.Get("Location"), nil).want(t, http.StatusNoContent)
	if r.Header.Get("Docker-Upload-Uuid") != uuid {
		t.Errorf("cancel: Docker-Upload-Uuid %q, want %q", r.Header.Get("Docker-Upload-Uuid"), uuid)
	}
}

// TestRecordedBlobReads follows G TestBlobClient_CheckChunkExists and
// TestBlobClient_GetChunk: HEAD ignores Range; GET serves it.
func TestRecordedBlobReads(t *testing.T) {
	c, _ := newClient(t, nil)
	data := make([]byte, 1472)
	d := c.pushBlob("alpine", data)
	r := c.do("HEAD", "/v2/alpine/blobs/"+d.String(), nil, "Range", "bytes=0-299").want(t, http.StatusOK)
	if r.ContentLength != 1472 || r.Header.Get("Docker-Content-Digest") != d.String() ||
		r.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("HEAD with Range: %d %v", r.ContentLength, r.Header)
	}
	r = c.do("GET", "/v2/alpine/blobs/"+d.String(), nil, "Range", "bytes=1000-1999").want(t, http.StatusPartialContent)
	if r.Header.Get("Content-Range") != "bytes 1000-1471/1472" || len(r.body) != 472 {
		t.Errorf("GET with Range: %q, %d bytes", r.Header.Get("Content-Range"), len(r.body))
	}
}

// TestRecordedManifests follows G TestClient_GetManifest, J
// recording_can_upload_oci_manifest_with_tag and G TestClient_DeleteTag.
func TestRecordedManifests(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("alpine", "3.17.1", "alpine")
	// J's Accept: one header line, five types.
	r := c.do("GET", "/v2/alpine/manifests/3.17.1", nil, "Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json, "+
		"application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.container.image.v1+json").want(t, http.StatusOK)
	if r.Header.Get("ETag") != `"`+im.digest.String()+`"` || r.Header.Get("Docker-Content-Digest") != im.digest.String() {
		t.Errorf("GET manifest headers %v", r.Header)
	}
	c.pushBlob("oci-artifact", []byte(`{"architecture":"amd64","os":"linux","seed":"alpine"}`))
	c.pushBlob("oci-artifact", []byte("layer alpine"))
	r = c.do("PUT", "/v2/oci-artifact/manifests/my_artifact", im.manifest,
		"Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	if r.Header.Get("Location") != "/v2/oci-artifact/manifests/"+im.digest.String() || r.Header.Get("Content-Length") != "0" {
		t.Errorf("PUT manifest by tag: Location %q", r.Header.Get("Location"))
	}
	// A Content-Type that contradicts the body's mediaType is accepted, and
	// the manifest is served as what it is (Microsoft's live Go SDK test
	// TestClient_UploadManifest PUTs a Docker v2 image as an OCI index).
	docker := []byte(strings.Replace(string(im.manifest), "application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", 1))
	c.do("PUT", "/v2/alpine/manifests/test", docker, "Content-Type", "application/vnd.oci.image.index.v1+json").want(t, http.StatusCreated)
	r = c.do("GET", "/v2/alpine/manifests/test", nil, acceptAll...).want(t, http.StatusOK)
	if r.Header.Get("Content-Type") != "application/vnd.docker.distribution.manifest.v2+json" || string(r.body) != string(docker) {
		t.Errorf("mismatched push served as %q", r.Header.Get("Content-Type"))
	}
	r = c.do("DELETE", "/acr/v1/alpine/_tags/3.17.1", nil).want(t, http.StatusAccepted)
	if len(r.body) != 0 || r.Header.Get("X-Ms-Int-Docker-Content-Digest") != im.digest.String() {
		t.Errorf("tag delete: body %q, headers %v", r.body, r.Header)
	}
	r = c.do("DELETE", "/v2/alpine/manifests/"+im.digest.String(), nil).want(t, http.StatusAccepted)
	if len(r.body) != 0 {
		t.Errorf("manifest delete body %q", r.body)
	}
}

// TestRecordedListing follows G TestClient_NewListTagsPager,
// TestClient_NewListRepositoriesPager, P …list_repository_names_by_page and
// J …list_registry_manifests_by_pages: relative Links without api-version,
// with an empty orderby and an encoded last; name order by default.
func TestRecordedListing(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Now: fakeClock()})
	c.pushImage("library/busybox", "latest", "b")
	c.pushImage("library/alpine", "latest", "a")
	c.pushImage("library/hello-world", "3.17.1", "h1")
	c.pushImage("library/hello-world", "3.15.6", "h2")
	c.pushImage("library/hello-world", "3.16.3", "h3")

	r := c.do("GET", "/acr/v1/_catalog?n=2", nil).want(t, http.StatusOK)
	if got, want := r.Header.Get("Link"), `</acr/v1/_catalog?last=library%2Fbusybox&n=2&orderby=>; rel="next"`; got != want {
		t.Errorf("catalog Link %q, want %q", got, want)
	}
	if string(r.body) != `{"repositories":["library/alpine","library/busybox"]}` {
		t.Errorf("catalog page %s", r.body)
	}
	r = c.do("GET", "/acr/v1/_catalog?last=library%2Fbusybox&n=2&orderby=", nil).want(t, http.StatusOK)
	if r.Header.Get("Link") != "" || string(r.body) != `{"repositories":["library/hello-world"]}` {
		t.Errorf("last catalog page: Link %q, %s", r.Header.Get("Link"), r.body)
	}

	r = c.do("GET", "/acr/v1/library%2Fhello-world/_tags?api-version=2021-07-01&n=1", nil).want(t, http.StatusOK)
	if got, want := r.Header.Get("Link"), `</acr/v1/library%2Fhello-world/_tags?last=3.15.6&n=1&orderby=>; rel="next"`; got != want {
		t.Errorf("tags Link %q, want %q", got, want)
	}
	var names []string
	for link := "/acr/v1/library%2Fhello-world/_tags?n=1"; link != ""; {
		r := c.do("GET", link, nil).want(t, http.StatusOK)
		for _, tg := range decode[struct{ Tags []struct{ Name string } }](t, r).Tags {
			names = append(names, tg.Name)
		}
		link = strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Link"), "<"), `>; rel="next"`)
	}
	if diff := cmp.Diff([]string{"3.15.6", "3.16.3", "3.17.1"}, names); diff != "" {
		t.Errorf("tags by name (-want +got):\n%s", diff)
	}

	r = c.do("GET", "/acr/v1/library%2Fhello-world/_manifests?n=1&api-version=2021-07-01", nil).want(t, http.StatusOK)
	m := decode[struct{ Manifests []struct{ Digest string } }](t, r).Manifests
	want := `</acr/v1/library%2Fhello-world/_manifests?last=` + url.QueryEscape(m[0].Digest) + `&n=1&orderby=>; rel="next"`
	if got := r.Header.Get("Link"); got != want {
		t.Errorf("manifests Link %q, want %q", got, want)
	}
	r = c.do("GET", "/acr/v1/library%2Fhello-world/_tags?orderby=timedesc&n=1", nil).want(t, http.StatusOK)
	if !strings.Contains(r.Header.Get("Link"), "&orderby=timedesc>") {
		t.Errorf("time-ordered Link %q keeps no order", r.Header.Get("Link"))
	}
}

// TestRecordedShapes checks field order and timestamps as served
// (G TestClient_GetRepositoryProperties, …NewListTagsPager,
// …DeleteRepository).
func TestRecordedShapes(t *testing.T) {
	c, srv := newClient(t, nil)
	im := c.pushImage("alpine", "3.17.1", "alpine")
	r := c.do("GET", "/acr/v1/alpine/_tags", nil).want(t, http.StatusOK)
	shape := regexp.MustCompile(`^\{"registry":"` + regexp.QuoteMeta(srv.Host) + `","imageName":"alpine","tags":\[\{"name":"3.17.1",` +
		`"digest":"` + im.digest.String() + `","createdTime":"[^"]+","lastUpdateTime":"[^"]+","signed":false,` +
		`"changeableAttributes":\{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true\}\}\]\}$`)
	if !shape.Match(r.body) {
		t.Errorf("tags list shape %s", r.body)
	}
	stamp := regexp.MustCompile(`"(createdTime|lastUpdateTime)":"([^"]+)"`)
	acrStamp := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,6}[1-9])?Z$`)
	for _, path := range []string{"/acr/v1/alpine", "/acr/v1/alpine/_tags", "/acr/v1/alpine/_manifests"} {
		r := c.do("GET", path, nil).want(t, http.StatusOK)
		for _, m := range stamp.FindAllStringSubmatch(string(r.body), -1) {
			if !acrStamp.MatchString(m[2]) {
				t.Errorf("%s: %s %q: want RFC 3339 UTC with at most 7 fractional digits, no trailing zero", path, m[1], m[2])
			}
		}
	}
	r = c.do("DELETE", "/acr/v1/alpine", nil).want(t, http.StatusAccepted)
	if want := `{"manifestsDeleted":["` + im.digest.String() + `"],"tagsDeleted":["3.17.1"]}`; string(r.body) != want {
		t.Errorf("repository delete body %s, want %s", r.body, want)
	}
	// A manifest list item has "tags" only when the manifest is tagged (J
	// …list_registry_manifests_by_pages).
	un := c.pushImage("untagged", "v1", "u")
	c.do("DELETE", "/acr/v1/untagged/_tags/v1", nil).want(t, http.StatusAccepted)
	r = c.do("GET", "/acr/v1/untagged/_manifests", nil).want(t, http.StatusOK)
	if !strings.Contains(string(r.body), un.digest.String()) || strings.Contains(string(r.body), `"tags"`) {
		t.Errorf("untagged manifest listed as %s", r.body)
	}
}

// TestRecordedCommonHeaders checks the headers every registry answer
// carries, and GET /v2/'s body (G TestClient_CheckDockerV2Support).
func TestRecordedCommonHeaders(t *testing.T) {
	c, _ := newClient(t, nil)
	r := c.do("GET", "/v2/", nil).want(t, http.StatusOK)
	if string(r.body) != "{}" || r.Header.Get("Content-Length") != "2" {
		t.Errorf("GET /v2/: %q, Content-Length %q", r.body, r.Header.Get("Content-Length"))
	}
	for _, h := range []string{"Docker-Distribution-Api-Version", "X-Content-Type-Options", "X-Ms-Correlation-Request-Id",
		"Access-Control-Expose-Headers"} {
		if r.Header.Get(h) == "" {
			t.Errorf("GET /v2/ lacks %s", h)
		}
	}
	if got := r.Header.Get("Access-Control-Expose-Headers"); got != "Docker-Content-Digest, WWW-Authenticate, Link, X-Ms-Correlation-Request-Id" {
		t.Errorf("Access-Control-Expose-Headers %q", got)
	}
	r = c.do("GET", "/v2/", nil, "X-Ms-Client-Request-Id", "abc")
	if r.Header.Get("X-Ms-Client-Request-Id") != "abc" {
		t.Errorf("client request id not echoed")
	}
}

// TestRecordedRedirect follows N CanGetBlobLocation and G
// TestBlobClient_GetChunk: the registry answers a blob GET with 307, an
// absolute Location and a small HTML body; storage serves ranges without
// Docker-Content-Digest.
func TestRecordedRedirect(t *testing.T) {
	srv := acrtest.NewRedirectingServer(t, nil)
	c := &client{t: t, base: srv.URL, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	data := make([]byte, 1472)
	d := c.pushBlob("oci-artifact", data)
	r := c.do("GET", "/v2/oci-artifact/blobs/"+d.String(), nil).want(t, http.StatusTemporaryRedirect)
	loc := r.Header.Get("Location")
	if !strings.HasPrefix(loc, srv.StorageURL+"/") || r.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("redirect headers %v", r.Header)
	}
	if want := `<a href="` + html.EscapeString(loc) + `">Temporary Redirect</a>.` + "\n\n"; string(r.body) != want {
		t.Errorf("redirect body %q, want %q", r.body, want)
	}
	r = c.do("GET", loc, nil, "Range", "bytes=1000-1999").want(t, http.StatusPartialContent)
	if r.Header.Get("Content-Range") != "bytes 1000-1471/1472" || r.Header.Get("Docker-Content-Digest") != "" ||
		r.Header.Get("X-Ms-Blob-Type") != "AppendBlob" || r.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("storage headers %v", r.Header)
	}
}

// TestRecordedAcceptNegotiation follows G TestClient_GetManifest: alpine:3.17.1
// is a Docker manifest list, and the Go SDK, which accepts application/json
// and the Docker v2 manifest type only, gets its linux/amd64 image (the
// list's child sha256:93d5…, by its Content-Type and Docker-Content-Digest).
// As distribution, on which ACR runs, an OCI manifest or index that the
// Accept header leaves out is MANIFEST_UNKNOWN; the list itself is served
// by digest and to a client that accepts it (accept_test.go has the rest:
// clients that name no manifest type).
func TestRecordedAcceptNegotiation(t *testing.T) {
	c, _ := newClient(t, nil)
	v2 := func(seed string) (digest.Digest, int) {
		im := c.pushImage("alpine", "oci-"+seed, seed)
		b := []byte(strings.Replace(string(im.manifest), "application/vnd.oci.image.manifest.v1+json",
			"application/vnd.docker.distribution.manifest.v2+json", 1))
		d := digest.FromBytes(b)
		c.do("PUT", "/v2/alpine/manifests/"+d.String(), b, "Content-Type", "application/vnd.docker.distribution.manifest.v2+json").want(t, http.StatusCreated)
		return d, len(b)
	}
	arm, armSize := v2("arm")
	amd, amdSize := v2("amd")
	list := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` +
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + arm.String() + `","size":` + itoa(armSize) + `,"platform":{"architecture":"arm64","os":"linux"}},` +
		`{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + amd.String() + `","size":` + itoa(amdSize) + `,"platform":{"architecture":"amd64","os":"linux"}}]}`)
	listDigest := digest.FromBytes(list)
	c.do("PUT", "/v2/alpine/manifests/3.17.1", list, "Content-Type", "application/vnd.docker.distribution.manifest.list.v2+json").want(t, http.StatusCreated)

	goSDK := []string{"Accept", "application/json", "Accept", "application/vnd.docker.distribution.manifest.v2+json"}
	for _, method := range []string{"GET", "HEAD"} {
		r := c.do(method, "/v2/alpine/manifests/3.17.1", nil, goSDK...).want(t, http.StatusOK)
		if r.Header.Get("Content-Type") != "application/vnd.docker.distribution.manifest.v2+json" || r.Header.Get("Docker-Content-Digest") != amd.String() {
			t.Errorf("%s of a list by tag, accepting v2 manifests only: %s %s, want the amd64 image %s", method, r.Header.Get("Content-Type"), r.Header.Get("Docker-Content-Digest"), amd)
		}
	}
	for _, tc := range []struct {
		what string
		ref  string
		hdr  []string
	}{
		{"by digest", listDigest.String(), goSDK},
		{"accepting lists", "3.17.1", []string{"Accept", "application/vnd.docker.distribution.manifest.list.v2+json"}},
	} {
		r := c.do("GET", "/v2/alpine/manifests/"+tc.ref, nil, tc.hdr...).want(t, http.StatusOK)
		if r.Header.Get("Docker-Content-Digest") != listDigest.String() {
			t.Errorf("GET of the list %s: got %s, want the list %s", tc.what, r.Header.Get("Docker-Content-Digest"), listDigest)
		}
	}

	oci := c.pushImage("oci", "v1", "oci")
	r := c.do("GET", "/v2/oci/manifests/v1", nil, goSDK...).want(t, http.StatusNotFound)
	if code, msg, _ := errorOf(t, r); code != "MANIFEST_UNKNOWN" || !strings.Contains(msg, "accept header does not support OCI manifests") {
		t.Errorf("an OCI manifest to a client that does not accept it: %s %q", code, msg)
	}
	index := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` +
		oci.digest.String() + `","size":` + itoa(len(oci.manifest)) + `}]}`)
	c.do("PUT", "/v2/oci/manifests/multi", index, "Content-Type", "application/vnd.oci.image.index.v1+json").want(t, http.StatusCreated)
	r = c.do("GET", "/v2/oci/manifests/multi", nil, "Accept", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusNotFound)
	if code, msg, _ := errorOf(t, r); code != "MANIFEST_UNKNOWN" || !strings.Contains(msg, "accept header does not support OCI indexes") {
		t.Errorf("an OCI index to a client that does not accept it: %s %q", code, msg)
	}
	c.do("GET", "/v2/oci/manifests/multi", nil, "Accept", "application/vnd.oci.image.index.v1+json").want(t, http.StatusOK)
}
