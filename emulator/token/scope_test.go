package token

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseScope(t *testing.T) {
	tests := []struct {
		in   string
		want Scope
	}{
		{"repository:library/hello:pull", Scope{TypeRepository, "library/hello", []string{"pull"}}},
		{"repository:hello:pull,push", Scope{TypeRepository, "hello", []string{"pull", "push"}}},
		{"registry:catalog:*", Scope{TypeRegistry, "catalog", []string{"*"}}},
		{"repository:*:*", Scope{TypeRepository, "*", []string{"*"}}},
		{"repository:a/b/c:metadata_read,metadata_write,delete", Scope{TypeRepository, "a/b/c", []string{"metadata_read", "metadata_write", "delete"}}},
		{"repository:localhost:5000/hello:pull", Scope{TypeRepository, "localhost:5000/hello", []string{"pull"}}},
		{"repository:a:b:c:pull", Scope{TypeRepository, "a:b:c", []string{"pull"}}},
		{"artifact-repository:repo:pull", Scope{"artifact-repository", "repo", []string{"pull"}}},
		{"repository(plugin):x:pull", Scope{"repository(plugin)", "x", []string{"pull"}}},
		{"repository:x:frobnicate", Scope{TypeRepository, "x", []string{"frobnicate"}}},
		{"repository:x:pull,pull", Scope{TypeRepository, "x", []string{"pull", "pull"}}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScope(tt.in)
			if err != nil {
				t.Fatalf("ParseScope(%q): got error %v, want nil", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseScope(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String(): got %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseScopeInvalid(t *testing.T) {
	tests := []string{
		"",
		"repository",
		"repository:hello",
		"repository::pull",
		":hello:pull",
		"repository:hello:",
		"repository:hello:pull,",
		"repository:hello:,pull",
		"repository:hello:pull,,push",
		"::",
		":::",
		"repository:hel lo:pull",
		"repository:hello:pu\tll",
		"repo\x00sitory:hello:pull",
		`repository:he"llo:pull`,
		`repository:hello:pu\ll`,
		"repository:héllo:pull",
		"repository:hello\x7f:pull",
	}
	for _, in := range tests {
		t.Run(in, func(t *testing.T) {
			got, err := ParseScope(in)
			if !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("ParseScope(%q): got %+v, %v; want error wrapping ErrInvalidScope", in, got, err)
			}
		})
	}
}

func TestParseScopeErrorIsBounded(t *testing.T) {
	in := "repository:" + strings.Repeat("x", 10000) + ":"
	_, err := ParseScope(in)
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	if n := len(err.Error()); n > 300 {
		t.Errorf("error message length: got %d, want at most 300", n)
	}
}

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in      string
		want    []Scope
		wantErr bool
	}{
		{in: "", want: nil},
		{in: "   ", want: nil},
		{in: "registry:catalog:*", want: []Scope{{TypeRegistry, "catalog", []string{"*"}}}},
		{
			in: "registry:catalog:* repository:*:*",
			want: []Scope{
				{TypeRegistry, "catalog", []string{"*"}},
				{TypeRepository, "*", []string{"*"}},
			},
		},
		{
			in: "  repository:a:pull   repository:b:push,pull ",
			want: []Scope{
				{TypeRepository, "a", []string{"pull"}},
				{TypeRepository, "b", []string{"push", "pull"}},
			},
		},
		{in: "repository:a:pull bogus", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseScopes(tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrInvalidScope) {
					t.Fatalf("ParseScopes(%q): got error %v, want ErrInvalidScope", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseScopes(%q): got error %v, want nil", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseScopes(%q) mismatch (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestCatalogScope(t *testing.T) {
	sc, err := ParseScope(CatalogScope)
	if err != nil {
		t.Fatalf("ParseScope(CatalogScope): %v", err)
	}
	want := Scope{TypeRegistry, "catalog", []string{ActionAll}}
	if diff := cmp.Diff(want, sc); diff != "" {
		t.Errorf("CatalogScope mismatch (-want +got):\n%s", diff)
	}
}

func TestClaimsAllows(t *testing.T) {
	c := Claims{Access: []Access{
		{Type: TypeRepository, Name: "library/hello", Actions: []string{"pull", "push"}},
		{Type: TypeRepository, Name: "admin/all", Actions: []string{"*"}},
		{Type: TypeRegistry, Name: "catalog", Actions: []string{"*"}},
	}}
	wild := Claims{Access: []Access{{Type: TypeRepository, Name: "*", Actions: []string{"metadata_read"}}}}
	tests := []struct {
		name              string
		claims            Claims
		typ, repo, action string
		want              bool
	}{
		{"granted action", c, TypeRepository, "library/hello", "pull", true},
		{"second granted action", c, TypeRepository, "library/hello", "push", true},
		{"action not granted", c, TypeRepository, "library/hello", "delete", false},
		{"other repository", c, TypeRepository, "library/other", "pull", false},
		{"name is exact", c, TypeRepository, "library/hello/sub", "pull", false},
		{"case-sensitive name", c, TypeRepository, "Library/Hello", "pull", false},
		{"wildcard action", c, TypeRepository, "admin/all", "delete", true},
		{"wildcard action covers wildcard", c, TypeRepository, "admin/all", "*", true},
		{"wildcard request needs wildcard grant", c, TypeRepository, "library/hello", "*", false},
		{"catalog", c, TypeRegistry, "catalog", "*", true},
		{"type must match", c, TypeRegistry, "library/hello", "pull", false},
		{"wildcard name", wild, TypeRepository, "anything/at/all", "metadata_read", true},
		{"wildcard name keeps actions", wild, TypeRepository, "anything", "pull", false},
		{"wildcard name keeps type", wild, TypeRegistry, "catalog", "metadata_read", false},
		{"no access", Claims{}, TypeRepository, "x", "pull", false},
		{
			"refresh permissions grant nothing",
			Claims{Permissions: &Permissions{Actions: []string{"*"}}},
			TypeRepository, "x", "pull", false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.claims.Allows(tt.typ, tt.repo, tt.action); got != tt.want {
				t.Errorf("Allows(%q, %q, %q): got %v, want %v", tt.typ, tt.repo, tt.action, got, tt.want)
			}
		})
	}
}

func TestGrant(t *testing.T) {
	policy := map[string][]string{
		"registry:catalog":     {"*"},
		"repository:public":    {"pull"},
		"repository:mine":      {"pull", "push", "delete"},
		"repository:admin":     {"*"},
		"repository:*":         {"pull", "metadata_read"},
		"repository:forbidden": nil,
	}
	allowed := func(s Scope) []string { return policy[s.Type+":"+s.Name] }
	tests := []struct {
		name      string
		requested string
		want      []Access
	}{
		{"nothing requested", "", nil},
		{"subset", "repository:public:pull,push", []Access{{TypeRepository, "public", []string{"pull"}}}},
		{"nothing granted is dropped", "repository:forbidden:pull repository:unknown:pull", nil},
		{"catalog", CatalogScope, []Access{{TypeRegistry, "catalog", []string{"*"}}}},
		{
			"merge same resource",
			"repository:mine:pull repository:public:pull repository:mine:push,pull",
			[]Access{
				{TypeRepository, "mine", []string{"pull", "push"}},
				{TypeRepository, "public", []string{"pull"}},
			},
		},
		{"wildcard allowed grants requested", "repository:admin:pull,metadata_write", []Access{{TypeRepository, "admin", []string{"pull", "metadata_write"}}}},
		{"wildcard request with wildcard allowed", "repository:admin:*", []Access{{TypeRepository, "admin", []string{"*"}}}},
		{"wildcard request expands", "repository:mine:*", []Access{{TypeRepository, "mine", []string{"pull", "push", "delete"}}}},
		{"wildcard name", "repository:*:*", []Access{{TypeRepository, "*", []string{"pull", "metadata_read"}}}},
		{"unknown action", "repository:mine:frobnicate", nil},
		{"duplicate actions", "repository:mine:pull,pull,*", []Access{{TypeRepository, "mine", []string{"pull", "push", "delete"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := ParseScopes(tt.requested)
			if err != nil {
				t.Fatalf("ParseScopes(%q): %v", tt.requested, err)
			}
			got := Grant(req, allowed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Grant(%q) mismatch (-want +got):\n%s", tt.requested, diff)
			}
			c := Claims{Access: got}
			for _, a := range got {
				for _, act := range a.Actions {
					if !c.Allows(a.Type, a.Name, act) {
						t.Errorf("Allows(%q, %q, %q) on granted access: got false, want true", a.Type, a.Name, act)
					}
				}
			}
		})
	}
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{
		"repository:library/hello:pull,push",
		"registry:catalog:*",
		"repository:*:*",
		"repository:localhost:5000/a:pull",
		"artifact-repository:repo:pull",
		"repository:a::pull",
		"repository:a:pull,,push",
		"::",
		":",
		"",
		"repository:\"x\":pull",
		"repository:x:\xff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, err := ParseScope(s)
		if err != nil {
			if !errors.Is(err, ErrInvalidScope) {
				t.Fatalf("ParseScope(%q): error %v does not wrap ErrInvalidScope", s, err)
			}
			return
		}
		if got := sc.String(); got != s {
			t.Fatalf("ParseScope(%q).String(): got %q, want the input", s, got)
		}
		if strings.ContainsAny(s, " \t\r\n\"\\") {
			t.Fatalf("ParseScope(%q) accepted white space, a quote or a backslash", s)
		}
		again, err := ParseScopes(s + " " + s)
		if err != nil || len(again) != 2 || !cmp.Equal(again[0], sc) {
			t.Fatalf("ParseScopes(%q twice): got %v, %v", s, again, err)
		}
	})
}
