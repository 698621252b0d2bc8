package main

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestTop: --top N lists the first N items of repo list, tag list and
// manifest list in the order asked for, as az's --top does, and asks the
// registry for no more than N when N is less than a page.
func TestTop(t *testing.T) {
	f := newFixture(t, false)
	imgs := map[string]testImage{}
	for _, tag := range []string{"v1", "v2", "v3"} {
		imgs[tag] = f.pushImage("hello", tag, tag)
	}
	f.pushImage("other", "x", "latest")
	f.pushImage("zzz", "y", "latest")

	lines := func(args ...string) []string {
		t.Helper()
		return strings.Fields(f.run("", args...).ok(t).stdout)
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"tag", "list", f.ref("hello"), "--top", "2", "-o", "name"}, []string{"v1", "v2"}},
		{[]string{"tag", "list", f.ref("hello"), "--order", "time-desc", "--top", "1", "-o", "name"}, []string{"v3"}},
		{[]string{"tag", "list", f.ref("hello"), "--order", "time-asc", "--top", "2", "--page-size", "1", "-o", "name"}, []string{"v1", "v2"}},
		{[]string{"tag", "list", f.ref("hello"), "--top", "10", "-o", "name"}, []string{"v1", "v2", "v3"}},
		{[]string{"repo", "list", f.srv.Host, "--top", "2"}, []string{"hello", "other"}},
	} {
		if got := lines(tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("acrctl %s: got %v, want %v", strings.Join(tc.args, " "), got, tc.want)
		}
	}

	// In JSON and in the table, too.
	var doc struct {
		Manifests []struct {
			Digest string `json:"digest"`
		} `json:"manifests"`
	}
	r := f.run("", "manifest", "list", f.ref("hello"), "--order", "time-desc", "--top", "2", "-o", "json").ok(t)
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Manifests) != 2 || doc.Manifests[0].Digest != imgs["v3"].digest.String() || doc.Manifests[1].Digest != imgs["v2"].digest.String() {
		t.Errorf("manifest list --order time-desc --top 2 -o json: got %+v, want v3's and v2's manifests", doc.Manifests)
	}
	if got := lines("tag", "list", f.ref("hello"), "--order", "time-desc", "--top", "1"); len(got) == 0 || !slices.Contains(got, "v3") || slices.Contains(got, "v2") {
		t.Errorf("tag list --top 1 (table): got %v, want the header and v3", got)
	}

	// --top 1 asks for one item, once.
	r = f.run("", "tag", "list", f.ref("hello"), "--order", "time-desc", "--top", "1", "-o", "name", "-v").ok(t)
	asked := regexp.MustCompile(`url="[^"]*/_tags\?[^"]*"`).FindAllString(r.stderr, -1)
	if len(asked) != 1 || !strings.Contains(asked[0], "n=1") {
		t.Errorf("tag list --top 1 asked %v, want one request for n=1", asked)
	}
}
