package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/emulator/store"
	"github.com/chromedp/chromedp"
)

// TestBrowserLocalRegistry walks the console of acrctl console against the
// local registry with soft delete: the one-time link, the repositories
// with filtering, an image with its referrers tree, lock and unlock,
// deletes cancelled and confirmed, and a restore.
func TestBrowserLocalRegistry(t *testing.T) {
	r := localRegistry(t, &emulator.Options{SoftDeleteRetention: 24 * time.Hour})
	f := r.seed.fixture()
	c := r.seed.c
	ctx := t.Context()
	b := newTab(t)

	tok := r.console.NewToken()
	b.open(r.URL + "?token=" + tok)
	if loc := b.location(); strings.Contains(loc, "token") {
		t.Errorf("after the token exchange the URL is %s, want it without the token", loc)
	}
	b.wantText("table.repos", "app/web", "app/multi", "tools/cli")
	b.wantText("table.repos thead", "Manifests", "Tags", "Size", "Last update")

	// Filter as you type.
	b.do(chromedp.SendKeys(chromedp.CSS("#filter"), "mul"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!document.querySelector("#repo-list").innerText.includes("tools/cli")`)); err != nil {
		t.Fatalf("filtering did not hide tools/cli: %v", err)
	}
	b.wantText("#repo-list", "app/multi")

	// An index and its platforms.
	b.click(`a.repo`) // the only row left: app/multi
	b.click(`tr[data-tag="latest"] a.tag`)
	b.wantText("#platforms", "linux/amd64", "linux/arm64")
	b.wantText("#media-type", "application/vnd.oci.image.index.v1+json")

	// An image, its annotations (hostile, shown as text) and referrers.
	b.open(r.URL + "repo?name=app/web")
	b.wantText("table.tags", "v1", "v2")
	b.click(`tr[data-tag="v1"] a.tag`)
	b.wantText("h1", f.image.Digest.String())
	b.wantText("#layers", "application/vnd.oci.image.layer.v1.tar+gzip", "3.9 KiB")
	b.wantText("#annotations", xssScript, xssImg)
	b.ranNothing()
	b.wantText("#referrers", "application/vnd.cncf.notary.signature", "application/vnd.in-toto+json", "2026-01-02T03:04:05Z")
	b.wantText("#raw", `"schemaVersion": 2`, `"com.example.note"`)
	b.wantText("#pull-docker", "docker pull "+r.reg.Host+"/app/web@"+f.image.Digest.String())
	b.do(chromedp.Click(chromedp.CSS(`button.copy[data-copy="pull-oras"]`)))
	b.waitText(`button.copy[data-copy="pull-oras"]`, "Copied")
	// The nested referrer (an attestation of the signature) has its page.
	b.click(`#referrers ul ul a.referrer`)
	b.wantText("h1", f.att.Digest.String())
	b.wantText("body", "This is a referrer of", f.sig.Digest.String())

	// Lock and unlock a tag.
	b.open(r.URL + "repo?name=app/web")
	b.click(`tr[data-tag="v1"] button.lock`)
	b.wantText(".flash", "Locked tag v1")
	b.wantText(`tr[data-tag="v1"]`, "locked")
	if p, err := c.GetTagProperties(ctx, "app/web", "v1"); err != nil || p.Permissions.CanWrite || p.Permissions.CanDelete {
		t.Errorf("after Lock: %+v, %v; want write and delete disabled", p.Permissions, err)
	}
	b.click(`tr[data-tag="v1"] button.unlock`)
	b.wantText(".flash", "Unlocked tag v1")
	if p, err := c.GetTagProperties(ctx, "app/web", "v1"); err != nil || !p.Permissions.CanWrite || !p.Permissions.CanDelete {
		t.Errorf("after Unlock: %+v, %v; want write and delete enabled", p.Permissions, err)
	}

	// A mutation without the CSRF token, sent from the page itself.
	status, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`fetch("lock", {method: "POST",
		body: new URLSearchParams({repo: "app/web", tag: "v1", lock: "1"})}).then(r => r.status)`, chromedp.EvalAwaitPromise))
	if err != nil || status != http.StatusForbidden {
		t.Errorf("a lock without the CSRF token answered %d (%v), want 403", status, err)
	}
	if p, _ := c.GetTagProperties(ctx, "app/web", "v1"); !p.Permissions.CanWrite {
		t.Error("a lock without the CSRF token locked the tag")
	}

	// A locked tag's delete page says the lock refuses it and offers
	// Unlock instead of a Delete that can only fail.
	b.click(`tr[data-tag="v1"] button.lock`)
	b.click(`tr[data-tag="v1"] a.delete`)
	b.wantText("#locked-note", "The tag v1 is locked", "the registry refuses this delete")
	if b.has("#confirm-delete") {
		t.Error("a locked tag's delete page offers Delete")
	}
	b.click(`#unlock-first`)
	// Back on the confirmation, which now offers Delete.
	b.wantText(".flash", "Unlocked tag v1")
	b.wantText("#confirm-text", "deletes the tag v1 of app/web")
	if _, err := c.ResolveDigest(ctx, "app/web", "v1"); err != nil {
		t.Fatalf("a locked tag was deleted: %v", err)
	}
	b.click(`#cancel`)

	// Delete a tag: cancelled, then confirmed.
	b.click(`tr[data-tag="v2"] a.delete`)
	b.wantText("#confirm-text", "deletes the tag v2 of app/web", "stays")
	b.click(`#cancel`)
	b.wantText("table.tags", "v2")
	if _, err := c.ResolveDigest(ctx, "app/web", "v2"); err != nil {
		t.Fatalf("after Cancel, v2: %v", err)
	}
	b.click(`tr[data-tag="v2"] a.delete`)
	b.click(`#confirm-delete`)
	b.wantText(".flash", "Deleted tag v2")
	if b.has(`tr[data-tag="v2"]`) {
		t.Error("v2 still listed after its delete")
	}
	if _, err := c.ResolveDigest(ctx, "app/web", "v2"); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("after the delete, v2: %v, want not found", err)
	}

	// Delete a manifest: the confirmation names the tag that goes with it.
	b.open(r.URL + "repo?name=app/web&view=manifests")
	b.click(`tr[data-digest="` + f.image.Digest.String() + `"] a.delete`)
	b.wantText("#confirm-text", f.image.Digest.String(), "and its 1 tag", "v1", "takes along 2 referrers",
		f.sig.Digest.String(), f.att.Digest.String())
	b.click(`#confirm-delete`)
	b.wantText(".flash", "Deleted manifest")
	if _, err := c.ResolveDigest(ctx, "app/web", "v1"); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("after the manifest's delete, v1: %v, want not found", err)
	}
	if ok, err := c.ManifestExists(ctx, "app/web", f.att.Digest.String()); ok || err != nil {
		t.Errorf("after the manifest's delete, its nested referrer exists: %v, %v; want it gone, as the confirmation said", ok, err)
	}

	// Restore it, and the deleted tag v2, from the deleted items.
	b.click(`#tab-deleted`)
	b.wantText(`tr[data-deleted-tag="v2"]`, "v2")
	b.click(`tr[data-deleted-tag="v2"] button.restore`)
	b.wantText(".flash", "Restored tag v2")
	if _, err := c.ResolveDigest(ctx, "app/web", "v2"); err != nil {
		t.Errorf("after the restore, v2: %v", err)
	}
	b.wantText(`tr[data-digest="`+f.image.Digest.String()+`"]`, "v1")
	b.click(`tr[data-digest="` + f.image.Digest.String() + `"] button.restore`)
	b.wantText(".flash", "Restored manifest", "with tags v1")
	if d, err := c.ResolveDigest(ctx, "app/web", "v1"); err != nil || d != f.image.Digest {
		t.Errorf("after the restore, v1 is %s, %v; want %s", d, err, f.image.Digest)
	}

	// Storage: one chart, shared layers counted once.
	b.open(r.URL + "storage")
	b.wantText("#chart", "app/web", "app/multi", "tools/cli")
	if b.text("#shared") == "0 B" {
		t.Error("storage shows no shared bytes; app/web, app/multi and tools/cli share a layer")
	}

	// The spent token does not sign in another browser.
	b2 := newTab(t)
	b2.open(r.URL + "?token=" + tok)
	b2.wantText("h1", "used already")
	if b2.has("table.repos") {
		t.Error("a reused token showed the repositories")
	}
}

