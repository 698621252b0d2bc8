package emulator_test

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// token gets an access token the docker way: GET /oauth2/token with Basic.
func (c *client) token(auth, scope string) string {
	c.t.Helper()
	host := strings.TrimPrefix(c.base, "http://")
	saved := c.auth
	c.auth = auth
	defer func() { c.auth = saved }()
	r := c.do("GET", "/oauth2/token?service="+url.QueryEscape(host)+"&scope="+url.QueryEscape(scope), nil).want(c.t, http.StatusOK)
	return decode[struct {
		AccessToken string `json:"access_token"`
	}](c.t, r).AccessToken
}

func TestChallengeFormat(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	r := c.do("GET", "/acr/v1/library%2Fhello/_tags", nil).want(t, http.StatusUnauthorized)
	want := `Bearer realm="http://` + srv.Host + `/oauth2/token",service="` + srv.Host + `",scope="repository:library/hello:metadata_read"`
	if got := r.Header.Get("Www-Authenticate"); got != want {
		t.Fatalf("got challenge\n%s\nwant\n%s", got, want)
	}
	if r.errorCode() != "UNAUTHORIZED" {
		t.Errorf("got code %q", r.errorCode())
	}
	// GET /v2/ names no scope, as on ACR (G TestClient_CheckDockerV2Support).
	r = c.do("GET", "/v2/", nil).want(t, http.StatusUnauthorized)
	if strings.Contains(r.Header.Get("Www-Authenticate"), `scope=`) {
		t.Errorf("the /v2/ challenge names a scope: %s", r.Header.Get("Www-Authenticate"))
	}
}

func TestBasicAndBearerScopes(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	c.auth = basic("u", "p")
	c.pushImage("app", "v1", "one")
	c.auth = basic("u", "wrong")
	c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusUnauthorized)

	pull := c.token(basic("u", "p"), "repository:app:pull")
	c.auth = "Bearer " + pull
	c.do("GET", "/v2/", nil).want(t, http.StatusOK)
	c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusOK)
	// A token without the scope gets 401 with a challenge for what is
	// missing, never 403: the Go SDK reuses one token for everything.
	r := c.do("DELETE", "/acr/v1/app/_tags/v1", nil).want(t, http.StatusUnauthorized)
	if !strings.Contains(r.Header.Get("Www-Authenticate"), `scope="repository:app:delete"`) {
		t.Fatalf("got challenge %q", r.Header.Get("Www-Authenticate"))
	}
	c.do("GET", "/v2/other/tags/list", nil).want(t, http.StatusUnauthorized)
	c.do("GET", "/v2/_catalog", nil).want(t, http.StatusUnauthorized)
	c.auth = "Bearer " + c.token(basic("u", "p"), "registry:catalog:*")
	c.do("GET", "/v2/_catalog", nil).want(t, http.StatusOK)
}

