package console

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// browserless is an HTTP client with a cookie jar that does not follow
// redirects, to see each step.
func browserless(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, hc *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestOneTimeToken: the token is exchanged once for an HttpOnly,
// SameSite=Strict cookie and a redirect to a URL without it; a second use
// and a visit without it show nothing of the registry.
func TestOneTimeToken(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "x", nil)
	hc := browserless(t)

	resp, body := get(t, hc, r.URL)
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "app/web") {
		t.Fatalf("without a token: status %d, want 401 and no repositories; body: %.300s", resp.StatusCode, body)
	}
	tok := r.console.NewToken()
	resp, _ = get(t, hc, r.URL+"?token="+tok)
	if resp.StatusCode != http.StatusSeeOther || strings.Contains(resp.Header.Get("Location"), tok) {
		t.Fatalf("token exchange: status %d location %q, want 303 to a URL without the token", resp.StatusCode, resp.Header.Get("Location"))
	}
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Strict"} {
		if !strings.Contains(sc, want) {
			t.Errorf("session cookie %q lacks %s", sc, want)
		}
	}
	resp, body = get(t, hc, r.URL)
	if resp.StatusCode != 200 || !strings.Contains(body, "app/web") {
		t.Fatalf("with the session: status %d, want 200 listing app/web", resp.StatusCode)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q: want script-src 'self' and no unsafe-inline", csp)
	}
	other := browserless(t)
	resp, body = get(t, other, r.URL+"?token="+tok)
	if resp.StatusCode != http.StatusForbidden || strings.Contains(body, "app/web") {
		t.Errorf("reused token: status %d, want 403", resp.StatusCode)
	}
}

