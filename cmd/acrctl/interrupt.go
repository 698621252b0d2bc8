package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels, so that the command stops cleanly: partial files removed, open
// upload sessions cancelled. A second signal ends the process at once,
// for a user who will not wait for that (the message says what may be
// left). stop releases the signals and maps a failure that the signal
// caused to the shell's code for it, 128 plus the signal's number (130
// for Ctrl-C, 143 for SIGTERM), so that scripts can tell an interrupt from
// a failure; a command that ends cleanly on the signal (acrctl serve)
// keeps its 0.
func interruptContext(stderr io.Writer) (ctx context.Context, stop func(code int) int) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	var (
		mu    sync.Mutex
		first os.Signal
	)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				mu.Lock()
				again := first != nil
				if !again {
					first = s
				}
				mu.Unlock()
				if again {
					fmt.Fprintln(stderr, "acrctl: stopped at once on a second signal; the cleanup the first one started (partial files, upload sessions, a server's shutdown) may be unfinished")
					os.Exit(signalExitCode(s))
				}
				cancel()
			case <-done:
				return
			}
		}
	}()
	return ctx, func(code int) int {
		signal.Stop(sigs)
		close(done)
		cancel()
		mu.Lock()
		defer mu.Unlock()
		if first != nil && code != 0 {
			return signalExitCode(first)
		}
		return code
	}
}

// signalExitCode is the shell's exit code for a process that a signal stopped.
func signalExitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}
