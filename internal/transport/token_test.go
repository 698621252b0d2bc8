package transport

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

const (
	testUser     = "admin"
	testPassword = "s3cret-passw0rd-value"
	testAAD      = "aad-token-eyJfake.payload.signature-value"
)

func TestBasicCredential(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}})
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})

	mustDo(t, c, http.MethodGet, reg.URL+"/v2/_catalog", http.StatusOK, "registry:catalog:*")
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/_catalog", http.StatusOK, "registry:catalog:*")
	mustDo(t, c, http.MethodGet, reg.URL+"/acr/v1/_catalog", http.StatusOK, "registry:catalog:*")

	gets := reg.requests(func(s seen) bool { return s.Method == http.MethodGet && s.Path == "/oauth2/token" })
	if len(gets) != 1 {
		t.Fatalf("got %d token requests, want 1 (the token is cached)", len(gets))
	}
	if gets[0].Authorization == "" || !strings.HasPrefix(gets[0].Authorization, "Basic ") {
		t.Errorf("token GET Authorization = %q, want Basic", gets[0].Authorization)
	}
	if got, want := gets[0].Form["scope"], []string{"registry:catalog:*"}; !cmp.Equal(got, want) {
		t.Errorf("token GET scope = %q, want %q", got, want)
	}
	if got := gets[0].Form.Get("service"); got != reg.Host {
		t.Errorf("token GET service = %q, want %q", got, reg.Host)
	}
	if n := len(reg.requests(func(s seen) bool { return s.Status == http.StatusUnauthorized })); n != 1 {
		t.Errorf("got %d 401 responses, want 1 (only the first request is challenged)", n)
	}
}

func TestProactiveTokenForNewScope(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}})
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/_catalog", http.StatusOK, "registry:catalog:*")
	// The realm is known now: a request for another scope fetches its token
	// before it is sent, without a 401 round trip.
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/hello/tags/list", http.StatusNotFound, "repository:hello:pull")
	if n := len(reg.requests(func(s seen) bool { return s.Status == http.StatusUnauthorized })); n != 1 {
		t.Errorf("got %d 401 responses, want 1", n)
	}
	if n := reg.count(http.MethodGet, "/oauth2/token"); n != 2 {
		t.Errorf("got %d token requests, want 2", n)
	}
}

func TestChallengeScopeUnionWithHints(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}})
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	// The caller hints pull and push; the registry challenges for pull.
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/hello/tags/list", http.StatusNotFound, "repository:hello:push")
	gets := reg.requests(func(s seen) bool { return s.Path == "/oauth2/token" })
	if len(gets) != 1 {
		t.Fatalf("got %d token requests, want 1", len(gets))
	}
	if got, want := gets[0].Form["scope"], []string{"repository:hello:pull,push"}; !cmp.Equal(got, want) {
		t.Errorf("token scope = %q, want %q (challenge scope merged with the hint)", got, want)
	}
	// The union token is cached under the hint too.
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/hello/tags/list", http.StatusNotFound, "repository:hello:push")
	if n := reg.count(http.MethodGet, "/oauth2/token"); n != 1 {
		t.Errorf("got %d token requests after the second call, want 1", n)
	}
}

func TestBasicOAuth2Fallback(t *testing.T) {
	var posts atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("GET /token", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMethodNotAllowed)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		posts.Add(1)
		r.ParseForm()
		if r.PostForm.Get("grant_type") != "password" || r.PostForm.Get("username") != testUser ||
			r.PostForm.Get("password") != testPassword || r.PostForm.Get("client_id") == "" {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "oauth2-token", "expires_in": 300})
	})
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer oauth2-token" {
			w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="svc",scope="repository:a:pull"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/a/tags/list", http.StatusOK)
	if posts.Load() != 1 {
		t.Errorf("got %d OAuth2 POSTs, want 1", posts.Load())
	}
}

