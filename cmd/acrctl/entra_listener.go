package main

import (
	"bufio"
	"encoding/hex"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
)

// Even an allowed loopback HOST:PORT may, when the user's own registry is
// not running, be claimed by another local user. On Linux the kernel tells
// who owns a listening socket (/proc/net/tcp and tcp6), so the helper
// refuses a port that another user listens on; elsewhere the opt-in alone
// decides.

// procNetTCP are the kernel's tables of TCP sockets; tests replace them.
var procNetTCP = []string{"/proc/net/tcp", "/proc/net/tcp6"}

// loopbackListeners returns the user ids owning the sockets that listen
// on port at a loopback or wildcard address, which a connection to a
// loopback HOST:PORT reaches. ok is false when the tables cannot be read
// (not Linux).
func loopbackListeners(port int) (uids []int, ok bool) {
	for _, name := range procNetTCP {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		ok = true
		uids = append(uids, parseListeners(f, port)...)
		f.Close()
	}
	return uids, ok
}

// parseListeners reads a /proc/net/tcp table: a header line, then per
// socket "sl local_address rem_address st ... uid ...", the local address
// as hex IP:PORT (the IP in the kernel's byte order: each 32-bit word
// little-endian), st 0A for LISTEN.
func parseListeners(r io.Reader, port int) []int {
	var uids []int
	sc := bufio.NewScanner(r)
	sc.Scan() // the header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 8 || f[3] != "0A" {
			continue
		}
		ipHex, portHex, found := strings.Cut(f[1], ":")
		p, err := strconv.ParseUint(portHex, 16, 16)
		if !found || err != nil || int(p) != port {
			continue
		}
		raw, err := hex.DecodeString(ipHex)
		if err != nil || len(raw)%4 != 0 || (len(raw) != net.IPv4len && len(raw) != net.IPv6len) {
			continue
		}
		for i := 0; i < len(raw); i += 4 {
			raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
		}
		if ip := net.IP(raw); !ip.IsLoopback() && !ip.IsUnspecified() {
			continue
		}
		if uid, err := strconv.Atoi(f[7]); err == nil {
			uids = append(uids, uid)
		}
	}
	return uids
}

// foreignListener returns the uid of another user that listens on
// hostport's port at a loopback address, or -1 when none does or it cannot
// be told.
func foreignListener(hostport string) int {
	_, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		portStr = "80" // a loopback host without a port is reached over http
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return -1
	}
	uids, _ := loopbackListeners(port)
	for _, uid := range uids {
		if uid != os.Getuid() {
			return uid
		}
	}
	return -1
}
