package transport

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// challengeSeeds are WWW-Authenticate values seen in the wild or written to
// break parsers; they seed the fuzzer too.
var challengeSeeds = []string{
	`Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:hello:pull"`,
	`Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="registry:catalog:*",error="invalid_token"`,
	`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`,
	`Bearer realm = "x" , service= "y" ,scope ="a b"`,
	`BEARER Realm="x", SERVICE="y"`,
	`Bearer realm="a\"b,c=d",service="s\\t"`,
	`Basic realm="r", Bearer realm="x",service="y"`,
	`Negotiate abc+/def==`,
	`Negotiate abc, Basic realm="x"`,
	`Negotiate, Basic realm="x"`,
	`Bearer realm=https://auth.example.com/token,service=registry.example.com`,
	`, ,Bearer realm="x",,`,
	`Bearer realm="a",realm="b"`,
	`Bearer realm="x" junk, Basic realm="y"`,
	`@@@`,
	`=`,
	`""`,
	`Bearer realm="unterminated`,
	`Bearer realm="x",error="insufficient_scope",scope="repository:a:pull repository:b:push"`,
	"Bearer\trealm=\"tab\"",
	`Basic`,
	`Bearer realm="x\`,
	`Bearer ,realm="x"`,
	`a b=, c`,
	`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`,
}

func TestParseChallenges(t *testing.T) {
	type P = map[string]string
	tests := []struct {
		name   string
		values []string
		want   []Challenge
	}{
		{"acr", challengeSeeds[0:1], []Challenge{{Scheme: "bearer", Params: P{
			"realm": "https://r.azurecr.io/oauth2/token", "service": "r.azurecr.io", "scope": "repository:hello:pull"}}}},
		{"error param", challengeSeeds[1:2], []Challenge{{Scheme: "bearer", Params: P{
			"realm": "https://r.azurecr.io/oauth2/token", "service": "r.azurecr.io", "scope": "registry:catalog:*", "error": "invalid_token"}}}},
		{"spaces around = and commas", []string{`Bearer realm = "x" , service= "y" ,scope ="a b"`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "x", "service": "y", "scope": "a b"}}}},
		{"case-insensitive scheme and names", []string{`BEARER Realm="x", SERVICE="y"`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "x", "service": "y"}}}},
		{"escaped quote, comma and equals in quotes", []string{`Bearer realm="a\"b,c=d",service="s\\t"`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": `a"b,c=d`, "service": `s\t`}}}},
		{"two challenges in one line", []string{`Basic realm="r", Bearer realm="x",service="y"`},
			[]Challenge{{Scheme: "basic", Params: P{"realm": "r"}}, {Scheme: "bearer", Params: P{"realm": "x", "service": "y"}}}},
		{"two header lines", []string{`Basic realm="r"`, `Bearer realm="x"`},
			[]Challenge{{Scheme: "basic", Params: P{"realm": "r"}}, {Scheme: "bearer", Params: P{"realm": "x"}}}},
		{"token68", []string{`Negotiate abc+/def==`}, []Challenge{{Scheme: "negotiate", Token68: "abc+/def=="}}},
		{"token68 then challenge", []string{`Negotiate abc, Basic realm="x"`},
			[]Challenge{{Scheme: "negotiate", Token68: "abc"}, {Scheme: "basic", Params: P{"realm": "x"}}}},
		{"bare scheme then challenge", []string{`Negotiate, Basic realm="x"`},
			[]Challenge{{Scheme: "negotiate"}, {Scheme: "basic", Params: P{"realm": "x"}}}},
		{"unquoted URL values", []string{`Bearer realm=https://auth.example.com/token,service=registry.example.com`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "https://auth.example.com/token", "service": "registry.example.com"}}}},
		{"empty list elements", []string{`, ,Bearer realm="x",,`}, []Challenge{{Scheme: "bearer", Params: P{"realm": "x"}}}},
		{"duplicate parameter keeps the first", []string{`Bearer realm="a",realm="b"`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "a"}}}},
		{"garbage resynchronises at the comma", []string{`Bearer realm="x" junk, Basic realm="y"`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "x"}}, {Scheme: "basic", Params: P{"realm": "y"}}}},
		{"garbage only", []string{`@@@`, `=`, `""`, ``}, nil},
		{"unterminated quote", []string{`Bearer realm="unterminated`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "unterminated"}}}},
		{"several scopes", []string{`Bearer realm="x",error="insufficient_scope",scope="repository:a:pull repository:b:push"`},
			[]Challenge{{Scheme: "bearer", Params: P{"realm": "x", "error": "insufficient_scope", "scope": "repository:a:pull repository:b:push"}}}},
		{"tab after scheme", []string{"Bearer\trealm=\"tab\""}, []Challenge{{Scheme: "bearer", Params: P{"realm": "tab"}}}},
		{"RFC 7235 example", []string{`Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple"`},
			[]Challenge{{Scheme: "newauth", Params: P{"realm": "apps", "type": "1", "title": `Login to "apps"`}},
				{Scheme: "basic", Params: P{"realm": "simple"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ParseChallenges(tt.values...)
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("ParseChallenges(%q) mismatch (-want +got):\n%s", tt.values, diff)
			}
		})
	}
}

