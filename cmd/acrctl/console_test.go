package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
)

// running is an acrctl command running in process until stopped.
type running struct {
	lines chan string
	stop  func() int
	errb  syncBuffer
}

// stderr returns what the command wrote to stderr so far.
func (r *running) stderr() string { return r.errb.String() }

// startRun runs acrctl with args in the background; its stdout comes line
// by line.
func startRun(t *testing.T, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	r := &running{lines: make(chan string, 16)}
	done := make(chan int, 1)
	go func() {
		code := run(ctx, args, strings.NewReader(""), pw, &r.errb)
		pw.Close()
		done <- code
	}()
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			r.lines <- sc.Text()
		}
		close(r.lines)
	}()
	var code int
	stopped := false
	r.stop = func() int {
		if !stopped {
			cancel()
			code, stopped = <-done, true
		}
		return code
	}
	t.Cleanup(func() { r.stop() })
	return r
}

// line waits for the next line that starts with prefix and returns the
// rest.
func (r *running) line(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-r.lines:
			if !ok {
				t.Fatalf("acrctl exited before printing %q (exit code %d)", prefix, r.stop())
			}
			if rest, ok := strings.CutPrefix(l, prefix); ok {
				return rest
			}
		case <-timeout:
			t.Fatalf("acrctl printed no %q line", prefix)
		}
	}
}