// hostile wraps a registry so that its listings carry names no registry
// should accept: "xss-tag" and "xss-repo" come back as markup.
func hostile(reg http.Handler) http.Handler {
	evil, _ := json.Marshal(xssScript + xssImg)
	esc := evil[1 : len(evil)-1]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		reg.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.Method == http.MethodGet && (strings.Contains(r.URL.Path, "_catalog") || strings.Contains(r.URL.Path, "_tags") || strings.HasSuffix(r.URL.Path, "/tags/list")) {
			body = bytes.ReplaceAll(body, []byte("xss-tag"), esc)
			body = bytes.ReplaceAll(body, []byte("xss-repo"), esc)
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(body)
	})
}

// TestBrowserHostileNames: a registry that lists a repository and a tag
// named with markup gets the listing refused (the client checks names
// against the distribution grammar), with the name quoted as text in the
// error's detail, and nothing runs; so do the pages a crafted link names.
func TestBrowserHostileNames(t *testing.T) {
	em, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	hs := httptest.NewServer(hostile(em))
	t.Cleanup(hs.Close)
	seed := newSeeder(t, hs.URL, nil)
	seed.image("app/web", "xss-tag", "amd64", "x", map[string]string{"note": xssImg})
	seed.image("xss-repo", "v1", "amd64", "y", nil)
	cs, u := consoleFor(t, hs.URL, nil)

	b := newTab(t)
	b.open(u + "?token=" + cs.NewToken())
	b.wantText("#error-detail", "listed the repository name", xssScript)
	b.ranNothing()
	b.open(u + "?q=" + "%3Cscript%3E")
	b.wantText("#error-detail", xssScript)
	b.ranNothing()
	b.open(u + "repo?name=app/web")
	b.wantText("body", "listed the tag", xssScript)
	b.ranNothing()
	b.open(u + "manifest?repo=app/web&ref=" + url.QueryEscape(xssScript+xssImg))
	b.ranNothing()
	b.open(u + "delete?repo=app/web&tag=" + "%3Cscript%3E")
	b.ranNothing()
}