func TestPickChallenge(t *testing.T) {
	tests := []struct {
		name       string
		values     []string
		wantScheme string
		wantOK     bool
	}{
		{"bearer preferred over basic", []string{`Basic realm="r"`, `Bearer realm="x"`}, "bearer", true},
		{"bearer without realm is skipped", []string{`Bearer service="x", Basic realm="r"`}, "basic", true},
		{"basic", []string{`basic realm="r"`}, "basic", true},
		{"unknown scheme", []string{`Negotiate abc`}, "", false},
		{"nothing", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, ok := pickChallenge(tt.values)
			if ok != tt.wantOK || ch.Scheme != tt.wantScheme {
				t.Errorf("pickChallenge(%q) = %q, %v; want %q, %v", tt.values, ch.Scheme, ok, tt.wantScheme, tt.wantOK)
			}
		})
	}
}

func TestNormalizeScopes(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{nil, nil},
		{[]string{""}, nil},
		{[]string{"repository:a:pull"}, []string{"repository:a:pull"}},
		{[]string{"repository:a:push", "repository:a:pull"}, []string{"repository:a:pull,push"}},
		{[]string{"repository:a:push,pull", "repository:a:pull"}, []string{"repository:a:pull,push"}},
		{[]string{"repository:b:pull repository:a:pull"}, []string{"repository:a:pull", "repository:b:pull"}},
		{[]string{"registry:catalog:*", "repository:a:pull"}, []string{"registry:catalog:*", "repository:a:pull"}},
		{[]string{"repository:host:5000/a:pull"}, []string{"repository:host:5000/a:pull"}},
		{[]string{"opaque", "opaque", "a::b"}, []string{"a::b", "opaque"}},
	}
	for _, tt := range tests {
		got := NormalizeScopes(tt.in...)
		if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("NormalizeScopes(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestChallengeStringRoundTrip(t *testing.T) {
	ch := Challenge{Scheme: "bearer", Params: map[string]string{"realm": `a"b\c, d=e`, "service": "", "scope": "x y"}}
	got := ParseChallenges(ch.String())
	if diff := cmp.Diff([]Challenge{ch}, got); diff != "" {
		t.Errorf("round trip of %s mismatch (-want +got):\n%s", ch, diff)
	}
}

// FuzzParseChallenges checks that the parser never panics, returns only
// well-formed challenges, and reads back what Challenge.String writes.
func FuzzParseChallenges(f *testing.F) {
	for _, s := range challengeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		chs := ParseChallenges(s)
		var parts []string
		for _, ch := range chs {
			if ch.Scheme == "" || ch.Scheme != strings.ToLower(ch.Scheme) || !isToken(ch.Scheme) {
				t.Fatalf("ParseChallenges(%q): bad scheme %q", s, ch.Scheme)
			}
			if ch.Token68 != "" && len(ch.Params) > 0 {
				t.Fatalf("ParseChallenges(%q): both token68 and params in %+v", s, ch)
			}
			for k := range ch.Params {
				if k == "" || k != strings.ToLower(k) || !isToken(k) {
					t.Fatalf("ParseChallenges(%q): bad parameter name %q", s, k)
				}
			}
			parts = append(parts, ch.String())
		}
		again := ParseChallenges(strings.Join(parts, ", "))
		if diff := cmp.Diff(chs, again, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("ParseChallenges(%q) does not survive String (%q); (-first +second):\n%s", s, strings.Join(parts, ", "), diff)
		}
		pickChallenge([]string{s}) // must not panic either
	})
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}
