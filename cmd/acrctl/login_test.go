package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestMain lets the test binary stand in for a docker credential helper:
// started as docker-credential-acrtest (through a symlink on PATH), it
// speaks the helper protocol instead of running tests.
func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "docker-credential-acrtest" {
		os.Exit(fakeCredentialHelper(os.Args[1:], os.Stdin, os.Stdout))
	}
	// The machine's certs.d directories do not steer the tests; those of
	// certs.d support set their own.
	certsDirs = func() []string { return nil }
	os.Exit(m.Run())
}

// fakeCredentialHelper implements store, get and erase with one JSON file
// per server in $ACRTEST_HELPER_DIR, and logs each action.
func fakeCredentialHelper(args []string, stdin io.Reader, stdout io.Writer) int {
	dir := os.Getenv("ACRTEST_HELPER_DIR")
	if len(args) != 1 || dir == "" {
		return 2
	}
	in, _ := io.ReadAll(stdin)
	logf, _ := os.OpenFile(filepath.Join(dir, "actions.log"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	defer logf.Close()
	file := func(server string) string {
		return filepath.Join(dir, base64.RawURLEncoding.EncodeToString([]byte(server))+".json")
	}
	switch args[0] {
	case "store":
		var c struct{ ServerURL, Username, Secret string }
		if err := json.Unmarshal(in, &c); err != nil || c.ServerURL == "" {
			return 1
		}
		logf.WriteString("store " + c.ServerURL + "\n")
		return exitCode(os.WriteFile(file(c.ServerURL), in, 0o600))
	case "get":
		server := strings.TrimSpace(string(in))
		logf.WriteString("get " + server + "\n")
		data, err := os.ReadFile(file(server))
		if err != nil {
			io.WriteString(stdout, "credentials not found in native keychain\n")
			return 1
		}
		var c struct{ ServerURL, Username, Secret string }
		json.Unmarshal(data, &c)
		json.NewEncoder(stdout).Encode(c)
		return 0
	case "erase":
		server := strings.TrimSpace(string(in))
		logf.WriteString("erase " + server + "\n")
		if err := os.Remove(file(server)); err != nil {
			io.WriteString(stdout, "credentials not found in native keychain\n")
			return 1
		}
		return 0
	}
	return 2
}

func exitCode(err error) int {
	if err != nil {
		return 1
	}
	return 0
}

// installHelper puts docker-credential-acrtest on PATH and returns the
// directory where it keeps secrets.
func installHelper(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake helper is a symlink to the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, store := t.TempDir(), t.TempDir()
	if err := os.Symlink(exe, filepath.Join(bin, "docker-credential-acrtest")); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("ACRTEST_HELPER_DIR", store)
	return store
}

// authServer starts a registry that needs credentials (no anonymous pull)
// and points DOCKER_CONFIG at a fresh directory.
func authServer(t *testing.T) (*acrtest.Server, string) {
	t.Helper()
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	return acrtest.NewServer(t, &emulator.Options{Users: map[string]string{testUser: testPassword}}), dir
}

// readConfig decodes config.json in dir as docker's configfile package
// does, failing on anything it would reject.
func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config.json has mode %v, want 0600: it holds credentials", fi.Mode().Perm())
	}
	var cfg map[string]any
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf("config.json is not JSON: %v\n%s", err, data)
	}
	return cfg
}

