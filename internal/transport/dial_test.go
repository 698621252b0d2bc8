//go:build linux || darwin

package transport

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
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
