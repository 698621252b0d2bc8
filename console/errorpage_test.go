package console

import (
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
)

// TestErrorPageUnreachable: a registry that does not answer gets a
// sentence a person reads first, with the library's text below it,
// escaped.
func TestErrorPageUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close() // nothing listens there now
	cs, u := consoleFor(t, dead, acr.BasicCredential("u", "p<b>"))
	hc := browserless(t)
	get(t, hc, u+"?token="+cs.NewToken())
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
	tok := loginToken(t, hc, u)
	resp, err := hc.PostForm(u+"login", url.Values{"csrf": {tok}, "username": {"ci"}, "password": {"c-Pa55word"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in as ci: %d, want 303", resp.StatusCode)
	}
	resp, body := get(t, hc, u)
	if resp.StatusCode != 200 || !strings.Contains(body, `id="open-repo"`) || !strings.Contains(body, `action="/console/repo"`) {
		t.Fatalf("home page of a scoped user: %d, want 200 with an Open repository box; body: %.600s", resp.StatusCode, body)
	}
	if resp, body = get(t, hc, u+"repo?name=app"); resp.StatusCode != 200 || !strings.Contains(body, "v1") {
		t.Errorf("opening app by name: %d, want 200 listing v1", resp.StatusCode)
	}
}
