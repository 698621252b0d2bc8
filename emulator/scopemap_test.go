package emulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// scopedOptions is a registry with an administrator and a user limited as
// an ACR repository-scoped token: app may be read and written, team/*
// only read, nothing else at all.
func scopedOptions() *emulator.Options {
	return &emulator.Options{
		Users: map[string]string{"admin": "a", "ci": "c"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {
			{Repository: "app", Actions: []string{"content/read", "content/write", "metadata/read"}},
			{Repository: "team/*", Actions: []string{"content/read"}},
		}},
	}
}

// TestScopeMapBasic checks what a scoped user may do with Basic
// credentials on every endpoint, as docker-style clients send them.
func TestScopeMapBasic(t *testing.T) {
	c, _ := newClient(t, scopedOptions())
	c.auth = basic("admin", "a")
	app := c.pushImage("app", "v1", "app")
	team := c.pushImage("team/x", "v1", "team")
	other := c.pushImage("other", "v1", "other")

	c.auth = basic("ci", "c")
	allowed := []struct{ method, path string }{
		{"GET", "/v2/app/manifests/v1"},
		{"GET", "/v2/app/blobs/" + app.layer.String()},
		{"GET", "/v2/app/tags/list"},
		{"GET", "/acr/v1/app"},
		{"GET", "/acr/v1/app/_tags"},
		{"GET", "/v2/team/x/manifests/v1"},
		{"GET", "/v2/team/x/blobs/" + team.layer.String()},
	}
	for _, a := range allowed {
		c.do(a.method, a.path, nil, acceptAll...).want(t, http.StatusOK)
	}
	c.pushImage("app", "v2", "new") // content/write with content/read

	refused := []struct{ method, path string }{
		{"GET", "/v2/_catalog"},
		{"GET", "/acr/v1/_catalog"},
		{"GET", "/v2/other/manifests/v1"},
		{"GET", "/v2/other/blobs/" + other.layer.String()},
		{"GET", "/acr/v1/other"},
		{"DELETE", "/v2/app/manifests/" + app.digest.String()}, // no content/delete
		{"DELETE", "/acr/v1/app/_tags/v1"},
		{"PATCH", "/acr/v1/app"},  // no metadata/write
		{"GET", "/acr/v1/team/x"}, // content/read only
		{"POST", "/v2/team/x/blobs/uploads/"},
		{"POST", "/v2/other/blobs/uploads/"},
		{"GET", "/v2/teamx/manifests/v1"}, // team/* is not a prefix of teamx
	}
	for _, rf := range refused {
		var body []byte
		if rf.method == "PATCH" {
			body = []byte(`{"writeEnabled":false}`)
		}
		r := c.do(rf.method, rf.path, body)
		if r.StatusCode != http.StatusUnauthorized || !strings.Contains(r.Header.Get("Www-Authenticate"), `error="insufficient_scope"`) {
			t.Errorf("%s %s as the scoped user: %d %s, want 401 insufficient_scope", rf.method, rf.path, r.StatusCode, r.Header.Get("Www-Authenticate"))
		}
	}
	c.auth = basic("admin", "a")
	c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
	c.do("PATCH", "/acr/v1/app", []byte(`{"writeEnabled":true}`)).want(t, http.StatusOK)
}

// TestScopeMapTokens checks the tokens a scoped user gets: only the
// requested actions its scope map allows, never the catalog.
func TestScopeMapTokens(t *testing.T) {
	c, _ := newClient(t, scopedOptions())
	c.auth = basic("admin", "a")
	c.pushImage("app", "v1", "app")
	c.pushImage("other", "v1", "other")

	tok := c.token(basic("ci", "c"), "repository:app:pull,push,delete,metadata_read,metadata_write repository:other:pull registry:catalog:*")
	c.auth = "Bearer " + tok
	c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
	c.do("GET", "/acr/v1/app/_tags", nil).want(t, http.StatusOK)
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted)
	for _, p := range []string{"/v2/other/manifests/v1", "/acr/v1/_catalog"} {
		c.do("GET", p, nil).want(t, http.StatusUnauthorized)
	}
	c.do("DELETE", "/acr/v1/app/_tags/v1", nil).want(t, http.StatusUnauthorized)
	c.do("PATCH", "/acr/v1/app", []byte(`{"writeEnabled":false}`)).want(t, http.StatusUnauthorized)

	// A mount from a repository the user may not read is a plain upload.
	c.auth = basic("admin", "a")
	d := c.pushBlob("other", []byte("secret layer"))
	c.auth = "Bearer " + tok
	c.do("POST", "/v2/app/blobs/uploads/?mount="+d.String()+"&from=other", nil).want(t, http.StatusAccepted)
	c.do("HEAD", "/v2/app/blobs/"+d.String(), nil).want(t, http.StatusNotFound)
}

// TestScopeMapOptions checks that a bad scope map is refused with a reason.
func TestScopeMapOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		maps map[string][]emulator.RepositoryPermission
		want string
	}{
		{"unknown user", map[string][]emulator.RepositoryPermission{"nobody": {{Repository: "a", Actions: []string{"content/read"}}}}, "not in Users"},
		{"unknown action", map[string][]emulator.RepositoryPermission{"ci": {{Repository: "a", Actions: []string{"pull"}}}}, `unknown action "pull"`},
		{"no actions", map[string][]emulator.RepositoryPermission{"ci": {{Repository: "a"}}}, "no actions"},
		{"bad name", map[string][]emulator.RepositoryPermission{"ci": {{Repository: "A B", Actions: []string{"content/read"}}}}, "ci"},
		{"empty", map[string][]emulator.RepositoryPermission{"ci": nil}, "empty"},
	} {
		_, err := emulator.New(&emulator.Options{Users: map[string]string{"ci": "c"}, ScopeMaps: tc.maps})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
}
