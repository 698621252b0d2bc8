package emulator_test

import (
	"bytes"
	"io"
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
	c, _ := newClient(t, &emulator.Options{MaxUploadSessions: 2, MaxUploadSessionsPerClient: 2})
	c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusAccepted)
	loc := c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	r := c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	c.do("DELETE", loc, nil).want(t, http.StatusNoContent)
	c.do("POST", "/v2/l/blobs/uploads/", nil).want(t, http.StatusAccepted)
}

// TestDeepReferrerChain: a manifest with a chain of 40 referrers, each the
// subject of the next, is deleted with all of them (it answered 500 past
// 16 levels).
func TestDeepReferrerChain(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("app", "v1", "root")
	empty := c.pushBlob("app", []byte("{}"))
	subject, size := im.digest, len(im.manifest)
	var chain []digest.Digest
	for i := range 40 {
		m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig",` +
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + empty.String() + `","size":2},"layers":[],` +
			`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + subject.String() + `","size":` + itoa(size) + `},` +
			`"annotations":{"n":"` + itoa(i) + `"}}`)
		d := digest.FromBytes(m)
		c.do("PUT", "/v2/app/manifests/"+d.String(), m, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
		chain = append(chain, d)
		subject, size = d, len(m)
	}
	r := c.do("DELETE", "/acr/v1/app/_manifests/"+im.digest.String(), nil).want(t, http.StatusAccepted)
	if got := len(decode[struct{ ManifestsDeleted []string }](t, r).ManifestsDeleted); got != 41 {
		t.Errorf("deleted %d manifests, want 41", got)
	}
	for _, d := range chain {
		c.do("GET", "/v2/app/manifests/"+d.String(), nil, acceptAll...).want(t, http.StatusNotFound)
	}
}

// TestConcurrentCompletion: 8 completions of one session at once (clients
// retry a completion whose answer they missed) give one 201 and 404s,
// never a 5xx, on both stores.
func TestConcurrentCompletion(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		c, _ := newClient(t, &emulator.Options{Dir: dir})
		for round := range 5 {
			data := []byte("concurrent completion " + itoa(round))
			d := digest.FromBytes(data)
			loc := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
			loc = c.do("PATCH", loc, data, "Content-Type", "application/octet-stream").want(t, http.StatusAccepted).Header.Get("Location")
			statuses := make(chan response, 8)
			for range 8 {
				go func() {
					statuses <- c.do("PUT", loc+"&digest="+d.String(), nil)
				}()
			}
			created := 0
			for range 8 {
				r := <-statuses
				switch {
				case r.StatusCode == http.StatusCreated:
					created++
				case r.StatusCode == http.StatusNotFound && r.errorCode() == "BLOB_UPLOAD_UNKNOWN":
				default:
					t.Errorf("store %q: completion answered %d %s", dir, r.StatusCode, r.body)
				}
			}
			if created != 1 {
				t.Errorf("store %q: %d completions succeeded, want 1", dir, created)
			}
			c.do("GET", "/v2/app/blobs/"+d.String(), nil).want(t, http.StatusOK)
		}
	}
}

// TestBlobRangeErrors: a Range the blob cannot satisfy gets 416 with an OCI
// error body and Content-Range naming the size (it had a text/plain body).
func TestBlobRangeErrors(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		c, _ := newClient(t, &emulator.Options{Dir: dir})
		d := c.pushBlob("app", bytes.Repeat([]byte("x"), 1000))
		for _, rg := range []string{"bytes=100000-200000", "bytes=zz", "bytes=9-2", "bytes=1000-", "bytes=-0"} {
			r := c.do("GET", "/v2/app/blobs/"+d.String(), nil, "Range", rg).want(t, http.StatusRequestedRangeNotSatisfiable)
			if r.errorCode() != "RANGE_INVALID" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("store %q, Range %s: %s %q", dir, rg, r.Header.Get("Content-Type"), r.body)
			}
			if r.Header.Get("Content-Range") != "bytes */1000" {
				t.Errorf("store %q, Range %s: Content-Range %q", dir, rg, r.Header.Get("Content-Range"))
			}
		}
		r := c.do("GET", "/v2/app/blobs/"+d.String(), nil, "Range", "bytes=990-").want(t, http.StatusPartialContent)
		if len(r.body) != 10 {
			t.Errorf("store %q: a good range gave %d bytes", dir, len(r.body))
		}
	}
}

