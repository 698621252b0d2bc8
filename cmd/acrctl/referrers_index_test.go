package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// TestManifestDeleteReferrerIndex deletes referrers with acrctl on a
// registry without the referrers API, where attach lists them in the
// subject's referrers tag index: manifest delete removes the entry and says
// so in one more line; when the index cannot be written, the error says
// the manifest is deleted, why the entry stays, and the command that
// removes it, and that command does.
func TestManifestDeleteReferrerIndex(t *testing.T) {
	var refuse atomic.Bool
	var deletable atomic.Pointer[string] // while refusing, the one manifest DELETE lets go
	srv := acrtest.NewServer(t, nil)
	reg := acrtest.WithoutReferrersAPI(srv.Registry)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Refused: writing the index, and deleting it (the emptied index
		// of the last referrer is deleted rather than written).
		if refuse.Load() && (r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") ||
			r.Method == http.MethodDelete && !strings.HasSuffix(r.URL.Path, "/manifests/"+*deletable.Load())) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	host := hs.Listener.Addr().String()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	client, err := acr.NewClient(host, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: &acrtest.Server{URL: "http://" + host, Host: host}, client: client}
	img := f.pushImage("app", "subject", "v1")
	dir := t.TempDir()
	attach := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(f.run("", "attach", f.ref("app:v1"), p, "--artifact-type", "application/vnd.example."+name).ok(t).stdout)
	}
	sig, sbom := attach("sig"), attach("sbom")
	referrers := func() []string {
		t.Helper()
		var l struct {
			Referrers []referrerJSON `json:"manifests"`
		}
		if err := json.Unmarshal([]byte(f.run("", "manifest", "referrers", f.ref("app:v1"), "-o", "json").ok(t).stdout), &l); err != nil {
			t.Fatal(err)
		}
		var ds []string
		for _, r := range l.Referrers {
			ds = append(ds, r.Digest)
		}
		return ds
	}
	if got := referrers(); len(got) != 2 {
		t.Fatalf("referrers after attaching two: %v", got)
	}

	r := f.run("", "manifest", "delete", f.ref("app@"+sig), "--yes").ok(t)
	want := "Deleted manifest " + f.ref("app@"+sig) + "\n" +
		"Removed it from the referrers tag index of its subject " + f.ref("app@"+img.digest.String()) + "\n"
	if r.stdout != want {
		t.Errorf("manifest delete of a referrer printed:\n%s\nwant:\n%s", r.stdout, want)
	}
	if got := referrers(); len(got) != 1 || got[0] != sbom {
		t.Fatalf("referrers after deleting the signature: got %v, want only the SBOM %s", got, sbom)
	}

	// In JSON, the subject whose index it left.
	att := attach("attestation")
	var del struct {
		ManifestsDeleted []string
		UnindexedFrom    string
	}
	if err := json.Unmarshal([]byte(f.run("", "manifest", "delete", f.ref("app@"+att), "--yes", "-o", "json").ok(t).stdout), &del); err != nil {
		t.Fatal(err)
	}
	if len(del.ManifestsDeleted) != 1 || del.ManifestsDeleted[0] != att || del.UnindexedFrom != img.digest.String() {
		t.Errorf("manifest delete -o json: got %+v, want %s deleted and unindexedFrom %s", del, att, img.digest)
	}
	if got := referrers(); len(got) != 1 || got[0] != sbom {
		t.Fatalf("referrers after deleting the attestation: got %v, want only the SBOM %s", got, sbom)
	}

	// The index write refused: the manifest is deleted, the entry stays.
	deletable.Store(&sbom)
	refuse.Store(true)
	r = f.run("", "manifest", "delete", f.ref("app@"+sbom), "--yes").fails(t, 1,
		"deleted manifest "+f.ref("app@"+sbom), "its entry in the referrers tag index of its subject "+f.ref("app@"+img.digest.String())+" stays", "DENIED",
		"once that is fixed, run acrctl manifest referrers "+f.ref("app@"+img.digest.String())+" --prune to remove the entry")
	if r.stdout != "Deleted manifest "+f.ref("app@"+sbom)+"\n" {
		t.Errorf("manifest delete with the index refused printed %q, want only the deletion", r.stdout)
	}
	if ok, err := client.ManifestExists(t.Context(), "app", sbom); err != nil || ok {
		t.Fatalf("the SBOM is still in the registry: %v %v", ok, err)
	}
	if got := referrers(); len(got) != 1 || got[0] != sbom {
		t.Fatalf("referrers with the index write refused: got %v, want the deleted SBOM still listed", got)
	}
	refuse.Store(false)
	r = f.run("", "manifest", "referrers", f.ref("app@"+img.digest.String()), "--prune").ok(t)
	if want := "Removed " + sbom + ", a deleted manifest, from the referrers tag index of " + f.ref("app@"+img.digest.String()) + "\n" +
		f.ref("app@"+img.digest.String()) + " has no referrers\n"; r.stdout != "" || r.stderr != want {
		t.Errorf("referrers --prune: stdout %q, stderr:\n%s\nwant stderr:\n%s", r.stdout, r.stderr, want)
	}
	if got := referrers(); len(got) != 0 {
		t.Fatalf("referrers after --prune: got %v, want none", got)
	}
}