// TestBrowserSignIn: the console that acrctl serve mounts under /console/
// asks for the registry's users, refuses a wrong password, and then works
// with the credentials kept on the server; without users it opens at once.
func TestBrowserSignIn(t *testing.T) {
	users := map[string]string{"admin": "s3cret-Pa55"}
	u, reg := mounted(t, &emulator.Options{Users: users})
	newSeeder(t, reg.URL, acr.BasicCredential("admin", "s3cret-Pa55")).fixture()

	b := newTab(t)
	b.open(u + "repo?name=app/web")
	if !b.has("form.login") {
		t.Fatalf("an unsigned visit to %s did not show the sign-in form", b.location())
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#username"), "admin"), chromedp.SendKeys(chromedp.CSS("#password"), "wrong"))
	b.click("#signin")
	b.wantText("#login-error", "refused")
	b.do(chromedp.SetValue(chromedp.CSS("#password"), "s3cret-Pa55"))
	b.click("#signin")
	b.wantText("h1", "app/web") // back where the visit started
	b.wantText("header", "admin", "Sign out")
	if !b.evalBool(`document.cookie === ""`) {
		t.Error("the session cookie is readable from script; want HttpOnly")
	}
	b.click(`tr[data-tag="v1"] button.lock`)
	b.wantText(`tr[data-tag="v1"]`, "locked")
	b.click(`tr[data-tag="v1"] button.unlock`)
	b.wantText(".flash", "Unlocked tag v1")
	b.click(`tr[data-tag="v1"] a.tag`)
	b.wantText("#referrers", "application/vnd.cncf.notary.signature")
	b.click("header .signout button")
	if !b.has("form.login") {
		t.Error("signing out did not return to the sign-in form")
	}

	open, reg2 := mounted(t, &emulator.Options{})
	newSeeder(t, reg2.URL, nil).image("solo", "v1", "amd64", "x", nil)
	b2 := newTab(t)
	b2.open(open)
	b2.wantText("table.repos", "solo")
	if b2.has("header .signout") {
		t.Error("a console without users offers to sign out")
	}
}

// TestBrowserFilterAfterSignOut: filtering as you type on a page whose
// session has ended (signed out in another tab, here by a request from the
// page) reloads the page, which asks to sign in, rather than showing the
// sign-in form inside the list.
func TestBrowserFilterAfterSignOut(t *testing.T) {
	u, reg := mounted(t, &emulator.Options{Users: map[string]string{"admin": "s3cret-Pa55"}})
	newSeeder(t, reg.URL, acr.BasicCredential("admin", "s3cret-Pa55")).fixture()
	b := newTab(t)
	b.open(u)
	b.do(chromedp.SendKeys(chromedp.CSS("#username"), "admin"), chromedp.SendKeys(chromedp.CSS("#password"), "s3cret-Pa55"))
	b.click("#signin")
	b.wantText("table.repos", "app/web")
	signedOut := b.evalBool(`(() => {
		const f = document.querySelector("form.signout"), x = new XMLHttpRequest();
		x.open("POST", f.action, false);
		x.setRequestHeader("Content-Type", "application/x-www-form-urlencoded");
		x.send(new URLSearchParams(new FormData(f)).toString());
		return x.status === 200 && x.responseURL.includes("/login");
	})()`)
	if !signedOut {
		t.Fatal("signing out from the page failed")
	}
	b.evalBool(`window.__old = true`)
	b.do(chromedp.SendKeys(chromedp.CSS("#filter"), "mul"))
	b.waitNewPage()
	if !b.has("form.login") || b.has("#repo-list form.login") || !strings.Contains(b.location(), "/console/login") {
		t.Errorf("after filtering with the session ended: at %s, want the sign-in page itself", b.location())
	}
	if b.evalBool(`document.querySelector('input[name="next"]').value.includes("fragment")`) {
		t.Error("the sign-in form leads back to a part of a page")
	}
}

// TestBrowserOCIOnly: on a registry without /acr/v1, the console shows
// what the OCI API offers (names, tags, manifests, referrers, deletes) and
// hides counts, dates, locks, the manifests list and deleted items.
func TestBrowserOCIOnly(t *testing.T) {
	em, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	hs := httptest.NewServer(acrtest.PlainOCI(em))
	t.Cleanup(hs.Close)
	seed := newSeeder(t, hs.URL, nil)
	f := seed.fixture()
	cs, u := consoleFor(t, hs.URL, nil)
	ociOnly(t, cs, u, seed, f)
}

// ociOnly is the OCI-only walk, for the plain-OCI wrapper and the
// reference registry. The referrers tree is full on both: the reference
// registry lacks the referrers API, and the library's pushes keep the
// referrers tag schema's index there.
func ociOnly(t *testing.T, cs *Server, u string, seed *seeder, f fixture) {
	b := newTab(t)
	b.open(u + "?token=" + cs.NewToken())
	b.wantText("table.repos", "app/web", "app/multi")
	b.wantText("body", "no ACR metadata API")
	if b.has("table.repos th.num") {
		t.Error("the repositories page shows count columns on an OCI-only registry")
	}
	b.open(u + "repo?name=app/web")
	b.wantText("table.tags", "v1", "v2")
	if b.has("button.lock") || b.has("#tab-deleted") {
		t.Error("the repository page offers locks or deleted items on an OCI-only registry")
	}
	b.click(`tr[data-tag="v1"] a.tag`)
	b.wantText("h1", f.image.Digest.String())
	b.wantText("#referrers", "application/vnd.cncf.notary.signature", "application/vnd.in-toto+json")
	b.wantText("#annotations", xssScript, xssImg)
	b.ranNothing()
	b.open(u + "repo?name=app/web")
	b.click(`tr[data-tag="v2"] a.delete`)
	b.wantText("#confirm-text", "deletes the tag v2")
	b.click(`#confirm-delete`)
	if b.has(".flash") {
		b.wantText(".flash", "Deleted tag v2")
		if _, err := seed.c.ResolveDigest(t.Context(), "app/web", "v2"); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("after the delete, v2: %v, want not found", err)
		}
	} else {
		// A registry that refuses deleting tags says so on the page.
		b.wantText("h1", "Deleting")
		t.Logf("the registry refused the tag delete: %s", b.text("h1"))
	}
	b.open(u + "storage")
	b.wantText("#chart", "app/web")
}