// TestUploadRangeOverflow: a Content-Range whose length overflows int64
// is refused, whatever the body (a 10-byte chunked body was accepted).
func TestUploadRangeOverflow(t *testing.T) {
	c, srv := newClient(t, nil)
	loc := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	req, _ := http.NewRequestWithContext(t.Context(), "PATCH", srv.URL+loc, io.MultiReader(strings.NewReader("0123456789")))
	req.ContentLength = -1 // chunked, so no Content-Length check catches it
	req.Header.Set("Content-Range", "0-9223372036854775807")
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || !strings.Contains(string(body), `"errors"`) {
		t.Fatalf("got %d %s, want 416 with an OCI error", resp.StatusCode, body)
	}
	r := c.do("GET", loc, nil).want(t, http.StatusNoContent)
	if r.Header.Get("Range") != "0-0" {
		t.Errorf("the session took bytes: Range %q", r.Header.Get("Range"))
	}
}

// TestOversizedTokenRequests: requests whose token would be too large, or
// whose Host is absurd, get a 400 with an OCI error, not a 500.
func TestOversizedTokenRequests(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{AnonymousPull: true, AADTokens: []string{"aad"}})
	long := strings.Repeat("a", 20000)
	many := make([]string, 400)
	for i := range many {
		many[i] = "scope=repository:r" + itoa(i) + "-" + strings.Repeat("x", 40) + ":pull"
	}
	for _, tc := range []struct {
		name, method, path, body string
		hdr                      []string
	}{
		{"long repository", "GET", "/oauth2/token?service=" + srv.Host + "&scope=repository:" + long + ":pull", "", nil},
		{"400 scopes", "GET", "/oauth2/token?service=" + srv.Host + "&" + strings.Join(many, "&"), "", nil},
		{"long tenant", "POST", "/oauth2/exchange", "grant_type=access_token&access_token=aad&service=" + srv.Host + "&tenant=" + long,
			[]string{"Content-Type", "application/x-www-form-urlencoded"}},
	} {
		var body []byte
		if tc.body != "" {
			body = []byte(tc.body)
		}
		r := c.do(tc.method, tc.path, body, tc.hdr...)
		if r.StatusCode != http.StatusBadRequest || r.errorCode() == "" {
			t.Errorf("%s: got %d %.200s, want 400 with an OCI error", tc.name, r.StatusCode, r.body)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/v2/", nil)
	req.Host = strings.Repeat("h", 20000)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), `"errors"`) {
		t.Errorf("20 KB Host: got %d %.200s", resp.StatusCode, b)
	}
}