func TestBasicChallenge(t *testing.T) {
	var unauth atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != testUser || p != testPassword {
			unauth.Add(1)
			w.Header().Set("Www-Authenticate", `Basic realm="registry"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/", http.StatusOK)
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/a/tags/list", http.StatusOK, "repository:a:pull")
	if unauth.Load() != 1 {
		t.Errorf("got %d unauthenticated requests, want 1 (Basic is sent up front once known)", unauth.Load())
	}

	anon := newTestClient(t, nil)
	mustDo(t, anon, http.MethodGet, srv.URL+"/v2/", http.StatusUnauthorized)
}

func TestRefreshTokenCredential(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{AADTokens: []string{testAAD}})
	rt := exchangeRefreshToken(t, reg, testAAD)
	for _, cred := range []Credential{
		{RefreshToken: rt},
		{Username: RefreshTokenUser, Password: rt},
	} {
		c := newTestClient(t, &Options{Credential: cred})
		mustDo(t, c, http.MethodGet, reg.URL+"/acr/v1/_catalog", http.StatusOK, "registry:catalog:*")
	}
	posts := reg.requests(func(s seen) bool { return s.Method == http.MethodPost && s.Path == "/oauth2/token" })
	if len(posts) != 2 {
		t.Fatalf("got %d token POSTs, want 2", len(posts))
	}
	for _, p := range posts {
		if p.Form.Get("grant_type") != "refresh_token" || p.Form.Get("refresh_token") != rt || p.Form.Get("scope") != "registry:catalog:*" {
			t.Errorf("token POST form = grant_type %q scope %q, want refresh_token with the refresh token", p.Form.Get("grant_type"), p.Form.Get("scope"))
		}
	}
}

func TestEntraIDCredential(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{AADTokens: []string{testAAD}})
	aad := &fakeAAD{token: testAAD}
	c := newTestClient(t, &Options{Credential: Credential{TokenCredential: aad}})
	mustDo(t, c, http.MethodGet, reg.URL+"/acr/v1/_catalog", http.StatusOK, "registry:catalog:*")
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/hello/tags/list", http.StatusNotFound, "repository:hello:pull")

	ex := reg.requests(func(s seen) bool { return s.Path == "/oauth2/exchange" })
	if len(ex) != 1 {
		t.Fatalf("got %d exchanges, want 1", len(ex))
	}
	f := ex[0].Form
	if f.Get("grant_type") != "access_token" || f.Get("service") != reg.Host || f.Get("access_token") != testAAD {
		t.Errorf("exchange form: grant_type %q service %q, want access_token and %q with the AAD token", f.Get("grant_type"), f.Get("service"), reg.Host)
	}
	if n := reg.count(http.MethodPost, "/oauth2/token"); n != 2 {
		t.Errorf("got %d token POSTs, want 2 (one per scope)", n)
	}
	if got, want := aad.scopes, []string{"https://containerregistry.azure.net/.default"}; !cmp.Equal(got, want) {
		t.Errorf("AAD scopes = %q, want %q", got, want)
	}

	// A national cloud's audience.
	aad2 := &fakeAAD{token: testAAD}
	c2 := newTestClient(t, &Options{Audience: "https://containerregistry.azure.cn/", Credential: Credential{TokenCredential: aad2}})
	mustDo(t, c2, http.MethodGet, reg.URL+"/acr/v1/_catalog", http.StatusOK, "registry:catalog:*")
	if got, want := aad2.scopes, []string{"https://containerregistry.azure.cn/.default"}; !cmp.Equal(got, want) {
		t.Errorf("AAD scopes = %q, want %q", got, want)
	}
}

func TestAnonymousPull(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{AnonymousPull: true})
	c := newTestClient(t, nil)
	// Authorized (pull is anonymous), then 404 for the unknown repository.
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/library/hello/tags/list", http.StatusNotFound, "repository:library/hello:pull")
	// The catalog is anonymous too, as on ACR (G Test_authenticationPolicy_anonymousAccess).
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/_catalog", http.StatusOK, "registry:catalog:*")
	// Deleting is not: after one token attempt the 401 is the answer.
	mustDo(t, c, http.MethodDelete, srv.URL+"/acr/v1/library%2Fhello/_tags/v1", http.StatusUnauthorized, "repository:library/hello:delete")
}

func TestAnonymousNotAllowed(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{testUser: testPassword}})
	c := newTestClient(t, nil)
	_, err := do(t, c, http.MethodGet, srv.URL+"/v2/hello/tags/list", "repository:hello:pull")
	var te *TokenError
	if !errors.As(err, &te) {
		t.Fatalf("got %v, want a *TokenError", err)
	}
	if te.StatusCode != http.StatusUnauthorized || te.Credential != "anonymous" || !strings.Contains(te.Message, "anonymous pull is not enabled") {
		t.Errorf("got %+v, want 401 for the anonymous credential with the registry's message", te)
	}
}

func TestLookupCredential(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}, AADTokens: []string{testAAD}})
	rt := exchangeRefreshToken(t, reg, testAAD)
	tests := []struct {
		name       string
		user, pass string
		want       int
		wantErr    bool
	}{
		{"basic", testUser, testPassword, http.StatusOK, false},
		{"refresh token user", RefreshTokenUser, rt, http.StatusOK, false},
		{"anonymous", "", "", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hosts []string
			var mu sync.Mutex
			c := newTestClient(t, &Options{Credential: Credential{Lookup: func(ctx context.Context, host string) (string, string, error) {
				mu.Lock()
				hosts = append(hosts, host)
				mu.Unlock()
				return tt.user, tt.pass, nil
			}}})
			got, err := do(t, c, http.MethodGet, reg.URL+"/acr/v1/_catalog", "registry:catalog:*")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("got %d, %v; want %d, error %v", got, err, tt.want, tt.wantErr)
			}
			do(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", "repository:a:pull")
			if want := []string{reg.Host}; !cmp.Equal(hosts, want) {
				t.Errorf("Lookup called for %q, want %q (once, answer kept)", hosts, want)
			}
		})
	}

	c := newTestClient(t, &Options{Credential: Credential{Lookup: func(ctx context.Context, host string) (string, string, error) {
		return "", "", errors.New("helper not installed")
	}}})
	_, err := do(t, c, http.MethodGet, reg.URL+"/acr/v1/_catalog", "registry:catalog:*")
	if err == nil || !strings.Contains(err.Error(), "helper not installed") || !strings.Contains(err.Error(), reg.Host) {
		t.Errorf("got %v, want the lookup's error naming the host", err)
	}
}

func TestCredentialKinds(t *testing.T) {
	tests := []struct {
		cred    Credential
		want    credKind
		wantErr bool
	}{
		{Credential{}, kindAnonymous, false},
		{Credential{Username: "u", Password: "p"}, kindBasic, false},
		{Credential{Username: "u"}, kindBasic, false},
		{Credential{Password: "p"}, 0, true},
		{Credential{Username: RefreshTokenUser, Password: "rt"}, kindRefreshToken, false},
		{Credential{RefreshToken: "rt"}, kindRefreshToken, false},
		{Credential{TokenCredential: &fakeAAD{}}, kindEntraID, false},
		{Credential{Lookup: func(context.Context, string) (string, string, error) { return "", "", nil }}, kindLookup, false},
		{Credential{RefreshToken: "rt", TokenCredential: &fakeAAD{}}, 0, true},
		{Credential{Username: "u", Password: "p", RefreshToken: "rt"}, 0, true},
	}
	for _, tt := range tests {
		got, err := tt.cred.kind()
		if (err != nil) != tt.wantErr || (err == nil && got != tt.want) {
			t.Errorf("kind(%+v) = %v, %v; want %v, error %v", tt.cred, got, err, tt.want, tt.wantErr)
		}
		if _, err := New(&Options{Credential: tt.cred}); (err != nil) != tt.wantErr {
			t.Errorf("New with %+v: error %v, want error %v", tt.cred, err, tt.wantErr)
		}
	}
}

// serverClock is a clock for the emulator that tests move forward.
type serverClock struct{ offset atomic.Int64 }

func (s *serverClock) now() time.Time          { return time.Now().Add(time.Duration(s.offset.Load())) }
func (s *serverClock) advance(d time.Duration) { s.offset.Add(int64(d)) }

func TestTokenExpiresMidSequence(t *testing.T) {
	var clk serverClock
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}, Now: clk.now})
	c := newTestClient(t, &Options{Credential: Credential{Username: testUser, Password: testPassword}})
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", http.StatusNotFound, "repository:a:pull")
	// The registry's clock passes the access token's expiry while the
	// client still holds it: the 401 is answered with a fresh token.
	clk.advance(2 * time.Hour)
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", http.StatusNotFound, "repository:a:pull")
	if n := reg.count(http.MethodGet, "/oauth2/token"); n != 2 {
		t.Errorf("got %d token requests, want 2", n)
	}
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", http.StatusNotFound, "repository:a:pull")
	if n := reg.count(http.MethodGet, "/oauth2/token"); n != 2 {
		t.Errorf("got %d token requests after the fresh token, want 2", n)
	}
}

func TestEntraServerClockJump(t *testing.T) {
	var clk serverClock
	reg := newRegistry(t, &emulator.Options{AADTokens: []string{testAAD}, Now: clk.now})
	c := newTestClient(t, &Options{Credential: Credential{TokenCredential: &fakeAAD{token: testAAD}}})
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", http.StatusNotFound, "repository:a:pull")
	// Four hours on the registry: access and refresh tokens have both
	// expired there. The client re-challenges, its refresh token is
	// refused, and it exchanges again.
	clk.advance(4 * time.Hour)
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", http.StatusNotFound, "repository:a:pull")
	if n := reg.count(http.MethodPost, "/oauth2/exchange"); n != 2 {
		t.Errorf("got %d exchanges, want 2", n)
	}
}

// TestEntraLongJob runs a 4-hour job in fake time that every minute reads
// one repository again and a new one for the first time, so access tokens
// are both reused and fetched all along. The refresh token (3 h) and access
// tokens (75 min) are renewed before they expire, so no request after the
// first is ever challenged, even though the registry's clock runs two
// minutes ahead of the client's (the refresh token's "exp" is read in the
// client's clock, which the five-minute margin covers).
func TestEntraLongJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		skewed := func() time.Time { return time.Now().Add(2 * time.Minute) }
		reg, err := emulator.New(&emulator.Options{AADTokens: []string{testAAD}, Now: skewed})
		if err != nil {
			t.Fatal(err)
		}
		defer reg.Close()
		rec := &recorder{h: reg}
		aad := &fakeAAD{token: testAAD}
		c := newTestClient(t, &Options{HTTPClient: memClient(rec), Credential: Credential{TokenCredential: aad}})
		const minutes = 4 * 60
		for i := range minutes {
			for _, repo := range []string{"a", fmt.Sprintf("r%d", i)} {
				got, err := do(t, c, http.MethodGet, "https://registry.example.com/v2/"+repo+"/tags/list", "repository:"+repo+":pull")
				if err != nil || got != http.StatusNotFound {
					t.Fatalf("minute %d, %s: got %d, %v; want 404", i, repo, got, err)
				}
			}
			time.Sleep(time.Minute)
		}
		if n := len(rec.requests(func(s seen) bool { return s.Status == http.StatusUnauthorized })); n != 1 {
			t.Errorf("got %d 401 responses, want 1 (the first request only)", n)
		}
		// Refresh tokens live 3 h and are renewed with 5 min left: exchanges
		// at 0 and when a token is next needed after 2h55m.
		if n := rec.count(http.MethodPost, "/oauth2/exchange"); n != 2 {
			t.Errorf("got %d exchanges, want 2", n)
		}
		// Access tokens live 75 min, renewed 30 s early: for "a" at 0, 75,
		// 150 and 225 minutes; one per new repository.
		if n := rec.count(http.MethodPost, "/oauth2/token"); n != 4+minutes {
			t.Errorf("got %d token requests, want %d", n, 4+minutes)
		}
	})
}

// TestConcurrentSingleflight runs 32 goroutines on one Client against two
// registries across many repositories: exactly one exchange per registry
// and one token fetch per (registry, scope).
func TestConcurrentSingleflight(t *testing.T) {
	regs := []*registry{
		newRegistry(t, &emulator.Options{AADTokens: []string{testAAD}}),
		newRegistry(t, &emulator.Options{AADTokens: []string{testAAD}}),
	}
	aad := &fakeAAD{token: testAAD}
	c := newTestClient(t, &Options{Credential: Credential{TokenCredential: aad}})

	type call struct{ path, scope string }
	var calls []call
	for i := range 12 {
		repo := fmt.Sprintf("team%d/app", i)
		calls = append(calls,
			call{"/v2/" + repo + "/tags/list", "repository:" + repo + ":pull"},
			call{"/acr/v1/" + repo + "/_tags", "repository:" + repo + ":metadata_read"})
	}
	calls = append(calls, call{"/acr/v1/_catalog", "registry:catalog:*"})

	var wg sync.WaitGroup
	errs := make(chan error, 32*len(calls)*len(regs))
	for g := range 32 {
		wg.Go(func() {
			for i := range calls {
				cl := calls[(i+g*7)%len(calls)]
				for _, reg := range regs[g%2:] {
					got, err := do(t, c, http.MethodGet, reg.URL+cl.path, cl.scope)
					if err != nil || got == http.StatusUnauthorized || got >= 500 {
						errs <- fmt.Errorf("GET %s: %d, %v", cl.path, got, err)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, reg := range regs {
		if n := reg.count(http.MethodPost, "/oauth2/exchange"); n != 1 {
			t.Errorf("registry %d: got %d exchanges, want 1", i, n)
		}
		perScope := map[string]int{}
		for _, s := range reg.requests(func(s seen) bool { return s.Path == "/oauth2/token" }) {
			perScope[s.Form.Get("scope")]++
		}
		if len(perScope) != len(calls) {
			t.Errorf("registry %d: tokens fetched for %d scopes, want %d", i, len(perScope), len(calls))
		}
		for scope, n := range perScope {
			if n != 1 {
				t.Errorf("registry %d: scope %q fetched %d times, want 1", i, scope, n)
			}
		}
	}
	if n := aad.calls.Load(); n != 2 {
		t.Errorf("got %d Entra ID token requests, want 2 (one per registry)", n)
	}
}

func TestTokenErrors(t *testing.T) {
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}, AADTokens: []string{testAAD}})
	tests := []struct {
		name     string
		cred     Credential
		wantKind string
		wantPath string
		wantMsg  string
	}{
		{"wrong password", Credential{Username: testUser, Password: "wrong-password-1234"}, "basic (user name and password)", "/oauth2/token", "user name or password is wrong"},
		// ACR refuses these two with an empty body (G Test_authenticationClient_*_fail).
		{"unknown AAD token", Credential{TokenCredential: &fakeAAD{token: "unknown-aad-token-5678"}}, "Entra ID", "/oauth2/exchange", ""},
		{"bad refresh token", Credential{RefreshToken: "not.a.refresh-token"}, "refresh token", "/oauth2/token", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTestClient(t, &Options{Credential: tt.cred})
			_, err := do(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list", "repository:a:pull")
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want a *TokenError", err)
			}
			wantCode := "UNAUTHORIZED"
			if tt.wantMsg == "" {
				wantCode = ""
				if !strings.Contains(err.Error(), "no reason given") {
					t.Errorf("error %q does not say that no reason was given", err)
				}
			}
			if te.Credential != tt.wantKind || te.StatusCode != http.StatusUnauthorized || te.Code != wantCode ||
				!strings.Contains(te.Message, tt.wantMsg) || !strings.Contains(te.Endpoint, tt.wantPath) {
				t.Errorf("got %+v, want %s credential, 401 %s from %s with %q", te, tt.wantKind, wantCode, tt.wantPath, tt.wantMsg)
			}
			for _, secret := range []string{"wrong-password-1234", "unknown-aad-token-5678", "not.a.refresh-token"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q contains a secret", err)
				}
			}
		})
	}
}

func TestTokenErrorBody(t *testing.T) {
	const secret = "echoed-password-9876"
	tests := []struct {
		name     string
		body     string
		wantCode string
		wantMsg  string
	}{
		{"oci", `{"errors":[{"code":"DENIED","message":"no access for ` + secret + `"}]}`, "DENIED", "no access for [REDACTED]"},
		{"oauth2", `{"error":"invalid_grant","error_description":"bad grant"}`, "invalid_grant", "bad grant"},
		{"text", "upstream\nexploded", "", "upstream exploded"},
		{"huge", strings.Repeat("x", 100<<10), "", strings.Repeat("x", 512) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/token" {
					w.WriteHeader(http.StatusForbidden)
					w.Write([]byte(tt.body))
					return
				}
				w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="s"`)
				w.WriteHeader(http.StatusUnauthorized)
			}))
			defer srv.Close()
			c := newTestClient(t, &Options{Credential: Credential{Username: "u", Password: secret}})
			_, err := do(t, c, http.MethodGet, srv.URL+"/v2/")
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("got %v, want *TokenError", err)
			}
			if te.StatusCode != http.StatusForbidden || te.Code != tt.wantCode || te.Message != tt.wantMsg {
				t.Errorf("got status %d code %q message %q; want 403 %q %q", te.StatusCode, te.Code, te.Message, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error contains the password: %v", err)
			}
		})
	}
}