// TestCSRFRefused: a lock or delete without the session's CSRF token, or
// from another origin, is refused and changes nothing.
func TestCSRFRefused(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "x", nil)
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	_, page := get(t, hc, r.URL+"repo?name=app/web")
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatal("the repository page has no CSRF field")
	}
	csrf := page[i+len(`name="csrf" value="`):]
	csrf = csrf[:strings.IndexByte(csrf, '"')]

	post := func(form url.Values, origin string) int {
		req, _ := http.NewRequest("POST", r.URL+"lock", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	lock := url.Values{"repo": {"app/web"}, "tag": {"v1"}, "lock": {"1"}}
	if got := post(lock, ""); got != http.StatusForbidden {
		t.Errorf("lock without CSRF token: status %d, want 403", got)
	}
	wrong := url.Values{"repo": {"app/web"}, "tag": {"v1"}, "lock": {"1"}, "csrf": {"x" + csrf}}
	if got := post(wrong, ""); got != http.StatusForbidden {
		t.Errorf("lock with a wrong CSRF token: status %d, want 403", got)
	}
	good := url.Values{"repo": {"app/web"}, "tag": {"v1"}, "lock": {"1"}, "csrf": {csrf}}
	if got := post(good, "http://evil.example"); got != http.StatusForbidden {
		t.Errorf("lock from another origin: status %d, want 403", got)
	}
	p, err := r.seed.c.GetTagProperties(t.Context(), "app/web", "v1")
	if err != nil || !p.Permissions.CanWrite {
		t.Fatalf("after refused locks: %+v, %v; want the tag still writable", p.Permissions, err)
	}
	if got := post(good, ""); got != http.StatusSeeOther {
		t.Errorf("lock with the CSRF token: status %d, want 303", got)
	}
	if p, _ := r.seed.c.GetTagProperties(t.Context(), "app/web", "v1"); p.Permissions.CanWrite {
		t.Error("the lock with the CSRF token did not lock the tag")
	}
}

// TestEscaped: hostile annotations come back escaped in the HTML.
func TestEscaped(t *testing.T) {
	r := localRegistry(t, nil)
	d := r.seed.image("app/web", "v1", "amd64", "x", map[string]string{"a": xssScript, "b": xssImg})
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	_, body := get(t, hc, r.URL+"manifest?repo=app/web&ref="+d.Digest.String())
	if strings.Contains(body, "<script>window") || strings.Contains(body, "<img") {
		t.Fatalf("hostile annotation rendered as markup:\n%s", body)
	}
	if !strings.Contains(body, "&lt;script&gt;window.__pwned=1&lt;/script&gt;") {
		t.Errorf("the annotation's text is missing, escaped")
	}
}

// TestSignIn: a console mounted on a registry with users asks for them,
// refuses a wrong password, and never sends the password back.
func TestSignIn(t *testing.T) {
	u, reg := mounted(t, &emulator.Options{Users: map[string]string{"admin": "s3cret-Pa55"}})
	newSeeder(t, reg.URL, acr.BasicCredential("admin", "s3cret-Pa55")).image("app/web", "v1", "amd64", "x", nil)
	hc := browserless(t)
	resp, _ := get(t, hc, u)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "/console/login") {
		t.Fatalf("unsigned visit: status %d location %q, want a redirect to the sign-in form", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, form := get(t, hc, u+"login")
	i := strings.Index(form, `name="csrf" value="`)
	tok := form[i+len(`name="csrf" value="`):]
	tok = tok[:strings.IndexByte(tok, '"')]
	signIn := func(pass string) (*http.Response, string) {
		resp, err := hc.PostForm(u+"login", url.Values{"csrf": {tok}, "username": {"admin"}, "password": {pass}, "next": {"/console/"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	resp, body := signIn("wrong")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "refused") {
		t.Fatalf("wrong password: status %d, want 401 saying it was refused", resp.StatusCode)
	}
	i = strings.Index(body, `name="csrf" value="`)
	tok = body[i+len(`name="csrf" value="`):]
	tok = tok[:strings.IndexByte(tok, '"')]
	if resp, _ = signIn("s3cret-Pa55"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("right password: status %d, want 303", resp.StatusCode)
	}
	resp, body = get(t, hc, u)
	if resp.StatusCode != 200 || !strings.Contains(body, "app/web") {
		t.Fatalf("signed in: status %d, want 200 listing app/web", resp.StatusCode)
	}
	if strings.Contains(body, "s3cret") {
		t.Error("a page carries the password")
	}
}

// TestRoutes: the mount point without its slash redirects, static files
// need no session but carry the same headers, a page's state-changing
// route refuses GET, and a prefix must be a directory.
func TestRoutes(t *testing.T) {
	u, _ := mounted(t, &emulator.Options{})
	hc := browserless(t)
	resp, _ := get(t, hc, strings.TrimSuffix(u, "/"))
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/console/" {
		t.Errorf("/console: %d to %q, want a redirect to /console/", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, body := get(t, hc, u+"static/console.js")
	if resp.StatusCode != 200 || !strings.Contains(body, "use strict") || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("static script: %d, CSP %q; want 200 with the CSP", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	if resp, _ := get(t, hc, u+"lock"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET lock: %d, want 405", resp.StatusCode)
	}
	if _, err := New(&Options{Client: &acr.Client{}, Prefix: "/console"}); err == nil || !strings.Contains(err.Error(), "start and end with /") {
		t.Errorf("prefix /console: %v, want an error asking for a trailing /", err)
	}
	if _, err := New(&Options{}); err == nil || !strings.Contains(err.Error(), "exactly one") {
		t.Errorf("no client: %v, want an error naming the options", err)
	}
}

// TestLoopbackOnly: with LoopbackOnly, as acrctl console sets it, a request
// for another host name (DNS rebinding) is refused before anything else.
func TestLoopbackOnly(t *testing.T) {
	reg := acrtest.NewServer(t, nil)
	c, err := acr.NewClient(reg.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := New(&Options{Client: c, LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(cs)
	t.Cleanup(hs.Close)
	for host, allowed := range map[string]bool{"evil.example:80": false, "127.0.0.1.evil.example": false,
		"localhost:1": true, "127.0.0.1": true, "[::1]:8080": true} {
		req, _ := http.NewRequest("GET", hs.URL+"/?token="+cs.NewToken(), nil)
		req.Host = host
		resp, err := browserless(t).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		want := http.StatusMisdirectedRequest
		if allowed {
			want = http.StatusSeeOther // the token accepted
		}
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
