package console

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/chromedp/chromedp"
)

// TestScreenshots writes the README's screenshots of the main pages to the
// directory in ACRGO_CONSOLE_SCREENSHOTS (docs/console from the project
// root); without it, it is skipped:
//
//	ACRGO_CONSOLE_SCREENSHOTS=$PWD/docs/console go test -run TestScreenshots ./console/
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("ACRGO_CONSOLE_SCREENSHOTS")
	if dir == "" {
		t.Skip("ACRGO_CONSOLE_SCREENSHOTS is not set")
	}
	r := localRegistry(t, &emulator.Options{SoftDeleteRetention: 7 * 24 * time.Hour})
	s := r.seed
	web := s.image("shop/web", "1.4.2", "amd64", "base", map[string]string{"org.opencontainers.image.source": "https://example.com/shop"})
	s.image("shop/web", "1.4.1", "amd64", "base-old", nil)
	s.image("shop/web", "1.4.0", "amd64", "base-older", nil)
	sig := s.referrer("shop/web", "application/vnd.cncf.notary.signature", web, map[string]string{"org.opencontainers.image.created": "2026-12-01T10:00:00Z"})
	s.referrer("shop/web", "application/spdx+json", web, map[string]string{"org.opencontainers.image.created": "2026-12-01T10:00:05Z"})
	s.referrer("shop/web", "application/vnd.in-toto+json", sig, nil)
	amd := s.image("shop/api", "", "amd64", "base", nil)
	arm := s.image("shop/api", "", "arm64", "api-arm", nil)
	s.index("shop/api", "2.0.0", amd, arm)
	s.image("tools/cli", "1.0", "amd64", "base", nil)
	s.image("tools/cli", "1.1", "amd64", "cli-1.1", nil)
	b := newTab(t)
	b.do(chromedp.EmulateViewport(1000, 560))
	b.open(r.URL + "?token=" + r.console.NewToken())
	shot := func(name, u string) {
		t.Helper()
		b.open(u)
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", name, len(png))
	}
	shot("repositories.png", r.URL)
	shot("repository.png", r.URL+"repo?name=shop/web")
	shot("manifest.png", r.URL+"manifest?repo=shop/web&ref=1.4.2")
	shot("delete.png", r.URL+"delete?repo=shop/web&digest="+web.Digest.String())
	shot("storage.png", r.URL+"storage")
}
