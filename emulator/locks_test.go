package emulator_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestLocks(t *testing.T) {
	c, _ := newClient(t, nil)
	mt := "application/vnd.oci.image.manifest.v1+json"
	im := c.pushImage("lk", "v1", "one")
	other := c.pushImage("lk", "v2", "two")

	// writeEnabled=false on a tag: no move, no delete, not even via the manifest.
	c.do("PATCH", "/acr/v1/lk/_tags/v1", []byte(`{"writeEnabled":false}`)).want(t, http.StatusOK)
	r := c.do("PUT", "/v2/lk/manifests/v1", other.manifest, "Content-Type", mt).want(t, http.StatusMethodNotAllowed)
	if r.errorCode() != "REGISTRY_DISALLOWED_OPERATION" {
		t.Errorf("got code %q", r.errorCode())
	}
	c.do("DELETE", "/acr/v1/lk/_tags/v1", nil).want(t, http.StatusMethodNotAllowed)
	c.do("DELETE", "/v2/lk/manifests/"+im.digest.String(), nil).want(t, http.StatusMethodNotAllowed)
	c.do("DELETE", "/acr/v1/lk", nil).want(t, http.StatusMethodNotAllowed)
	c.do("GET", "/v2/lk/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
	c.do("PATCH", "/acr/v1/lk/_tags/v1", []byte(`{"writeEnabled":true,"deleteEnabled":false}`)).want(t, http.StatusOK)
	// deleteEnabled=false: moving is allowed, deleting is not.
	c.do("DELETE", "/v2/lk/manifests/v1", nil).want(t, http.StatusMethodNotAllowed)
	c.do("PUT", "/v2/lk/manifests/v1", other.manifest, "Content-Type", mt).want(t, http.StatusCreated)

	// readEnabled=false on a manifest refuses pulls by digest and by tag.
	c.do("PATCH", "/acr/v1/lk/_manifests/"+other.digest.String(), []byte(`{"readEnabled":false}`)).want(t, http.StatusOK)
	c.do("GET", "/v2/lk/manifests/v2", nil, acceptAll...).want(t, http.StatusMethodNotAllowed)
	c.do("GET", "/v2/lk/manifests/"+other.digest.String(), nil, acceptAll...).want(t, http.StatusMethodNotAllowed)
	c.do("PATCH", "/acr/v1/lk/_manifests/"+other.digest.String(), []byte(`{"readEnabled":true}`)).want(t, http.StatusOK)

	// listEnabled=false hides tags from both listings.
	c.do("PATCH", "/acr/v1/lk/_tags/v2", []byte(`{"listEnabled":false}`)).want(t, http.StatusOK)
	tags := decode[struct{ Tags []string }](t, c.do("GET", "/v2/lk/tags/list", nil).want(t, http.StatusOK))
	for _, tg := range tags.Tags {
		if tg == "v2" {
			t.Fatal("a tag with listEnabled=false is listed")
		}
	}
	acrTags := decode[struct{ Tags []struct{ Name string } }](t, c.do("GET", "/acr/v1/lk/_tags", nil).want(t, http.StatusOK))
	for _, tg := range acrTags.Tags {
		if tg.Name == "v2" {
			t.Fatal("a tag with listEnabled=false is listed by /acr/v1")
		}
	}

	// Repository attributes apply to everything inside.
	c.do("PATCH", "/acr/v1/lk", []byte(`{"writeEnabled":false}`)).want(t, http.StatusOK)
	c.do("PUT", "/v2/lk/manifests/v3", im.manifest, "Content-Type", mt).want(t, http.StatusMethodNotAllowed)
	c.do("POST", "/v2/lk/blobs/uploads/", nil).want(t, http.StatusMethodNotAllowed)
	c.do("PATCH", "/acr/v1/lk", []byte(`{"writeEnabled":true,"readEnabled":false,"listEnabled":false}`)).want(t, http.StatusOK)
	c.do("GET", "/v2/lk/blobs/"+im.layer.String(), nil).want(t, http.StatusMethodNotAllowed)
	cat := decode[struct{ Repositories []string }](t, c.do("GET", "/v2/_catalog", nil).want(t, http.StatusOK))
	if len(cat.Repositories) != 0 {
		t.Fatalf("a repository with listEnabled=false is listed: %v", cat.Repositories)
	}
	c.do("PATCH", "/acr/v1/lk", []byte(`not json`)).want(t, http.StatusBadRequest)
}

// TestLockRefusalNamesEveryFlag: a delete refused by both writeEnabled and
// deleteEnabled says to lift both, so that following the message once is
// enough.
func TestLockRefusalNamesEveryFlag(t *testing.T) {
	c, _ := newClient(t, nil)
	c.pushImage("lk", "v1", "one")
	message := func(r response) string {
		return decode[struct{ Errors []struct{ Message string } }](t, r).Errors[0].Message
	}
	c.do("PATCH", "/acr/v1/lk/_tags/v1", []byte(`{"writeEnabled":false,"deleteEnabled":false}`)).want(t, http.StatusOK)
	got := message(c.do("DELETE", "/acr/v1/lk/_tags/v1", nil).want(t, http.StatusMethodNotAllowed))
	for _, want := range []string{"cannot delete tag v1 because its writeEnabled and deleteEnabled are false", "set them to true",
		`{"writeEnabled":true,"deleteEnabled":true}`, "acrctl tag update REF --write-enabled true --delete-enabled true"} {
		if !strings.Contains(got, want) {
			t.Errorf("got message %q, want it to contain %q", got, want)
		}
	}
	// Following it, the delete succeeds.
	c.do("PATCH", "/acr/v1/lk/_tags/v1", []byte(`{"writeEnabled":true,"deleteEnabled":true}`)).want(t, http.StatusOK)
	c.do("DELETE", "/acr/v1/lk/_tags/v1", nil).want(t, http.StatusAccepted)

	// One flag: the message is singular, as before.
	c.pushImage("lk", "v2", "two")
	c.do("PATCH", "/acr/v1/lk/_tags/v2", []byte(`{"deleteEnabled":false}`)).want(t, http.StatusOK)
	got = message(c.do("DELETE", "/acr/v1/lk/_tags/v2", nil).want(t, http.StatusMethodNotAllowed))
	if want := `because its deleteEnabled is false; set it to true first: PATCH its /acr/v1 properties with {"deleteEnabled":true}`; !strings.Contains(got, want) {
		t.Errorf("got message %q, want it to contain %q", got, want)
	}
}