func TestLoginInline(t *testing.T) {
	srv, dir := authServer(t)
	// Another registry's entry and unknown fields must survive.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"other.example":{"auth":"b3RoZXI6c2VjcmV0"},"https://`+srv.Host+`":{"auth":"b2xkOm9sZA=="}},"proxies":{"default":{"httpProxy":"http://proxy:3128"}},"detachKeys":"ctrl-e,e"}`), 0o600)

	r := acrctl(t, testPassword+"\n", "login", srv.Host, "-u", testUser, "--password-stdin").ok(t)
	if want := "Login succeeded: " + srv.Host + ` accepted user "admin"; credentials stored in ` + filepath.Join(dir, "config.json") + "\n"; r.stdout != want {
		t.Errorf("stdout %q, want %q", r.stdout, want)
	}
	cfg := readConfig(t, dir)
	auths := cfg["auths"].(map[string]any)
	entry, ok := auths[srv.Host].(map[string]any)
	if !ok {
		t.Fatalf("auths has no entry for %s: %v", srv.Host, auths)
	}
	if want := base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword)); entry["auth"] != want || len(entry) != 1 {
		t.Errorf("auths[%s] = %v, want {\"auth\": %q}", srv.Host, entry, want)
	}
	if _, ok := auths["https://"+srv.Host]; ok {
		t.Errorf("the stale https:// entry for the host was kept")
	}
	if auths["other.example"] == nil || cfg["proxies"] == nil || cfg["detachKeys"] != "ctrl-e,e" {
		t.Errorf("login dropped other settings: %v", cfg)
	}

	// Later commands use the stored credentials.
	acrctl(t, "", "repo", "list", srv.Host).ok(t)

	// oras reads the same file.
	if oras := orasBinary(); oras != "" {
		seed := newFixtureClient(t, srv)
		seed.pushImage("hello", "a", "v1")
		out, err := exec.Command(oras, "repo", "tags", srv.Host+"/hello", "--plain-http").CombinedOutput()
		t.Logf("oras repo tags with the config acrctl wrote: %s", strings.TrimSpace(string(out)))
		if err != nil || strings.TrimSpace(string(out)) != "v1" {
			t.Errorf("oras repo tags with acrctl's config.json: %v: %s", err, out)
		}
	}

	r = acrctl(t, "", "logout", srv.Host).ok(t)
	if !strings.Contains(r.stdout, "Removed the credentials for "+srv.Host) {
		t.Errorf("logout printed %q", r.stdout)
	}
	cfg = readConfig(t, dir)
	if _, ok := cfg["auths"].(map[string]any)[srv.Host]; ok {
		t.Errorf("logout left the entry: %v", cfg["auths"])
	}
	if cfg["auths"].(map[string]any)["other.example"] == nil {
		t.Errorf("logout removed another registry's entry")
	}
	acrctl(t, "", "repo", "list", srv.Host).fails(t, 1, "refused anonymous access", "acrctl login "+srv.Host)
	r = acrctl(t, "", "logout", srv.Host).ok(t)
	if !strings.Contains(r.stdout, "Not logged in to "+srv.Host) {
		t.Errorf("second logout printed %q", r.stdout)
	}
}

func TestLoginRefused(t *testing.T) {
	srv, dir := authServer(t)
	r := acrctl(t, "wrong-password\n", "login", srv.Host, "-u", testUser, "--password-stdin").fails(t, 1,
		"authentication failed", `refused user "admin"`, "the user name or password is wrong", "nothing was stored")
	if strings.Contains(r.stderr, "wrong-password") {
		t.Errorf("the error shows the password: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.json")); !os.IsNotExist(err) {
		t.Errorf("a refused login wrote config.json")
	}
}

// TestLoginRechecksStored: login without --username, as docker login
// does, checks the credentials stored for the host again and asks for
// nothing when they work; refused, it says how to store new ones.
func TestLoginRechecksStored(t *testing.T) {
	srv, dir := authServer(t)
	acrctl(t, testPassword+"\n", "login", srv.Host, "-u", testUser, "--password-stdin").ok(t)
	before, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	r := acrctl(t, "", "login", srv.Host).ok(t)
	if !strings.Contains(r.stdout, "Login succeeded: "+srv.Host+" accepted the credentials stored for "+srv.Host) || !strings.Contains(r.stdout, "nothing changed") {
		t.Errorf("login with stored credentials printed %q", r.stdout)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "config.json")); !bytes.Equal(after, before) {
		t.Errorf("checking the stored credentials rewrote config.json")
	}
	wrong := base64.StdEncoding.EncodeToString([]byte(testUser + ":wrong"))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+srv.Host+`":{"auth":"`+wrong+`"}}}`), 0o600)
	acrctl(t, "", "login", srv.Host).fails(t, 1, "authentication failed", "the credentials stored for "+srv.Host,
		"fix: store new ones: acrctl login "+srv.Host+" -u NAME --password-stdin")
}

func TestLoginUsage(t *testing.T) {
	srv, _ := authServer(t)
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"no host", "", []string{"login"}, "takes the registry HOST[:PORT]"},
		{"no user, not a terminal", "", []string{"login", srv.Host}, "login needs --username"},
		{"no password, not a terminal", "", []string{"login", srv.Host, "-u", "admin"}, "needs --password-stdin"},
		{"empty stdin", "", []string{"login", srv.Host, "-u", "admin", "--password-stdin"}, "stdin was empty"},
		{"both passwords", "x\n", []string{"login", srv.Host, "-u", "admin", "-p", "x", "--password-stdin"}, "pass one"},
		{"reference, not host", "", []string{"login", srv.Host + "/repo"}, "not a registry host"},
	} {
		t.Run(tc.name, func(t *testing.T) { acrctl(t, tc.stdin, tc.args...).fails(t, 2, tc.want) })
	}
}

