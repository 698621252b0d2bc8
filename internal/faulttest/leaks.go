package faulttest

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// NoLeaks runs work and fails t if goroutines or file descriptors that it
// started outlive it. Work must close what it opened, servers included,
// before it returns: cleanups registered with t run too late to count.
// Without /proc/self/fd the test is skipped.
func NoLeaks(t testing.TB, work func()) {
	t.Helper()
	baseG, baseFD := runtime.NumGoroutine(), openFDs(t)
	work()
	if g := settle(baseG); g > baseG {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines remain, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	// Two of slack, for descriptors opened lazily outside work.
	if fd := openFDs(t); fd > baseFD+2 {
		t.Fatalf("%d file descriptors open, %d before", fd, baseFD)
	}
}

// openFDs counts this process's open file descriptors.
func openFDs(t testing.TB) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd on this system")
	}
	return len(entries)
}

// settle waits, up to two seconds, for goroutines to wind down to at most
// want, and returns how many there are.
func settle(want int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > want; i++ {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}
