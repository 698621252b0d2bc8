package transport

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr/emulator"
)

func TestSameOrigin(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"https://r.io/v2/", "https://r.io/v2/x?y", true},
		{"https://r.io/", "https://R.IO:443/", true},
		{"http://r.io/", "http://r.io:80/", true},
		{"https://r.io/", "http://r.io/", false},
		{"https://r.io/", "https://r.io:8443/", false},
		{"http://127.0.0.1:5000/", "http://127.0.0.1:5001/", false},
		{"https://r.io/", "https://sub.r.io/", false},
		{"https://[::1]:5000/", "https://[::1]:5000/x", true},
		{"https://r.io/", "/relative", false},
	}
	for _, tt := range tests {
		a, _ := url.Parse(tt.a)
		b, _ := url.Parse(tt.b)
		if got := SameOrigin(a, b); got != tt.want {
			t.Errorf("SameOrigin(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	if SameOrigin(nil, nil) {
		t.Error("SameOrigin(nil, nil) = true, want false")
	}
}

func TestCheckRealm(t *testing.T) {
	tests := []struct {
		registry, realm string
		wantErr         string // "" for accepted
	}{
		{"https://r.azurecr.io/v2/", "https://r.azurecr.io/oauth2/token", ""},
		{"https://registry-1.docker.io/v2/", "https://auth.docker.io/token", ""},
		{"http://127.0.0.1:5000/v2/", "http://127.0.0.1:5001/token", ""},
		{"http://localhost:5000/v2/", "https://127.0.0.1:5001/token", ""},
		{"https://r.io/v2/", "", "no realm"},
		{"https://r.io/v2/", "file:///etc/passwd", "scheme"},
		{"https://r.io/v2/", "gopher://r.io/", "scheme"},
		{"https://r.io/v2/", "javascript:alert(1)", "scheme"},
		{"https://r.io/v2/", "https://user:pw@r.io/token", "user info"},
		{"https://r.io/v2/", "https:///token", "without a host"},
		{"https://r.io/v2/", "/oauth2/token", "scheme"},
		{"http://r.io/v2/", "http://evil.example.com/token", "must use https"},
		{"http://127.0.0.1:5000/v2/", "http://localhost:5001/token", "must use https"},
		{"https://r.io/v2/", "http://r.io/token", "downgrade"},
		{"https://r.io/v2/", "https://169.254.169.254/latest/meta-data/", "link-local"},
		{"https://r.io/v2/", "https://[fe80::1]/token", "link-local"},
		{"https://r.io/v2/", "https://[::ffff:169.254.169.254]/token", "link-local"},
		{"https://r.io/v2/", "https://0.0.0.0/token", "link-local"},
		{"https://r.io/v2/", "https://127.0.0.1/token", "loopback"},
		{"https://r.io/v2/", "https://localhost:8080/token", "loopback"},
		{"https://r.io/v2/", "https://[::1]/token", "loopback"},
	}
	for _, tt := range tests {
		reg, _ := url.Parse(tt.registry)
		_, err := checkRealm(reg, tt.realm)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("checkRealm(%s, %q) = %v, want accepted", tt.registry, tt.realm, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("checkRealm(%s, %q) = %v, want an error about %q", tt.registry, tt.realm, err, tt.wantErr)
		}
	}
}

const bearerSecret = "bearer-token-secret-value"

// bearerRegistry is a registry that hands out bearerSecret at /token and
// demands it elsewhere; routes adds its own paths, served once authorized.
func bearerRegistry(t *testing.T, routes func(mux *http.ServeMux)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var tokens atomic.Int64
	mux := http.NewServeMux()
	routes(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			tokens.Add(1)
			w.Write([]byte(`{"token":"` + bearerSecret + `","expires_in":300}`))
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+bearerSecret {
			w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="reg",scope="repository:a:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &tokens
}

// authSink records the Authorization headers it receives.
type authSink struct {
	mu    sync.Mutex
	auths []string
	paths []string
}

func (s *authSink) handler(status int, extra func(w http.ResponseWriter, r *http.Request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auths = append(s.auths, r.Header.Get("Authorization"))
		s.paths = append(s.paths, r.URL.Path)
		s.mu.Unlock()
		if extra != nil {
			extra(w, r)
		}
		w.WriteHeader(status)
	}
}

func TestRedirectStripsAuthorization(t *testing.T) {
	var storage authSink
	store := httptest.NewServer(storage.handler(http.StatusOK, nil))
	defer store.Close()
	var back authSink
	reg, _ := bearerRegistry(t, func(mux *http.ServeMux) {
		// ACR answers blob GETs with a redirect to storage on another origin
		// (here another port of the same host name, which Go's own redirect
		// rule would treat as the same host).
		mux.HandleFunc("/v2/a/blobs/cross", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, store.URL+"/blob?sig=SAS-SIGNATURE", http.StatusTemporaryRedirect)
		})
		mux.HandleFunc("/v2/a/blobs/same", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/v2/a/blobs/landing", http.StatusTemporaryRedirect)
		})
		mux.HandleFunc("/v2/a/blobs/landing", back.handler(http.StatusOK, nil))
	})
	c := newTestClient(t, nil)

	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/blobs/cross", http.StatusOK, "repository:a:pull")
	if len(storage.auths) != 1 || storage.auths[0] != "" {
		t.Errorf("storage got Authorization %q, want none", storage.auths)
	}
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/blobs/same", http.StatusOK, "repository:a:pull")
	if len(back.auths) != 1 || back.auths[0] != "Bearer "+bearerSecret {
		t.Errorf("same-origin redirect target got Authorization %q, want the token", back.auths)
	}
}

