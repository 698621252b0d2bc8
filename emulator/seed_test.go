package emulator_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// TestPutBlobAndManifest seeds a registry with auth and every fault turned
// on, without credentials, and reads the content back over HTTP as a
// signed-in client does.
func TestPutBlobAndManifest(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{Users: map[string]string{"admin": "pw"}, Throttle: 2, Latency: 1})
	c.auth = "Basic YWRtaW46cHc=" // admin:pw
	ctx := t.Context()
	reg := srv.Registry
	config, layer := []byte(`{"architecture":"arm64","os":"linux"}`), []byte("seeded layer")
	cd, err := reg.PutBlob(ctx, "team/app", config)
	if err != nil {
		t.Fatal(err)
	}
	ld, err := reg.PutBlob(ctx, "team/app", layer)
	if err != nil {
		t.Fatal(err)
	}
	if cd != digest.FromBytes(config) || ld != digest.FromBytes(layer) {
		t.Fatalf("got digests %s %s, want those of the content", cd, ld)
	}
	manifest := []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cd.String() +
		`","size":` + itoa(len(config)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + ld.String() +
		`","size":` + itoa(len(layer)) + `}]}`)
	md, err := reg.PutManifest(ctx, "team/app", "v1", manifest, "")
	if err != nil {
		t.Fatal(err)
	}
	if md != digest.FromBytes(manifest) {
		t.Fatalf("PutManifest returned %s, want %s", md, digest.FromBytes(manifest))
	}
	if d, err := reg.PutManifest(ctx, "team/app", md.String(), manifest, "application/vnd.oci.image.manifest.v1+json"); err != nil || d != md {
		t.Fatalf("by digest: got %s, %v, want %s", d, err, md)
	}

	// Read back over HTTP: two requests, all that Throttle's bucket of two
	// allows, so the seeding calls must have taken none of its budget.
	got := c.do("GET", "/v2/team/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
	if got.Header.Get("Content-Type") != "application/vnd.oci.image.manifest.v1+json" || string(got.body) != string(manifest) {
		t.Errorf("got %s %s, want the seeded OCI manifest", got.Header.Get("Content-Type"), got.body)
	}
	props := decode[struct {
		Manifest struct {
			Architecture string `json:"architecture"`
			Tags         []string
		}
	}](t, c.do("GET", "/acr/v1/team%2Fapp/_manifests/"+md.String(), nil).want(t, http.StatusOK))
	if props.Manifest.Architecture != "arm64" || len(props.Manifest.Tags) != 1 || props.Manifest.Tags[0] != "v1" {
		t.Errorf("got properties %+v, want architecture arm64 and tag v1", props.Manifest)
	}
}

// TestPutManifestRefusals: seeding applies the registry's rules and says
// what is wrong.
func TestPutManifestRefusals(t *testing.T) {
	c, srv := newClient(t, nil)
	ctx := t.Context()
	reg := srv.Registry
	im := c.pushImage("app", "v1", "a")
	missing := []byte(`{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digest.FromString("absent").String() + `","size":6},"layers":[]}`)
	for _, tc := range []struct {
		name, repo, ref string
		body            []byte
		want            string
	}{
		{"blob missing", "app", "v2", missing, "MANIFEST_BLOB_UNKNOWN"},
		{"bad repository", "App", "v1", im.manifest, "repository name"},
		{"bad reference", "app", "a/b", im.manifest, "neither a tag nor a digest"},
		{"digest mismatch", "app", digest.FromString("other").String(), im.manifest, "DIGEST_INVALID"},
		{"no schemaVersion", "app", "v3", []byte(`{"config":{}}`), `requires "schemaVersion": 2`},
	} {
		_, err := reg.PutManifest(ctx, tc.repo, tc.ref, tc.body, "")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error naming %q", tc.name, err, tc.want)
		}
	}
	c.do("PATCH", "/acr/v1/app", []byte(`{"writeEnabled":false}`), "Content-Type", "application/json").want(t, http.StatusOK)
	if _, err := reg.PutBlob(ctx, "app", []byte("x")); err == nil || !strings.Contains(err.Error(), "writeEnabled") {
		t.Errorf("PutBlob into a write-locked repository: got %v, want a refusal naming writeEnabled", err)
	}
	if _, err := reg.PutManifest(ctx, "app", "v9", im.manifest, ""); err == nil || !strings.Contains(err.Error(), "writeEnabled") {
		t.Errorf("PutManifest into a write-locked repository: got %v, want a refusal naming writeEnabled", err)
	}
	if _, err := reg.PutBlob(ctx, "Bad", []byte("x")); err == nil || !strings.Contains(err.Error(), "Bad") {
		t.Errorf("PutBlob into an invalid name: got %v", err)
	}
}
