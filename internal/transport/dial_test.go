//go:build linux || darwin

package transport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDefaultTransportLowWater checks that connections of the default
// transport keep at most notSentLowWater unsent bytes queued: the kernel
// reports the option back on the connection a request went out on.
func TestDefaultTransportLowWater(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	tr := defaultTransport()
	defer tr.CloseIdleConnections()
	got := -1
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		raw, err := conn.(syscall.Conn).SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		if cerr := raw.Control(func(fd uintptr) {
			got, err = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		}); cerr != nil || err != nil {
			t.Fatalf("reading TCP_NOTSENT_LOWAT: %v %v", cerr, err)
		}
		return conn, nil
	}
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != notSentLowWater {
		t.Fatalf("TCP_NOTSENT_LOWAT is %d on the transport's connection, want %d", got, notSentLowWater)
	}
}

// TestRelayedBodyLowWater checks that a request marked Relayed goes out on
// a connection without the low-water mark, that the next request with a
// body from elsewhere sets it again, that a request without a body leaves
// it alone, over plain HTTP and TLS; that an HTTP/2 connection, shared by
// concurrent requests, keeps the mark it was dialed with; and that a
// caller's own transport is never touched. The kernel reports the option
// back on the one connection all requests share.
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
				{t.Context(), http.MethodGet, "", notSentLowWater},          // as dialed
				{Relayed(t.Context()), http.MethodPut, body, 0},             // cleared for a relayed body
				{t.Context(), http.MethodGet, "", 0},                        // left alone without a body
				{t.Context(), http.MethodPut, body, notSentLowWater},        // set again for a body from memory
				{Relayed(t.Context()), http.MethodGet, "", notSentLowWater}, // a relayed request without a body changes nothing
			}
			for i, s := range steps {
				want := s.want
				if kind == "h2" {
					want = notSentLowWater
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
