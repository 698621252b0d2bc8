package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
)

// TestErrorPageUnreachable: a registry that does not answer gets a
// sentence a person reads first, with the library's text below it,
// escaped.
func TestErrorPageUnreachable(t *testing.T) {
	// Port 1 (tcpmux), where nothing listens: a port freed by closing a
	// listener could be given to a server of another go test process
	// before the console asks it.
	dead := "http://127.0.0.1:1"
	cs, u := consoleFor(t, dead, acr.BasicCredential("u", "p<b>"))
	hc := browserless(t)
	get(t, hc, u+"?token="+cs.NewToken())
	// The storage page too: no figures of zero that look measured.
	if resp, body := get(t, hc, u+"storage"); resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "Stored") {
		t.Errorf("storage of an unreachable registry: %d, want 502 without figures; body %.300s", resp.StatusCode, body)
	}
	resp, body := get(t, hc, u)
	if resp.StatusCode != http.StatusBadGateway {
		t.Errorf("an unreachable registry: %d, want 502", resp.StatusCode)
	}
	h1 := body[strings.Index(body, "<h1>"):strings.Index(body, "</h1>")]
	if !strings.Contains(h1, "cannot reach the registry") || strings.Contains(h1, "dial tcp") {
		t.Errorf("heading %q: want a sentence saying the registry cannot be reached, without the library's text", h1)
	}
	if !strings.Contains(body, `id="error-detail"`) || !strings.Contains(body, "connection refused") {
		t.Errorf("the page lacks the detail below the sentence: %.600s", body)
	}
}

