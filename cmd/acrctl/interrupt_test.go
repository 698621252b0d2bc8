//go:build linux

package main

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// TestInterrupt sends a built acrctl real signals mid-transfer: an
// interrupted command exits with the shell's code for the signal (130 for
// SIGINT, 143 for SIGTERM) and says it was interrupted, leaving no partial
// file; a second signal ends it at once, even while it waits for upload
// sessions to be cancelled; acrctl serve stops cleanly with 0.
func TestInterrupt(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	bin := buildAcrctl(t)
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	// The registry takes in uploads and blob downloads and then stalls
	// them, and the cancel of an upload session as well, telling the test
	// each time one arrives.
	arrived := make(chan string, 16)
	release := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/"):
			arrived <- "upload"
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/blobs/uploads/"):
			arrived <- "cancel"
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:"):
			w.Header().Set("Content-Length", "1048576")
			w.WriteHeader(http.StatusOK)
			w.Write(make([]byte, 64<<10))
			w.(http.Flusher).Flush()
			arrived <- "download"
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer hs.Close()
	// Before Close, which waits for the stalled handlers.
	defer close(release)
	host := strings.TrimPrefix(hs.URL, "http://")
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	data := make([]byte, 4<<20)
	rand.Read(data)
	if err := os.WriteFile(big, data, 0o644); err != nil {
		t.Fatal(err)
	}

	// start runs acrctl with args and waits for the registry to see the
	// request named want.
	start := func(t *testing.T, want string, args ...string) (*exec.Cmd, *bytes.Buffer) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitFor(t, arrived, want, &stderr)
		return cmd, &stderr
	}
	// exit waits for cmd and returns its exit code, failing the test if it
	// takes longer than within.
	exit := func(t *testing.T, cmd *exec.Cmd, within time.Duration) int {
		t.Helper()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
			return cmd.ProcessState.ExitCode()
		case <-time.After(within):
			t.Fatalf("%s still running %s after the signal", strings.Join(cmd.Args, " "), within)
			return 0
		}
	}

	t.Run("SIGINT during a push exits 130", func(t *testing.T) {
		cmd, stderr := start(t, "upload", "push", host+"/app:v1", big, "--no-progress")
		cmd.Process.Signal(syscall.SIGINT)
		// The push cancels its upload session; let that go through.
		waitFor(t, arrived, "cancel", stderr)
		if code := exit(t, cmd, 10*time.Second); code != 130 {
			t.Errorf("exit code %d, want 130 (stderr %q)", code, stderr)
		}
		if s := stderr.String(); !strings.Contains(s, "interrupted") || !strings.Contains(s, "was not tagged") {
			t.Errorf("stderr %q, want it to say the push was interrupted and nothing tagged", s)
		}
	})

	t.Run("SIGTERM during blob get exits 143 and leaves no partial file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "blob.bin")
		d := digest.FromString("one mebibyte that never comes")
		cmd, stderr := start(t, "download", "blob", "get", host+"/app@"+d.String(), "--output-file", out)
		cmd.Process.Signal(syscall.SIGTERM)
		if code := exit(t, cmd, 10*time.Second); code != 143 {
			t.Errorf("exit code %d, want 143 (stderr %q)", code, stderr)
		}
		if !strings.Contains(stderr.String(), "interrupted") {
			t.Errorf("stderr %q, want it to say the download was interrupted", stderr)
		}
		if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
			t.Errorf("the output directory holds %v after the interrupted download, want nothing", entries)
		}
	})

	t.Run("a second SIGINT stops at once", func(t *testing.T) {
		cmd, stderr := start(t, "upload", "push", host+"/app:v2", big, "--no-progress")
		cmd.Process.Signal(syscall.SIGINT)
		// acrctl now waits (up to 3 s) for the cancel of the upload
		// session, which this registry stalls: the user presses Ctrl-C again.
		waitFor(t, arrived, "cancel", stderr)
		cmd.Process.Signal(syscall.SIGINT)
		if code := exit(t, cmd, 10*time.Second); code != 130 {
			t.Errorf("exit code %d, want 130 (stderr %q)", code, stderr)
		}
		if s := stderr.String(); !strings.Contains(s, "stopped at once on a second signal") {
			t.Errorf("stderr %q, want it to say the second signal stopped acrctl at once", s)
		}
	})

	t.Run("serve stops cleanly on SIGINT with 0", func(t *testing.T) {
		cmd, _ := startServe(t, bin, "--memory")
		cmd.Process.Signal(syscall.SIGINT)
		if code := exit(t, cmd, 10*time.Second); code != 0 {
			t.Errorf("acrctl serve: exit code %d after SIGINT, want 0", code)
		}
	})
}

// TestInterruptAtPasswordPrompt: a signal at login's password prompt,
// where the terminal's echo is off and the read does not watch for
// interrupts, ends acrctl at once with 130 and the echo back on (it was
// swallowed, and a second signal left the terminal without echo).
func TestInterruptAtPasswordPrompt(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	bin := buildAcrctl(t)
	ptmx, tty := openPTY(t)
	cmd := exec.Command(bin, "login", "127.0.0.1:1", "-u", "admin")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	seen := make(chan string, 1)
	go func() {
		var got []byte
		buf := make([]byte, 256)
		for {
			n, err := ptmx.Read(buf)
			got = append(got, buf[:n]...)
			if strings.Contains(string(got), "Password: ") || err != nil {
				seen <- string(got)
				return
			}
		}
	}()
	select {
	case got := <-seen:
		if !strings.Contains(got, "Password: ") {
			t.Fatalf("no password prompt: %q", got)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no password prompt in 30 s")
	}
	// The prompt is up once echo is off.
	deadline := time.Now().Add(10 * time.Second)
	for echoOn(t, tty) {
		if time.Now().After(deadline) {
			t.Fatal("the password prompt did not turn echo off")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("acrctl login still waits at the prompt 10 s after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130", code)
	}
	if !echoOn(t, tty) {
		t.Error("the terminal's echo is off after the interrupted password prompt")
	}
}

// echoOn reports whether the terminal echoes what is typed.
func echoOn(t *testing.T, tty *os.File) bool {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return st.Lflag&unix.ECHO != 0
}

// waitFor waits for the registry to report the request named want.
func waitFor(t *testing.T, arrived <-chan string, want string, stderr *bytes.Buffer) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case got := <-arrived:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("the registry saw no %s request in 30 s (acrctl's stderr: %q)", want, stderr)
		}
	}
}
