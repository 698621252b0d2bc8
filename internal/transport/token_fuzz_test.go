package transport

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

// jwt builds a compact JWT with payload, unsigned: the client never
// verifies tokens, it only reads when they expire.
func jwt(payload string) string {
	return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
}

// FuzzJWTClaims feeds arbitrary tokens to the claims reader, as a token
// endpoint or an Entra ID credential could return them: it must not panic;
// an exp it accepts is in range; and an ACR refresh token is exchanged
// again no later than it expires, and not before now unless it has expired.
func FuzzJWTClaims(f *testing.F) {
	for _, s := range []string{
		jwt(`{"exp":1700000000,"tid":"t"}`), jwt(`{"exp":"1700000000"}`), jwt(`{"exp":1e300}`), jwt(`{"exp":-5}`),
		jwt(`{"exp":1.5}`), jwt(`{"exp":null,"tid":7}`), jwt(`[]`), jwt(`{"exp":99999999999}`),
		"a.b.c", "a..c", "..", "a.!!!.c", "", "no dots", "a.b.c.d",
		"h." + base64.StdEncoding.EncodeToString([]byte(`{"exp":1800000000}`)) + ".s",
	} {
		f.Add(s)
	}
	now := time.Unix(1750000000, 0)
	f.Fuzz(func(t *testing.T, tok string) {
		c, ok := jwtClaims(tok)
		if !ok {
			if c != (claims{}) {
				t.Fatalf("jwtClaims(%q) = %+v without ok", tok, c)
			}
		} else if c.exp < 0 || c.exp > 1e11 || c.exp != c.exp {
			t.Fatalf("jwtClaims(%q): exp %v out of range", tok, c.exp)
		}
		at := refreshRenewAt(tok, now)
		if ok && c.exp > 0 {
			expires := time.Unix(int64(c.exp), 0)
			if at.After(expires) {
				t.Fatalf("refresh token %q expiring at %v is renewed later, at %v", tok, expires, at)
			}
			if expires.After(now) && at.Before(now) {
				t.Fatalf("refresh token %q expiring at %v is renewed in the past, at %v", tok, expires, at)
			}
		} else if !at.After(now) || at.After(now.Add(unknownRefreshLifetime)) {
			t.Fatalf("refresh token %q without exp is renewed at %v, want within %v of %v", tok, at, unknownRefreshLifetime, now)
		}
	})
}

// FuzzTokenResponse decodes arbitrary token endpoint bodies as
// tokenRequest does and computes when to renew the token: no panic, and a
// token is never renewed before it was fetched (less the issued_at skew)
// unless its own exp says it has expired, nor later than the longest
// lifetime believed.
func FuzzTokenResponse(f *testing.F) {
	for _, s := range []string{
		`{"token":"abc","expires_in":300,"issued_at":"2025-06-15T15:06:40Z"}`,
		`{"access_token":"abc","expires_in":"300"}`,
		`{"token":"` + jwt(`{"exp":1750000600}`) + `"}`,
		`{"token":"` + jwt(`{"exp":1}`) + `"}`,
		`{"token":"x","expires_in":-1}`, `{"token":"x","expires_in":1e400}`, `{"token":"x","expires_in":"NaN"}`,
		`{"token":"x","expires_in":"Inf"}`, `{"token":"x","expires_in":{}}`, `{"token":"x","issued_at":"1999-01-01T00:00:00Z","expires_in":1}`,
		`{"token":"x","issued_at":"2025-06-15T15:06:00Z","expires_in":1e9}`, `null`, `[]`, `{`,
	} {
		f.Add([]byte(s))
	}
	start := time.Unix(1750000000, 0) // 2025-06-15T15:06:40Z
	f.Fuzz(func(t *testing.T, body []byte) {
		var tr tokenResponse
		if json.NewDecoder(io.LimitReader(bytes.NewReader(body), maxTokenBody)).Decode(&tr) != nil {
			return
		}
		tok := tr.Token
		if tok == "" {
			tok = tr.AccessToken
		}
		at := accessRenewAt(tok, tr, start, start)
		if at.After(start.Add(1e9*time.Second)) && at.After(time.Unix(1e11, 0)) {
			t.Fatalf("%s: renewed at %v, beyond any lifetime believed", body, at)
		}
		if _, ok := parseExpiresIn(tr.ExpiresIn); !ok {
			if c, ok := jwtClaims(tok); ok && c.exp > 0 {
				return // the token's own exp may lie in the past
			}
		}
		if at.Before(start.Add(-issuedAtSkew)) {
			t.Fatalf("%s: renewed at %v, before it was fetched at %v", body, at, start)
		}
	})
}

// FuzzReadErrorBody reads arbitrary token endpoint error bodies (OCI,
// OAuth2, text, binary): the code and message that go into a TokenError
// are printable, valid UTF-8 and bounded, so that the error stays one line
// whatever the endpoint sent.
func FuzzReadErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`,
		`{"error":"invalid_grant","error_description":"AADSTS70000: expired\r\nforged"}`,
		`{"details":"\u001b[2Jcleared"}`, `{"errors":[{"code":"` + strings.Repeat("é", 100) + `"}]}`,
		"<html>\x00\xff\xfe</html>", "", strings.Repeat("x", 9000),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		code, msg := readErrorBody(bytes.NewReader(body))
		for _, s := range []struct {
			what string
			v    string
			max  int
		}{{"code", code, 64}, {"message", msg, 512}} {
			if len(s.v) > s.max+len("…") {
				t.Fatalf("%s is %d bytes, over %d", s.what, len(s.v), s.max)
			}
			if !utf8.ValidString(s.v) {
				t.Fatalf("%s %q is not valid UTF-8", s.what, s.v)
			}
			for _, r := range s.v {
				if unicode.IsControl(r) {
					t.Fatalf("%s %q contains control character %U", s.what, s.v, r)
				}
			}
		}
		e := &TokenError{Credential: "basic", Endpoint: "https://r.example/oauth2/token", StatusCode: 401, Code: code, Message: msg}
		if strings.ContainsAny(e.Error(), "\r\n") {
			t.Fatalf("TokenError %q is not one line", e.Error())
		}
	})
}
