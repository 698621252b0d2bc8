package console

import (
	"strings"
	"testing"

	"github.com/acrgo/acr"
)

// TestReposPageSizeExplained: the repositories page's size is ACR's image
// size summed over manifests, which counts a shared layer once per
// manifest and no manifest bytes, so it can differ a hundredfold from the
// Storage page's bytes stored (3,000 tags of one small image: "3.9 KiB"
// beside "801 KiB"). The column says what it sums and points to Storage.
func TestReposPageSizeExplained(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "base", nil)
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	_, body := get(t, hc, r.URL)
	i := strings.Index(body, `id="size-head"`)
	if i < 0 {
		t.Fatalf("the repositories page has no size column header with an explanation: %.800s", body)
	}
	head := body[i:]
	head = head[:strings.Index(head, "</th>")]
	for _, want := range []string{"once per manifest", "Storage page counts each blob once", "Size of images"} {
		if !strings.Contains(head, want) {
			t.Errorf("the size column's header %q lacks %q", head, want)
		}
	}
	// The filter box has a name for screen readers, not only a placeholder.
	if !strings.Contains(body, `aria-label="Filter repositories by name"`) {
		t.Errorf("the filter box has no accessible name")
	}
}

// TestRepoPageLockFlags: a repository's own lock, which applies to
// everything in it, shows on its page, and a tag whose reads are disabled
// says so (neither showed anywhere until a delete page refused).
func TestRepoPageLockFlags(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "base", nil)
	r.seed.image("app/web", "v2", "amd64", "other", nil)
	ctx := t.Context()
	if _, err := r.seed.c.UpdateTagProperties(ctx, "app/web", "v2", acr.PermissionsUpdate{CanRead: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.seed.c.UpdateRepositoryProperties(ctx, "app/web", acr.PermissionsUpdate{CanWrite: new(false), CanDelete: new(false)}); err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	_, body := get(t, hc, r.URL+"repo?name=app/web")
	if i := strings.Index(body, `id="repo-lock"`); i < 0 || !strings.Contains(body[i:], "The repository is locked") {
		t.Errorf("the page of a locked repository does not say so: %.1500s", body)
	}
	row := func(tag string) string {
		i := strings.Index(body, `data-tag="`+tag+`"`)
		if i < 0 {
			t.Fatalf("no row for %s: %.2500s", tag, body)
		}
		end := strings.Index(body[i:], "</tr>")
		return body[i : i+end]
	}
	if !strings.Contains(row("v2"), "read disabled") {
		t.Errorf("tag v2, whose reads are disabled, does not say so: %s", row("v2"))
	}
	if strings.Contains(row("v1"), "read disabled") {
		t.Errorf("tag v1 is shown read disabled: %s", row("v1"))
	}
}
