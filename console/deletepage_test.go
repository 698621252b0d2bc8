package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestDeletePageLocked: the confirmation of a delete that a lock flag
// refuses says so, names the flag, and offers Unlock instead of a Delete
// button that can only fail; for a repository's lock it says how to lift
// it. A manifest's delete is refused by a lock on any of its tags too (as
// ACR and the local registry refuse it). An unlocked item keeps its
// Delete button.
func TestDeletePageLocked(t *testing.T) {
	r := localRegistry(t, nil)
	img := r.seed.image("app/web", "v1", "amd64", "base", nil)
	r.seed.image("app/web", "v2", "amd64", "other", nil)
	other := r.seed.image("app/other", "v1", "amd64", "base3", nil)
	tagged := r.seed.image("app/web", "v3", "amd64", "base4", nil)
	r.seed.image("app/web", "v3-alias", "amd64", "base4", nil)
	ctx, c := t.Context(), r.seed.c
	if _, err := c.UpdateTagProperties(ctx, "app/web", "v1", acr.Locked()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateManifestProperties(ctx, "app/web", img.Digest.String(), acr.PermissionsUpdate{CanDelete: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateTagProperties(ctx, "app/web", "v3-alias", acr.PermissionsUpdate{CanWrite: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateRepositoryProperties(ctx, "app/other", acr.PermissionsUpdate{CanWrite: new(false)}); err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	for _, tc := range []struct {
		query      url.Values
		want       string // in the locked note; "" for none
		unlockable bool
	}{
		{url.Values{"repo": {"app/web"}, "tag": {"v1"}}, "The tag v1 is locked (deleteEnabled and writeEnabled are false)", true},
		{url.Values{"repo": {"app/web"}, "digest": {img.Digest.String()}}, "The manifest has deleteEnabled false", true},
		{url.Values{"repo": {"app/other"}, "tag": {"v1"}}, "The repository app/other has writeEnabled false", false},
		{url.Values{"repo": {"app/other"}, "digest": {other.Digest.String()}}, "The repository app/other has writeEnabled false", false},
		{url.Values{"repo": {"app/web"}, "digest": {tagged.Digest.String()}}, "Its tag v3-alias has writeEnabled false", true},
		{url.Values{"repo": {"app/web"}, "tag": {"v2"}}, "", false},
	} {
		resp, body := get(t, hc, r.URL+"delete?"+tc.query.Encode())
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%v: %d, want 200", tc.query, resp.StatusCode)
			continue
		}
		if tc.want == "" {
			if strings.Contains(body, `id="locked-note"`) || !strings.Contains(body, `id="confirm-delete"`) {
				t.Errorf("%v: an unlocked tag's page warns of a lock or lacks its Delete button", tc.query)
			}
			continue
		}
		if !strings.Contains(body, `id="locked-note"`) || !strings.Contains(body, tc.want) {
			t.Errorf("%v: the page does not say %q: %.1500s", tc.query, tc.want, body)
		}
		if strings.Contains(body, `id="confirm-delete"`) {
			t.Errorf("%v: the page offers a Delete the registry refuses", tc.query)
		}
		if got := strings.Contains(body, `id="unlock-first"`); got != tc.unlockable {
			t.Errorf("%v: Unlock button shown %v, want %v", tc.query, got, tc.unlockable)
		}
		if !tc.unlockable && !strings.Contains(body, "acrctl repo update") {
			t.Errorf("%v: the page does not say how to unlock the repository", tc.query)
		}
	}
}

// TestDeletePageOCIReferrers: on a registry without /acr/v1 the
// confirmation counts the referrers that stay behind, in a sentence that
// agrees with its number.
func TestDeletePageOCIReferrers(t *testing.T) {
	em, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	hs := httptest.NewServer(acrtest.PlainOCI(em))
	t.Cleanup(hs.Close)
	seed := newSeeder(t, hs.URL, nil)
	img := seed.image("app/web", "v1", "amd64", "base", nil)
	seed.referrer("app/web", "application/vnd.example.sig", img, nil)
	two := seed.image("app/web", "v2", "amd64", "other", nil)
	seed.referrer("app/web", "application/vnd.example.sig", two, nil)
	seed.referrer("app/web", "application/spdx+json", two, nil)
	cs, u := consoleFor(t, hs.URL, nil)
	hc := browserless(t)
	get(t, hc, u+"?token="+cs.NewToken())
	for d, want := range map[string]string{
		img.Digest.String(): "1 referrer (a signature, SBOM or attestation) points at it",
		two.Digest.String(): "2 referrers (signatures, SBOMs, attestations) point at it",
	} {
		_, body := get(t, hc, u+"delete?"+url.Values{"repo": {"app/web"}, "digest": {d}}.Encode())
		if !strings.Contains(body, want) {
			t.Errorf("delete %s: the page does not say %q: %.1200s", d, want, body)
		}
	}
}

// TestDeleteReferrerIndexKept: deleting a referrer on a registry without
// the referrers API whose referrers tag index cannot be rewritten deletes
// the manifest all the same; the console says it is deleted, that its
// entry stays in the index, and how to remove it, instead of "Deleting
// failed".
func TestDeleteReferrerIndexKept(t *testing.T) {
	em, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	var refuse atomic.Bool
	var deletable atomic.Pointer[string] // while refusing, the one manifest DELETE lets go
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Refused: writing the index, and deleting it (the emptied index
		// of the last referrer is deleted rather than written).
		if refuse.Load() && (r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") ||
			r.Method == http.MethodDelete && !strings.HasSuffix(r.URL.Path, "/manifests/"+*deletable.Load())) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"tag writes are refused"}]}`))
			return
		}
		acrtest.WithoutReferrersAPI(em).ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	seed := newSeeder(t, hs.URL, nil)
	img := seed.image("app/web", "v1", "amd64", "base", nil)
	sig := seed.referrer("app/web", "application/vnd.example.sig", img, nil)
	sigDigest := sig.Digest.String()
	deletable.Store(&sigDigest)
	refuse.Store(true)
	cs, u := consoleFor(t, hs.URL, nil)
	hc := browserless(t)
	get(t, hc, u+"?token="+cs.NewToken())
	_, page := get(t, hc, u+"delete?"+url.Values{"repo": {"app/web"}, "digest": {sig.Digest.String()}}.Encode())
	i := strings.Index(page, `name="csrf" value="`)
	if i < 0 {
		t.Fatalf("the delete page has no CSRF field: %.800s", page)
	}
	csrf := page[i+len(`name="csrf" value="`):]
	csrf = csrf[:strings.IndexByte(csrf, '"')]
	resp, err := hc.PostForm(u+"delete", url.Values{"repo": {"app/web"}, "digest": {sig.Digest.String()}, "confirm": {"yes"}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusSeeOther && loc != "" {
		next, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		next, err = next.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		_, page := get(t, hc, next.String())
		body = []byte(page)
	}
	for _, want := range []string{"Deleted manifest " + sig.Digest.String(), "Its entry stays in the referrers tag index", "DENIED", "--prune"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("after the delete (%d) the page lacks %q: %.1500s", resp.StatusCode, want, body)
		}
	}
	if ok, err := seed.c.ManifestExists(t.Context(), "app/web", sig.Digest.String()); err != nil || ok {
		t.Errorf("the referrer exists after the delete: %v, %v", ok, err)
	}
}

// TestDeletePageLockedReferrer: a manifest's delete on ACR takes its
// referrers along, and a locked one makes the registry refuse it all: the
// confirmation says which referrer, offers to unlock it, and comes back to
// the confirmation (it offered Delete, which failed with 409).
func TestDeletePageLockedReferrer(t *testing.T) {
	r := localRegistry(t, nil)
	subject := r.seed.image("app/web", "v1", "amd64", "base", nil)
	sig := r.seed.referrer("app/web", "application/vnd.example.signature", subject, nil)
	if _, err := r.seed.c.UpdateManifestProperties(t.Context(), "app/web", sig.Digest.String(), acr.PermissionsUpdate{CanWrite: new(false), CanDelete: new(false)}); err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	page := r.URL + "delete?" + url.Values{"repo": {"app/web"}, "digest": {subject.Digest.String()}}.Encode()
	_, body := get(t, hc, page)
	if !strings.Contains(body, `id="locked-note"`) || !strings.Contains(body, "Its referrer "+shortDigest(sig.Digest)) ||
		!strings.Contains(body, `id="unlock-first"`) || strings.Contains(body, `id="confirm-delete"`) {
		t.Fatalf("the delete page of a manifest with a locked referrer: %.2500s", body)
	}
	resp, err := hc.PostForm(r.URL+"lock", url.Values{"csrf": {field(t, body, "csrf")}, "repo": {"app/web"}, "digest": {sig.Digest.String()},
		"lock": {"0"}, "back": {"delete"}, "ddigest": {subject.Digest.String()}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "delete?") ||
		!strings.Contains(loc, url.QueryEscape(subject.Digest.String())) {
		t.Errorf("unlocking the referrer: %d to %q, want 303 back to the subject's delete page", resp.StatusCode, loc)
	}
	if _, body = get(t, hc, page); !strings.Contains(body, `id="confirm-delete"`) {
		t.Errorf("after unlocking the referrer, the delete page offers no Delete: %.1500s", body)
	}
}
