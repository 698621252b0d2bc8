package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/term"
)

// interruptContext returns a context that the first SIGINT or SIGTERM
// cancels, so that the command stops cleanly: partial files removed, open
// upload sessions cancelled. A second signal ends the process at once,
// for a user who will not wait for that (the message says what may be
// left). At a prompt (beginPrompt) the first signal ends the process at
// once, after restoring the terminal: nothing is under way, and a read of
// the terminal does not watch ctx. stop releases the signals and maps a failure that the signal
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
				if p := prompting.Load(); p != nil {
					p.end()
					fmt.Fprintln(stderr)
					fmt.Fprintln(stderr, "acrctl: interrupted")
					os.Exit(signalExitCode(s))
				}
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

// prompting is the prompt acrctl waits at for the user's answer, if any.
var prompting atomic.Pointer[prompt]

// prompt is a question on the terminal; restore puts the terminal back as
// it was before the question (echo on after a password), when set.
type prompt struct {
	once    sync.Once
	restore func()
}

func (p *prompt) end() {
	p.once.Do(func() {
		if p.restore != nil {
			p.restore()
		}
	})
}

// beginPrompt marks the start of a prompt read from the terminal fd (-1
// when the read leaves the terminal's mode alone), so that an interrupt
// ends acrctl at once with the terminal restored; the returned func marks
// its end.
func beginPrompt(fd int) (end func()) {
	p := &prompt{}
	if fd >= 0 {
		if old, err := term.GetState(fd); err == nil {
			p.restore = func() { term.Restore(fd, old) }
		}
	}
	prompting.Store(p)
	return func() { prompting.CompareAndSwap(p, nil) }
}
