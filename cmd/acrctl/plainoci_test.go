package main

import (
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// TestACROnlyCommandsOnPlainOCI: on a registry without ACR's /acr/v1 API
// (in process, as distribution answers), a command that needs it fails
// naming the problem and the command that does the nearest thing there,
// and the OCI commands work.
func TestACROnlyCommandsOnPlainOCI(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	hs := httptest.NewServer(acrtest.PlainOCI(srv.Registry))
	t.Cleanup(hs.Close)
	u, err := url.Parse(hs.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := u.Host
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, client: client}
	f.pushImage("app", "a", "v1")
	ref := func(s string) string { return host + "/app" + s }

	acrctl(t, "", "repo", "show", ref("")).fails(t, 1, "not supported", "/acr/v1", "fix: ", "acrctl tag list "+ref(""))
	acrctl(t, "", "manifest", "list", ref("")).fails(t, 1, "not supported", "fix: ", "acrctl tag list "+ref(""))
	acrctl(t, "", "repo", "list-deleted", host).fails(t, 1, "not supported", "fix: soft delete exists only on Azure Container Registry")
	acrctl(t, "", "manifest", "restore", ref(":v1")).fails(t, 1, "not supported", "fix: soft delete exists only on Azure Container Registry")
	acrctl(t, "", "tag", "update", ref(":v1"), "--lock").fails(t, 1, "not supported", "fix: lock flags exist only on Azure Container Registry")
	acrctl(t, "", "repo", "update", ref(""), "--lock").fails(t, 1, "not supported", "fix: lock flags exist only on Azure Container Registry")
	acrctl(t, "", "repo", "list", host, "--page-size", "1").ok(t)
	acrctl(t, "", "tag", "list", ref(""), "--order", "time-desc").fails(t, 1, "not supported", "fix: leave out --order and --digest")
	acrctl(t, "", "repo", "delete", ref(""), "--yes").fails(t, 1, "not supported", "fix: ", "acrctl manifest delete "+ref(":TAG --yes"))

	acrctl(t, "", "tag", "list", ref(""), "-o", "name").ok(t)
	// The OCI tag list has names only: the JSON claims no lock flags.
	if r := acrctl(t, "", "tag", "list", ref(""), "-o", "json").ok(t); !strings.Contains(r.stdout, `"name": "v1"`) || strings.Contains(r.stdout, "changeableAttributes") {
		t.Errorf("tag list -o json on a plain OCI registry:\n%s\nwant the names without lock flags", r.stdout)
	}
	acrctl(t, "", "manifest", "get", ref(":v1")).ok(t)
	acrctl(t, "", "manifest", "exists", ref(":v1")).ok(t)
	acrctl(t, "", "manifest", "exists", ref(":v9")).fails(t, 3, "does not exist")

	// tag show and manifest show fall back to what the OCI API tells: the
	// digest (crane digest, oras resolve), the media types and an image's
	// size, with a note that ACR's metadata is missing; no lock flags.
	img := f.client
	m, err := img.GetManifest(t.Context(), "app", "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	im, err := m.Image()
	if err != nil {
		t.Fatal(err)
	}
	size := im.Config.Size
	for _, l := range im.Layers {
		size += l.Size
	}
	r := acrctl(t, "", "tag", "show", ref(":v1")).ok(t)
	if !strings.Contains(r.stdout, "Digest:      "+m.Digest.String()) || strings.Contains(r.stdout, "enabled") || !strings.Contains(r.stderr, "/acr/v1") {
		t.Errorf("tag show on a plain OCI registry:\n%s%s\nwant the digest, no lock flags, and a note", r.stdout, r.stderr)
	}
	r = acrctl(t, "", "tag", "show", ref(":v1"), "-o", "json").ok(t)
	var tj map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &tj); err != nil || tj["digest"] != m.Digest.String() || tj["name"] != "v1" || tj["changeableAttributes"] != nil {
		t.Errorf("tag show -o json on a plain OCI registry: %s (%v); want the digest and no lock flags", r.stdout, err)
	}
	r = acrctl(t, "", "manifest", "show", ref(":v1"), "-o", "json").ok(t)
	var mj map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &mj); err != nil || mj["digest"] != m.Digest.String() || mj["mediaType"] != m.MediaType ||
		mj["imageSize"] != float64(size) || mj["configMediaType"] != im.Config.MediaType || mj["changeableAttributes"] != nil || mj["tags"] != nil {
		t.Errorf("manifest show -o json on a plain OCI registry: %s (%v); want digest, media types and size %d, no ACR metadata", r.stdout, err, size)
	}
	r = acrctl(t, "", "manifest", "show", ref("@"+m.Digest.String())).ok(t)
	if !strings.Contains(r.stdout, m.Digest.String()) || !strings.Contains(r.stdout, "Image size:") || strings.Contains(r.stdout, "Tags:") {
		t.Errorf("manifest show on a plain OCI registry:\n%s\nwant the digest and size, no tags", r.stdout)
	}
	acrctl(t, "", "tag", "show", ref(":nope")).fails(t, 3, "nope")

	acrctl(t, "", "manifest", "delete", ref(":v1"), "--yes").ok(t)
}