func TestRedirectChainDoesNotRestoreAuthorization(t *testing.T) {
	var final authSink
	reg := httptest.NewUnstartedServer(nil)
	regURL := "http://" + reg.Listener.Addr().String()
	bounce := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, regURL+"/v2/a/blobs/final", http.StatusFound)
	}))
	defer bounce.Close()
	reg.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			w.Write([]byte(`{"token":"` + bearerSecret + `"}`))
		case r.URL.Path == "/v2/a/blobs/final":
			final.handler(http.StatusOK, nil)(w, r)
		case r.Header.Get("Authorization") != "Bearer "+bearerSecret:
			w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="reg"`)
			w.WriteHeader(http.StatusUnauthorized)
		default:
			http.Redirect(w, r, bounce.URL+"/x", http.StatusFound)
		}
	})
	reg.Start()
	defer reg.Close()
	// The final hop is on the registry's origin again, but Authorization
	// left the origin once and does not come back.
	c := newTestClient(t, nil)
	mustDo(t, c, http.MethodGet, regURL+"/v2/a/blobs/start", http.StatusOK, "repository:a:pull")
	if len(final.auths) != 1 || final.auths[0] != "" {
		t.Errorf("final hop got Authorization %q, want none", final.auths)
	}
}

func Test401FromRedirectTargetIsNotAnswered(t *testing.T) {
	var storageTokens atomic.Int64
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			storageTokens.Add(1)
			w.Write([]byte(`{"token":"x"}`))
			return
		}
		w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="evil"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer store.Close()
	reg, _ := bearerRegistry(t, func(mux *http.ServeMux) {
		mux.HandleFunc("/v2/a/blobs/d", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, store.URL+"/blob", http.StatusTemporaryRedirect)
		})
	})
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	// The first call is challenged by the registry, the second goes out
	// with the cached token: both end at the storage's 401.
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/blobs/d", http.StatusUnauthorized, "repository:a:pull")
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/blobs/d", http.StatusUnauthorized, "repository:a:pull")
	if storageTokens.Load() != 0 {
		t.Errorf("the redirect target's realm got %d token requests, want 0", storageTokens.Load())
	}
}

func TestRedirectDowngradeRefused(t *testing.T) {
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer plain.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/blob", http.StatusTemporaryRedirect)
	}))
	defer tlsSrv.Close()
	hc := hostMap(t, tlsSrv, map[string]string{"registry.example.com:443": serverAddr(tlsSrv)})
	c := newTestClient(t, &Options{HTTPClient: hc})
	_, err := do(t, c, http.MethodGet, "https://registry.example.com/v2/a/blobs/d")
	if err == nil || !strings.Contains(err.Error(), "https to http") {
		t.Errorf("got %v, want a refused downgrade", err)
	}
}

func TestTokenRedirectToAnotherOriginRefused(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
			return
		}
		w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="s"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	for _, cred := range []Credential{{Username: testUser, Password: testPassword}, {RefreshToken: "refresh-token-value"}} {
		c := newTestClient(t, &Options{Credential: cred})
		_, err := do(t, c, http.MethodGet, reg.URL+"/v2/")
		var te *TokenError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), "redirect to another origin") {
			t.Errorf("got %v, want a TokenError about the refused redirect", err)
		}
	}
	if elsewhere.Load() != 0 {
		t.Errorf("the other origin got %d requests, want 0", elsewhere.Load())
	}
}

func TestCredentialsOverPlainHTTP(t *testing.T) {
	aad := &fakeAAD{token: testAAD}
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}, AADTokens: []string{testAAD}, AnonymousPull: true})
	_, port, _ := strings.Cut(reg.Host, ":")
	remote := "registry.example.com:" + port
	hc := hostMap(t, nil, map[string]string{remote: reg.Host})
	base := "http://" + remote

	for _, cred := range []Credential{
		{Username: testUser, Password: testPassword},
		{TokenCredential: aad},
		{RefreshToken: "refresh-token-value"},
	} {
		c := newTestClient(t, &Options{HTTPClient: hc, Credential: cred})
		_, err := do(t, c, http.MethodGet, base+"/v2/a/tags/list", "repository:a:pull")
		if !errors.Is(err, ErrInsecure) || !strings.Contains(err.Error(), "AllowInsecure") {
			t.Errorf("%T credential: got %v, want ErrInsecure naming AllowInsecure", cred, err)
		}
	}
	if n := len(reg.requests(func(s seen) bool { return s.Authorization != "" || strings.HasPrefix(s.Path, "/oauth2/") })); n != 0 {
		t.Errorf("the registry got %d requests with credentials, want 0", n)
	}
	if aad.calls.Load() != 0 {
		t.Errorf("Entra ID was asked for %d tokens, want 0", aad.calls.Load())
	}

	// Anonymous pull carries no secret: allowed.
	anon := newTestClient(t, &Options{HTTPClient: hc})
	mustDo(t, anon, http.MethodGet, base+"/v2/a/tags/list", http.StatusNotFound, "repository:a:pull")

	// AllowInsecure opts in.
	for _, cred := range []Credential{{Username: testUser, Password: testPassword}, {TokenCredential: aad}} {
		c := newTestClient(t, &Options{HTTPClient: hc, AllowInsecure: true, Credential: cred})
		mustDo(t, c, http.MethodGet, base+"/acr/v1/_catalog", http.StatusOK, "registry:catalog:*")
	}

	// A Basic challenge over plain http is refused too.
	basic := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", `Basic realm="r"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer basic.Close()
	_, bport, _ := strings.Cut(serverAddr(basic), ":")
	hc2 := hostMap(t, nil, map[string]string{"basic.example.com:" + bport: serverAddr(basic)})
	c := newTestClient(t, &Options{HTTPClient: hc2, Credential: Credential{Username: testUser, Password: testPassword}})
	if _, err := do(t, c, http.MethodGet, "http://basic.example.com:"+bport+"/v2/"); !errors.Is(err, ErrInsecure) {
		t.Errorf("Basic challenge over http: got %v, want ErrInsecure", err)
	}
}

