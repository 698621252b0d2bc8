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
	// Two descriptors of slack, for those opened lazily outside work.
	g, fd := settle(t, baseG, baseFD+2)
	if g > baseG {
		buf := make([]byte, 1<<16)
		t.Fatalf("%d goroutines remain, %d before:\n%s", g, baseG, buf[:runtime.Stack(buf, true)])
	}
	if fd > baseFD+2 {
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

// settleTime bounds the wait for goroutines and descriptors to wind down.
// It is generous: on a loaded machine (a race suite beside other go test
// processes on two cores) goroutines that are done may not run for
// seconds, and only a real leak waits it out.
const settleTime = 15 * time.Second

// settle waits, up to settleTime, until at most wantG goroutines and
// wantFD file descriptors remain, and returns how many there are.
func settle(t testing.TB, wantG, wantFD int) (g, fd int) {
	deadline := time.Now().Add(settleTime)
	for {
		g, fd = runtime.NumGoroutine(), openFDs(t)
		if g <= wantG && fd <= wantFD || time.Now().After(deadline) {
			return g, fd
		}
		time.Sleep(20 * time.Millisecond)
	}
}
