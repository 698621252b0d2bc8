package main

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/acrgo/acr"
)

// TestServeSecretsFromStdin starts acrctl serve with a user's password and
// an Entra ID token on stdin: both sign in, and neither shows in the
// process's command line, which every local user can read.
func TestServeSecretsFromStdin(t *testing.T) {
	const adminPass, entra = "admin-password-from-stdin", "entra-token-from-stdin"
	bin := buildAcrctl(t)
	cmd := exec.Command(bin, "serve", "--memory", "--addr", "127.0.0.1:0",
		"--user", "admin", "--user", "ci", "--aad-token", "-", "--password-stdin")
	cmd.Stdin = strings.NewReader(adminPass + "\r\nci-password\n" + entra + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var host string
	sc := bufio.NewScanner(stdout)
	for host == "" && sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "listening on http://"); ok {
			host = u
		}
	}
	if host == "" {
		cmd.Wait()
		t.Fatalf("serve exited before listening: %s", stderr.String())
	}
	go io.Copy(io.Discard, stdout)

	for name, cred := range map[string]acr.Credential{
		"admin": acr.BasicCredential("admin", adminPass), "ci": acr.BasicCredential("ci", "ci-password"),
		"Entra ID": acr.TokenCredential(staticEntra(entra)),
	} {
		c, err := acr.NewClient(host, cred, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.UploadBlob(t.Context(), "app", strings.NewReader("hello"), nil); err != nil {
			t.Errorf("%s, secret from stdin: %v", name, err)
		}
	}
	c, _ := acr.NewClient(host, acr.BasicCredential("admin", "-"), nil)
	if err := c.Ping(t.Context()); err == nil {
		t.Error(`the password "-" signs in`)
	}
	if runtime.GOOS == "linux" {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cmdline")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(adminPass)) || bytes.Contains(b, []byte(entra)) || bytes.Contains(b, []byte("ci-password")) {
			t.Errorf("the command line shows a secret: %q", b)
		}
	}
	// stderr is read once the server stopped and its writes with it.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v", err)
	}
	if strings.Contains(stderr.String(), "warning") {
		t.Errorf("stderr %q: want no warning when every secret came from stdin", stderr.String())
	}
}

// TestServeSecretsUsage: the secrets' flags refuse what does not add up,
// before anything starts, and keep the old NAME:PASSWORD form working.
func TestServeSecretsUsage(t *testing.T) {
	for _, tc := range []struct {
		stdin string
		args  []string
		want  []string
	}{
		{"", []string{"--user", "admin"}, []string{"--user admin gives no password", "--password-stdin", "admin:PASSWORD"}},
		{"", []string{"--aad-token", "-"}, []string{"--aad-token - reads the token from stdin", "--password-stdin"}},
		{"x\n", []string{"--password-stdin"}, []string{"--password-stdin reads the passwords", "there is none"}},
		{"x\n", []string{"--user", "admin:s3cret", "--password-stdin"}, []string{"there is none"}},
		{"one\n", []string{"--user", "a", "--user", "b", "--password-stdin"}, []string{"stdin holds 1 lines, want 2"}},
		{"", []string{"--user", "a", "--password-stdin"}, []string{"stdin holds 0 lines, want 1"}},
		{"p\n\n", []string{"--user", "a", "--aad-token", "-", "--password-stdin"}, []string{"line 2 of stdin is empty"}},
		{"", []string{"--user", "admin:"}, []string{"the password is empty"}},
		{"", []string{"--user", ":pw"}, []string{"non-empty name"}},
		{"", []string{"--aad-token", ""}, []string{"--aad-token is empty"}},
	} {
		args := append([]string{"serve", "--memory", "--addr", "127.0.0.1:0"}, tc.args...)
		acrctl(t, tc.stdin, args...).fails(t, 2, tc.want...)
	}
	// The command line form still works, with a warning.
	users, tokens, visible, err := serveSecrets(serveFlags{users: []string{"admin:s3:cret", "ci"}, aadTokens: []string{"tok", "-"}, passwordStdin: true},
		strings.NewReader("ci-pass\nstdin-tok"))
	if err != nil || !visible || len(users) != 2 || users["admin"] != "s3:cret" || users["ci"] != "ci-pass" ||
		len(tokens) != 2 || tokens[0] != "tok" || tokens[1] != "stdin-tok" {
		t.Errorf("got %v %q %t %v; want admin s3:cret, ci ci-pass, tokens tok and stdin-tok, visible", users, tokens, visible, err)
	}
}
