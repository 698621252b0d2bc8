package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/dockerconfig"
	"github.com/acrgo/acr/emulator"
)

// fakeEntra is an Entra ID credential that hands out a fixed token and
// records the scopes it was asked for.
type fakeEntra struct {
	token  string
	mu     sync.Mutex
	scopes [][]string
}

func (f *fakeEntra) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scopes = append(f.scopes, o.Scopes)
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (f *fakeEntra) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.scopes)
}

// useFakeEntra makes the credential helper get its Entra ID token from a
// fakeEntra, sets a fresh user cache dir and restores both afterwards.
func useFakeEntra(t *testing.T, token string) *fakeEntra {
	t.Helper()
	f := &fakeEntra{token: token}
	old, oldNow := entraSource, helperNow
	entraSource = func(string) (azcore.TokenCredential, error) { return f, nil }
	t.Cleanup(func() { entraSource, helperNow = old, oldNow })
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	return f
}

// runHelper runs the credential helper in process.
func runHelper(t *testing.T, stdin string, args ...string) (string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := credentialHelper(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	if errb.Len() > 0 {
		t.Logf("helper stderr: %s", errb.String())
	}
	return out.String(), code
}

// jwtClaims decodes the payload of a JWT.
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want a JWT", len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCredentialHelperGet: get prints the protocol's JSON with an ACR
// refresh token for the host, exchanged for the Entra ID token, cached with
// mode 0600 and used until 30 minutes before it expires.
func TestCredentialHelperGet(t *testing.T) {
	const entra = "entra-token-for-the-helper"
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{entra}})
	f := useFakeEntra(t, entra)
	allowLoopback(t, srv.Host)

	out, code := runHelper(t, srv.Host+"\n", "get")
	if code != 0 {
		t.Fatalf("get exited %d: %s", code, out)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("get printed %q: %v", out, err)
	}
	if len(got) != 3 || got["ServerURL"] != srv.Host || got["Username"] != "00000000-0000-0000-0000-000000000000" || got["Secret"] == "" {
		t.Fatalf("get printed %s", out)
	}
	claims := jwtClaims(t, got["Secret"])
	if claims["aud"] != srv.Host || claims["grant_type"] != "refresh_token" {
		t.Errorf("the secret's aud %v, grant_type %v; want %s and refresh_token", claims["aud"], claims["grant_type"], srv.Host)
	}
	exp := time.Unix(int64(claims["exp"].(float64)), 0)
	if f.calls() != 1 || len(f.scopes[0]) != 1 || f.scopes[0][0] != acr.AudienceAzurePublic+"/.default" {
		t.Errorf("Entra ID was asked for %v, want once for %s/.default", f.scopes, acr.AudienceAzurePublic)
	}
	// The secret works as docker uses it.
	c, err := acr.NewClient(srv.Host, acr.BasicCredential(acr.RefreshTokenUser, got["Secret"]), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("the refresh token does not sign in: %v", err)
	}

	// Cached, owner-only.
	path, err := helperCachePath(srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 || !strings.HasPrefix(path, os.Getenv("XDG_CACHE_HOME")) {
		t.Fatalf("cache %s: %v, %v; want mode 0600 in the user cache dir", path, fi, err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), got["Secret"]) {
		t.Errorf("the cache does not hold the token")
	}
	if dfi, _ := os.Stat(filepath.Dir(path)); dfi.Mode().Perm() != 0o700 {
		t.Errorf("cache dir mode %v, want 0700", dfi.Mode().Perm())
	}

	// Within the token's life: no new exchange.
	helperNow = func() time.Time { return exp.Add(-helperRenew - time.Minute) }
	out2, _ := runHelper(t, "https://"+srv.Host, "get")
	var again map[string]string
	json.Unmarshal([]byte(out2), &again)
	if f.calls() != 1 || again["Secret"] != got["Secret"] || again["ServerURL"] != "https://"+srv.Host {
		t.Errorf("with %v left, get made %d Entra ID calls and printed %s; want the cached token", helperRenew+time.Minute, f.calls(), out2)
	}
	// Less than helperRenew left: renewed.
	helperNow = func() time.Time { return exp.Add(-helperRenew + time.Minute) }
	out3, code := runHelper(t, srv.Host, "get")
	if code != 0 || f.calls() != 2 {
		t.Fatalf("with %v left, get made %d Entra ID calls (want 2): %s", helperRenew-time.Minute, f.calls(), out3)
	}
	var cached helperCred
	b, _ := os.ReadFile(path)
	json.Unmarshal(b, &cached)
	if !cached.ExpiresOn.After(exp.Add(-time.Second)) || cached.Secret == "" {
		t.Errorf("the renewed cache entry expires %v, want a new token expiring after %v", cached.ExpiresOn, exp)
	}

	// list, store, erase.
	out, code = runHelper(t, "", "list")
	var list map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || list[srv.Host] != acr.RefreshTokenUser || len(list) != 1 {
		t.Errorf("list printed %q (exit %d)", out, code)
	}
	if out, code = runHelper(t, `{"ServerURL":"`+srv.Host+`","Username":"u","Secret":"s"}`, "store"); code != 0 {
		t.Errorf("store exited %d: %s", code, out)
	}
	if out, code = runHelper(t, srv.Host, "erase"); code != 0 {
		t.Errorf("erase exited %d: %s", code, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("erase left the cache file")
	}
	if out, code = runHelper(t, srv.Host, "erase"); code != 1 || out != dockerconfig.NotFoundMessage+"\n" {
		t.Errorf("erase of an unknown server: exit %d, %q; want 1 and %q", code, out, dockerconfig.NotFoundMessage)
	}
	if out, code = runHelper(t, "", "get"); code != 1 || !strings.Contains(out, "no server URL") {
		t.Errorf("get without a server: exit %d, %q", code, out)
	}
	if _, code = runHelper(t, "", "frobnicate"); code != 2 {
		t.Errorf("an unknown action exited %d, want 2", code)
	}
}

// TestCredentialHelperRefused: an Entra ID token the registry refuses is
// reported on stdout, as the protocol wants, with the fix.
func TestCredentialHelperRefused(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{"the-right-token"}})
	useFakeEntra(t, "a-wrong-token")
	allowLoopback(t, srv.Host)
	out, code := runHelper(t, srv.Host, "get")
	if code != 1 || !strings.Contains(out, "could not get an ACR refresh token for "+srv.Host) || !strings.Contains(out, "az login") {
		t.Errorf("exit %d, %q", code, out)
	}
	if strings.Contains(out, "a-wrong-token") {
		t.Errorf("the error shows the token: %s", out)
	}
}

