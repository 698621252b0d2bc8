package emulator_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// tokenServer serves a registry on dir with opts; tokens it signs survive
// a restart on the same dir, as the signing key persists there.
func tokenServer(t *testing.T, dir string, opts emulator.Options) *emulator.Server {
	t.Helper()
	opts.Dir = dir
	reg, err := emulator.New(&opts)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// serveRecorded serves one request to reg and returns the recorder.
func serveRecorded(reg *emulator.Server, method, target string, set func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://127.0.0.1:5000"+target, nil)
	if set != nil {
		set(r)
	}
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, r)
	return w
}

// accessToken asks reg for an access token with set's credentials.
func accessToken(t *testing.T, reg *emulator.Server, query string, set func(*http.Request)) string {
	t.Helper()
	w := serveRecorded(reg, "GET", "/oauth2/token?service=127.0.0.1:5000&"+query, set)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %s", w.Code, w.Body)
	}
	return tok.AccessToken
}

func bearerAuth(tok string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// TestTokenOfRemovedUser: after a restart without alice, the token she got
// before is refused at once (401 invalid_token), not honoured until it
// expires; an unchanged user's token still works.
func TestTokenOfRemovedUser(t *testing.T) {
	dir := t.TempDir()
	scope := "scope=" + url.QueryEscape("repository:r:pull,push,delete") + "&scope=" + url.QueryEscape("registry:catalog:*")
	a := tokenServer(t, dir, emulator.Options{Users: map[string]string{"alice": "pw1", "admin": "x"}})
	alice := accessToken(t, a, scope, func(r *http.Request) { r.SetBasicAuth("alice", "pw1") })
	admin := accessToken(t, a, scope, func(r *http.Request) { r.SetBasicAuth("admin", "x") })
	a.Close()

	b := tokenServer(t, dir, emulator.Options{Users: map[string]string{"admin": "x"}})
	defer b.Close()
	for _, rq := range []struct{ method, path string }{{"GET", "/v2/_catalog"}, {"POST", "/v2/r/blobs/uploads/"}, {"GET", "/v2/"}} {
		w := serveRecorded(b, rq.method, rq.path, bearerAuth(alice))
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Header().Get("Www-Authenticate"), `error="invalid_token"`) {
			t.Errorf("removed alice's token, %s %s: %d %s, want 401 invalid_token", rq.method, rq.path, w.Code, w.Header().Get("Www-Authenticate"))
		}
		if w := serveRecorded(b, rq.method, rq.path, bearerAuth(admin)); w.Code >= 300 {
			t.Errorf("admin's token, %s %s: %d %s, want it to work", rq.method, rq.path, w.Code, w.Body)
		}
	}
}

// TestTokenOfNarrowedScopeMap: after a restart that narrows ci's scope map
// (or gives an unlimited user one), the token ci got before grants only
// what the map grants now.
func TestTokenOfNarrowedScopeMap(t *testing.T) {
	dir := t.TempDir()
	users := map[string]string{"ci": "pw", "dev": "pw2"}
	a := tokenServer(t, dir, emulator.Options{Users: users, ScopeMaps: map[string][]emulator.RepositoryPermission{
		"ci": {{Repository: "app", Actions: []string{"content/read", "content/write", "content/delete"}}}}})
	scope := "scope=" + url.QueryEscape("repository:app:pull,push,delete") + "&scope=" + url.QueryEscape("registry:catalog:*")
	ci := accessToken(t, a, scope, func(r *http.Request) { r.SetBasicAuth("ci", "pw") })
	dev := accessToken(t, a, scope, func(r *http.Request) { r.SetBasicAuth("dev", "pw2") })
	if w := serveRecorded(a, "POST", "/v2/app/blobs/uploads/", bearerAuth(ci)); w.Code != http.StatusAccepted {
		t.Fatalf("ci's push before the restart: %d %s", w.Code, w.Body)
	}
	a.Close()

	b := tokenServer(t, dir, emulator.Options{Users: users, ScopeMaps: map[string][]emulator.RepositoryPermission{
		"ci":  {{Repository: "app", Actions: []string{"content/read"}}},
		"dev": {{Repository: "app", Actions: []string{"content/read"}}}}})
	defer b.Close()
	for name, tok := range map[string]string{"ci": ci, "dev": dev} {
		if w := serveRecorded(b, "POST", "/v2/app/blobs/uploads/", bearerAuth(tok)); w.Code != http.StatusUnauthorized ||
			!strings.Contains(w.Header().Get("Www-Authenticate"), "insufficient_scope") {
			t.Errorf("%s's old token pushing to app after the map lost content/write: %d %s, want 401 insufficient_scope", name, w.Code, w.Body)
		}
		if w := serveRecorded(b, "GET", "/v2/app/tags/list", bearerAuth(tok)); w.Code == http.StatusUnauthorized {
			t.Errorf("%s's old token reading app, which the map still grants: 401 %s", name, w.Body)
		}
	}
	if w := serveRecorded(b, "GET", "/v2/_catalog", bearerAuth(dev)); w.Code != http.StatusUnauthorized {
		t.Errorf("dev's old token listing the catalog after dev got a scope map: %d, want 401", w.Code)
	}
}

// TestTokenOfRemovedAnonymousAndEntra: anonymous tokens stop working when
// anonymous pull is turned off, and tokens from an Entra ID exchange when
// no Entra ID token is accepted any more.
func TestTokenOfRemovedAnonymousAndEntra(t *testing.T) {
	dir := t.TempDir()
	a := tokenServer(t, dir, emulator.Options{AnonymousPull: true, AADTokens: []string{"aad"}, Users: map[string]string{"admin": "x"}})
	anon := accessToken(t, a, "scope="+url.QueryEscape("repository:app:pull"), nil)
	w := serveRecorded(a, "POST", "/oauth2/exchange", func(r *http.Request) {
		r.Body = http.NoBody
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Body = ioNopCloser("grant_type=access_token&service=127.0.0.1:5000&access_token=aad")
	})
	var ex struct {
		RefreshToken string `json:"refresh_token"`
	}
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &ex) != nil {
		t.Fatalf("exchange: %d %s", w.Code, w.Body)
	}
	a.Close()

	b := tokenServer(t, dir, emulator.Options{Users: map[string]string{"admin": "x"}})
	defer b.Close()
	if w := serveRecorded(b, "GET", "/v2/app/tags/list", bearerAuth(anon)); w.Code != http.StatusUnauthorized {
		t.Errorf("an anonymous token after anonymous pull was turned off: %d, want 401", w.Code)
	}
	if w := serveRecorded(b, "GET", "/v2/", func(r *http.Request) { r.SetBasicAuth("00000000-0000-0000-0000-000000000000", ex.RefreshToken) }); w.Code != http.StatusUnauthorized {
		t.Errorf("an Entra ID refresh token after Entra ID sign-in was turned off: %d, want 401", w.Code)
	}
}

func ioNopCloser(s string) *nopBody { return &nopBody{strings.NewReader(s)} }

type nopBody struct{ *strings.Reader }

func (nopBody) Close() error { return nil }