func TestRealmOnAnotherHost(t *testing.T) {
	var realmHits atomic.Int64
	auth := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		realmHits.Add(1)
		w.Write([]byte(`{"token":"` + bearerSecret + `"}`))
	}))
	defer auth.Close()
	_, authPort, _ := strings.Cut(serverAddr(auth), ":")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", `Bearer realm="http://localhost:`+authPort+`/token",service="s"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	_, err := do(t, c, http.MethodGet, reg.URL+"/v2/")
	if err == nil || !strings.Contains(err.Error(), "must use https") {
		t.Errorf("got %v, want the plain http realm on another host refused", err)
	}
	if realmHits.Load() != 0 {
		t.Errorf("the realm got %d requests, want 0", realmHits.Load())
	}
}

func TestHTTPSRealmOnAnotherHost(t *testing.T) {
	var gotBasic atomic.Bool
	auth := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		gotBasic.Store(ok && u == testUser && p == testPassword)
		w.Write([]byte(`{"token":"` + bearerSecret + `"}`))
	}))
	defer auth.Close()
	_, authPort, _ := strings.Cut(serverAddr(auth), ":")
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+bearerSecret {
			return
		}
		w.Header().Set("Www-Authenticate", `Bearer realm="https://auth.example.com:`+authPort+`/token",service="s"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer reg.Close()
	hc := hostMap(t, auth, map[string]string{"auth.example.com:" + authPort: serverAddr(auth)})
	c := newTestClient(t, &Options{HTTPClient: hc, Credential: Credential{Username: testUser, Password: testPassword}})
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/", http.StatusOK)
	if !gotBasic.Load() {
		t.Error("the https realm did not get the Basic credentials")
	}
}

func TestHostileRealms(t *testing.T) {
	var hits atomic.Int64
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer sink.Close()
	realms := []string{
		"file:///etc/passwd",
		"http://user:pw@" + serverAddr(sink) + "/token",
		"https://169.254.169.254/metadata/identity/oauth2/token",
		"ftp://" + serverAddr(sink) + "/token",
		"//" + serverAddr(sink) + "/token",
		"http://%zz/",
	}
	for _, realm := range realms {
		reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Www-Authenticate", `Bearer realm="`+realm+`",service="s"`)
			w.WriteHeader(http.StatusUnauthorized)
		}))
		c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
		_, err := do(t, c, http.MethodGet, reg.URL+"/v2/")
		var te *TokenError
		if !errors.As(err, &te) || strings.Contains(err.Error(), "pw@") {
			t.Errorf("realm %q: got %v, want a TokenError without user info", realm, err)
		}
		reg.Close()
	}
	if hits.Load() != 0 {
		t.Errorf("hostile realms got %d requests, want 0", hits.Load())
	}
}

func TestLoopbackRealmFromRemoteRegistry(t *testing.T) {
	var hits atomic.Int64
	local := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer local.Close()
	remote := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", `Bearer realm="`+local.URL+`/token",service="s"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer remote.Close()
	hc := hostMap(t, remote, map[string]string{"registry.example.com:443": serverAddr(remote)})
	c := newTestClient(t, &Options{HTTPClient: hc, Credential: Credential{Username: testUser, Password: testPassword}})
	_, err := do(t, c, http.MethodGet, "https://registry.example.com/v2/")
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("got %v, want the loopback realm refused", err)
	}
	if hits.Load() != 0 {
		t.Errorf("the loopback realm got %d requests, want 0", hits.Load())
	}
}

