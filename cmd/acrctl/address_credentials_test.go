package main

import (
	"strings"
	"testing"
)

// TestAddressWithPasswordIsRefusedWithoutEchoingIt checks that a registry
// address carrying USER:PASSWORD@ is a usage error that names the fix and
// never prints the password, whichever command and form carries it.
func TestAddressWithPasswordIsRefusedWithoutEchoingIt(t *testing.T) {
	const password = "S3cretPassw0rd"
	cfg := t.TempDir() + "/config.json"
	for _, args := range [][]string{
		{"repo", "list", "https://admin:" + password + "@127.0.0.1:1"},
		{"repo", "list", "admin:" + password + "@127.0.0.1:1"},
		{"tag", "list", "admin:" + password + "@127.0.0.1:1/app"},
		{"manifest", "get", "admin:" + password + "@127.0.0.1:1/app:v1"},
		{"manifest", "get", "https://admin:" + password + "@127.0.0.1:1/app@sha256:" + strings.Repeat("a", 64)},
	} {
		r := acrctl(t, "", append(args, "--registry-config", cfg)...)
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Errorf("acrctl %s: the password was printed: stdout %q stderr %q", strings.Join(args, " "), r.stdout, r.stderr)
		}
		r.fails(t, 2, "--password-stdin", "acrctl login")
	}
}
