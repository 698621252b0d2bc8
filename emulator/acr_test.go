package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/emulator/store"
)

// fakeClock returns times that advance one second per call, so ordering by
// update time is deterministic.
func fakeClock() func() time.Time {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)
	n := 0
	return func() time.Time { n++; return t0.Add(time.Duration(n) * time.Second) }
}

// acrTime is ACR's timestamp: up to 7 fractional digits, no trailing zero.
var acrTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{0,6}[1-9])?Z$`)

func TestACRRepositoryProperties(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{Now: fakeClock()})
	c.pushImage("library/hello", "v1", "one")
	c.pushImage("library/hello", "v2", "two")
	for _, path := range []string{"/acr/v1/library%2Fhello", "/acr/v1/library/hello"} {
		r := c.do("GET", path, nil).want(t, http.StatusOK)
		p := decode[struct {
			Registry, ImageName, CreatedTime, LastUpdateTime string
			ManifestCount, TagCount                          int
			ChangeableAttributes                             map[string]bool
		}](t, r)
		if p.Registry != srv.Host || p.ImageName != "library/hello" || p.ManifestCount != 2 || p.TagCount != 2 {
			t.Fatalf("%s: got %+v", path, p)
		}
		if !acrTime.MatchString(p.CreatedTime) || !acrTime.MatchString(p.LastUpdateTime) {
			t.Errorf("timestamps %q %q are not in ACR's form", p.CreatedTime, p.LastUpdateTime)
		}
		for _, k := range []string{"deleteEnabled", "writeEnabled", "readEnabled", "listEnabled"} {
			if !p.ChangeableAttributes[k] {
				t.Errorf("%s is not true by default", k)
			}
		}
	}
	cat := decode[struct{ Repositories []string }](t, c.do("GET", "/acr/v1/_catalog", nil).want(t, http.StatusOK))
	if len(cat.Repositories) != 1 || cat.Repositories[0] != "library/hello" {
		t.Fatalf("got catalog %v", cat.Repositories)
	}
}

func TestACRTagsOrderingPagingAndFilter(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Now: fakeClock()})
	a := c.pushImage("r", "b-old", "one")
	c.pushImage("r", "a-mid", "two")
	c.pushImage("r", "c-new", "three")
	type tagList struct {
		Tags []struct{ Name, Digest, LastUpdateTime string }
	}
	names := func(l tagList) string {
		var s []string
		for _, t := range l.Tags {
			s = append(s, t.Name)
		}
		return strings.Join(s, ",")
	}
	if got := names(decode[tagList](t, c.do("GET", "/acr/v1/r/_tags", nil))); got != "a-mid,b-old,c-new" {
		t.Errorf("name order: got %s", got)
	}
	if got := names(decode[tagList](t, c.do("GET", "/acr/v1/r/_tags?orderby=timedesc", nil))); got != "c-new,a-mid,b-old" {
		t.Errorf("timedesc: got %s", got)
	}
	if got := names(decode[tagList](t, c.do("GET", "/acr/v1/r/_tags?orderby=timeasc", nil))); got != "b-old,a-mid,c-new" {
		t.Errorf("timeasc: got %s", got)
	}
	r := c.do("GET", "/acr/v1/r/_tags?orderby=timedesc&n=2", nil).want(t, http.StatusOK)
	link := r.Header.Get("Link")
	if link != `</acr/v1/r/_tags?last=a-mid&n=2&orderby=timedesc>; rel="next"` {
		t.Fatalf("got Link %q", link)
	}
	r = c.do("GET", link[1:strings.Index(link, ">")], nil).want(t, http.StatusOK)
	if got := names(decode[tagList](t, r)); got != "b-old" || r.Header.Get("Link") != "" {
		t.Fatalf("second page: got %s, Link %q", got, r.Header.Get("Link"))
	}
	if got := names(decode[tagList](t, c.do("GET", "/acr/v1/r/_tags?digest="+a.digest.String(), nil))); got != "b-old" {
		t.Errorf("digest filter: got %s", got)
	}
	c.do("GET", "/acr/v1/r/_tags?orderby=sideways", nil).want(t, http.StatusBadRequest)
	one := decode[struct {
		Registry, ImageName string
		Tag                 struct{ Name, Digest string }
	}](t, c.do("GET", "/acr/v1/r/_tags/b-old", nil).want(t, http.StatusOK))
	if one.Tag.Name != "b-old" || one.Tag.Digest != a.digest.String() {
		t.Fatalf("got tag %+v", one)
	}
}

func TestACRManifests(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Now: fakeClock()})
	im := c.pushImage("m", "v1", "one")
	c.do("PUT", "/v2/m/manifests/v1b", im.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	c.pushImage("m", "v2", "two")
	type manifest struct {
		Digest, MediaType, ConfigMediaType, Architecture, OS string
		ImageSize                                            int64
		Tags                                                 []string
	}
	list := decode[struct{ Manifests []manifest }](t, c.do("GET", "/acr/v1/m/_manifests?orderby=timeasc", nil).want(t, http.StatusOK))
	if len(list.Manifests) != 2 || list.Manifests[0].Digest != im.digest.String() {
		t.Fatalf("got %+v", list)
	}
	m := list.Manifests[0]
	if strings.Join(m.Tags, ",") != "v1,v1b" || m.Architecture != "amd64" || m.OS != "linux" || m.ImageSize <= 0 ||
		m.ConfigMediaType != "application/vnd.oci.image.config.v1+json" {
		t.Fatalf("got manifest properties %+v", m)
	}
	one := decode[struct{ Manifest manifest }](t, c.do("GET", "/acr/v1/m/_manifests/"+im.digest.String(), nil).want(t, http.StatusOK))
	if one.Manifest.Digest != im.digest.String() {
		t.Fatalf("got %+v", one)
	}
	del := decode[struct{ ManifestsDeleted, TagsDeleted []string }](t, c.do("DELETE", "/acr/v1/m", nil).want(t, http.StatusAccepted))
	if len(del.ManifestsDeleted) != 2 || len(del.TagsDeleted) != 3 {
		t.Fatalf("got %+v", del)
	}
	c.do("GET", "/acr/v1/m", nil).want(t, http.StatusNotFound)
}

// TestTimeOrderedCursorGone checks that a time-ordered listing whose cursor
// tag was deleted between pages fails loudly instead of ending early.
func TestTimeOrderedCursorGone(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Now: fakeClock()})
	c.pushImage("r", "a", "1")
	c.pushImage("r", "b", "2")
	c.pushImage("r", "c", "3")
	r := c.do("GET", "/acr/v1/r/_tags?orderby=timedesc&n=1", nil).want(t, http.StatusOK)
	link := r.Header.Get("Link")
	c.do("DELETE", "/acr/v1/r/_tags/c", nil).want(t, http.StatusAccepted)
	r = c.do("GET", link[1:strings.Index(link, ">")], nil).want(t, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "start the listing again") {
		t.Fatalf("got %s", r.body)
	}
}

// TestACRPageSizeCap checks that /acr/v1 listings answer at most 1,000
// items a page whatever n asks, as ACR does, and link to the rest, while
// /v2 listings serve the larger n.
func TestACRPageSizeCap(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("r", "t0000", "one")
	const n = 1001
	for i := 1; i < n; i++ {
		c.do("PUT", "/v2/r/manifests/t"+fmt.Sprintf("%04d", i), im.manifest,
			"Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	}
	type tagList struct{ Tags []struct{ Name string } }
	r := c.do("GET", "/acr/v1/r/_tags?n=5000", nil).want(t, http.StatusOK)
	if got := len(decode[tagList](t, r).Tags); got != 1000 {
		t.Errorf("/acr/v1 n=5000: got %d tags, want 1000", got)
	}
	if link := r.Header.Get("Link"); link != `</acr/v1/r/_tags?last=t0999&n=1000&orderby=>; rel="next"` {
		t.Errorf("/acr/v1 n=5000: got Link %q", link)
	}
	r = c.do("GET", "/v2/r/tags/list?n=5000", nil).want(t, http.StatusOK)
	var v2 struct{ Tags []string }
	if err := json.Unmarshal(r.body, &v2); err != nil {
		t.Fatal(err)
	}
	if len(v2.Tags) != n || r.Header.Get("Link") != "" {
		t.Errorf("/v2 n=5000: got %d tags, Link %q; want %d and none", len(v2.Tags), r.Header.Get("Link"), n)
	}
}

// TestTimeOrderedListingSeesEveryWrite checks that time-ordered listings,
// whose sorted order the server keeps between pages, show every write made
// since: through the API (push, retag, attribute change, delete) and
// straight to the store through Server.Store.
func TestTimeOrderedListingSeesEveryWrite(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{Now: fakeClock()})
	a := c.pushImage("r", "a", "1")
	c.pushImage("r", "b", "2")
	c.pushImage("r", "c", "3")
	type tagList struct{ Tags []struct{ Name string } }
	tags := func(query string) string {
		t.Helper()
		var s []string
		for _, tg := range decode[tagList](t, c.do("GET", "/acr/v1/r/_tags?"+query, nil).want(t, http.StatusOK)).Tags {
			s = append(s, tg.Name)
		}
		return strings.Join(s, ",")
	}
	type manifestList struct {
		Manifests []struct {
			Digest string
			Tags   []string
		}
	}
	manifests := func(query string) string {
		t.Helper()
		var s []string
		for _, m := range decode[manifestList](t, c.do("GET", "/acr/v1/r/_manifests?"+query, nil).want(t, http.StatusOK)).Manifests {
			s = append(s, strings.Join(m.Tags, "+"))
		}
		return strings.Join(s, ",")
	}
	check := func(step, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %s, want %s", step, got, want)
		}
	}
	check("first listing", tags("orderby=timedesc"), "c,b,a")
	check("first page", tags("orderby=timedesc&n=2"), "c,b")
	// A new tag is the newest; the next page of the old listing goes on
	// from its cursor.
	d := c.pushImage("r", "d", "4")
	check("page after a push", tags("orderby=timedesc&n=2&last=b"), "a")
	check("after a push", tags("orderby=timedesc"), "d,c,b,a")
	check("manifests after a push", manifests("orderby=timedesc"), "d,c,b,a")
	// Moving tag a onto d's manifest updates it.
	c.do("PUT", "/v2/r/manifests/a", d.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	check("after a retag", tags("orderby=timedesc"), "a,d,c,b")
	check("timeasc after a retag", tags("orderby=timeasc"), "b,c,d,a")
	check("manifests after a retag", manifests("orderby=timeasc"), ",b,c,a+d")
	// Hidden tags leave the listing.
	c.do("PATCH", "/acr/v1/r/_tags/c", []byte(`{"listEnabled":false}`)).want(t, http.StatusOK)
	check("after hiding c", tags("orderby=timedesc"), "a,d,b")
	// Deletes.
	c.do("DELETE", "/v2/r/manifests/"+a.digest.String(), nil).want(t, http.StatusAccepted)
	check("manifests after a delete", manifests("orderby=timeasc"), "b,c,a+d")
	c.do("DELETE", "/acr/v1/r/_tags/b", nil).want(t, http.StatusAccepted)
	check("after deleting b", tags("orderby=timedesc"), "a,d")
	// A write straight to the store.
	err := srv.Registry.Store().Update(t.Context(), func(tx store.Tx) error { return tx.DeleteTag("r", "d") })
	if err != nil {
		t.Fatal(err)
	}
	check("after a store write", tags("orderby=timedesc"), "a")
	check("with a digest filter", tags("orderby=timedesc&digest="+d.digest.String()), "a")
}
