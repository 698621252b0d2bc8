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
// It is set per request with a body, on plain connections to this machine
// (see lowWaterFor). Without it an upload fills its socket's queue as fast
// as the disk gives,
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
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
}

// relayedKey marks the context of a request whose body is relayed.
type relayedKey struct{}

// Relayed returns ctx marked for a request whose body is relayed from
// another connection, such as a blob streamed from one registry to
// another, rather than read from a file or memory. Sent by a Client on its
// default transport, such a request clears the low-water mark of its
// connection (see notSentLowWater), back to the system's default
// (net.ipv4.tcp_notsent_lowat on Linux, unlimited unless set), where a
// body from a file or memory sets it; only plain connections to this
// machine carry the mark (see lowWaterFor).
func Relayed(ctx context.Context) context.Context {
	return context.WithValue(ctx, relayedKey{}, true)
}

// withLowWater returns r with a trace that sets, on the connection r is
// given, the low-water mark its body wants (see lowWaterFor).
func withLowWater(r *http.Request) *http.Request {
	relayed, _ := r.Context().Value(relayedKey{}).(bool)
	return r.WithContext(httptrace.WithClientTrace(r.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			if n, ok := lowWaterFor(info.Conn, relayed); ok {
				setConnLowWater(info.Conn, n)
			}
		},
	}))
}

// lowWaterFor returns the low-water mark a request body wants on conn:
// notSentLowWater for a body from a file or memory, 0 (the system's
// default) for a relayed one; ok is false where the mark is left alone,
// on a TLS connection and on one whose peer is not on this machine.
//
// The mark saves CPU only where the registry's acknowledgements are
// processed in the registry's own context, which is loopback; over TLS it
// saves the registry nothing and costs the client a wakeup per record it
// writes (bench/RESULTS.md, "The low-water mark off TLS connections": a
// 1 GiB push over TLS to `acrctl serve --memory` took 2.24 s and 1.29 s
// of client CPU with it, 1.96 s and 1.02 s without, the registry's CPU
// the same). Over a network the mechanism it relies on does not apply (the
// acknowledgements are handled on the sender's side), so connections to
// other machines are left at the system's default too; not measured over
// such a link.
func lowWaterFor(conn net.Conn, relayed bool) (n int, ok bool) {
	if _, isTLS := conn.(*tls.Conn); isTLS {
		return 0, false
	}
	a, isTCP := conn.RemoteAddr().(*net.TCPAddr)
	if !isTCP || !a.IP.IsLoopback() {
		return 0, false
	}
	if relayed {
		return 0, true
	}
	return notSentLowWater, true
}

// setConnLowWater sets the low-water mark of conn's socket to n bytes (0:
// the system's default), where conn has a socket.
func setConnLowWater(conn net.Conn, n int) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	if raw, err := sc.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { setNotSentLowWater(fd, n) })
	}
}
