//go:build linux || darwin

package transport

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestRelayedBodyLowWater checks, on the one connection a sequence of
// requests shares (the kernel reports the option back), that over plain
// HTTP to this machine a request with a body from memory sets the
// low-water mark, a request marked Relayed clears it, and a request
// without a body leaves it alone; that TLS connections, HTTP/1 and HTTP/2,
// never get it; and that a caller's own transport is never touched.
func TestRelayedBodyLowWater(t *testing.T) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusCreated)
	})
	own := func(tr *http.Transport, set int) func() int {
		var conn net.Conn
		dial := tr.DialContext
		tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			if conn != nil {
				t.Fatal("a second connection was dialed; the test reads the option of the first")
			}
			c, err := dial(ctx, network, addr)
			if err == nil && set >= 0 {
				setConnLowWater(c, set)
			}
			conn = c
			return c, err
		}
		return func() int {
			raw, err := conn.(syscall.Conn).SyscallConn()
			if err != nil {
				t.Fatal(err)
			}
			got := -1
			if cerr := raw.Control(func(fd uintptr) {
				got, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
			}); cerr != nil || err != nil {
				t.Fatalf("reading TCP_NOTSENT_LOWAT: %v %v", cerr, err)
			}
			return got
		}
	}
	send := func(c *Client, ctx context.Context, u, method, body string) (proto int) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, u+"/v2/r/blobs/uploads/x", rd)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.ProtoMajor
	}
	body := strings.Repeat("x", 1<<20)

	for _, kind := range []string{"http", "https", "h2"} {
		t.Run(kind, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(handler)
			srv.EnableHTTP2 = kind == "h2"
			if kind == "http" {
				srv.Start()
			} else {
				srv.StartTLS()
			}
			defer srv.Close()
			c := newTestClient(t, nil)
			tr := c.hc.Transport.(*http.Transport)
			if kind != "http" {
				tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			}
			defer tr.CloseIdleConnections()
			mark := own(tr, -1)
			steps := []struct {
				ctx    context.Context
				method string
				body   string
				want   int
			}{
				{t.Context(), http.MethodGet, "", 0},                        // not set when dialed
				{t.Context(), http.MethodPut, body, notSentLowWater},        // set for a body from memory
				{Relayed(t.Context()), http.MethodPut, body, 0},             // cleared for a relayed body
				{t.Context(), http.MethodGet, "", 0},                        // left alone without a body
				{t.Context(), http.MethodPut, body, notSentLowWater},        // set again
				{Relayed(t.Context()), http.MethodGet, "", notSentLowWater}, // a relayed request without a body changes nothing
			}
			for i, s := range steps {
				want := s.want
				if kind != "http" {
					want = 0 // never on TLS
				}
				proto := send(c, s.ctx, srv.URL, s.method, s.body)
				wantProto := 1
				if kind == "h2" {
					wantProto = 2
				}
				if proto != wantProto {
					t.Fatalf("step %d went over HTTP/%d, want HTTP/%d", i, proto, wantProto)
				}
				if got := mark(); got != want {
					t.Fatalf("step %d (%s, %d body bytes): TCP_NOTSENT_LOWAT is %d, want %d", i, s.method, len(s.body), got, want)
				}
			}
		})
	}

	// A caller's transport keeps what its dialer set, whatever the request.
	srv := httptest.NewServer(handler)
	defer srv.Close()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	defer tr.CloseIdleConnections()
	mark := own(tr, 4096)
	c := newTestClient(t, &Options{HTTPClient: &http.Client{Transport: tr}})
	send(c, Relayed(t.Context()), srv.URL, http.MethodPut, body)
	send(c, t.Context(), srv.URL, http.MethodPut, body)
	if got := mark(); got != 4096 {
		t.Fatalf("TCP_NOTSENT_LOWAT is %d on a caller's transport's connection, want the 4096 its dialer set", got)
	}
}

// fakeConn is a connection whose addresses a test chooses; it has no socket.
type fakeConn struct {
	net.Conn
	remote net.Addr
}

func (c fakeConn) RemoteAddr() net.Addr { return c.remote }

// TestLowWaterFor checks where the low-water mark applies: plain
// connections to this machine (IPv4 and IPv6 loopback), not TLS ones and
// not connections to another machine, where the registry's
// acknowledgements are not processed on its own CPU by the client's data.
func TestLowWaterFor(t *testing.T) {
	tcp := func(ip string) net.Conn { return fakeConn{remote: &net.TCPAddr{IP: net.ParseIP(ip), Port: 443}} }
	for _, tc := range []struct {
		name    string
		conn    net.Conn
		relayed bool
		n       int
		ok      bool
	}{
		{"loopback", tcp("127.0.0.1"), false, notSentLowWater, true},
		{"loopback, relayed", tcp("127.0.0.1"), true, 0, true},
		{"IPv6 loopback", tcp("::1"), false, notSentLowWater, true},
		{"another machine", tcp("10.1.2.3"), false, 0, false},
		{"another machine, IPv6", tcp("2001:db8::1"), false, 0, false},
		{"TLS to loopback", tls.Client(tcp("127.0.0.1"), &tls.Config{}), false, 0, false},
		{"a Unix socket", fakeConn{remote: &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}}, false, 0, false},
	} {
		if n, ok := lowWaterFor(tc.conn, tc.relayed); n != tc.n || ok != tc.ok {
			t.Errorf("%s: lowWaterFor = %d, %v; want %d, %v", tc.name, n, ok, tc.n, tc.ok)
		}
	}
}
