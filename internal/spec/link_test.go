package spec

import "testing"

func TestNextLink(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{`</acr/v1/_catalog?last=a&n=2&orderby=>; rel="next"`, "/acr/v1/_catalog?last=a&n=2&orderby=", true},
		{`</v2/x/tags/list?last=v1&n=2>;rel=next`, "/v2/x/tags/list?last=v1&n=2", true},
		{`<https://a/prev>; rel="prev", <https://a/next>; rel="next"`, "https://a/next", true},
		{`<https://a/x>; title="t"; rel="first next"`, "https://a/x", true},
		{`<https://a/x>; rel="prev"`, "", false},
		{``, "", false},
		{`<unterminated; rel="next"`, "", false},
		{`<>; rel="next"`, "", false},
		{`garbage`, "", false},
	}
	for _, tt := range tests {
		got, ok := NextLink(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("NextLink(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzNextLink(f *testing.F) {
	for _, s := range []string{`</a>; rel="next"`, `<a>,<b>;rel=next`, `<<>>;rel=next`, `;;;`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if l, ok := NextLink(s); ok && l == "" {
			t.Fatalf("NextLink(%q) reported an empty link", s)
		}
	})
}
