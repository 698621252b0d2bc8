package purge_test

import (
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr/purge"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in        string
		repo, tag string // String() halves
		match     [][2]string
		noMatch   [][2]string
		wantErr   bool
		errHas    string // in the error, when set
	}{
		{in: "app:v1", repo: "app", tag: "v1", match: [][2]string{{"app", "v1"}}, noMatch: [][2]string{{"myapp", "v1"}, {"app", "v10"}, {"app", "xv1"}}},
		{in: ".*:.*", repo: ".*", tag: ".*", match: [][2]string{{"a/b", "c"}, {"x", "latest"}}},
		{in: "team/.*:pr-[0-9]+", repo: "team/.*", tag: "pr-[0-9]+", match: [][2]string{{"team/app", "pr-12"}}, noMatch: [][2]string{{"team/app", "pr-12x"}, {"other/team/app", "pr-1"}}},
		{in: "a|b:c", repo: "a|b", tag: "c", match: [][2]string{{"a", "c"}, {"b", "c"}}, noMatch: [][2]string{{"ab", "c"}}},
		{in: "app:v(?:1|2)", repo: "app", tag: "v(?:1|2)", match: [][2]string{{"app", "v2"}}},
		{in: "(?:app|web):v1", repo: "(?:app|web)", tag: "v1", match: [][2]string{{"web", "v1"}}},
		{in: "[[:alpha:]]+:[[:digit:]]+", repo: "[[:alpha:]]+", tag: "[[:digit:]]+", match: [][2]string{{"app", "123"}}, noMatch: [][2]string{{"app1", "123"}}},
		{in: "app:", repo: "app", tag: "", noMatch: [][2]string{{"app", "v1"}, {"app", "latest"}}},
		{in: "app", wantErr: true},
		{in: ":v1", wantErr: true},
		{in: "app:v(1", wantErr: true},
		{in: "app(:v1", wantErr: true},
		{in: "app:(?!v1)", wantErr: true}, // RE2 has no lookahead: use excludes
		{in: "", wantErr: true},
		// The separator is among the first 16 colons: 15 in the repository
		// expression are tried through, 16 are not.
		{in: strings.Repeat("(?:a)", 15) + ":v1", repo: strings.Repeat("(?:a)", 15), tag: "v1", match: [][2]string{{strings.Repeat("a", 15), "v1"}}},
		{in: strings.Repeat("(?:a)", 16) + ":v1", wantErr: true, errHas: "no colon among its first 16"},
	}
	for _, tt := range tests {
		f, err := purge.ParseFilter(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseFilter(%q) = %v, want an error", tt.in, f)
			} else if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ParseFilter(%q): %v, want it to say %q", tt.in, err, tt.errHas)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if got, want := f.String(), tt.repo+":"+tt.tag; got != want {
			t.Errorf("ParseFilter(%q).String() = %q, want %q", tt.in, got, want)
		}
		for _, m := range tt.match {
			if !f.Match(m[0], m[1]) {
				t.Errorf("%q does not match %s:%s", tt.in, m[0], m[1])
			}
		}
		for _, m := range tt.noMatch {
			if f.Match(m[0], m[1]) {
				t.Errorf("%q matches %s:%s", tt.in, m[0], m[1])
			}
		}
	}
}

// TestFilterBuiltInCode: filters built from unanchored expressions match
// whole names too.
func TestFilterBuiltInCode(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("app", "a", "v1", "v10")
	e.at(1).image("myapp", "b", "v1")
	f := purge.Filter{Repo: regexp.MustCompile("app"), Tag: regexp.MustCompile("v1")}
	res := e.run(30, purge.Options{Filters: []purge.Filter{f}})
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "v1"))
}

// TestFilterStaysAnchored: an expression whose parentheses close the
// anchoring group early ("v1)|(?:x" made ^(?:v1)|(?:x)$, which matches v10
// and anything else starting with v1) is refused, and an invalid one is
// reported as written, without the anchors around it.
func TestFilterStaysAnchored(t *testing.T) {
	for _, s := range []string{"app:v1)|(?:x", "app)|(?:b:v1", "app:v1)(", "app:a)|(b"} {
		if f, err := purge.ParseFilter(s); err == nil {
			t.Errorf("ParseFilter(%q) = %v (matches app:v10: %v), want an error", s, f, f.Match("app", "v10"))
		}
	}
	_, err := purge.ParseFilter("app:[")
	if err == nil || strings.Contains(err.Error(), ")$") || !strings.Contains(err.Error(), "`[`") {
		t.Errorf("ParseFilter(\"app:[\"): %v, want the error about [ alone", err)
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"app:v1", "a(?:b):c", "[[:alpha:]]:x", "::", "a:b:c", `\::x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := purge.ParseFilter(s)
		if err != nil {
			return
		}
		// The filter round-trips through String.
		again, err := purge.ParseFilter(flt.String())
		if err != nil {
			t.Fatalf("ParseFilter(%q).String() = %q does not parse: %v", s, flt.String(), err)
		}
		if again.String() != flt.String() {
			t.Fatalf("ParseFilter(%q): String %q, then %q", s, flt.String(), again.String())
		}
	})
}

// TestLiteralRepositories: when every filter names one repository, purge
// does not list the catalog, which repository-scoped tokens may not read,
// and a repository that does not exist is a note, not an error.
func TestLiteralRepositories(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("team/app", "a", "v1")
	e.at(1).image("web", "b", "v1")
	var catalog atomic.Int64
	client, _ := e.newClient(func(r *http.Request) error {
		if strings.HasSuffix(r.URL.Path, "/_catalog") && r.URL.Query().Get("n") != "1" { // n=1 is the client's API probe
			catalog.Add(1)
		}
		return nil
	})
	e.clock.Set(day(30))
	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters(`team/app:.*`, `web:v\d`, "ghost:.*"), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), append(tagRefs("team/app", "v1"), "tag web:v1"))
	diff(t, "notes", res.Notes, []string{"ghost: no such repository"})
	if n := catalog.Load(); n != 0 {
		t.Errorf("%d catalog requests, want 0", n)
	}
	// A pattern needs the catalog.
	if _, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters(`(web|x):v\d`), Now: e.clock.Now}); err != nil {
		t.Fatal(err)
	}
	if catalog.Load() == 0 {
		t.Error("no catalog request for a repository pattern")
	}
}
