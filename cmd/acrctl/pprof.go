//go:build pprof

package main

import (
	"fmt"
	"net"
	"net/http"
	_ "net/http/pprof" // registers /debug/pprof on http.DefaultServeMux
	"os"
)

// A binary built with -tags pprof serves net/http/pprof on the loopback
// address in ACRCTL_PPROF_ADDR (127.0.0.1:6060, say), for profiling the
// registry under load (bench/run.sh W6). Release builds have no such port.
func init() {
	addr := os.Getenv("ACRCTL_PPROF_ADDR")
	if addr == "" {
		return
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil || !net.ParseIP(host).IsLoopback() {
		fmt.Fprintf(os.Stderr, "acrctl: ACRCTL_PPROF_ADDR=%q: want a loopback HOST:PORT such as 127.0.0.1:6060\n", addr)
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "acrctl: pprof: %v\n", err)
		os.Exit(2)
	}
	go http.Serve(ln, nil)
}