// TestBrowserTenThousandTags measures the first screen of a repository of
// 10,000 tags: the console reads one page of the listing, not all of it.
func TestBrowserTenThousandTags(t *testing.T) {
	r := localRegistry(t, nil)
	d := r.seed.image("big", "t00000", "amd64", "many", nil)
	// The other tags go straight into the store, a second apart, so the
	// newest is t09999.
	base := time.Now().UTC().Add(-3 * time.Hour)
	err := r.reg.Registry.Store().Update(t.Context(), func(tx store.Tx) error {
		for i := 1; i < 10_000; i++ {
			at := base.Add(time.Duration(i) * time.Second)
			if err := tx.PutTag("big", store.Tag{Name: fmt.Sprintf("t%05d", i), Digest: d.Digest, CreatedAt: at, UpdatedAt: at,
				Attrs: store.DefaultAttributes()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t)
	b.open(r.URL + "?token=" + r.console.NewToken())
	start := time.Now()
	b.open(r.URL + "repo?name=big")
	first := time.Since(start)
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.tags tbody tr").length`))
	if err != nil || rows != rowsPerPage {
		t.Fatalf("first screen shows %d rows (%v), want %d", rows, err, rowsPerPage)
	}
	nav, _ := chromedp.Run(b.ctx, chromedp.Evaluate[float64](`performance.getEntriesByType("navigation")[0].domContentLoadedEventEnd`))
	t.Logf("10,000 tags: first screen in %v (navigation to load event); DOMContentLoaded at %.0f ms", first.Round(time.Millisecond), nav)
	b.wantText("table.tags tbody tr", "t00000") // pushed last, so the newest
	b.wantText("table.tags tbody tr:nth-child(2)", "t09999")
	b.click("#next")
	if !strings.Contains(b.location(), "page=1") {
		t.Errorf("next page is %s, want page=1", b.location())
	}
	b.wantText("table.tags tbody tr", "t09900")
}

// TestBrowserTenThousandRepositories: the repositories page of a registry
// with 10,000 repositories shows its first 50 at once, pages on with
// "Next", and filters over all of them as you type.
func TestBrowserTenThousandRepositories(t *testing.T) {
	r := localRegistry(t, nil)
	now := time.Now().UTC()
	err := r.reg.Registry.Store().Update(t.Context(), func(tx store.Tx) error {
		for i := range 10_000 {
			name := fmt.Sprintf("many/r%05d", i)
			if err := tx.PutRepo(store.Repository{Name: name, CreatedAt: now, UpdatedAt: now, Attrs: store.DefaultAttributes()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := newTab(t)
	b.open(r.URL + "?token=" + r.console.NewToken())
	start := time.Now()
	b.open(r.URL)
	first := time.Since(start)
	rows, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("table.repos tbody tr").length`))
	if err != nil || rows != reposPerPage {
		t.Fatalf("first screen shows %d rows (%v), want %d", rows, err, reposPerPage)
	}
	t.Logf("10,000 repositories: first screen in %v (navigation to load event)", first.Round(time.Millisecond))
	b.wantText("table.repos", "many/r00000", "many/r00049")
	b.click("#next")
	b.wantText("table.repos", "many/r00050", "many/r00099")
	b.do(chromedp.SendKeys(chromedp.CSS("#filter"), "r09998"))
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`document.querySelectorAll("table.repos tbody tr").length === 1`)); err != nil {
		t.Fatalf("filtering for r09998: %v", err)
	}
	b.wantText("table.repos", "many/r09998")
}

// TestBrowserLongTagKeepsColumns: a 128-character tag (the longest legal)
// takes its own column's room; the digests and Delete links beside
// it stay on one line each, not broken mid-word ("Dele/te").
func TestBrowserLongTagKeepsColumns(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", strings.Repeat("x", 128), "amd64", "base", nil)
	r.seed.image("app/web", "v1", "amd64", "other", nil)
	b := newTab(t)
	b.open(r.URL + "?token=" + r.console.NewToken())
	for _, view := range []string{"tags", "manifests"} {
		b.open(r.URL + "repo?name=app/web&view=" + view)
		if !b.evalBool(`(() => { const links = [...document.querySelectorAll("table a.delete, table a.digest")];
			return links.length >= 4 && links.every(e => e.getClientRects().length == 1) })()`) {
			t.Errorf("%s view: a digest or Delete link breaks across lines beside a 128-character tag", view)
		}
	}
}