func TestLoginPasswordFlagWarns(t *testing.T) {
	srv, _ := authServer(t)
	r := acrctl(t, "", "login", srv.Host, "-u", testUser, "-p", testPassword).ok(t)
	if !strings.Contains(r.stderr, "prefer --password-stdin") || strings.Contains(r.stderr+r.stdout, testPassword) {
		t.Errorf("stderr %q: want a warning about --password and no password", r.stderr)
	}
}

func TestLoginCredsStore(t *testing.T) {
	store := installHelper(t)
	srv, dir := authServer(t)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credsStore":"acrtest"}`), 0o600)

	r := acrctl(t, testPassword+"\n", "login", srv.Host, "-u", testUser, "--password-stdin").ok(t)
	if !strings.Contains(r.stdout, "credentials stored in credential helper docker-credential-acrtest") {
		t.Errorf("stdout %q", r.stdout)
	}
	// As docker does: the secret goes to the helper, config.json keeps an
	// empty entry so that tools know the host.
	cfg := readConfig(t, dir)
	if cfg["credsStore"] != "acrtest" {
		t.Errorf("credsStore lost: %v", cfg)
	}
	entry, ok := cfg["auths"].(map[string]any)[srv.Host].(map[string]any)
	if !ok || len(entry) != 0 {
		t.Errorf("auths[%s] = %v, want {}", srv.Host, cfg["auths"])
	}
	data, _ := os.ReadFile(filepath.Join(dir, "config.json"))
	if strings.Contains(string(data), testPassword) || strings.Contains(string(data), base64.StdEncoding.EncodeToString([]byte(testUser+":"+testPassword))) {
		t.Errorf("config.json holds the secret beside a credsStore:\n%s", data)
	}
	var stored struct{ ServerURL, Username, Secret string }
	b, err := os.ReadFile(filepath.Join(store, base64.RawURLEncoding.EncodeToString([]byte(srv.Host))+".json"))
	if err != nil || json.Unmarshal(b, &stored) != nil || stored.Username != testUser || stored.Secret != testPassword || stored.ServerURL != srv.Host {
		t.Fatalf("the helper stored %s (%v), want the user and password for %s", b, err, srv.Host)
	}

	// The library reads them back through the helper.
	acrctl(t, "", "repo", "list", srv.Host).ok(t)

	acrctl(t, "", "logout", srv.Host).ok(t)
	if _, err := os.Stat(filepath.Join(store, base64.RawURLEncoding.EncodeToString([]byte(srv.Host))+".json")); !os.IsNotExist(err) {
		t.Errorf("logout did not erase the helper's secret")
	}
	if _, ok := readConfig(t, dir)["auths"].(map[string]any)[srv.Host]; ok {
		t.Errorf("logout left the auths entry")
	}
	if got := helperActions(t, store); !strings.Contains(got, "store "+srv.Host) || !strings.Contains(got, "get "+srv.Host) || !strings.Contains(got, "erase "+srv.Host) {
		t.Errorf("helper actions:\n%s", got)
	}
}

func TestLoginCredHelpers(t *testing.T) {
	store := installHelper(t)
	srv, dir := authServer(t)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"`+srv.Host+`":"acrtest"}}`), 0o600)
	acrctl(t, testPassword+"\n", "login", srv.Host, "-u", testUser, "--password-stdin").ok(t)
	if auths, _ := readConfig(t, dir)["auths"].(map[string]any); len(auths) != 0 {
		t.Errorf("with a credHelpers entry, auths should stay empty: %v", auths)
	}
	acrctl(t, "", "tag", "list", srv.Host+"/nope").fails(t, 3, "not found")
	acrctl(t, "", "logout", srv.Host).ok(t)
	if got := helperActions(t, store); !strings.Contains(got, "erase "+srv.Host) {
		t.Errorf("helper actions:\n%s", got)
	}
}

func TestLoginHelperMissing(t *testing.T) {
	srv, dir := authServer(t)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credsStore":"no-such-helper-acrctl"}`), 0o600)
	acrctl(t, testPassword+"\n", "login", srv.Host, "-u", testUser, "--password-stdin").fails(t, 1,
		"docker-credential-no-such-helper-acrctl is not on PATH", "credsStore")
}

