package main

import (
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/cobra"
)

// TestTLSFlags runs against a registry serving https on loopback: TLS
// flags switch loopback hosts to https, and an untrusted certificate says
// which flag fixes it.
func TestTLSFlags(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	srv := acrtest.NewTLSServer(t, nil)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.HTTP.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	other, _, err := emulator.SelfSignedCertificate(dir)
	if err != nil {
		t.Fatal(err)
	}
	acrctl(t, "", "repo", "list", srv.Host, "--ca-file", ca).ok(t)
	acrctl(t, "", "repo", "list", srv.Host, "--insecure").ok(t)
	acrctl(t, "", "repo", "list", srv.Host).fails(t, 1, "speaks https", "--ca-file")
	// A HEAD's 400 has no body to say why; copies name the registry's fix too.
	acrctl(t, "", "blob", "exists", srv.Host+"/app@"+digest.FromString("x").String()).fails(t, 1, "speaks https", "--ca-file")
	acrctl(t, "", "copy", srv.Host+"/app:v1", "oci:"+filepath.Join(dir, "layout")+":v1").fails(t, 1, "speaks https", "--ca-file")
	acrctl(t, "", "repo", "list", srv.Host, "--ca-file", other).fails(t, 1, "TLS certificate of "+srv.Host+" is not trusted",
		"fix: --ca-file "+other+" does not hold the certificate that signed it", "--insecure")
	acrctl(t, "", "repo", "list", srv.Host, "--plain-http").fails(t, 1, srv.Host+" speaks https, and --plain-http asks for plain http",
		"fix: drop --plain-http, and pass --ca-file CERT.pem (or --insecure)")
	acrctl(t, "", "repo", "list", srv.Host, "--ca-file", filepath.Join(dir, "missing.pem")).fails(t, 2, "--ca-file", "no such file")
	acrctl(t, "", "repo", "list", srv.Host, "--ca-file", filepath.Join(dir, "..")).fails(t, 2, "--ca-file")
	os.WriteFile(filepath.Join(dir, "junk.pem"), []byte("not a certificate"), 0o644)
	acrctl(t, "", "repo", "list", srv.Host, "--ca-file", filepath.Join(dir, "junk.pem")).fails(t, 2, "holds no PEM certificate")
	acrctl(t, "", "repo", "list", srv.Host, "--plain-http", "--insecure").fails(t, 2, "--plain-http turns TLS off")
	acrctl(t, "", "repo", "list", "127.0.0.1:1", "--insecure").fails(t, 1, "cannot connect to 127.0.0.1:1", "acrctl serve --addr 127.0.0.1:1 --tls-self-signed")
}

// TestCredentialOrder checks which credential each host gets.
func TestCredentialOrder(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"stored.azurecr.io":{"auth":"dTpw"},"localhost:5000":{"auth":"dTpw"}}}`), 0o600)
	for _, tc := range []struct {
		name, host string
		flags      []string
		want       string
		audience   string
	}{
		{"flags win", "stored.azurecr.io", []string{"-u", "me", "-p", "pw"}, `user "me" from --username`, acr.AudienceAzurePublic},
		{"docker config", "stored.azurecr.io", nil, "the credentials stored for stored.azurecr.io in " + filepath.Join(dir, "config.json"), acr.AudienceAzurePublic},
		{"docker config, other registry", "localhost:5000", nil, "the credentials stored for localhost:5000", ""},
		{"Entra ID, public cloud", "myreg.azurecr.io", nil, "Entra ID", acr.AudienceAzurePublic},
		{"Entra ID, China", "myreg.azurecr.cn", nil, "Entra ID", acr.AudienceAzureChina},
		{"Entra ID, US government", "MyReg.AzureCR.us:443", nil, "Entra ID", acr.AudienceAzureGovernment},
		{"anonymous", "registry.example.com", nil, "anonymous access", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o remoteOptions
			cmd := &cobra.Command{}
			o.addFlags(cmd.Flags())
			if err := cmd.ParseFlags(tc.flags); err != nil {
				t.Fatal(err)
			}
			s, err := o.connect(cmd, tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(s.cred, tc.want) {
				t.Errorf("credential %q, want %q", s.cred, tc.want)
			}
			if got := audienceFor(tc.host); got != tc.audience {
				t.Errorf("audience %q, want %q", got, tc.audience)
			}
			if (s.entra != nil) != strings.HasPrefix(tc.want, "Entra") {
				t.Errorf("Entra ID credential set: %t", s.entra != nil)
			}
			if s.scheme != "https" && !isLoopbackHost(tc.host) {
				t.Errorf("scheme %s for %s, want https", s.scheme, tc.host)
			}
		})
	}
}

// TestExplainEntraFailure checks the message when DefaultAzureCredential
// cannot sign in: it blames Entra ID, not the registry, and says how to
// sign in.
func TestExplainEntraFailure(t *testing.T) {
	s := &session{host: "myreg.azurecr.io", cred: "Entra ID (DefaultAzureCredential)", scheme: "https", entra: &entraCredential{}}
	s.entra.err = errors.New("DefaultAzureCredential: failed to acquire a token.\nAttempted credentials:\n\tEnvironmentCredential: missing environment variables\n\tAzureCLICredential: Azure CLI not found on path\n")
	err := s.explain(errors.New("acr: GET https://myreg.azurecr.io/acr/v1/_catalog: Entra ID token: failed"))
	msg := err.Error()
	for _, want := range []string{"Entra ID sign-in failed", "myreg.azurecr.io", "failed to acquire a token", "az login", "acrctl login myreg.azurecr.io"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "\n") {
		t.Errorf("message has several lines: %q", msg)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "localhost:5000": true, "LOCALHOST:1": true, "127.0.0.1:5000": true, "127.1.2.3": true, "[::1]:5000": true,
		"myregistry.azurecr.io": false, "10.0.0.1:5000": false, "localhost.example.com": false,
	} {
		if got := isLoopbackHost(host); got != want {
			t.Errorf("isLoopbackHost(%q) = %t, want %t", host, got, want)
		}
	}
}

// TestFlagsBeforeSubcommand: connection, output and verbosity flags work
// before the subcommand too, as in crane, regctl, docker and kubectl.
func TestFlagsBeforeSubcommand(t *testing.T) {
	f := newFixture(t, true)
	f.pushImage("app", "one", "v1")
	r := acrctl(t, "", "-v", "--output", "json", "tag", "list", f.srv.Host+"/app").ok(t)
	if !strings.Contains(r.stdout, `"v1"`) || !strings.Contains(r.stderr, "status=200") {
		t.Errorf("stdout %q stderr %q", r.stdout, r.stderr)
	}
	acrctl(t, "", "--bogus", "tag", "list", f.srv.Host+"/app").fails(t, 2, "unknown flag: --bogus")
	acrctl(t, "", "-v", "nosuch").fails(t, 2, "unknown")
}

// TestVersion: acrctl version and --version print the build.
func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := acrctl(t, "", args...).ok(t)
		if !strings.HasPrefix(r.stdout, "acrctl ") || !strings.Contains(r.stdout, "go1.") {
			t.Errorf("%v: %q", args, r.stdout)
		}
	}
}

// TestMissingCredentialHelper: a credential helper that docker's config
// names but that is not installed is named, with the fix, in one line
// without the library's package prefixes.
func TestMissingCredentialHelper(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"a": "b"}})
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"`+srv.Host+`":"acrgo-missing"}}`), 0o600)
	for _, args := range [][]string{{"repo", "list", srv.Host}, {"tag", "list", srv.Host + "/app"}} {
		r := acrctl(t, "", args...).fails(t, 1, "docker-credential-acrgo-missing", "not on PATH", "fix: install it")
		if strings.Contains(r.stderr, "transport:") || strings.Contains(r.stderr, "acr:") {
			t.Errorf("%v: %q", args, r.stderr)
		}
	}
}

