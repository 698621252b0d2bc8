package emulator_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// TestUploadSessionsPerIPv6Prefix: the per-client session cap counts an
// IPv6 /64 as one client, so a host cycling through the addresses of its
// /64 cannot take every session; a client elsewhere can still push.
func TestUploadSessionsPerIPv6Prefix(t *testing.T) {
	reg, err := emulator.New(&emulator.Options{MaxUploadSessions: 64, MaxUploadSessionsPerClient: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	post := func(addr string) int {
		r := httptest.NewRequest("POST", "http://127.0.0.1:5000/v2/r/blobs/uploads/", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		reg.ServeHTTP(w, r)
		return w.Code
	}
	opened := 0
	for a := range 8 {
		for range 8 {
			if post(fmt.Sprintf("[2001:db8::%x]:1", a+1)) == http.StatusAccepted {
				opened++
			}
		}
	}
	if opened != 8 {
		t.Errorf("8 addresses of one /64 opened %d sessions, want 8 (one client's cap)", opened)
	}
	if got := post("[2001:db8:0:1::1]:1"); got != http.StatusAccepted {
		t.Errorf("a client in another /64: %d, want 202", got)
	}
	if got := post("192.0.2.7:1"); got != http.StatusAccepted {
		t.Errorf("an IPv4 client: %d, want 202", got)
	}
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("after 10 s: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestUploadIdleSessionsExpire: a session that receives nothing for
// UploadIdleTimeout is cancelled by the sweep (which later requests run),
// without any cap being reached, and its data leaves the disk; its place
// under the caps is given back. A session that keeps receiving chunks lives on, and its
// status and resumption work as the spec says.
func TestUploadIdleSessionsExpire(t *testing.T) {
	dir := t.TempDir()
	c, _ := newClient(t, &emulator.Options{Dir: dir, UploadIdleTimeout: 400 * time.Millisecond,
		MaxUploadSessions: 2, MaxUploadSessionsPerClient: 2})
	idle := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	c.do("PATCH", idle, bytes.Repeat([]byte("x"), 4096), "Content-Range", "0-4095").want(t, http.StatusAccepted)
	busy := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	uploads := func() int {
		es, err := os.ReadDir(filepath.Join(dir, "uploads"))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if !strings.HasSuffix(e.Name(), ".json") {
				n++
			}
		}
		return n
	}
	if n := uploads(); n != 2 {
		t.Fatalf("%d session data files, want 2", n)
	}

	var data []byte
	chunk := []byte("chunk")
	for range 12 {
		busy = c.do("PATCH", busy, chunk, "Content-Range", fmt.Sprintf("%d-%d", len(data), len(data)+len(chunk)-1)).
			want(t, http.StatusAccepted).Header.Get("Location")
		data = append(data, chunk...)
		time.Sleep(100 * time.Millisecond)
	}
	// 1.2 s: the idle session went, the busy one is there.
	waitFor(t, "the idle session is still there", func() bool { return c.do("GET", idle, nil).StatusCode == http.StatusNotFound })
	if rg := c.do("GET", busy, nil).want(t, http.StatusNoContent).Header.Get("Range"); rg != fmt.Sprintf("0-%d", len(data)-1) {
		t.Errorf("the busy session's Range: %q, want 0-%d", rg, len(data)-1)
	}
	if n := uploads(); n != 1 {
		t.Errorf("%d session data files after the sweep, want 1 (the idle session's data removed)", n)
	}
	// The expired session's place is free again under both caps.
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted)
	sep := "&"
	if !strings.Contains(busy, "?") {
		sep = "?"
	}
	c.do("PUT", busy+sep+"digest="+digest.FromBytes(data).String(), nil).want(t, http.StatusCreated)
}

// TestMaxBlobSize: with MaxBlobSize, a monolithic push beyond it is
// refused (413) whether or not it says its length, and stores nothing; a
// chunk that would pass it is refused while the session keeps what it
// held, and a blob of exactly the limit completes.
func TestMaxBlobSize(t *testing.T) {
	const limit = 1000
	c, _ := newClient(t, &emulator.Options{MaxBlobSize: limit})
	big := bytes.Repeat([]byte("b"), limit+1)
	d := digest.FromBytes(big)
	r := c.do("POST", "/v2/app/blobs/uploads/?digest="+d.String(), big).want(t, http.StatusRequestEntityTooLarge)
	if r.errorCode() != "SIZE_INVALID" || !strings.Contains(string(r.body), "1000 bytes") {
		t.Errorf("oversize push: %s, want SIZE_INVALID naming the limit", r.body)
	}
	// Without a length (chunked transfer encoding).
	req, err := http.NewRequest("POST", c.base+"/v2/app/blobs/uploads/?digest="+d.String(), struct{ *bytes.Reader }{bytes.NewReader(big)})
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversize push without a length: %d, want 413", resp.StatusCode)
	}
	c.do("HEAD", "/v2/app/blobs/"+d.String(), nil).want(t, http.StatusNotFound)

	loc := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	loc = c.do("PATCH", loc, big[:600], "Content-Range", "0-599").want(t, http.StatusAccepted).Header.Get("Location")
	c.do("PATCH", loc, big[600:], "Content-Range", fmt.Sprintf("600-%d", limit)).want(t, http.StatusRequestEntityTooLarge)
	if rg := c.do("GET", loc, nil).want(t, http.StatusNoContent).Header.Get("Range"); rg != "0-599" {
		t.Errorf("the session after a refused chunk: Range %q, want 0-599", rg)
	}
	exact := big[:limit]
	c.do("PUT", loc+"&digest="+digest.FromBytes(exact).String(), exact[600:], "Content-Range", fmt.Sprintf("600-%d", limit-1)).want(t, http.StatusCreated)
}
