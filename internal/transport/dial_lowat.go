//go:build linux || darwin

package transport

import "golang.org/x/sys/unix"

// setNotSentLowWater sets TCP_NOTSENT_LOWAT on the socket fd.
func setNotSentLowWater(fd uintptr, n int) {
	_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, n)
}
