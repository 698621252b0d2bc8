package console

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The browser tests drive a real Chromium, headless, started once for the
// package; each test gets its own browser context (no shared cookies).
// Without Chromium they skip, unless ACRGO_REQUIRE_BROWSER=1 (as in CI).

var shared struct {
	once   sync.Once
	ctx    context.Context
	cancel func()
	err    error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	os.Exit(code)
}

func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab is one browser tab of a test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

// newTab opens a tab in a fresh browser context, or skips the test when
// there is no browser.
func newTab(t *testing.T) *tab {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("ACRGO_REQUIRE_BROWSER") == "1" {
			t.Fatal("no chromium on PATH and ACRGO_REQUIRE_BROWSER=1: install it (apt-get install chromium)")
		}
		t.Skip("no chromium on PATH: install it (apt-get install chromium) to run the browser tests")
	}
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "acrgo-chromium-")
		if err != nil {
			shared.err = err
			return
		}
		// The flags keep the browser off the network: no updates, sync,
		// QUIC or background requests.
		opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.UserDataDir(dir), chromedp.Flag("disable-quic", true), chromedp.Flag("disable-component-update", true),
			chromedp.Flag("no-proxy-server", true), chromedp.WindowSize(1100, 720))
		actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, bcancel := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			shared.err = err
		}
		shared.ctx = bctx
		shared.cancel = func() { bcancel(); acancel(); os.RemoveAll(dir) }
	})
	if shared.err != nil {
		t.Fatalf("start chromium: %v", shared.err)
	}
	ctx, cancel := chromedp.NewContext(shared.ctx, chromedp.WithNewBrowserContext())
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, 40*time.Second)
	t.Cleanup(func() { tcancel(); cancel() })
	return &tab{t: t, ctx: tctx}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v (at %s)", err, b.location())
	}
}

func (b *tab) location() string {
	u, _ := chromedp.Run(b.ctx, chromedp.Location())
	return u
}

// open navigates to u and waits for the page.
func (b *tab) open(u string) {
	b.t.Helper()
	b.do(chromedp.Navigate(u), chromedp.WaitReady(chromedp.CSS("body")))
}

// text returns the visible text of the first element css selects (the
// text content for SVG), waiting a moment for it to appear.
func (b *tab) text(css string) string {
	b.t.Helper()
	js := fmt.Sprintf(`(e => e ? (e.innerText ?? e.textContent) : null)(document.querySelector(%q))`, css)
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Poll[string](js))
	if err != nil {
		b.t.Fatalf("browser: no %s: %v (at %s; page: %.300s)", css, err, b.location(), b.bodyText())
	}
	return s
}

func (b *tab) bodyText() string {
	s, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// has reports whether css selects anything now.
func (b *tab) has(css string) bool {
	b.t.Helper()
	return b.evalBool(`document.querySelector(` + strconv.Quote(css) + `) !== null`)
}

func (b *tab) evalBool(js string) bool {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("browser: %s: %v", js, err)
	}
	return v
}

// click clicks the first element css selects and waits for the page it
// leads to (a new document, even at the same URL).
func (b *tab) click(css string) {
	b.t.Helper()
	b.evalBool(`window.__old = true`)
	b.do(chromedp.Click(chromedp.CSS(css)))
	b.waitNewPage()
}

// waitNewPage waits until the tab holds a new, loaded document. Evaluating
// during the navigation fails now and then (the old context is gone): that
// only means to ask again.
func (b *tab) waitNewPage() {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok, err := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`window.__old === undefined && document.readyState === "complete"`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) || b.ctx.Err() != nil {
			b.t.Fatalf("browser: no new page after the click (last error: %v, at %s)", err, b.location())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitText waits until the element css selects contains want.
func (b *tab) waitText(css, want string) {
	b.t.Helper()
	js := fmt.Sprintf(`((e => e ? (e.innerText ?? e.textContent) : "")(document.querySelector(%q))).includes(%q)`, css, want)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		b.t.Fatalf("browser: %s never showed %q: %v (at %s)", css, want, err, b.location())
	}
}

// wantText checks that the element css selects contains every want.
func (b *tab) wantText(css string, want ...string) {
	b.t.Helper()
	got := b.text(css)
	for _, w := range want {
		if !strings.Contains(got, w) {
			b.t.Errorf("%s at %s: %q lacks %q", css, b.location(), got, w)
		}
	}
}

// ranNothing checks that no hostile markup became elements or ran: no
// image, no script but the console's own, no marker set.
func (b *tab) ranNothing() {
	b.t.Helper()
	if !b.evalBool(`window.__pwned === undefined`) {
		b.t.Errorf("at %s: hostile script ran", b.location())
	}
	if !b.evalBool(`document.querySelectorAll("img").length === 0`) {
		b.t.Errorf("at %s: hostile markup became an <img> element", b.location())
	}
	if !b.evalBool(`[...document.scripts].every(s => s.src.endsWith("/static/console.js"))`) {
		b.t.Errorf("at %s: a script element other than the console's", b.location())
	}
}