func TestMalformedChallenges(t *testing.T) {
	for _, h := range []string{"", "Bearer", "Bearer realm=", `Bearer realm="`, "@@@", "Bearer ,,,,", `Basic realm="x"`, "Negotiate abc=="} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h != "" {
				w.Header().Set("Www-Authenticate", h)
			}
			w.WriteHeader(http.StatusUnauthorized)
		}))
		c := newTestClient(t, nil)
		got, err := do(t, c, http.MethodGet, srv.URL+"/v2/")
		if err != nil || got != http.StatusUnauthorized {
			t.Errorf("challenge %q: got %d, %v; want the 401 returned", h, got, err)
		}
		srv.Close()
	}
}

func TestCallerAuthorizationIsKept(t *testing.T) {
	var sink authSink
	srv := httptest.NewServer(sink.handler(http.StatusUnauthorized, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token"`)
	}))
	defer srv.Close()
	c := newTestClient(t, nil)
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v2/", nil)
	req.Header.Set("Authorization", "Bearer mine")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(sink.auths) != 1 || sink.auths[0] != "Bearer mine" {
		t.Errorf("server got %q, want one request with the caller's Authorization", sink.auths)
	}
}

func TestHTTPClientIsCopied(t *testing.T) {
	var called atomic.Int64
	check := func(req *http.Request, via []*http.Request) error { called.Add(1); return nil }
	hc := &http.Client{CheckRedirect: check}
	c := newTestClient(t, &Options{HTTPClient: hc})
	if reflect.ValueOf(hc.CheckRedirect).Pointer() != reflect.ValueOf(check).Pointer() {
		t.Error("New modified the caller's http.Client")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a" {
			http.Redirect(w, r, "/b", http.StatusFound)
		}
	}))
	defer srv.Close()
	mustDo(t, c, http.MethodGet, srv.URL+"/a", http.StatusOK)
	if called.Load() != 1 {
		t.Errorf("the caller's CheckRedirect ran %d times, want 1", called.Load())
	}
}

func TestUserAgent(t *testing.T) {
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.UserAgent())
		mu.Unlock()
		if r.URL.Path == "/token" {
			w.Write([]byte(`{"token":"t"}`))
			return
		}
		if r.Header.Get("Authorization") == "" {
			w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token"`)
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	c := newTestClient(t, &Options{UserAgent: "acrctl/1.0"})
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/", http.StatusOK)
	for _, ua := range got {
		if ua != "acrctl/1.0" {
			t.Errorf("User-Agent %q, want acrctl/1.0 on every request (registry and token)", ua)
		}
	}
	if len(got) != 3 {
		t.Errorf("got %d requests, want 3", len(got))
	}
}

func TestDoValidatesRequest(t *testing.T) {
	c := newTestClient(t, nil)
	for _, u := range []string{"/v2/", "ftp://r.io/v2/", "https:///v2/"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
		if _, err := c.Do(req); err == nil {
			t.Errorf("Do(%q) succeeded, want an error", u)
		}
	}
	if _, err := c.Do(nil); err == nil {
		t.Error("Do(nil) succeeded, want an error")
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST:5000": true, "localhost.": true, "127.0.0.1": true, "127.0.0.1:5000": true,
		"127.8.9.1": true, "[::1]:443": true, "::1": true, "[::1]": true, "[fe80::1%lo]:5000": false,
		"myregistry.azurecr.io": false, "10.0.0.1:5000": false, "[::]:5000": false, "0.0.0.0": false, "localhost.example.com": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
