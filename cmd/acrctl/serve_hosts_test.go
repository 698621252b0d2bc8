package main

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// serveRequest sends method to base+path with Host host (none: as
// addressed) and extra headers, and returns status and body.
func serveRequest(t *testing.T, method, base, path, host string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := noRedirects().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeRegistryHostCheck: acrctl serve on loopback (its default)
// answers a registry request for a host name that is not loopback (a web
// page after DNS rebinding) with 421 and an OCI error naming --allow-host,
// serves the names --allow-host adds, and refuses pushes a browser sends
// from another site with 403, while clients that send no such headers
// push as before.
func TestServeRegistryHostCheck(t *testing.T) {
	r := startRun(t, "serve", "--memory", "--addr", "127.0.0.1:0", "--allow-host", "registry.test")
	base := r.line(t, "listening on ")
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	port := u.Port()
	for host, want := range map[string]int{"rebind.evil.example:" + port: http.StatusMisdirectedRequest, "evil.example": http.StatusMisdirectedRequest,
		"localhost:" + port: http.StatusOK, "registry.test:" + port: http.StatusOK, "": http.StatusOK} {
		code, body := serveRequest(t, "GET", base, "/v2/", host)
		if code != want {
			t.Errorf("GET /v2/ with Host %q: %d %s, want %d", host, code, body, want)
		}
		if want == http.StatusMisdirectedRequest && !strings.Contains(body, `"DENIED"`) || want == http.StatusMisdirectedRequest && !strings.Contains(body, "--allow-host") {
			t.Errorf("the 421 for Host %q: %s, want an OCI error naming --allow-host", host, body)
		}
	}
	digest := "sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881" // of "x"
	code, body := serveRequest(t, "POST", base, "/v2/evil/blobs/uploads/?digest="+digest, "", "Content-Type", "text/plain",
		"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if code != http.StatusForbidden {
		t.Errorf("a cross-site POST of a blob: %d %s, want 403", code, body)
	}
	if code, body := serveRequest(t, "POST", base, "/v2/app/blobs/uploads/?digest="+digest, ""); code != http.StatusCreated {
		t.Errorf("a client's POST of a blob: %d %s, want 201", code, body)
	}
}

// TestServeAllowHostInvalid: --allow-host takes a host name, not a URL or
// HOST:PORT.
func TestServeAllowHostInvalid(t *testing.T) {
	acrctl(t, "", "serve", "--memory", "--addr", "127.0.0.1:0", "--allow-host", "https://registry.test").fails(t, 2, "--allow-host", "without scheme or port")
}
