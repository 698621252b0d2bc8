package emulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// TestScopeMatrix calls every endpoint with tokens that each hold one
// action (or pull and push), and checks that exactly what ACR requires is
// let through;
// the others get 401 with a challenge naming the required scope.
func TestScopeMatrix(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	c.auth = basic("u", "p")
	im := c.pushImage("m", "v1", "one")
	c.auth = ""
	endpoints := []struct {
		method, path string
		need         string // scope that must be enough
	}{
		{"GET", "/v2/_catalog", "registry:catalog:*"},
		{"GET", "/acr/v1/_catalog", "registry:catalog:*"},
		{"GET", "/v2/m/tags/list", "repository:m:pull"},
		{"GET", "/v2/m/manifests/v1", "repository:m:pull"},
		{"HEAD", "/v2/m/manifests/v1", "repository:m:pull"},
		{"GET", "/v2/m/blobs/" + im.layer.String(), "repository:m:pull"},
		{"GET", "/v2/m/referrers/" + im.digest.String(), "repository:m:pull"},
		{"POST", "/v2/m/blobs/uploads/", "repository:m:pull,push"},
		{"PUT", "/v2/m/manifests/v2", "repository:m:pull,push"},
		{"DELETE", "/v2/m/blobs/" + im.config.String(), "repository:m:delete"},
		{"GET", "/acr/v1/m", "repository:m:metadata_read"},
		{"GET", "/acr/v1/m/_tags", "repository:m:metadata_read"},
		{"GET", "/acr/v1/m/_tags/v1", "repository:m:metadata_read"},
		{"GET", "/acr/v1/m/_manifests", "repository:m:metadata_read"},
		{"GET", "/acr/v1/m/_manifests/" + im.digest.String(), "repository:m:metadata_read"},
		{"PATCH", "/acr/v1/m/_tags/v1", "repository:m:metadata_write"},
		{"PATCH", "/acr/v1/m", "repository:m:metadata_write"},
		{"DELETE", "/acr/v1/m/_tags/v1", "repository:m:delete"},
	}
	scopes := []string{"registry:catalog:*", "repository:m:pull", "repository:m:push", "repository:m:pull,push", "repository:m:delete",
		"repository:m:metadata_read", "repository:m:metadata_write", "repository:other:*"}
	tokens := map[string]string{}
	for _, s := range scopes {
		tokens[s] = c.token(basic("u", "p"), s)
	}
	for _, ep := range endpoints {
		for _, s := range scopes {
			c.auth = "Bearer " + tokens[s]
			var body []byte
			switch {
			case ep.method == "PATCH":
				body = []byte(`{"listEnabled":true}`)
			case ep.method == "PUT":
				body = im.manifest
			}
			r := c.do(ep.method, ep.path, body, append([]string{"Content-Type", "application/vnd.oci.image.manifest.v1+json"}, acceptAll...)...)
			allowed := r.StatusCode != http.StatusUnauthorized
			// Pushing needs pull too, as on ACR; a token for pull and
			// push also does what pull alone does.
			want := s == ep.need || s == "repository:m:pull,push" && ep.need == "repository:m:pull"
			if allowed != want {
				t.Errorf("%s %s with %s: got status %d, want allowed=%v", ep.method, ep.path, s, r.StatusCode, want)
				continue
			}
			if !allowed && !strings.Contains(r.Header.Get("Www-Authenticate"), `scope="`+ep.need+`"`) {
				t.Errorf("%s %s with %s: challenge %q does not ask for %s", ep.method, ep.path, s, r.Header.Get("Www-Authenticate"), ep.need)
			}
		}
	}
	// The deletes ran last, with the delete scope: the tag is gone.
	c.auth = basic("u", "p")
	c.do("GET", "/v2/m/manifests/v1", nil, acceptAll...).want(t, http.StatusNotFound)
}
