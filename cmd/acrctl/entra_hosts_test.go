package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr/dockerconfig"
)

// tokenCatcher is a loopback server that is no registry of the user's: it
// answers like a registry that exchanges Entra ID tokens, and records every
// access_token it is handed.
type tokenCatcher struct {
	host string
	mu   sync.Mutex
	got  []string
}

func newTokenCatcher(t *testing.T) *tokenCatcher {
	c := &tokenCatcher{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth2/exchange":
			r.ParseForm()
			c.mu.Lock()
			c.got = append(c.got, r.PostForm.Get("access_token"))
			c.mu.Unlock()
			fmt.Fprint(w, `{"refresh_token":"caught"}`)
		case "/oauth2/token":
			fmt.Fprint(w, `{"access_token":"caught"}`)
		default:
			if r.Header.Get("Authorization") != "" {
				fmt.Fprint(w, `{}`)
				return
			}
			w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/oauth2/token",service="`+r.Host+`"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(srv.Close)
	c.host = strings.TrimPrefix(srv.URL, "http://")
	return c
}

func (c *tokenCatcher) caught() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestEntraTokenLoopbackOptIn: the credential helper hands the Entra ID
// token to a loopback port only after acrctl login HOST --entra
// --allow-loopback named that HOST:PORT. Before, a login --entra of the
// port (or credsStore: acrctl) was enough, so whatever another local user
// ran there got a token every ACR accepts.
func TestEntraTokenLoopbackOptIn(t *testing.T) {
	f := useFakeEntra(t, "REAL-ENTRA-ID-TOKEN")
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("PATH", t.TempDir())
	c := newTokenCatcher(t)

	// Reached through credsStore, with no login of the host: no
	// credentials, docker goes on anonymously.
	out, code := runHelper(t, c.host, "get")
	if code != 1 || out != dockerconfig.NotFoundMessage+"\n" {
		t.Errorf("get without a login: exit %d, %q; want docker's not-found answer", code, out)
	}

	// A login --entra of the port made before the opt-in existed: refused,
	// with the fix.
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"`+c.host+`":"acrctl"}}`), 0o600)
	out, code = runHelper(t, "http://"+c.host+"\n", "get")
	if code != 1 || !strings.Contains(out, "does not send your Entra ID token to the loopback host "+c.host) ||
		!strings.Contains(out, "acrctl login "+c.host+" --entra --allow-loopback") || !strings.Contains(out, "acrctl logout "+c.host) {
		t.Errorf("get for an old login --entra: exit %d, %q; want a refusal naming --allow-loopback and logout", code, out)
	}
	os.Remove(filepath.Join(dir, "config.json"))

	// login --entra alone refuses a loopback host, and stores nothing.
	acrctl(t, "", "login", c.host, "--entra").fails(t, 2, "--allow-loopback", "any local user can listen there")
	acrctl(t, "", "login", c.host, "--allow-loopback").fails(t, 2, "add --entra")
	acrctl(t, "", "login", "myreg.azurecr.io", "--entra", "--allow-loopback").fails(t, 2, "not one: drop it")
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
		t.Errorf("a refused login --entra wrote config.json")
	}
	if got := c.caught(); len(got) != 0 || f.calls() != 0 {
		t.Fatalf("without the opt-in the listener got %q (%d Entra ID calls); want nothing", got, f.calls())
	}

	// With the opt-in, the user chose to send it there.
	acrctl(t, "", "login", c.host, "--entra", "--allow-loopback").ok(t)
	if got := c.caught(); len(got) != 1 || got[0] != "REAL-ENTRA-ID-TOKEN" {
		t.Errorf("after --allow-loopback the registry got %q, want the Entra ID token once", got)
	}
	path, _ := loopbackOptInPath()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || !strings.HasPrefix(path, os.Getenv("XDG_CONFIG_HOME")) {
		t.Errorf("opt-in file %s: %v, %v; want mode 0600 in the user config dir", path, fi, err)
	}
	// A second port on the same machine is not covered.
	other := newTokenCatcher(t)
	if out, code := runHelper(t, other.host, "get"); code != 1 || len(other.caught()) != 0 {
		t.Errorf("get for another loopback port: exit %d, %q, it got %q; want nothing sent", code, out, other.caught())
	}

	// logout takes the opt-in back.
	acrctl(t, "", "logout", c.host).ok(t)
	if hosts, err := loadLoopbackOptIns(); err != nil || len(hosts) != 0 {
		t.Errorf("after logout the allowed loopback hosts are %q (%v), want none", hosts, err)
	}
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"credHelpers":{"`+c.host+`":"acrctl"}}`), 0o600)
	if out, code := runHelper(t, c.host, "get"); code != 1 || !strings.Contains(out, "--allow-loopback") || len(c.caught()) != 1 {
		t.Errorf("get after logout: exit %d, %q; the listener has %d tokens, want a refusal and still 1", code, out, len(c.caught()))
	}
}
