package emulator_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// doHost sends a request with Host set to host.
func (c *client) doHost(host, method, path string) response {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Accept", acceptAll[1])
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, b}
}

// TestCheckHost: with CheckHost, a request for a host name that is not
// loopback nor allowed (a web page after DNS rebinding) is refused with 421
// and an OCI error naming the fix, reads and deletes alike; loopback names
// and AllowedHosts are served, and clients that name the registry as they
// reach it push and pull unchanged.
func TestCheckHost(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{CheckHost: true, AllowedHosts: []string{"registry.example", "192.0.2.10"}})
	im := c.pushImage("r", "t", "1")
	for _, host := range []string{"rebind.evil.example:5000", "127.0.0.1.evil.example", "localhost.evil.example:1", "192.0.2.11"} {
		for _, m := range []string{"GET", "DELETE"} {
			r := c.doHost(host, m, "/v2/r/manifests/"+im.digest.String())
			if r.StatusCode != http.StatusMisdirectedRequest || r.errorCode() != "DENIED" || !strings.Contains(string(r.body), "--allow-host") {
				t.Errorf("%s with Host %s: %d %s, want 421 DENIED naming --allow-host", m, host, r.StatusCode, r.body)
			}
		}
	}
	c.do("GET", "/v2/r/manifests/t", nil, acceptAll...).want(t, http.StatusOK)
	for _, host := range []string{"localhost:5000", "LocalHost.", "127.0.0.1", "127.1.2.3:80", "[::1]:5000", "registry.example:443", "REGISTRY.example.", "192.0.2.10:5000"} {
		if r := c.doHost(host, "GET", "/v2/r/manifests/t"); r.StatusCode != http.StatusOK {
			t.Errorf("GET with Host %s: %d %s, want 200", host, r.StatusCode, r.body)
		}
	}

	// Off (the default), any Host is served, as library users' tests and
	// network listeners need.
	open, _ := newClient(t, nil)
	open.pushImage("r", "t", "1")
	open.doHost("rebind.evil.example:5000", "GET", "/v2/r/manifests/t").want(t, http.StatusOK)
}

// TestCheckHostOptions: New refuses allowed hosts that are not host names
// or addresses, naming the entry.
func TestCheckHostOptions(t *testing.T) {
	for _, h := range []string{"", "registry.example:5000", "https://registry.example", "a/b"} {
		if _, err := emulator.New(&emulator.Options{CheckHost: true, AllowedHosts: []string{h}}); err == nil || !strings.Contains(err.Error(), "AllowedHosts") {
			t.Errorf("AllowedHosts [%q]: %v, want an error about it", h, err)
		}
	}
}

// TestCrossSiteWrites: a web page of another site cannot change a registry
// (open, as acrctl serve without --user is): a CORS-simple POST of a blob
// (text/plain, no preflight) and deletes are refused with 403 when the
// browser marks them cross-site or sends a foreign Origin; reads, the
// registry's own origin, and registry clients (no such headers) are
// served.
func TestCrossSiteWrites(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("r", "t", "1")
	body := []byte("a=pushed by a web page")
	d := digest.FromBytes(body)
	self := c.base // http://127.0.0.1:PORT
	for _, h := range [][]string{
		{"Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Sec-Fetch-Site", "same-site"},
		{"Origin", "null"},
		{"Origin", "http://127.0.0.1:1"},
	} {
		hdr := append([]string{"Content-Type", "text/plain"}, h...)
		r := c.do("POST", "/v2/evil/blobs/uploads/?digest="+d.String(), body, hdr...)
		if r.StatusCode != http.StatusForbidden || r.errorCode() != "DENIED" {
			t.Errorf("POST of a blob with %v: %d %s, want 403 DENIED", h, r.StatusCode, r.body)
		}
		if r := c.do("DELETE", "/v2/r/manifests/"+im.digest.String(), nil, h...); r.StatusCode != http.StatusForbidden {
			t.Errorf("DELETE of a manifest with %v: %d %s, want 403", h, r.StatusCode, r.body)
		}
		c.do("GET", "/v2/r/manifests/t", nil, append(acceptAll, h...)...).want(t, http.StatusOK)
	}
	c.do("HEAD", "/v2/evil/blobs/"+d.String(), nil).want(t, http.StatusNotFound)
	c.do("POST", "/v2/own/blobs/uploads/?digest="+d.String(), body, "Origin", self, "Sec-Fetch-Site", "same-origin").want(t, http.StatusCreated)
	c.do("DELETE", "/v2/r/manifests/"+im.digest.String(), nil).want(t, http.StatusAccepted)
}