// TestReferenceRegistryCLIReferrerDelete attaches a signature and an SBOM
// with acrctl to the reference registry (distribution v3.1.2, which has no
// referrers API, so attach lists them in the subject's referrers tag
// index) and deletes the signature with acrctl manifest delete: the output
// says it left the index, and neither acrctl nor, when .tools holds it,
// oras discover lists it afterwards.
func TestReferenceRegistryCLIReferrerDelete(t *testing.T) {
	reg := acrtest.ReferenceRegistry(t)
	pu, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	host := pu.Host
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	var cred acr.Credential
	if reg.User != "" {
		cred = acr.BasicCredential(reg.User, reg.Password)
		acrctl(t, reg.Password+"\n", "login", host, "-u", reg.User, "--password-stdin").ok(t)
	}
	client, err := acr.NewClient(reg.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, srv: &acrtest.Server{URL: reg.URL, Host: host}, client: client}
	repo := "acrctl-cli/referrer-delete-" + strings.ToLower(time.Now().Format("150405.000000000"))
	img := f.pushImage(repo, "referrer delete", "v1")
	subject := f.ref(repo + "@" + img.digest.String())
	dir := t.TempDir()
	attach := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("content of "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(f.run("", "attach", subject, p, "--artifact-type", "application/vnd.example."+name).ok(t).stdout)
	}
	sig, sbom := attach("sig"), attach("sbom")
	oras, err := exec.LookPath("../../.tools/oras")
	if err != nil {
		oras = ""
		t.Log("no .tools/oras (ACRCTL=skip bash .ci/tools.sh installs it): oras discover not checked")
	}
	discover := func() string {
		t.Helper()
		args := []string{"discover", "--format", "json", "--plain-http"}
		if reg.User != "" {
			args = append(args, "-u", reg.User, "-p", reg.Password)
		}
		out, err := exec.CommandContext(t.Context(), oras, append(args, subject)...).CombinedOutput()
		if err != nil {
			t.Fatalf("oras discover: %v\n%s", err, out)
		}
		return string(out)
	}
	if oras != "" {
		if out := discover(); !strings.Contains(out, sig) || !strings.Contains(out, sbom) {
			t.Fatalf("oras discover before the deletion lacks %s or %s:\n%s", sig, sbom, out)
		}
	}

	r := f.run("", "manifest", "delete", f.ref(repo+"@"+sig), "--yes").ok(t)
	if want := "Deleted manifest " + f.ref(repo+"@"+sig) + "\nRemoved it from the referrers tag index of its subject " + subject + "\n"; r.stdout != want {
		t.Errorf("manifest delete of the signature printed:\n%s\nwant:\n%s", r.stdout, want)
	}
	r = f.run("", "manifest", "referrers", subject).ok(t)
	if strings.Contains(r.stdout, sig) || !strings.Contains(r.stdout, sbom) {
		t.Errorf("acrctl manifest referrers after deleting the signature:\n%s\nwant the SBOM %s and not the signature %s", r.stdout, sbom, sig)
	}
	if oras != "" {
		if out := discover(); strings.Contains(out, sig) || !strings.Contains(out, sbom) {
			t.Errorf("oras discover after deleting the signature:\n%s\nwant the SBOM %s and not the signature %s", out, sbom, sig)
		}
	}
}
