package console

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/emulator/store"
	"github.com/opencontainers/go-digest"
)

// TestRepoPagingBounded walks a repository of 1,050 tags and its manifests
// page by page through the Next links: every page asks the registry for
// one screen (at most rowsPerPage+1 items), however deep it is, and the
// pages together show every tag once, newest first.
func TestRepoPagingBounded(t *testing.T) {
	em, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	var mu sync.Mutex
	asked := 0 // items asked for (n) by listings since the last reset
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m, _ := regexp.MatchString(`/_(tags|manifests)$`, r.URL.Path); m {
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			mu.Lock()
			asked += n
			mu.Unlock()
		}
		em.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	const total = 1050
	seed := newSeeder(t, hs.URL, nil)
	var digests []string
	for i := range 3 {
		digests = append(digests, seed.image("big", "", "amd64", fmt.Sprint("layer", i), nil).Digest.String())
	}
	base := time.Now().UTC().Add(-3 * time.Hour)
	err = em.Store().Update(t.Context(), func(tx store.Tx) error {
		for i := range total {
			at := base.Add(time.Duration(i) * time.Second)
			d := digest.Digest(digests[i%3])
			if err := tx.PutTag("big", store.Tag{Name: fmt.Sprintf("t%05d", i), Digest: d, CreatedAt: at, UpdatedAt: at,
				Attrs: store.DefaultAttributes()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, u := consoleFor(t, hs.URL, nil)
	hc := browserless(t)
	get(t, hc, u+"?token="+cs.NewToken())

	tagRe := regexp.MustCompile(`<tr data-tag="([^"]+)">`)
	nextRe := regexp.MustCompile(`<a id="next" href="/([^"]+)">`)
	var seen []string
	next := "repo?name=big"
	for page := 0; next != ""; page++ {
		mu.Lock()
		asked = 0
		mu.Unlock()
		resp, body := get(t, hc, u+next)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d (%s): %d", page, next, resp.StatusCode)
		}
		mu.Lock()
		n := asked
		mu.Unlock()
		if n > rowsPerPage+1 {
			t.Errorf("page %d asked the registry for %d tags, want at most %d", page, n, rowsPerPage+1)
		}
		for _, m := range tagRe.FindAllStringSubmatch(body, -1) {
			seen = append(seen, m[1])
		}
		next = ""
		if m := nextRe.FindStringSubmatch(body); m != nil {
			next = html.UnescapeString(m[1])
		}
		if page > total/rowsPerPage+1 {
			t.Fatalf("more pages than %d tags fill", total)
		}
	}
	if len(seen) != total {
		t.Fatalf("the pages showed %d tags, want %d", len(seen), total)
	}
	for i, name := range seen {
		if want := fmt.Sprintf("t%05d", total-1-i); name != want {
			t.Fatalf("tag %d is %s, want %s (newest first, each once)", i, name, want)
		}
	}

	// The manifests view pages the same way (three manifests: one page).
	resp, body := get(t, hc, u+"repo?name=big&view=manifests")
	if resp.StatusCode != http.StatusOK || len(regexp.MustCompile(`<tr data-digest=`).FindAllString(body, -1)) != 3 {
		t.Errorf("manifests view: %d, want 200 with 3 rows", resp.StatusCode)
	}
	if resp, _ := get(t, hc, u+"repo?name=big&view=manifests&after=nodigest"); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("manifests after a non-digest: %d, want 400", resp.StatusCode)
	}
}

// TestRepoPagingCursorGone: a Next link whose tag was deleted since (ACR
// refuses a time-ordered listing from a cursor it no longer holds) says so
// in a sentence, with a link to the first page, not the registry's error.
func TestRepoPagingCursorGone(t *testing.T) {
	r := localRegistry(t, nil)
	for i := range rowsPerPage + 5 {
		r.seed.image("many", fmt.Sprintf("t%03d", i), "amd64", "x", nil)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	_, body := get(t, hc, r.URL+"repo?name=many")
	m := regexp.MustCompile(`<a id="next" href="[^"]*after=([^&"]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("the first page has no Next link: %.1500s", body)
	}
	after, _ := url.QueryUnescape(m[1])
	if err := r.seed.c.DeleteTag(t.Context(), "many", after); err != nil {
		t.Fatal(err)
	}
	resp, body := get(t, hc, r.URL+"repo?"+url.Values{"name": {"many"}, "after": {after}, "page": {"1"}}.Encode())
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "is no longer there") || !strings.Contains(body, `id="restart"`) ||
		strings.Contains(body, "UNSUPPORTED") {
		t.Errorf("a Next link whose tag is gone: %d; want a sentence and a link to the first page: %.1500s", resp.StatusCode, body)
	}
}
