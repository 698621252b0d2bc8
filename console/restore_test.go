package console

import (
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
)

// TestRestoreSaysReferrersStayDeleted: deleting a signed image takes its
// signature and the signature's attestation along (as on ACR); restoring
// the image brings back the image alone, so the flash says that two
// manifests deleted with it stay deleted (and expire with the retention)
// unless restored too. Restoring one that went alone says nothing more.
func TestRestoreSaysReferrersStayDeleted(t *testing.T) {
	var clock atomic.Int64 // the registry's time, moved by the test
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	r := localRegistry(t, &emulator.Options{SoftDeleteRetention: 24 * time.Hour,
		Now: func() time.Time { return time.Unix(0, clock.Load()).UTC() }})
	f := r.seed.fixture()
	ctx, c := t.Context(), r.seed.c
	if _, err := c.DeleteManifest(ctx, "app/web", f.image.Digest.String()); err != nil {
		t.Fatal(err)
	}
	clock.Add(int64(time.Minute)) // a delete apart from the first
	lone := r.seed.image("app/web", "lone", "amd64", "lonely", nil)
	if _, err := c.DeleteManifest(ctx, "app/web", lone.Digest.String()); err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	restore := func(digest string) string {
		t.Helper()
		_, page := get(t, hc, r.URL+"repo?name=app%2Fweb&view=deleted")
		resp, err := hc.PostForm(r.URL+"restore", url.Values{"csrf": {field(t, page, "csrf")}, "repo": {"app/web"}, "digest": {digest}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("restore %s: %d, want 303", digest, resp.StatusCode)
		}
		_, page = get(t, hc, r.URL+"repo?name=app%2Fweb&view=deleted")
		i := strings.Index(page, `class="flash"`)
		if i < 0 {
			t.Fatalf("restore %s: no flash", digest)
		}
		return page[i : i+strings.Index(page[i:], "</p>")]
	}
	if flash := restore(f.image.Digest.String()); !strings.Contains(flash, "2 other manifests deleted with it") || !strings.Contains(flash, "stay deleted") {
		t.Errorf("restoring the signed image: flash %q, want it to say its 2 referrers stay deleted", flash)
	}
	if flash := restore(lone.Digest.String()); strings.Contains(flash, "deleted with it") {
		t.Errorf("restoring an image deleted alone: flash %q, want no word of others", flash)
	}
}