func TestLoginBadConfig(t *testing.T) {
	srv, dir := authServer(t)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":`), 0o600)
	acrctl(t, "", "repo", "list", srv.Host).fails(t, 1, "is not valid JSON", "fix or move the file")
}

// TestVerboseHidesSecrets checks that -v prints every HTTP exchange and
// never a credential: not the password, not its Basic encoding, not a
// token.
func TestVerboseHidesSecrets(t *testing.T) {
	srv, _ := authServer(t)
	r := acrctl(t, testPassword+"\n", "repo", "list", srv.Host, "-v", "-u", testUser, "--password-stdin").ok(t)
	if !strings.Contains(r.stderr, "method=GET") || !strings.Contains(r.stderr, "/acr/v1/_catalog") || !strings.Contains(r.stderr, "status=200") {
		t.Errorf("-v does not show the exchanges:\n%s", r.stderr)
	}
	for _, secret := range []string{testPassword, base64.StdEncoding.EncodeToString([]byte(testUser + ":" + testPassword)), "Bearer", "access_token", "eyJ"} {
		if strings.Contains(r.stderr, secret) {
			t.Errorf("-v output contains %q:\n%s", secret, r.stderr)
		}
	}
	sc := bufio.NewScanner(strings.NewReader(r.stderr))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "msg=") && sc.Text() != srv.Host+" has no repositories" {
			t.Errorf("-v line %q is not a log record", sc.Text())
		}
	}
}

func helperActions(t *testing.T, store string) string {
	t.Helper()
	b, _ := os.ReadFile(filepath.Join(store, "actions.log"))
	return string(b)
}

// orasBinary returns the oras that .ci/tools.sh installs, or "".
func orasBinary() string {
	p, err := filepath.Abs(filepath.Join("..", "..", ".tools", "oras"))
	if err != nil {
		return ""
	}
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// newFixtureClient wraps an existing server for seeding.
func newFixtureClient(t *testing.T, srv *acrtest.Server) *fixture {
	t.Helper()
	f := &fixture{t: t, srv: srv, auth: true}
	c, err := acr.NewClient(srv.Host, acr.BasicCredential(testUser, testPassword), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	return f
}

// TestLoginExposeToken: with a refresh token stored for the registry (as
// docker login stores one), login --expose-token prints it as JSON, in az
// acr login --expose-token's shape, and stores nothing; with an admin user
// stored, it says what credential would give a refresh token.
func TestLoginExposeToken(t *testing.T) {
	const entra = "entra-access-token-for-the-test"
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{entra}, Users: map[string]string{testUser: testPassword}})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ec, err := acr.NewClient(srv.Host, acr.TokenCredential(staticEntra(entra)), nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, err := ec.RefreshToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	acrctl(t, rt.Token+"\n", "login", srv.Host, "-u", acr.RefreshTokenUser, "--password-stdin").ok(t)
	before, _ := os.ReadFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))

	r := acrctl(t, "", "login", srv.Host, "--expose-token").ok(t)
	var out struct{ AccessToken, LoginServer, Username string }
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("--expose-token printed %q: %v", r.stdout, err)
	}
	if out.AccessToken != rt.Token || out.LoginServer != srv.Host || out.Username != acr.RefreshTokenUser {
		t.Errorf("--expose-token printed %+v", out)
	}
	if after, _ := os.ReadFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")); !bytes.Equal(after, before) {
		t.Error("--expose-token changed the docker config")
	}

	acrctl(t, testPassword+"\n", "login", srv.Host, "-u", testUser, "--password-stdin").ok(t)
	acrctl(t, "", "login", srv.Host, "--expose-token").fails(t, 1, "--expose-token needs", "refresh token")

	// A refused --username is the command line's to fix: login is what
	// runs, so the advice is not to run acrctl login.
	r = acrctl(t, "", "login", srv.Host, "--expose-token", "-u", testUser, "-p", "wrong").fails(t, 1, `refused user "admin"`, "check the user name and password")
	if strings.Contains(r.stderr, "run acrctl login") {
		t.Errorf("login --expose-token with a wrong password advises running login: %s", r.stderr)
	}
}

// staticEntra is an Entra ID credential that returns a fixed token.
type staticEntra string

func (s staticEntra) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(s), ExpiresOn: time.Now().Add(time.Hour)}, nil
}
