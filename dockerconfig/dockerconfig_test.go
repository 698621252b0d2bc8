package dockerconfig

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for credential helpers: started as
// docker-credential-NAME, it answers get with the user NAME-user and the
// secret NAME-secret for servers listed in $FAKE_HELPER_KNOWS, or else
// "credentials not found", and records every action in $FAKE_HELPER_LOG.
func TestMain(m *testing.M) {
	if name, ok := strings.CutPrefix(filepath.Base(os.Args[0]), HelperPrefix); ok {
		os.Exit(fakeHelper(name, os.Args[1:]))
	}
	os.Exit(m.Run())
}

func fakeHelper(name string, args []string) int {
	in, _ := io.ReadAll(os.Stdin)
	if f, err := os.OpenFile(os.Getenv("FAKE_HELPER_LOG"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
		f.WriteString(name + " " + strings.Join(args, " ") + " " + string(in) + "\n")
		f.Close()
	}
	if len(args) != 1 {
		return 2
	}
	server := strings.TrimSpace(string(in))
	known := false
	for _, s := range strings.Fields(os.Getenv("FAKE_HELPER_KNOWS")) {
		known = known || s == server
	}
	switch args[0] {
	case "get":
		if !known {
			io.WriteString(os.Stdout, NotFoundMessage+"\n")
			return 1
		}
		user := name + "-user"
		if name == "tokens" {
			user = TokenUser
		}
		json.NewEncoder(os.Stdout).Encode(map[string]string{"ServerURL": server, "Username": user, "Secret": name + "-secret"})
	case "store":
	case "erase":
		if !known {
			io.WriteString(os.Stdout, NotFoundMessage+"\n")
			return 1
		}
	default:
		return 2
	}
	return 0
}

// installHelpers puts docker-credential-NAME for each name on PATH and
// returns the log of their actions.
func installHelpers(t *testing.T, knows string, names ...string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("the fake helpers are symlinks to the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for _, n := range names {
		if err := os.Symlink(exe, filepath.Join(bin, HelperPrefix+n)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	t.Setenv("FAKE_HELPER_KNOWS", knows)
	log := filepath.Join(t.TempDir(), "actions.log")
	t.Setenv("FAKE_HELPER_LOG", log)
	return log
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "config.json")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

const host = "reg.example:5000"

// TestLookupPrecedence checks docker's order: the host's credHelpers
// entry, then credsStore, then the inline auths entry.
func TestLookupPrecedence(t *testing.T) {
	installHelpers(t, host, "perhost", "store", "tokens")
	inline := `"auths":{"` + host + `":{"auth":"aW5saW5lOnB3"}}` // inline:pw
	for _, tc := range []struct {
		name, config string
		want         Auth
	}{
		{"auths only", `{` + inline + `}`, Auth{Username: "inline", Password: "pw"}},
		{"credsStore over auths", `{` + inline + `,"credsStore":"store"}`, Auth{Username: "store-user", Password: "store-secret"}},
		{"credHelpers over credsStore and auths", `{` + inline + `,"credsStore":"store","credHelpers":{"` + host + `":"perhost"}}`,
			Auth{Username: "perhost-user", Password: "perhost-secret"}},
		{"another host's credHelpers entry does not apply", `{` + inline + `,"credHelpers":{"other.example":"perhost"}}`,
			Auth{Username: "inline", Password: "pw"}},
		{"helper's <token> user is an identity token", `{"credHelpers":{"` + host + `":"tokens"}}`, Auth{IdentityToken: "tokens-secret"}},
		{"identitytoken entry", `{"auths":{"` + host + `":{"identitytoken":"rt"}}}`, Auth{IdentityToken: "rt"}},
		{"username and password entry", `{"auths":{"` + host + `":{"username":"u","password":"p"}}}`, Auth{Username: "u", Password: "p"}},
		{"https URL key with a path", `{"auths":{"https://` + host + `/v1/":{"auth":"aW5saW5lOnB3"}}}`, Auth{Username: "inline", Password: "pw"}},
		{"nothing for the host", `{"auths":{"other.example":{"auth":"aW5saW5lOnB3"}}}`, Auth{}},
		{"empty file", ``, Auth{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(writeConfig(t, tc.config))
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Lookup(t.Context(), host)
			if err != nil || got != tc.want {
				t.Errorf("Lookup = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestLookupStoreWithoutHost: as in docker, a credsStore that does not
// know the host hides an inline entry (docker ignores the file's secret).
func TestLookupStoreWithoutHost(t *testing.T) {
	log := installHelpers(t, "", "store")
	c, err := Load(writeConfig(t, `{"auths":{"`+host+`":{"auth":"aW5saW5lOnB3"}},"credsStore":"store"}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Lookup(t.Context(), host)
	if err != nil || got != (Auth{}) {
		t.Errorf("Lookup = %+v, %v; want nothing", got, err)
	}
	if b, _ := os.ReadFile(log); !strings.Contains(string(b), "store get "+host) {
		t.Errorf("the store was not asked: %q", b)
	}
}

func TestLookupHelperMissing(t *testing.T) {
	installHelpers(t, host)
	c, _ := Load(writeConfig(t, `{"credsStore":"absent"}`))
	_, err := c.Lookup(t.Context(), host)
	var me *HelperMissingError
	if !errors.As(err, &me) || me.Program != "docker-credential-absent" || !strings.Contains(err.Error(), "is not on PATH") {
		t.Errorf("err = %v, want a HelperMissingError naming docker-credential-absent", err)
	}
}

func TestLoadInvalid(t *testing.T) {
	for _, body := range []string{`{"auths":`, `{"auths":[]}`, `{"credHelpers":"x"}`} {
		if _, err := Load(writeConfig(t, body)); err == nil || !strings.Contains(err.Error(), "fix or move the file") {
			t.Errorf("Load(%s) = %v, want an error saying to fix the file", body, err)
		}
	}
}

// TestLoadDirectory: a path that names a directory (the DOCKER_CONFIG
// directory given where the file is expected) says which file to name.
func TestLoadDirectory(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(dir)
	if want := filepath.Join(dir, "config.json"); err == nil || !strings.Contains(err.Error(), "is a directory") || !strings.Contains(err.Error(), want) {
		t.Errorf("Load(%s) = %v, want an error naming %s", dir, err, want)
	}
}

// TestStoreEraseKeepsOtherFields: writing keeps fields this package does
// not know, other registries and the file's mode; stale URL-shaped keys
// for the host go.
func TestStoreEraseKeepsOtherFields(t *testing.T) {
	path := writeConfig(t, `{"auths":{"other.example":{"auth":"b3RoZXI6cw=="},"https://`+host+`":{"auth":"b2xkOm9sZA=="}},"proxies":{"default":{"httpProxy":"http://p:3128"}}}`)
	os.Chmod(path, 0o640)
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	where, err := c.Store(t.Context(), host, "u", "s3cret")
	if err != nil || where != path {
		t.Fatalf("Store = %q, %v", where, err)
	}
	var raw map[string]map[string]any
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["auths"][host].(map[string]any)["auth"] != "dTpzM2NyZXQ=" || raw["auths"]["https://"+host] != nil ||
		raw["auths"]["other.example"] == nil || raw["proxies"]["default"] == nil {
		t.Errorf("after Store: %s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want the file's 0640 kept", fi.Mode().Perm())
	}
	c, _ = Load(path)
	if a, _ := c.Lookup(t.Context(), host); a != (Auth{Username: "u", Password: "s3cret"}) {
		t.Errorf("read back %+v", a)
	}
	if found, err := c.Erase(t.Context(), host); !found || err != nil {
		t.Fatalf("Erase = %t, %v", found, err)
	}
	c, _ = Load(path)
	if c.HasCredentials(host) || !c.HasCredentials("other.example") {
		t.Errorf("after Erase: hosts %v", c.Hosts())
	}
	if found, err := c.Erase(t.Context(), host); found || err != nil {
		t.Errorf("second Erase = %t, %v; want nothing found", found, err)
	}
}

// TestStoreWithHelpers: the secret goes to the helper docker would use,
// with an empty auths entry beside a credsStore and none for credHelpers.
func TestStoreWithHelpers(t *testing.T) {
	log := installHelpers(t, host, "perhost", "store")
	path := writeConfig(t, `{"credsStore":"store","credHelpers":{"only.example":"perhost"}}`)
	c, _ := Load(path)
	if where, err := c.Store(t.Context(), host, "u", "s3cret"); err != nil || where != "credential helper docker-credential-store" {
		t.Fatalf("Store = %q, %v", where, err)
	}
	if where, err := c.Store(t.Context(), "only.example", "u", "s3cret"); err != nil || where != "credential helper docker-credential-perhost" {
		t.Fatalf("Store = %q, %v", where, err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "s3cret") || strings.Contains(string(b), "dTpzM2NyZXQ=") {
		t.Errorf("config.json holds the secret beside helpers:\n%s", b)
	}
	c, _ = Load(path)
	if _, ok := c.Auths[host]; !ok {
		t.Errorf("no empty auths entry for %s beside the credsStore: %s", host, b)
	}
	if _, ok := c.Auths["only.example"]; ok || c.CredHelpers["only.example"] != "perhost" || c.CredsStore != "store" {
		t.Errorf("after Store: %s", b)
	}
	actions, _ := os.ReadFile(log)
	if !strings.Contains(string(actions), `store store {"Secret":"s3cret","ServerURL":"`+host+`","Username":"u"}`) ||
		!strings.Contains(string(actions), `perhost store {"Secret":"s3cret","ServerURL":"only.example","Username":"u"}`) {
		t.Errorf("helper actions:\n%s", actions)
	}
}

func TestSetCredHelper(t *testing.T) {
	path := writeConfig(t, `{"auths":{"`+host+`":{"auth":"aW5saW5lOnB3"}},"detachKeys":"ctrl-e,e"}`)
	c, _ := Load(path)
	if err := c.SetCredHelper(host, "acrctl"); err != nil {
		t.Fatal(err)
	}
	c, _ = Load(path)
	if c.CredHelpers[host] != "acrctl" || len(c.Auths) != 0 || c.Helper(host) != "acrctl" {
		t.Errorf("after SetCredHelper: helpers %v, auths %v", c.CredHelpers, c.Auths)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), `"detachKeys": "ctrl-e,e"`) {
		t.Errorf("an unknown field was lost:\n%s", b)
	}
}