// TestScopedUserHome: a user limited to some repositories, who may not
// list the registry's, gets a box to open a repository by name on the
// home page instead of an error whose link leads back to it.
func TestScopedUserHome(t *testing.T) {
	u, reg := mounted(t, &emulator.Options{
		Users: map[string]string{"admin": "a-Pa55word", "ci": "c-Pa55word"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {
			{Repository: "app", Actions: []string{"content/read", "metadata/read"}},
		}},
	})
	newSeeder(t, reg.URL, acr.BasicCredential("admin", "a-Pa55word")).image("app", "v1", "amd64", "x", nil)
	hc := browserless(t)
	signInAs(t, hc, u, "ci", "c-Pa55word")
	resp, body := get(t, hc, u)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="open-repo"`) || !strings.Contains(body, `action="/console/repo"`) {
		t.Fatalf("home page of a scoped user: %d, want 200 with an Open repository box; body: %.600s", resp.StatusCode, body)
	}
	if resp, body = get(t, hc, u+"repo?name=app"); resp.StatusCode != 200 || !strings.Contains(body, "v1") {
		t.Errorf("opening app by name: %d, want 200 listing v1", resp.StatusCode)
	}
}

// TestPullOnlyUserRepository: a credential that may pull from a repository
// but not read ACR's metadata (a scope map with content/read only, as ACR's
// _repositories_pull) sees its tags by name, with a note saying why no
// dates or locks show, instead of an error page.
func TestPullOnlyUserRepository(t *testing.T) {
	u, reg := mounted(t, &emulator.Options{
		Users: map[string]string{"admin": "a-Pa55word", "puller": "p-Pa55word"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"puller": {
			{Repository: "app", Actions: []string{"content/read"}},
		}},
	})
	newSeeder(t, reg.URL, acr.BasicCredential("admin", "a-Pa55word")).image("app", "v1", "amd64", "x", nil)
	hc := browserless(t)
	signInAs(t, hc, u, "puller", "p-Pa55word")
	resp, body := get(t, hc, u+"repo?name=app")
	if resp.StatusCode != 200 || !strings.Contains(body, ">v1<") || !strings.Contains(body, "metadata_read") {
		t.Errorf("app as a pull-only user: %d, want 200 listing v1 with a note on metadata_read; body: %.800s", resp.StatusCode, body)
	}
}

// TestErrorPageBadAddress: an address a person typed or edited wrong (a
// page the console lacks, a name or digest that is not valid) gets the
// console's page saying the address is at fault, not the registry, and
// no library or net/http text in the heading.
func TestErrorPageBadAddress(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "base", nil)
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	for _, c := range []struct {
		path   string
		status int
		want   string // in the heading
		not    string // nowhere in the page
	}{
		{"nosuch", 404, "no page at /nosuch", "404 page not found"},
		{"repo/extra?name=app%2Fweb", 404, "no page at /repo/extra", "404 page not found"},
		{"static/", 404, "no page at /static/", `href="console.js"`}, // not a listing of the files
		{"manifest?repo=App&ref=v1", 400, "address names a repository, tag or digest that is not valid", "registry listed"},
		{"manifest?repo=app%2Fweb&ref=bad%20tag", 400, "address names a repository, tag or digest that is not valid", "registry listed"},
		{"repo?name=BAD", 400, "address names a repository, tag or digest that is not valid", "registry listed"},
		{"delete?repo=app%2Fweb&digest=sha256:abc", 400, "64 lowercase hex digits", "invalid checksum digest length"},
	} {
		resp, body := get(t, hc, r.URL+c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.status)
		}
		i, j := strings.Index(body, "<h1>"), strings.Index(body, "</h1>")
		if i < 0 || j < i {
			t.Errorf("%s: not the console's error page: %.300s", c.path, body)
			continue
		}
		if h1 := body[i:j]; !strings.Contains(h1, c.want) {
			t.Errorf("%s: heading %q, want it to say %q", c.path, h1, c.want)
		}
		if strings.Contains(body, c.not) {
			t.Errorf("%s: the page says %q: %.600s", c.path, c.not, body)
		}
		if !strings.Contains(body, "Back to the repositories") {
			t.Errorf("%s: the page lacks the way back", c.path)
		}
	}
	// A route asked with the wrong method keeps its 405.
	if resp, _ := get(t, hc, r.URL+"lock"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET lock: %d, want 405", resp.StatusCode)
	}
}

// TestErrorPageKeepsFlash: an error answer between an action and the page
// it leads to (the browser's /favicon.ico, a mistyped address) does not
// spend the action's message; the next page that works shows it.
func TestErrorPageKeepsFlash(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "base", nil)
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	_, page := get(t, hc, r.URL+"repo?name=app%2Fweb")
	resp, err := hc.PostForm(r.URL+"lock", url.Values{"csrf": {field(t, page, "csrf")}, "repo": {"app/web"}, "tag": {"v1"}, "lock": {"1"}, "view": {"tags"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("lock: %d, want 303", resp.StatusCode)
	}
	if resp, _ := get(t, hc, r.URL+"favicon.ico"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("favicon.ico: %d, want 404", resp.StatusCode)
	}
	get(t, hc, r.URL+"manifest?repo=app%2Fweb&ref=nosuch")
	if _, page = get(t, hc, r.URL+"repo?name=app%2Fweb"); !strings.Contains(page, "Locked tag v1") {
		t.Errorf("the lock's message was spent by an error answer before the page showed it")
	}
}

// TestUsedLinkInSignedInBrowser: the printed link opened again in the
// browser it signed in leads to the page, not to "used already"; in
// another browser it still signs nothing in.
func TestUsedLinkInSignedInBrowser(t *testing.T) {
	r := localRegistry(t, nil)
	tok := r.console.NewToken()
	hc := browserless(t)
	resp, _ := get(t, hc, r.URL+"?token="+tok)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first use: %d, want 303", resp.StatusCode)
	}
	resp, _ = get(t, hc, r.URL+"repo?name=app&token="+tok)
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || strings.Contains(loc, "token") || !strings.HasSuffix(loc, "repo?name=app") {
		t.Errorf("the link again in the signed-in browser: %d to %q, want 303 to the page without the token", resp.StatusCode, loc)
	}
	if resp, _ = get(t, browserless(t), r.URL+"?token="+tok); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the spent link in another browser: %d, want 403", resp.StatusCode)
	}
}

// TestHungRegistry: a registry that accepts connections and never answers
// (a stopped process) gets the console's 504 page once the page's time is
// up, not a request that waits forever.
func TestHungRegistry(t *testing.T) {
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	old := pageTimeout
	pageTimeout = 300 * time.Millisecond
	defer func() { pageTimeout = old }()
	cs, u := consoleFor(t, hung.URL, nil)
	hc := browserless(t)
	hc.Timeout = 20 * time.Second // without the page's deadline, fail rather than hang
	get(t, hc, u+"?token="+cs.NewToken())
	start := time.Now()
	resp, body := get(t, hc, u+"repo?name=app")
	if took := time.Since(start); resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(body, "did not answer in time") || took > 10*time.Second {
		t.Errorf("a page of a hung registry: %d after %v, want 504 saying it did not answer in time; body %.300s", resp.StatusCode, took, body)
	}
}
