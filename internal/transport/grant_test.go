package transport

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
)

// TestGranted reads what a token grants from tokens of a hand-made token
// service: the access claim keyed as ACR documents it (Type, Name,
// Actions) and as the distribution token specification does (lower case),
// entries for other resources ignored; a token that is not a JWT, or has
// no access claim, and a registry that takes Basic credentials, say
// nothing.
func TestGranted(t *testing.T) {
	jwt := func(payload string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc([]byte(payload)) + ".c2ln"
	}
	for _, tc := range []struct {
		name    string
		token   string // the token service's answer; "" means Basic authentication
		actions []string
		known   bool
	}{
		{"ACR's capitalized keys", jwt(`{"access":[{"Type":"repository","Name":"team/app","Actions":["pull"]},{"Type":"repository","Name":"other","Actions":["delete"]}]}`), []string{"pull"}, true},
		{"lower-case keys, two entries", jwt(`{"access":[{"type":"repository","name":"team/app","actions":["pull"]},{"type":"repository","name":"team/app","actions":["delete","pull"]}]}`), []string{"pull", "delete"}, true},
		{"granted nothing", jwt(`{"access":[]}`), nil, true},
		{"no access claim", jwt(`{"exp":4102444800}`), nil, false},
		{"not a JWT", "opaque-token", nil, false},
		{"Basic authentication", "", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.URL.Path == "/token":
					asked = append(asked, r.URL.Query().Get("scope"))
					json.NewEncoder(w).Encode(map[string]string{"token": tc.token})
				case tc.token == "":
					w.Header().Set("Www-Authenticate", `Basic realm="registry"`)
					w.WriteHeader(http.StatusUnauthorized)
				default:
					w.Header().Set("Www-Authenticate", `Bearer realm="`+srv.URL+`/token",service="reg"`)
					w.WriteHeader(http.StatusUnauthorized)
				}
			}))
			defer srv.Close()
			c := newTestClient(t, nil)
			u, _ := url.Parse(srv.URL + "/v2/")
			if c.Challenged(u) {
				t.Fatal("Challenged before any request")
			}
			do(t, c, http.MethodGet, srv.URL+"/v2/")
			if !c.Challenged(u) {
				t.Fatal("not Challenged after a 401")
			}
			actions, known, err := c.Granted(t.Context(), u, "repository:team/app:pull,delete")
			if err != nil {
				t.Fatal(err)
			}
			if known != tc.known || !slices.Equal(actions, tc.actions) {
				t.Errorf("Granted: %q, known %v; want %q, known %v", actions, known, tc.actions, tc.known)
			}
			if tc.token != "" && !slices.Contains(asked, "repository:team/app:delete,pull") { // normalized: actions sorted
				t.Errorf("token requests asked for %q, want the scope asked about", asked)
			}
		})
	}
}
