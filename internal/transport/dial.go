package transport

import (
	"net"
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
