package faulttest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// body is what the test server sends for every GET.
var body = bytes.Repeat([]byte("0123456789abcdef"), 64<<10/16)

// newProxied starts a server behind a proxy. Its client opens a fresh
// connection per request unless keepAlive: net/http retries nothing then.
func newProxied(t *testing.T, keepAlive bool) (*Proxy, *http.Client) {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write(body)
	}))
	t.Cleanup(hs.Close)
	p := NewProxy(t, strings.TrimPrefix(hs.URL, "http://"))
	tr := &http.Transport{DisableKeepAlives: !keepAlive}
	t.Cleanup(tr.CloseIdleConnections)
	return p, &http.Client{Transport: tr}
}

func get(hc *http.Client, url string) ([]byte, error) {
	resp, err := hc.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// TestCutOnce cuts the first response after 1,000 bytes: exactly that many
// cross, the body breaks off, and the next request goes through whole.
func TestCutOnce(t *testing.T) {
	p, hc := newProxied(t, false)
	p.CutAfter(Downstream, 1000, true)
	if got, err := get(hc, p.URL); err == nil {
		t.Fatalf("got %d bytes and no error, want the body cut", len(got))
	}
	if n := p.Forwarded(Downstream); n != 1000 {
		t.Errorf("forwarded %d bytes downstream, want 1000", n)
	}
	if n := p.Cuts(); n != 1 {
		t.Errorf("cut %d connections, want 1", n)
	}
	if got, err := get(hc, p.URL); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("after the one cut: got %d bytes, %v; want the %d-byte body", len(got), err, len(body))
	}
	if n := p.Cuts(); n != 1 {
		t.Errorf("cut %d connections in all, want 1", n)
	}
}

// TestCutEvery cuts every request after 500 bytes upstream: no request
// body of 2,000 bytes gets through, and disarming (n = 0) lets them pass.
func TestCutEvery(t *testing.T) {
	p, hc := newProxied(t, false)
	p.CutAfter(Upstream, 500, false)
	for i := range 3 {
		resp, err := hc.Post(p.URL, "application/octet-stream", bytes.NewReader(make([]byte, 2000)))
		if err == nil {
			resp.Body.Close()
			t.Fatalf("request %d: got status %d, want the connection cut", i, resp.StatusCode)
		}
	}
	if n := p.Cuts(); n != 3 {
		t.Errorf("cut %d connections, want 3", n)
	}
	p.CutAfter(Upstream, 0, false)
	resp, err := hc.Post(p.URL, "application/octet-stream", bytes.NewReader(make([]byte, 2000)))
	if err != nil {
		t.Fatalf("disarmed: %v", err)
	}
	resp.Body.Close()
	if n := p.Forwarded(Upstream); n < 2000 {
		t.Errorf("forwarded %d bytes upstream, want the 2000-byte body and its headers", n)
	}
}

// TestStall holds a response for 200 ms after 1,000 bytes: it arrives
// whole, late, and nothing is cut. (The connection is kept alive: a sender
// that closes during a stall ends the connection, as the proxy documents.)
func TestStall(t *testing.T) {
	p, hc := newProxied(t, true)
	const stall = 200 * time.Millisecond
	p.StallAfter(Downstream, 1000, stall, true)
	start := time.Now()
	got, err := get(hc, p.URL)
	took := time.Since(start)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("got %d bytes, %v; want the %d-byte body", len(got), err, len(body))
	}
	if took < stall {
		t.Errorf("the response took %v, less than the %v stall", took, stall)
	}
	if p.Stalls() != 1 || p.Cuts() != 0 {
		t.Errorf("%d stalls and %d cuts, want 1 and 0", p.Stalls(), p.Cuts())
	}
}