// TestHostileBatteryNo5xx fires the security review's odd requests (huge
// and negative page sizes, absurd ranges and digests, deeply nested JSON,
// long tags and scopes) at an open, disk-backed registry: each must be
// answered, and none with a 5xx, which would be the server's fault.
func TestHostileBatteryNo5xx(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Dir: t.TempDir(), SoftDeleteRetention: 1e12})
	im := c.pushImage("r", "t", "1")
	big := strings.Repeat("a", 200<<10)
	deep := []byte(strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20))
	deepObj := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":` +
		strings.Repeat(`{"a":`, 300000) + "1" + strings.Repeat("}", 300000) + "}")
	jsonType := []string{"Content-Type", "application/json"}
	manifestType := []string{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}
	for _, q := range []struct {
		method, path string
		body         []byte
		hdr          []string
	}{
		{"GET", "/v2/_catalog?n=1000000000000", nil, nil},
		{"GET", "/v2/_catalog?n=-1", nil, nil},
		{"GET", "/v2/_catalog?n=99999999999999999999999", nil, nil},
		{"GET", "/v2/_catalog?last=" + big, nil, nil},
		{"GET", "/v2/r/tags/list?n=0&last=" + big, nil, nil},
		{"GET", "/acr/v1/_catalog?n=1e12", nil, nil},
		{"GET", "/acr/v1/r/_tags?orderby=bogus&n=1000000", nil, nil},
		{"GET", "/acr/v1/r/_tags?last=" + big, nil, nil},
		{"GET", "/acr/v1/r/_manifests?orderby=timedesc&last=zzz", nil, nil},
		{"GET", "/acr/v1/_deleted/_catalog?n=1e12", nil, nil},
		{"GET", "/acr/v1/_deleted/r/_manifests?last=" + big, nil, nil},
		{"GET", "/acr/v1/_deleted/r/_tags?n=-5", nil, nil},
		{"POST", "/acr/v1/_deleted/r/_manifests/" + im.digest.String(), []byte(strings.Repeat("{", 60000)), nil},
		{"POST", "/acr/v1/_deleted/r/_manifests/" + im.digest.String(), []byte(`{"tag":"` + big + `"}`), nil},
		{"PATCH", "/acr/v1/r", []byte(strings.Repeat("[", 60000)), jsonType},
		{"PATCH", "/acr/v1/r/_tags/t", []byte(`{"deleteEnabled":"yes"}`), jsonType},
		{"PATCH", "/acr/v1/r/_manifests/" + im.digest.String(), []byte(`{"writeEnabled":null,"x":` + strings.Repeat("[", 50000) + `}`), nil},
		{"GET", "/v2/r/blobs/" + im.layer.String(), nil, []string{"Range", "bytes=99999999999999999999-"}},
		{"GET", "/v2/r/blobs/" + im.layer.String(), nil, []string{"Range", "bytes=" + strings.Repeat("0-0,", 2000) + "0-0"}},
		{"GET", "/v2/r/blobs/" + im.layer.String(), nil, []string{"Range", "bytes=-0"}},
		{"GET", "/v2/r/blobs/sha512:" + strings.Repeat("a", 128), nil, nil},
		{"GET", "/v2/r/blobs/sha384:" + strings.Repeat("a", 96), nil, nil},
		{"GET", "/v2/r/blobs/sha256:" + strings.Repeat("A", 64), nil, nil},
		{"GET", "/v2/r/blobs/sha256:..%2F..%2F..%2Fetc%2Fpasswd", nil, nil},
		{"GET", "/v2/r/manifests/sha256:" + strings.Repeat("0", 63) + "%2F", nil, acceptAll},
		{"GET", "/v2/%2E%2E/tags/list", nil, nil},
		{"GET", "/v2/r%00/tags/list", nil, nil},
		{"GET", "/v2/r/referrers/" + im.digest.String() + "?artifactType=" + big, nil, nil},
		{"PUT", "/v2/r/manifests/x", deep, manifestType},
		{"PUT", "/v2/r/manifests/y", deepObj, manifestType},
		{"PUT", "/v2/r/manifests/z", deep, []string{"Content-Type", "application/vnd.oci.image.index.v1+json"}},
		{"PUT", "/v2/r/manifests/z", []byte(`{}`), []string{"Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"}},
		{"PUT", "/v2/r/manifests/" + strings.Repeat("t", 129), im.manifest, manifestType},
		{"POST", "/v2/r/blobs/uploads/?digest=sha256:zz", []byte("x"), nil},
		{"POST", "/v2/r/blobs/uploads/?digest=sha512:" + strings.Repeat("a", 128), []byte("x"), nil},
		{"POST", "/v2/r/blobs/uploads/?mount=" + im.layer.String() + "&from=" + big, nil, nil},
		{"POST", "/oauth2/token", []byte(strings.Repeat("scope=repository:a:pull&", 2500)), []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"GET", "/oauth2/token?" + strings.Repeat("scope=repository:a"+strings.Repeat("b", 100)+":pull,push,delete&", 50), nil, nil},
		{"POST", "/oauth2/exchange", []byte("grant_type=access_token&access_token=x"), []string{"Content-Type", "application/x-www-form-urlencoded"}},
	} {
		if r := c.do(q.method, q.path, q.body, q.hdr...); r.StatusCode >= 500 {
			t.Errorf("%s %.90s: %d %.200s, want no 5xx", q.method, q.path, r.StatusCode, r.body)
		}
	}
}
