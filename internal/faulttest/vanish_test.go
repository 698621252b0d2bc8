package faulttest

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

// TestVanish: a vanishing server answers until it vanishes; from then on
// requests on kept-alive connections and on new ones get no answer but a
// reset, the request under way when a handler made it vanish too, and its
// port stays taken, so no other server can answer in its place.
func TestVanish(t *testing.T) {
	var s *VanishingServer
	s = NewVanishingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/vanish" {
			s.Vanish()
		}
		w.Write([]byte("here"))
	}))
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	kept := &http.Client{Transport: tr}
	if got, err := get(kept, s.URL); err != nil || string(got) != "here" {
		t.Fatalf("before vanishing: got %q, %v; want here", got, err)
	}

	for _, c := range []struct {
		name string
		hc   *http.Client
		path string
	}{
		{"the request that made the server vanish", kept, "/vanish"},
		{"a request after vanishing", kept, "/"},
		{"a request on a new connection after vanishing", &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}, "/"},
	} {
		got, err := get(c.hc, s.URL+c.path)
		if err == nil {
			t.Errorf("%s: got %q, want no answer", c.name, got)
		} else if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
			t.Errorf("%s: %v, want the connection reset", c.name, err)
		}
	}
	if ln, err := net.Listen("tcp", strings.TrimPrefix(s.URL, "http://")); err == nil {
		ln.Close()
		t.Errorf("another server could listen on %s after the server vanished, want the port kept", s.URL)
	}
}