// TestUsernameInPipelines: --password-stdin is read once however many
// connections a command opens, so a promotion within one registry works
// with credentials from a pipeline's secret; a command that reaches two
// registries refuses --username rather than send one registry's password
// to the other, and the fix it names (a throwaway DOCKER_CONFIG with a
// login per registry) works.
func TestUsernameInPipelines(t *testing.T) {
	src, _ := authServer(t)
	dst := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"other": "other-Pa55word"}})
	src.PushImage(t, "app", "v1")
	creds := []string{"-u", testUser, "--password-stdin"}

	acrctl(t, testPassword+"\n", append([]string{"copy", src.Host + "/app:v1", src.Host + "/release/app:1.0.0"}, creds...)...).ok(t)
	if _, err := newFixtureClient(t, src).client.ResolveDigest(t.Context(), "release/app", "1.0.0"); err != nil {
		t.Fatalf("the promotion did not tag release/app:1.0.0: %v", err)
	}

	r := acrctl(t, testPassword+"\n", append([]string{"copy", src.Host + "/app:v1", dst.Host + "/app:v1"}, creds...)...)
	r.fails(t, 2, "--username gives the credentials of one registry", src.Host, dst.Host, "acrctl login", "DOCKER_CONFIG")
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	r = acrctl(t, "", "copy", src.Host+"/app:v1", dst.Host+"/app:v1", "-u", testUser, "-p", testPassword)
	r.fails(t, 2, "--username gives the credentials of one registry")

	t.Setenv("DOCKER_CONFIG", t.TempDir())
	acrctl(t, testPassword+"\n", "login", src.Host, "-u", testUser, "--password-stdin").ok(t)
	acrctl(t, "other-Pa55word\n", "login", dst.Host, "-u", "other", "--password-stdin").ok(t)
	acrctl(t, "", "copy", src.Host+"/app:v1", dst.Host+"/app:v1").ok(t)
}

// TestTLSFlagsWithPlainLoopback: --ca-file and --insecure make every
// loopback host use https, so a plain-http loopback registry is refused
// with a fix that works: dropping the flag, or, for a copy whose other end
// needs it, two copies through a layout (--plain-http would turn TLS off
// for both ends).
func TestTLSFlagsWithPlainLoopback(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	tlsSrv := acrtest.NewTLSServer(t, nil)
	tlsSrv.PushImage(t, "app", "v1")
	plain := acrtest.NewServer(t, nil)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.HTTP.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	acrctl(t, "", "repo", "list", plain.Host, "--ca-file", ca).fails(t, 1, plain.Host+" speaks plain http", "fix: drop --ca-file")
	acrctl(t, "", "repo", "list", plain.Host, "--insecure").fails(t, 1, "fix: drop --insecure")

	acrctl(t, "", "copy", tlsSrv.Host+"/app:v1", plain.Host+"/app:v1", "--ca-file", ca).
		fails(t, 1, plain.Host+" speaks plain http", "--ca-file makes acrctl use https for both registries", "two steps")
	layout := "oci:" + filepath.Join(dir, "layout") + ":v1"
	acrctl(t, "", "copy", tlsSrv.Host+"/app:v1", layout, "--ca-file", ca).ok(t)
	acrctl(t, "", "copy", layout, plain.Host+"/app:v1").ok(t)
	acrctl(t, "", "manifest", "exists", plain.Host+"/app:v1").ok(t)
}
