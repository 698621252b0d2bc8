package main

import (
	"bytes"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// TestReferenceRegistryCLI runs the OCI-level commands against the
// reference registry (distribution), which has no /acr/v1 API. It reads
// the server from ACRGO_REFERENCE_URL (and ACRGO_REFERENCE_USER and
// ACRGO_REFERENCE_PASSWORD), as .ci/reference.sh sets them; plain go test
// skips it.
func TestReferenceRegistryCLI(t *testing.T) {
	reg := acrtest.ReferenceRegistry(t)
	u := reg.URL
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	host := pu.Host
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	user, pass := reg.User, reg.Password
	var cred acr.Credential
	if user != "" {
		cred = acr.BasicCredential(user, pass)
		acrctl(t, pass+"\n", "login", host, "-u", user, "--password-stdin").ok(t)
		defer acrctl(t, "", "logout", host)
	}
	client, err := acr.NewClient(u, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, client: client}
	repo := "acrctl-cli/" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	ref := func(s string) string { return host + "/" + repo + s }

	data := bytes.Repeat([]byte("reference "), 1000)
	r := acrctl(t, string(data), "blob", "put", ref(""), "-").ok(t)
	d := digest.FromBytes(data)
	if strings.TrimSpace(r.stdout) != d.String() {
		t.Fatalf("blob put printed %q, want %s", r.stdout, d)
	}
	acrctl(t, "", "blob", "exists", ref("@"+d.String())).ok(t)
	if r = acrctl(t, "", "blob", "get", ref("@"+d.String())).ok(t); r.stdout != string(data) {
		t.Errorf("blob get returned %d bytes, want %d", len(r.stdout), len(data))
	}

	img := f.pushImage(repo, "reference", "v1", "v2")
	if r = acrctl(t, "", "manifest", "get", ref(":v1")).ok(t); r.stdout != string(img.bytes) {
		t.Errorf("manifest get: got %q", r.stdout)
	}
	r = acrctl(t, "", "tag", "list", ref("")).ok(t)
	for _, tag := range []string{"v1", "v2"} {
		if !strings.Contains(r.stdout, "\n"+tag+" ") {
			t.Errorf("tag list lacks %s:\n%s", tag, r.stdout)
		}
	}
	acrctl(t, "", "repo", "list", host).ok(t)
	// ACR's metadata commands say that this registry lacks the API.
	acrctl(t, "", "repo", "show", ref("")).fails(t, 1, "not supported", "/acr/v1")
	acrctl(t, "", "tag", "list", ref(""), "--order", "time-desc").fails(t, 1, "not supported")
	acrctl(t, "", "manifest", "delete", ref("@"+img.digest.String()), "--yes").ok(t)
	acrctl(t, "", "blob", "delete", ref("@"+d.String())).ok(t)
	acrctl(t, "", "blob", "exists", ref("@"+d.String())).fails(t, 3, "does not exist")
}