func TestIsHelperProgram(t *testing.T) {
	for argv0, want := range map[string]bool{
		"/usr/local/bin/docker-credential-acrctl": true, "docker-credential-acrctl.exe": true,
		"/usr/bin/acrctl": false, "docker-credential-acrctl2": false, "docker-credential-desktop": false,
	} {
		if got := isHelperProgram(argv0); got != want {
			t.Errorf("isHelperProgram(%q) = %t, want %t", argv0, got, want)
		}
	}
}

// TestLoginEntra: login --entra checks the helper can get a token, names
// it under credHelpers (keeping the rest of the file), says how to put it
// on PATH; later commands go through it; logout removes the entry.
func TestLoginEntra(t *testing.T) {
	const entra = "entra-token-for-login"
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{entra}})
	useFakeEntra(t, entra)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"auths":{"`+srv.Host+`":{"auth":"d3Jvbmc6d3Jvbmc="}},"detachKeys":"ctrl-e,e"}`), 0o600)
	t.Setenv("PATH", t.TempDir())

	r := acrctl(t, "", "login", srv.Host, "--entra", "--allow-loopback").ok(t)
	if !strings.Contains(r.stdout, "Login succeeded: "+srv.Host) || !strings.Contains(r.stdout, "docker-credential-acrctl is not on PATH yet") ||
		!strings.Contains(r.stdout, "ln -s ") {
		t.Errorf("stdout %q", r.stdout)
	}
	cfg := readConfig(t, dir)
	if h, _ := cfg["credHelpers"].(map[string]any); h[srv.Host] != "acrctl" {
		t.Errorf("credHelpers %v, want %s: acrctl", cfg["credHelpers"], srv.Host)
	}
	if a, _ := cfg["auths"].(map[string]any); len(a) != 0 || cfg["detachKeys"] != "ctrl-e,e" {
		t.Errorf("after login --entra: %v", cfg)
	}
	if path, _ := helperCachePath(srv.Host); path != "" {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("login --entra did not fill the helper's cache: %v", err)
		}
	}

	acrctl(t, "", "login", srv.Host, "--entra", "-u", "x").fails(t, 2, "--entra stores no user name")
	r = acrctl(t, "", "logout", srv.Host).ok(t)
	if !strings.Contains(r.stdout, "Removed the credentials for "+srv.Host) {
		t.Errorf("logout printed %q", r.stdout)
	}
	if h, _ := readConfig(t, dir)["credHelpers"].(map[string]any); len(h) != 0 {
		t.Errorf("logout left credHelpers %v", h)
	}

	// A refused Entra ID token stores nothing.
	entraSource = func(string) (azcore.TokenCredential, error) { return &fakeEntra{token: "wrong"}, nil }
	os.Remove(mustCachePath(t, srv.Host))
	acrctl(t, "", "login", srv.Host, "--entra", "--allow-loopback").fails(t, 1, "could not get an ACR refresh token", "nothing was stored")
	if h, _ := readConfig(t, dir)["credHelpers"].(map[string]any); len(h) != 0 {
		t.Errorf("a failed login --entra wrote credHelpers %v", h)
	}
	if hosts, err := loadLoopbackOptIns(); err != nil || len(hosts) != 0 {
		t.Errorf("a failed login --entra --allow-loopback left the opt-in for %q (%v)", hosts, err)
	}
}

// allowLoopback records the opt-in of login --entra --allow-loopback for
// host, as the helper's tests' setup.
func allowLoopback(t *testing.T, host string) {
	t.Helper()
	if _, err := setLoopbackOptIn(host, true); err != nil {
		t.Fatal(err)
	}
}

func mustCachePath(t *testing.T, host string) string {
	t.Helper()
	p, err := helperCachePath(host)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCredentialHelperTools runs oras, crane and regctl (pinned in .tools
// by .ci/tools.sh) against a registry that accepts only Entra ID, through
// acrctl built with the acrctl_testhooks tag and linked as
// docker-credential-acrctl; the tag lets the binary take its Entra ID token
// from ACRCTL_TESTHOOK_ENTRA_TOKEN, which shipped builds ignore.
func TestCredentialHelperTools(t *testing.T) {
	if testing.Short() {
		t.Skip("builds acrctl and runs oras, crane and regctl")
	}
	if runtime.GOOS == "windows" {
		t.Skip("uses a symbolic link as docker-credential-acrctl")
	}
	tools, _ := filepath.Abs(filepath.Join("..", "..", ".tools"))
	bins := map[string]string{}
	for _, n := range []string{"oras", "crane", "regctl"} {
		p := filepath.Join(tools, n)
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s is not in %s: run bash .ci/tools.sh to install the pinned oras, crane and regctl", n, tools)
		}
		bins[n] = p
	}
	const entra = "entra-token-for-the-tools"
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{entra}})

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	os.Mkdir(bin, 0o755)
	acrctlBin := filepath.Join(dir, "acrctl")
	if out, err := exec.Command("go", "build", "-tags", "acrctl_testhooks", "-o", acrctlBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.Symlink(acrctlBin, filepath.Join(bin, "docker-credential-acrctl")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+home,
		"DOCKER_CONFIG="+filepath.Join(dir, "docker"), "XDG_CACHE_HOME="+filepath.Join(dir, "cache"),
		"XDG_CONFIG_HOME="+filepath.Join(dir, "config"), "ACRCTL_TESTHOOK_ENTRA_TOKEN="+entra)
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env, cmd.Dir = env, dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// Without the helper, the registry refuses them.
	cmd := exec.Command(bins["crane"], "ls", srv.Host+"/app")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("crane ls without credentials succeeded: %s", out)
	}

	out := run(acrctlBin, "login", srv.Host, "--entra", "--allow-loopback")
	if !strings.Contains(out, "docker-credential-acrctl is on PATH: "+filepath.Join(bin, "docker-credential-acrctl")) {
		t.Errorf("login --entra printed %q", out)
	}
	// The helper protocol through the symlink and the hidden subcommand.
	for _, argv := range [][]string{{filepath.Join(bin, "docker-credential-acrctl"), "get"}, {acrctlBin, "credential-helper", "get"}} {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Env, cmd.Stdin = env, strings.NewReader(srv.Host)
		b, err := cmd.Output()
		var got struct{ ServerURL, Username, Secret string }
		if err != nil || json.Unmarshal(b, &got) != nil || got.ServerURL != srv.Host || got.Username != acr.RefreshTokenUser ||
			jwtClaims(t, got.Secret)["aud"] != srv.Host {
			t.Errorf("%s: %v: %s", strings.Join(argv[1:], " "), err, b)
		}
	}

	os.WriteFile(filepath.Join(dir, "hello.txt"), []byte("hello through Entra ID\n"), 0o644)
	run(bins["oras"], "push", "--plain-http", srv.Host+"/app:oras", "hello.txt")
	run(bins["crane"], "copy", srv.Host+"/app:oras", srv.Host+"/app:crane")
	run(bins["regctl"], "registry", "set", srv.Host, "--tls", "disabled")
	run(bins["regctl"], "image", "copy", srv.Host+"/app:oras", srv.Host+"/app:regctl")
	if tags := run(bins["crane"], "ls", srv.Host+"/app"); strings.Fields(tags) == nil ||
		strings.Join(strings.Fields(tags), " ") != "crane oras regctl" {
		t.Errorf("crane ls printed %q, want crane, oras and regctl", tags)
	}
	if out := run(bins["oras"], "pull", "--plain-http", "-o", filepath.Join(dir, "pulled"), srv.Host+"/app:regctl"); out == "" {
		t.Error("oras pull printed nothing")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "pulled", "hello.txt")); err != nil || string(b) != "hello through Entra ID\n" {
		t.Errorf("pulled %q, %v", b, err)
	}
}

// TestCredentialHelperForeignHost: the helper and login --entra never get an
// Entra ID token for a host that is neither an ACR login server nor
// loopback, since the token exchange would hand it to that host; docker is
// told there are no credentials and goes on anonymously.
func TestCredentialHelperForeignHost(t *testing.T) {
	f := useFakeEntra(t, "entra-token-not-for-strangers")
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	for _, host := range []string{"registry.example.com", "ghcr.io", "evil.azurecr.io.example.com", "azurecr.io.attacker.net:443"} {
		out, code := runHelper(t, "https://"+host+"\n", "get")
		if code != 1 || !strings.Contains(out, "credentials not found") {
			t.Errorf("get %s: exit %d, %q; want docker's not-found answer", host, code, out)
		}
		acrctl(t, "", "login", host, "--entra").fails(t, 2, "only to Azure Container Registry login servers", "--password-stdin")
		acrctl(t, "", "login", host, "--entra", "--allow-loopback").fails(t, 2, "only to Azure Container Registry login servers", "--password-stdin")
	}
	if n := f.calls(); n != 0 {
		t.Errorf("an Entra ID token was requested %d times for foreign hosts", n)
	}
}