func noRedirects() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, hc *http.Client, u string) (int, string, http.Header) {
	t.Helper()
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// TestConsoleCommand: acrctl console prints a loopback URL with a one-time
// token, which signs one browser in and then no longer works.
func TestConsoleCommand(t *testing.T) {
	f := newFixture(t, false)
	f.pushImage("team/app", "a", "v1")
	r := startRun(t, "console", f.srv.Host)
	rest := r.line(t, "console for "+f.srv.Host+" on ")
	u, err := url.Parse(rest)
	if err != nil || u.Hostname() != "127.0.0.1" || u.Query().Get("token") == "" || len(u.Path) < 20 || !strings.HasSuffix(u.Path, "/") {
		t.Fatalf("console URL %q: want http://127.0.0.1:PORT/RANDOM/?token=...", rest)
	}
	hc := noRedirects()
	code, _, h := fetch(t, hc, rest)
	if code != http.StatusSeeOther || strings.Contains(h.Get("Location"), "token") {
		t.Fatalf("first visit: %d to %q, want 303 to a URL without the token", code, h.Get("Location"))
	}
	// The session cookie is scoped to the random path, so that no other
	// server on 127.0.0.1 (browsers share cookies across ports) gets it.
	if c := h.Get("Set-Cookie"); !strings.Contains(c, "Path="+u.Path+";") && !strings.HasSuffix(c, "Path="+u.Path) {
		t.Errorf("session cookie %q: want Path=%s", c, u.Path)
	}
	if code, body, _ := fetch(t, hc, "http://"+u.Host+u.Path); code != 200 || !strings.Contains(body, "team/app") {
		t.Fatalf("signed in: %d, want 200 listing team/app", code)
	}
	if code, body, _ := fetch(t, hc, "http://"+u.Host+"/"); code != http.StatusNotFound || strings.Contains(body, u.Path) {
		t.Errorf("/ outside the console's path: %d, want a 404 that does not reveal the path", code)
	}
	if code, body, _ := fetch(t, noRedirects(), rest); code != http.StatusForbidden || strings.Contains(body, "team/app") {
		t.Errorf("the token again, from another browser: %d, want 403", code)
	}
	if code := r.stop(); code != 0 {
		t.Errorf("stopped console: exit code %d, want 0", code)
	}

	// --addr localhost:PORT serves on 127.0.0.1, with -v logging refusals.
	r = startRun(t, "-v", "console", f.srv.Host, "--addr", "localhost:0")
	rest = r.line(t, "console for "+f.srv.Host+" on ")
	if u, err = url.Parse(rest); err != nil || u.Hostname() != "127.0.0.1" {
		t.Fatalf("console URL with --addr localhost:0: %q, want http://127.0.0.1:PORT/...", rest)
	}
	if code, _, _ := fetch(t, noRedirects(), rest); code != http.StatusSeeOther {
		t.Fatalf("first visit with --addr localhost:0: %d, want 303", code)
	}
	if code, _, _ := fetch(t, noRedirects(), "http://"+u.Host+u.Path+"?token=not-a-token"); code != http.StatusForbidden {
		t.Errorf("an unknown token: %d, want 403", code)
	}
	r.stop()
	if !strings.Contains(r.stderr(), "refused a used or unknown one-time token") {
		t.Errorf("-v did not log the refused token; stderr: %s", r.stderr())
	}
}

// TestConsoleLoopbackOnly: the console refuses to serve beyond this
// machine.
func TestConsoleLoopbackOnly(t *testing.T) {
	acrctl(t, "", "console", "127.0.0.1:1", "--addr", "0.0.0.0:0").fails(t, 2, "--addr", "loopback")
}

// TestServeConsole: acrctl serve prints the console's URL beside the
// registry's and serves it under /console/, over http and https, asking
// for the registry's users; --no-console leaves it out.
func TestServeConsole(t *testing.T) {
	for _, tlsMode := range []bool{false, true} {
		args := []string{"serve", "--memory", "--addr", "127.0.0.1:0", "--user", testUser + ":" + testPassword}
		if tlsMode {
			args = append(args, "--tls-self-signed")
		}
		r := startRun(t, args...)
		base := r.line(t, "listening on ")
		cu := r.line(t, "console on ")
		t.Logf("registry %s, console %s", base, cu)
		if cu != base+"/console/" {
			t.Fatalf("console URL %q, want %q", cu, base+"/console/")
		}
		hc := noRedirects()
		var copts *acr.ClientOptions
		if tlsMode {
			// The test trusts the self-signed certificate of its own server.
			tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
			hc.Transport = tr
			copts = &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}}
		}
		host := strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")
		c, err := acr.NewClient(base[:strings.Index(base, "://")+3]+host, acr.BasicCredential(testUser, testPassword), copts)
		if err != nil {
			t.Fatal(err)
		}
		(&fixture{t: t, client: c}).pushImage("team/app", "a", "v1")
		code, _, h := fetch(t, hc, cu)
		if code != http.StatusSeeOther || !strings.HasPrefix(h.Get("Location"), "/console/login") {
			t.Fatalf("unsigned visit: %d to %q, want the sign-in form", code, h.Get("Location"))
		}
		_, form, _ := fetch(t, hc, base+"/console/login")
		const field = `name="csrf" value="`
		i := strings.Index(form, field)
		if i < 0 {
			t.Fatal("the sign-in form has no CSRF field")
		}
		tok := form[i+len(field):]
		tok = tok[:strings.IndexByte(tok, '"')]
		resp, err := hc.PostForm(base+"/console/login", url.Values{"csrf": {tok}, "username": {testUser}, "password": {testPassword}, "next": {"/console/"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in (tls %v): %d, want 303", tlsMode, resp.StatusCode)
		}
		for _, sc := range resp.Header.Values("Set-Cookie") {
			if tlsMode && !strings.Contains(sc, "Secure") {
				t.Errorf("cookie over https %q: want Secure", sc)
			}
		}
		if code, body, _ := fetch(t, hc, cu); code != 200 || !strings.Contains(body, "team/app") {
			t.Fatalf("signed in (tls %v): %d, want 200 listing team/app", tlsMode, code)
		}
		// The registry's own answers reach its clients: a ServeMux in front
		// would redirect these unclean paths (307) instead of refusing them.
		for _, p := range []string{"/v2/team//app/blobs/uploads/", "/v2/team/../app/blobs/uploads/"} {
			resp, err := hc.Post(base+p, "application/octet-stream", nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				t.Errorf("POST %s: %d, want the registry's 4xx refusal", p, resp.StatusCode)
			}
		}
		r.stop()
	}

	r := startRun(t, "serve", "--memory", "--addr", "127.0.0.1:0", "--no-console")
	base := r.line(t, "listening on ")
	if code, _, _ := fetch(t, noRedirects(), base+"/console/"); code != http.StatusNotFound {
		t.Errorf("--no-console: /console/ answered %d, want 404", code)
	}
}

// TestConsoleRefusedCredential: a credential the registry refuses stops
// acrctl console at start, with the fix, instead of on the first page.
func TestConsoleRefusedCredential(t *testing.T) {
	f := newFixture(t, true)
	r := f.run("", "console", f.srv.Host, "-u", testUser, "-p", "wrong-password")
	r.fails(t, 1, testUser, "acrctl login")
}

// TestServeConsoleHostCheck: acrctl serve on a loopback address serves its
// console only to loopback host names, as acrctl console does, so that a
// web page whose name an attacker points at 127.0.0.1 cannot read it.
func TestServeConsoleHostCheck(t *testing.T) {
	r := startRun(t, "serve", "--memory", "--addr", "127.0.0.1:0")
	cu := r.line(t, "console on ")
	for host, want := range map[string]int{"evil.example": http.StatusMisdirectedRequest, "localhost": http.StatusOK, "": http.StatusOK} {
		req, err := http.NewRequest("GET", cu, nil)
		if err != nil {
			t.Fatal(err)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := noRedirects().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("the console for Host %q: %d, want %d", host, resp.StatusCode, want)
		}
	}
}
