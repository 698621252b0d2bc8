package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptrace"
	"syscall"
	"time"
)

// notSentLowWater is the most a connection keeps queued in the kernel that
// it has not yet sent (TCP_NOTSENT_LOWAT, where the system has it): a write
// waits until the queue is below it instead of piling megabytes behind a
// closed window.
//
// Without it an upload fills its socket's queue as fast as the disk gives,
// and each window the registry opens is filled from that queue by the
// kernel in the registry's own context, on the registry's CPU: measured by
// bench/pushcpu.sh (a 1 GiB push, 4 alternating runs each, this machine's
// loopback), the distribution registry spent 1.54-1.91 s of CPU per push
// without it and 1.42-1.48 s with 16 KiB, for 1.90-2.00 s of wall time
// instead of 2.04-2.41 s; `acrctl serve --data` 1.46-1.57 s against
// 1.31-1.32 s. 16 KiB did better than 64 and 128 KiB there. It bounds
// only data not yet sent; what is in flight on a long path is the
// congestion window's (not measured here over a high-latency link).
//
// A body relayed from another connection (a blob copied between
// registries) is paced by that connection already: there the mark saves
// the registry nothing and costs the client CPU (more acknowledgements
// handled per byte), so such a request clears it on its connection (see
// Relayed).
const notSentLowWater = 16 << 10

// dialer returns the dialer of the default transport.
func dialer() *net.Dialer {
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second,
		Control: func(network, address string, c syscall.RawConn) error {
			if network != "tcp" && network != "tcp4" && network != "tcp6" {
				return nil
			}
			// Best effort: a system without the option sends as before.
			return c.Control(func(fd uintptr) { setNotSentLowWater(fd, notSentLowWater) })
		}}
}

// relayedKey marks the context of a request whose body is relayed.
type relayedKey struct{}

// Relayed returns ctx marked for a request whose body is relayed from
// another connection, such as a blob streamed from one registry to
// another, rather than read from a file or memory. Sent by a Client on
// its default transport over an HTTP/1 connection, such a request clears
// the connection's low-water mark (see notSentLowWater), back to the
// system's default (net.ipv4.tcp_notsent_lowat on Linux, unlimited unless
// set); every request with a body not marked so sets the mark again. An
// HTTP/2 connection, shared by concurrent requests, and a connection
// whose socket cannot be reached (a TLS connection nested in another, as
// through an HTTPS proxy) keep the mark they were dialed with.
func Relayed(ctx context.Context) context.Context {
	return context.WithValue(ctx, relayedKey{}, true)
}

// withLowWater returns r with a trace that sets, on the connection r is
// given, the low-water mark its body wants: the system's default when r's
// context is Relayed, notSentLowWater otherwise. An HTTP/2 connection,
// which carries other requests at the same time, keeps the mark it was
// dialed with.
func withLowWater(r *http.Request) *http.Request {
	n := notSentLowWater
	if relayed, _ := r.Context().Value(relayedKey{}).(bool); relayed {
		n = 0 // the system's default
	}
	return r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { setConnLowWater(info.Conn, n) },
	}))
}

// setConnLowWater sets the low-water mark of conn's socket to n bytes (0:
// the system's default), unless conn is an HTTP/2 connection or has no
// socket.
func setConnLowWater(conn net.Conn, n int) {
	if tc, ok := conn.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return
		}
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	if raw, err := sc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { setNotSentLowWater(fd, n) })
	}
}