func TestSecond401IsReturned(t *testing.T) {
	var tokens atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			n := tokens.Add(1)
			json.NewEncoder(w).Encode(map[string]any{"token": fmt.Sprintf("tok-%d", n), "expires_in": 3600})
			return
		}
		w.Header().Set("Www-Authenticate", `Bearer realm="http://`+r.Host+`/token",service="s",scope="repository:a:pull",error="insufficient_scope"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	defer srv.Close()
	c := newTestClient(t, nil)
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/a/tags/list", http.StatusUnauthorized, "repository:a:pull")
	if n := tokens.Load(); n != 1 {
		t.Errorf("got %d token fetches, want 1", n)
	}
	// With a cached token: the 401 drops it, one fresh fetch, one retry.
	mustDo(t, c, http.MethodGet, srv.URL+"/v2/a/tags/list", http.StatusUnauthorized, "repository:a:pull")
	if n := tokens.Load(); n != 2 {
		t.Errorf("got %d token fetches, want 2", n)
	}
}

func TestTokenLifetime(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	jwt := func(payload string) string {
		return "eyJhbGciOiJIUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	exp := start.Add(time.Hour).Unix()
	tests := []struct {
		name string
		tok  string
		tr   tokenResponse
		want time.Time
	}{
		{"expires_in", "opaque", tokenResponse{ExpiresIn: json.RawMessage(`300`)}, start.Add(300*time.Second - 30*time.Second)},
		{"expires_in as string", "opaque", tokenResponse{ExpiresIn: json.RawMessage(`"300"`)}, start.Add(270 * time.Second)},
		{"default 60 s", "opaque", tokenResponse{}, start.Add(30 * time.Second)},
		{"short lifetime renews at half", "opaque", tokenResponse{ExpiresIn: json.RawMessage(`20`)}, start.Add(10 * time.Second)},
		{"jwt exp", jwt(fmt.Sprintf(`{"exp":%d}`, exp)), tokenResponse{}, start.Add(time.Hour - 30*time.Second)},
		{"expires_in wins over jwt", jwt(fmt.Sprintf(`{"exp":%d}`, exp)), tokenResponse{ExpiresIn: json.RawMessage(`120`)}, start.Add(90 * time.Second)},
		{"issued_at slightly earlier", "opaque", tokenResponse{ExpiresIn: json.RawMessage(`300`), IssuedAt: start.Add(-10 * time.Second).Format(time.RFC3339)}, start.Add(260 * time.Second)},
		{"issued_at skewed is ignored", "opaque", tokenResponse{ExpiresIn: json.RawMessage(`300`), IssuedAt: start.Add(-time.Hour).Format(time.RFC3339)}, start.Add(270 * time.Second)},
		{"negative expires_in is ignored", "opaque", tokenResponse{ExpiresIn: json.RawMessage(`-5`)}, start.Add(30 * time.Second)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := accessRenewAt(tt.tok, tt.tr, start, start); !got.Equal(tt.want) {
				t.Errorf("accessRenewAt = %v, want %v", got, tt.want)
			}
		})
	}
	rt := jwt(fmt.Sprintf(`{"exp":%d}`, start.Add(3*time.Hour).Unix()))
	if got, want := refreshRenewAt(rt, start), start.Add(3*time.Hour-5*time.Minute); !got.Equal(want) {
		t.Errorf("refreshRenewAt = %v, want %v", got, want)
	}
}

func TestJWTClaims(t *testing.T) {
	payload := []byte(`{"exp":1700000000,"tid":"tenant-1","x":"~~~???"}`)
	for name, seg := range map[string]string{
		"base64url":        base64.RawURLEncoding.EncodeToString(payload),
		"base64url padded": base64.URLEncoding.EncodeToString(payload),
		"std":              base64.RawStdEncoding.EncodeToString(payload),
		"std padded":       base64.StdEncoding.EncodeToString(payload),
	} {
		c, ok := jwtClaims("h." + seg + ".s")
		if !ok || c.exp != 1700000000 || c.tid != "tenant-1" {
			t.Errorf("%s: got %+v, %v; want exp 1700000000 tid tenant-1", name, c, ok)
		}
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".c", "a.b.c.d"} {
		if c, ok := jwtClaims(bad); ok && c.exp != 0 {
			t.Errorf("jwtClaims(%q) = %+v, want no exp", bad, c)
		}
	}
}

func TestStreamingBodyIsAuthorizedUpFront(t *testing.T) {
	var got []string
	var mu sync.Mutex
	reg, tokens := bearerRegistry(t, func(mux *http.ServeMux) {
		mux.HandleFunc("PUT /v2/a/blobs/uploads/u", func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, string(b))
			mu.Unlock()
			w.WriteHeader(http.StatusCreated)
		})
	})
	c := newTestClient(t, nil)
	put := func() int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPut, reg.URL+"/v2/a/blobs/uploads/u",
			io.NopCloser(strings.NewReader("layer bytes"))) // a stream: no GetBody
		resp, err := c.Do(req, "repository:a:pull")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// Nothing is known of the registry yet: the stream goes out once, is
	// challenged, and cannot be sent again.
	if s := put(); s != http.StatusUnauthorized {
		t.Fatalf("first PUT: got %d, want 401", s)
	}
	// The challenge was remembered: the token is fetched before sending.
	if s := put(); s != http.StatusCreated {
		t.Fatalf("second PUT: got %d, want 201", s)
	}
	if len(got) != 1 || got[0] != "layer bytes" || tokens.Load() != 1 {
		t.Errorf("server got bodies %q after %d token fetches, want the body once after 1", got, tokens.Load())
	}
}

// TestMask checks both sides of redaction: every echo of a secret is
// masked, and nothing else is (a password that is a common word left
// registry messages unreadable: "the [REDACTED] name or password").
func TestMask(t *testing.T) {
	tests := []struct {
		name, in string
		secrets  []string
		want     string
	}{
		{"phrase kept", "the user name or password is wrong", []string{"user"}, "the user name or password is wrong"},
		{"phrase kept, case", "Incorrect Username or Password", []string{"Password"}, "Incorrect Username or Password"},
		{"ACR phrase kept", "authentication required, visit https://aka.ms/acr/authorization for more information.", []string{"required"},
			"authentication required, visit https://aka.ms/acr/authorization for more information."},
		{"phrase with its verdict kept", "authentication required: the user name or password is wrong", []string{"wrong"},
			"authentication required: the user name or password is wrong"},
		{"verdict word masked elsewhere", "password wrong rejected", []string{"wrong"}, "password [REDACTED] rejected"},
		{"echo beside the phrase masked", "the user name or password is wrong for user", []string{"user"}, "the user name or password is wrong for [REDACTED]"},
		{"part of a word kept", "username rejected; users: 3", []string{"user"}, "username rejected; users: 3"},
		{"whole token masked", "no access for s3cret-Pa55", []string{"s3cret-Pa55"}, "no access for [REDACTED]"},
		{"quoted", `password "s3cret-Pa55" rejected`, []string{"s3cret-Pa55"}, `password "[REDACTED]" rejected`},
		{"after a colon", "basic admin:s3cret-Pa55.", []string{"s3cret-Pa55"}, "basic admin:[REDACTED]."},
		{"every echo", "pw=abcd1234&again=abcd1234", []string{"abcd1234"}, "pw=[REDACTED]&again=[REDACTED]"},
		{"short secret", "bad pin 42 for 421", []string{"42"}, "bad pin [REDACTED] for 421"},
		{"url-escaped", "rejected p%40ss+w%2Frd", []string{"p@ss w/rd"}, "rejected [REDACTED]"},
		{"collapsed spaces", "rejected two words", []string{"two  words"}, "rejected [REDACTED]"},
		{"cut by clean", "rejected token eyJhbGciOi…", []string{"eyJhbGciOiJSUzI1NiJ9.payload.sig"}, "rejected token [REDACTED]…"},
		{"overlapping secrets", "token abc.def.ghi", []string{"abc.def.ghi", "def"}, "token [REDACTED]"},
		{"unicode neighbours", "mot de passe ésecretä refusé, secret ok", []string{"secret"}, "mot de passe ésecretä refusé, [REDACTED] ok"},
		{"empty secret", "nothing to hide", []string{"", " "}, "nothing to hide"},
		{"whole message", "s3cret", []string{"s3cret"}, "[REDACTED]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mask(tt.in, tt.secrets...); got != tt.want {
				t.Errorf("mask(%q, %q) = %q, want %q", tt.in, tt.secrets, got, tt.want)
			}
		})
	}
}