func TestForgedTokensAreRefused(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}, Now: clock})
	tok := c.token(basic("u", "p"), "repository:app:pull,push")
	parts := strings.Split(tok, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	forged := []struct{ name, tok string }{
		{"alg none", none + "." + parts[1] + "."},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"access":[{"type":"repository","name":"*","actions":["*"]}]}`)) + "." + parts[2]},
		{"garbage", "not-a-jwt"},
	}
	for _, f := range forged {
		c.auth = "Bearer " + f.tok
		c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusUnauthorized)
	}
	// A token from another registry's key is refused.
	other, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	c.auth = "Bearer " + other.token(basic("u", "p"), "repository:app:pull")
	c.do("GET", "/v2/", nil).want(t, http.StatusUnauthorized)
	// Expired after its 75 minutes.
	c.auth = "Bearer " + tok
	c.do("GET", "/v2/", nil).want(t, http.StatusOK)
	now = now.Add(76 * time.Minute)
	r := c.do("GET", "/v2/", nil).want(t, http.StatusUnauthorized)
	if !strings.Contains(string(r.body), "expired") {
		t.Errorf("expired token error does not say so: %s", r.body)
	}
}

func TestAnonymousPull(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}, AnonymousPull: true})
	c.auth = basic("u", "p")
	c.pushImage("pub", "v1", "one")
	anon := c.token("", "repository:pub:pull,push")
	c.auth = "Bearer " + anon
	c.do("GET", "/v2/pub/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
	c.do("POST", "/v2/pub/blobs/uploads/", nil).want(t, http.StatusUnauthorized)

	// Without anonymous pull, the token endpoint refuses nobody.
	c2, _ := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	c2.do("GET", "/oauth2/token?scope=repository:pub:pull", nil).want(t, http.StatusUnauthorized)
}

func TestEntraIDExchange(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{AADTokens: []string{"aad-secret"}})
	post := func(path string, form url.Values) response {
		return c.do("POST", path, []byte(form.Encode()), "Content-Type", "application/x-www-form-urlencoded")
	}
	post("/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {"wrong"}}).want(t, http.StatusUnauthorized)
	r := post("/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {srv.Host}, "access_token": {"aad-secret"}}).want(t, http.StatusOK)
	refresh := decode[struct {
		RefreshToken string `json:"refresh_token"`
	}](t, r).RefreshToken
	// The Go SDK decodes the payload with the standard alphabet.
	payload := strings.Split(refresh, ".")[1]
	if strings.ContainsAny(payload, "-_") {
		t.Fatalf("refresh token payload %q is not valid standard base64", payload)
	}
	r = post("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "service": {srv.Host},
		"scope": {"repository:app:pull,push"}, "refresh_token": {refresh}}).want(t, http.StatusOK)
	access := decode[struct {
		AccessToken string `json:"access_token"`
	}](t, r).AccessToken
	c.auth = "Bearer " + access
	c.pushImage("app", "v1", "one")
	// A refresh token is not an access token.
	c.auth = "Bearer " + refresh
	c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusUnauthorized)
	// docker login with a refresh token uses the all-zero user name.
	c.auth = basic("00000000-0000-0000-0000-000000000000", refresh)
	c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusOK)
}

// TestUnauthorizedBodyIsRead: a client that sends its first attempt without
// credentials sends the body too (the Python SDK PATCHes a whole blob so);
// the registry reads it before the 401, so the client can finish sending
// and read the answer instead of a broken connection.
func TestUnauthorizedBodyIsRead(t *testing.T) {
	_, srv := newClient(t, &emulator.Options{Users: map[string]string{"u": "p"}})
	conn, err := net.Dial("tcp", srv.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const size = 16 << 20
	sent := make(chan error, 1)
	go func() {
		_, err := fmt.Fprintf(conn, "PATCH /v2/app/blobs/uploads/x HTTP/1.1\r\nHost: %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n", srv.Host, size)
		if err == nil {
			_, err = conn.Write(make([]byte, size))
		}
		sent <- err
	}()
	if err := <-sent; err != nil {
		t.Fatalf("sending the body: %v (the registry stopped reading it)", err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("got %d, want 401", resp.StatusCode)
	}
}

// TestNewRefusesUnusableCredentials: credentials that no client can send,
// or that anyone can (an empty password), are refused by New with the
// fix, not accepted to turn auth on with a hole or a user who cannot sign
// in.
func TestNewRefusesUnusableCredentials(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts emulator.Options
		want string
	}{
		{"empty password", emulator.Options{Users: map[string]string{"admin": ""}}, `user "admin" has an empty password`},
		{"empty name", emulator.Options{Users: map[string]string{"": "s3cret"}}, "a user with an empty name"},
		{"colon in name", emulator.Options{Users: map[string]string{"ci:bot": "s3cret"}}, `user "ci:bot" has a colon`},
		{"refresh token user", emulator.Options{Users: map[string]string{"00000000-0000-0000-0000-000000000000": "s3cret"}}, "refresh tokens"},
		{"empty Entra token", emulator.Options{AADTokens: []string{"good", ""}}, "AADTokens[1] is empty"},
	} {
		srv, err := emulator.New(&tc.opts)
		if err == nil {
			srv.Close()
			t.Errorf("%s: New accepted %+v", tc.name, tc.opts)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "emulator: ") {
			t.Errorf("%s: got %q, want an error naming %q", tc.name, err, tc.want)
		}
	}
}
