package console

import (
	"bytes"
	"html"
	"io"
	"mime/multipart"
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

	post := func(form url.Values, origin string, site ...string) int {
		req, _ := http.NewRequest("POST", r.URL+"lock", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if len(site) > 0 {
			req.Header.Set("Sec-Fetch-Site", site[0])
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
	if got := post(good, "null"); got != http.StatusForbidden {
		t.Errorf("lock from Origin null: status %d, want 403", got)
	}
	if got := post(good, "null", "cross-site"); got != http.StatusForbidden {
		t.Errorf("lock from Origin null, cross-site: status %d, want 403", got)
	}
	p, err := r.seed.c.GetTagProperties(t.Context(), "app/web", "v1")
	if err != nil || !p.Permissions.CanWrite {
		t.Fatalf("after refused locks: %+v, %v; want the tag still writable", p.Permissions, err)
	}
	if got := post(good, "null", "same-origin"); got != http.StatusSeeOther {
		t.Errorf("lock with the CSRF token, Origin null and Sec-Fetch-Site same-origin: status %d, want 303", got)
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

// loginToken fetches the sign-in form at u+"login" and returns its CSRF
// token (the jar keeps the matching cookie).
// signInAs signs hc in to the console at u (mounted beside a registry with
// users) as user.
func signInAs(t *testing.T, hc *http.Client, u, user, pass string) {
	t.Helper()
	resp, err := hc.PostForm(u+"login", url.Values{"csrf": {loginToken(t, hc, u)}, "username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as %s: %d, want 303", user, resp.StatusCode)
	}
}

func loginToken(t *testing.T, hc *http.Client, u string) string {
	t.Helper()
	_, form := get(t, hc, u+"login")
	return field(t, form, "csrf")
}

// field returns the value of the first input named name in page.
func field(t *testing.T, page, name string) string {
	t.Helper()
	key := `name="` + name + `" value="`
	i := strings.Index(page, key)
	if i < 0 {
		t.Fatalf("the page has no %s field: %.300s", name, page)
	}
	v := page[i+len(key):]
	return v[:strings.IndexByte(v, '"')]
}

// do sends a request with a body and headers, and returns the status and
// the body of the answer.
func do(t *testing.T, hc *http.Client, method, u string, body io.Reader, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// TestBodyLimits: no request body is read past 64 KiB, and multipart
// bodies, which the console's forms never send, are refused unread, even
// on a GET of the sign-in form, before any session.
func TestBodyLimits(t *testing.T) {
	u, _ := mounted(t, &emulator.Options{Users: map[string]string{"admin": "s3cret-Pa55"}})
	hc := browserless(t)
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	fw, _ := mw.CreateFormFile("f", "big.bin")
	fw.Write(bytes.Repeat([]byte("x"), 1<<20))
	mw.WriteField("next", "/console/storage")
	mw.Close()
	for _, method := range []string{"GET", "POST"} {
		// Streamed, with no length declared.
		code, _ := do(t, hc, method, u+"login", struct{ io.Reader }{bytes.NewReader(mp.Bytes())}, map[string]string{"Content-Type": mw.FormDataContentType()})
		if code != http.StatusUnsupportedMediaType {
			t.Errorf("%s login with a multipart body: %d, want 415", method, code)
		}
		code, _ = do(t, hc, method, u+"login", bytes.NewReader(mp.Bytes()), map[string]string{"Content-Type": mw.FormDataContentType()})
		if code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s login with a 1 MiB body: %d, want 413", method, code)
		}
	}
	// A form too large, declared or streamed, is not read.
	tok := loginToken(t, hc, u)
	big := url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"s3cret-Pa55"}, "pad": {strings.Repeat("a", 100<<10)}}.Encode()
	if code, _ := do(t, hc, "POST", u+"login", strings.NewReader(big), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != http.StatusRequestEntityTooLarge {
		t.Errorf("POST login with 100 KiB: %d, want 413", code)
	}
	tok = loginToken(t, hc, u)
	big = url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"s3cret-Pa55"}, "pad": {strings.Repeat("a", 100<<10)}}.Encode()
	code, _ := do(t, hc, "POST", u+"login", struct{ io.Reader }{strings.NewReader(big)}, map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if code != http.StatusForbidden {
		t.Errorf("POST login streaming 100 KiB: %d, want 403 (the form unread)", code)
	}
	// The console's own small forms still work.
	tok = loginToken(t, hc, u)
	form := url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"s3cret-Pa55"}, "next": {"/console/storage"}}.Encode()
	resp, err := hc.Post(u+"login", "application/x-www-form-urlencoded", strings.NewReader(form))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/console/storage" {
		t.Errorf("sign-in: %d to %q, want 303 to /console/storage", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestCookiesPerServer: two consoles on one host, on two ports, share the
// browser's cookies (browsers do not isolate ports), yet neither signs
// the other out.
func TestCookiesPerServer(t *testing.T) {
	a, b := localRegistry(t, nil), localRegistry(t, nil)
	a.seed.image("app/a", "v1", "amd64", "x", nil)
	b.seed.image("app/b", "v1", "amd64", "x", nil)
	hc := browserless(t) // one jar: Go's, like browsers, ignores ports
	get(t, hc, a.URL+"?token="+a.console.NewToken())
	get(t, hc, b.URL+"?token="+b.console.NewToken())
	for _, r := range []struct{ url, repo string }{{a.URL, "app/a"}, {b.URL, "app/b"}} {
		if resp, body := get(t, hc, r.url); resp.StatusCode != 200 || !strings.Contains(body, r.repo) {
			t.Errorf("console at %s after signing in to both: %d, want 200 listing %s", r.url, resp.StatusCode, r.repo)
		}
	}
}

// TestSignInOrigin: a sign-in posted from another site is refused even
// with the form's token, as every other state-changing request is.
func TestSignInOrigin(t *testing.T) {
	u, _ := mounted(t, &emulator.Options{Users: map[string]string{"admin": "s3cret-Pa55"}})
	hc := browserless(t)
	for _, h := range []map[string]string{{"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}} {
		tok := loginToken(t, hc, u)
		h["Content-Type"] = "application/x-www-form-urlencoded"
		form := url.Values{"csrf": {tok}, "username": {"admin"}, "password": {"s3cret-Pa55"}}.Encode()
		if code, _ := do(t, hc, "POST", u+"login", strings.NewReader(form), h); code != http.StatusForbidden {
			t.Errorf("sign-in with %v: %d, want 403", h, code)
		}
	}
	if resp, _ := get(t, hc, u); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("after refused sign-ins: %d, want 303 to the sign-in form", resp.StatusCode)
	}
}

// TestNext: where a sign-in leads is a cleaned path of the console, never
// a part of a page, and a part of a page fetched without a session gets
// 401 for its script to reload the page, not the sign-in form.
func TestNext(t *testing.T) {
	u, _ := mounted(t, &emulator.Options{Users: map[string]string{"admin": "s3cret-Pa55"}})
	hc := browserless(t)
	for next, want := range map[string]string{
		"/console/../../x":             "/console/",
		"/console/..%2f..%2fx":         "/console/",
		"/console/repo?name=a":         "/console/repo?name=a",
		"//evil.example/console/":      "/console/",
		"http://evil.example/console/": "/console/",
		"/console/?fragment=1&q=a":     "/console/?q=a",
	} {
		_, form := get(t, hc, u+"login?next="+url.QueryEscape(next))
		if got := html.UnescapeString(field(t, form, "next")); got != want {
			t.Errorf("next %q: the form leads to %q, want %q", next, got, want)
		}
	}
	resp, err := hc.PostForm(u+"lock", url.Values{"repo": {"a"}, "tag": {"v1"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/console/login?next=%2Fconsole%2F" {
		t.Errorf("a lock without a session: %d to %q, want the sign-in form leading to the first page, not to GET lock", resp.StatusCode, loc)
	}
	resp, body := get(t, hc, u+"?fragment=1&q=a")
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<form") {
		t.Errorf("a fragment without a session: %d, want 401 without the sign-in form", resp.StatusCode)
	}
}

// TestOpenSessions: an open console (acrctl serve without users) stores
// nothing for a visitor that only looks, so that no number of visitors
// can push out another's session and its CSRF token.
func TestOpenSessions(t *testing.T) {
	reg := acrtest.NewServer(t, nil)
	newSeeder(t, reg.URL, nil).image("app/web", "v1", "amd64", "x", nil)
	c, err := acr.NewClient(reg.URL, acr.AnonymousCredential(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := New(&Options{Client: c, Open: true})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(cs)
	t.Cleanup(hs.Close)
	hc := browserless(t)
	_, page := get(t, hc, hs.URL+"/repo?name=app/web")
	csrf := field(t, page, "csrf")
	for range maxSessions + 10 {
		resp, err := http.Get(hs.URL + "/static/console.css")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp, _ = get(t, browserless(t), hs.URL+"/"); resp.StatusCode != 200 {
			t.Fatalf("a visit: %d", resp.StatusCode)
		}
	}
	cs.mu.Lock()
	n := len(cs.sessions)
	cs.mu.Unlock()
	if n != 0 {
		t.Errorf("after %d visitors who only looked, %d sessions stored, want 0", maxSessions+10, n)
	}
	form := url.Values{"csrf": {csrf}, "repo": {"app/web"}, "tag": {"v1"}, "lock": {"1"}}.Encode()
	code, _ := do(t, hc, "POST", hs.URL+"/lock", strings.NewReader(form), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if code != http.StatusSeeOther {
		t.Fatalf("the first visitor's lock after the others: %d, want 303", code)
	}
	if _, page = get(t, hc, hs.URL+"/repo?name=app/web"); !strings.Contains(page, "Locked tag v1") {
		t.Error("the lock's message did not reach the next page")
	}
}

// TestTokenEviction: past 100 unused one-time tokens, only the oldest is
// dropped.
func TestTokenEviction(t *testing.T) {
	r := localRegistry(t, nil)
	var toks []string
	for range maxTokens + 1 {
		toks = append(toks, r.console.NewToken())
	}
	if resp, _ := get(t, browserless(t), r.URL+"?token="+toks[0]); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the oldest of %d tokens: %d, want 403 (dropped)", len(toks), resp.StatusCode)
	}
	for _, i := range []int{1, maxTokens - 1, maxTokens} {
		if resp, _ := get(t, browserless(t), r.URL+"?token="+toks[i]); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("token %d of %d: %d, want 303 (still valid)", i, len(toks), resp.StatusCode)
		}
	}
}
