package emulator_test

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestBlobRedirect checks the storage redirect of blob downloads: the
// registry answers GET with 307 to a signed URL on the storage origin and
// HEAD itself; storage serves the bytes (and ranges) without credentials,
// and refuses a request with an Authorization header, a forged or
// tampered signature, an expired URL and other methods.
func TestBlobRedirect(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := acrtest.NewRedirectingServer(t, &emulator.Options{Now: clock})
	c := &client{t: t, base: srv.URL, hc: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	d := c.pushBlob("r", data)

	r := c.do("GET", "/v2/r/blobs/"+d.String(), nil).want(t, http.StatusTemporaryRedirect)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || !strings.HasPrefix(loc.String(), srv.StorageURL+"/") {
		t.Fatalf("Location %q, want a URL under %s", r.Header.Get("Location"), srv.StorageURL)
	}
	if r.Header.Get("Docker-Content-Digest") != d.String() {
		t.Errorf("redirect's Docker-Content-Digest %q, want %s", r.Header.Get("Docker-Content-Digest"), d)
	}
	if h := c.do("HEAD", "/v2/r/blobs/"+d.String(), nil).want(t, http.StatusOK); h.ContentLength != int64(len(data)) {
		t.Errorf("HEAD answered Content-Length %d, want %d", h.ContentLength, len(data))
	}
	c.do("GET", "/v2/r/blobs/sha256:"+strings.Repeat("0", 64), nil).want(t, http.StatusNotFound)

	got := c.do("GET", loc.String(), nil).want(t, http.StatusOK)
	if !bytes.Equal(got.body, data) {
		t.Fatalf("storage served %d bytes, want the %d pushed", len(got.body), len(data))
	}
	part := c.do("GET", loc.String(), nil, "Range", "bytes=10-19").want(t, http.StatusPartialContent)
	if string(part.body) != "0123456789" {
		t.Errorf("range 10-19 is %q", part.body)
	}

	refused := func(name, u, code string, hdr ...string) {
		t.Helper()
		r := c.do("GET", u, nil, hdr...)
		if r.StatusCode != http.StatusForbidden || !strings.Contains(string(r.body), "<Code>"+code+"</Code>") {
			t.Errorf("%s: got %d %s, want 403 %s", name, r.StatusCode, r.body, code)
		}
	}
	refused("with a registry token", loc.String(), "AuthenticationFailed", "Authorization", "Bearer registry-token")
	tampered := *loc
	q := tampered.Query()
	q.Set("se", q.Get("se")+"0")
	tampered.RawQuery = q.Encode()
	refused("with a later expiry", tampered.String(), "AuthenticationFailed")
	other := strings.Replace(loc.String(), d.Encoded(), strings.Repeat("a", 64), 1)
	refused("for another digest", other, "AuthenticationFailed")
	if r := c.do("DELETE", loc.String(), nil); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("DELETE on storage: got %d, want 405", r.StatusCode)
	}

	mu.Lock()
	now = now.Add(emulator.DefaultBlobRedirectTTL + time.Second)
	mu.Unlock()
	refused("after it expired", loc.String(), "AuthenticationFailed")
	// A fresh redirect works again.
	r = c.do("GET", "/v2/r/blobs/"+d.String(), nil).want(t, http.StatusTemporaryRedirect)
	c.do("GET", r.Header.Get("Location"), nil).want(t, http.StatusOK)
}

// TestBlobStorageURLValidated checks that a BlobStorageURL that is not an
// http(s) URL is refused when the server starts.
func TestBlobStorageURLValidated(t *testing.T) {
	for _, u := range []string{"storage.example", "ftp://x/", "http://"} {
		if s, err := emulator.New(&emulator.Options{BlobStorageURL: u}); err == nil {
			s.Close()
			t.Errorf("BlobStorageURL %q was accepted", u)
		}
	}
}
