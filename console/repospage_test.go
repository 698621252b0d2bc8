package console

import (
	"strings"
	"testing"
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
