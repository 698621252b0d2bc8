// Package faulttest holds the faulty networks and registries that the
// fault tests of the client, transfer and purge packages run against: a
// TCP proxy that cuts or stalls connections at a chosen byte, a registry
// front that loses upload sessions, one that throttles in bursts of 429
// and 503, one that lies about sizes, a server that vanishes mid-test while
// keeping its port, an in-memory transport for synctest bubbles, and a
// check that no goroutine or file descriptor outlives a test.
//
// It stands in front of any http.Handler (the emulator, in the tests) and
// imports no package of the module, so that every package's tests can use
// it without a cycle. Servers it starts listen on 127.0.0.1 and stop when
// the test ends.
package faulttest
