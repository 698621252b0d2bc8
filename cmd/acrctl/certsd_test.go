package main

import (
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

// TestCertsDir: a registry's certificate in a certs.d directory
// (DIR/HOST:PORT/ca.crt, as docker and podman read them) is trusted
// without flags, and makes a loopback host use https; so a copy between a
// TLS loopback registry and a plain one needs no flags and no layout.
// Flags win over it, and a certificate there that is not the signer, or
// not PEM, or a plain registry with one, each say which file to fix.
func TestCertsDir(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	user, system := t.TempDir(), t.TempDir()
	old := certsDirs
	certsDirs = func() []string { return []string{user, system} }
	t.Cleanup(func() { certsDirs = old })

	tlsSrv := acrtest.NewTLSServer(t, nil)
	tlsSrv.PushImage(t, "app", "v1")
	plain := acrtest.NewServer(t, nil)
	put := func(root, host, name string, data []byte) string {
		t.Helper()
		dir := filepath.Join(root, host)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.HTTP.Certificate().Raw})

	// Without a certificate there, the loopback host gets plain http.
	acrctl(t, "", "repo", "list", tlsSrv.Host).fails(t, 1, "speaks https", "put the certificate in "+filepath.Join(user, tlsSrv.Host, "ca.crt"))
	put(system, tlsSrv.Host, "ca.crt", caPEM)
	if got := acrctl(t, "", "repo", "list", tlsSrv.Host).ok(t).stdout; got != "app\n" {
		t.Fatalf("repo list = %q, want app", got)
	}
	acrctl(t, "", "copy", tlsSrv.Host+"/app:v1", plain.Host+"/app:v1").ok(t)
	acrctl(t, "", "manifest", "exists", plain.Host+"/app:v1").ok(t)
	acrctl(t, "", "repo", "list", tlsSrv.Host, "--plain-http").fails(t, 1, "--plain-http asks for plain http", "drop --plain-http")

	// The first directory with a .crt file for the host is the one read.
	other, _, err := emulator.SelfSignedCertificate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	otherPEM, err := os.ReadFile(other)
	if err != nil {
		t.Fatal(err)
	}
	userDir := put(user, tlsSrv.Host, "ca.crt", otherPEM)
	acrctl(t, "", "repo", "list", tlsSrv.Host).fails(t, 1, "TLS certificate of "+tlsSrv.Host+" is not trusted",
		"the .crt files in "+userDir+" do not hold the certificate that signed it")
	acrctl(t, "", "repo", "list", tlsSrv.Host, "--insecure").ok(t) // a flag wins over the directory
	put(user, tlsSrv.Host, "ca.crt", []byte("not a certificate"))
	acrctl(t, "", "repo", "list", tlsSrv.Host).fails(t, 1, filepath.Join(userDir, "ca.crt")+" holds no PEM certificate")
	os.RemoveAll(userDir)

	// A certificate for a registry that speaks plain http.
	plainDir := put(user, plain.Host, "ca.crt", caPEM)
	acrctl(t, "", "repo", "list", plain.Host).fails(t, 1, plain.Host+" speaks plain http, and the certificate in "+plainDir+" asks for https",
		"pass --plain-http, or remove that directory")
	acrctl(t, "", "repo", "list", plain.Host, "--plain-http").ok(t)
}

// TestCertsDirIPv6Host: the directory of an IPv6 loopback host, whose
// name holds brackets, is found (a glob would read them as a class).
func TestCertsDirIPv6Host(t *testing.T) {
	root := t.TempDir()
	old := certsDirs
	certsDirs = func() []string { return []string{root} }
	t.Cleanup(func() { certsDirs = old })
	dir := filepath.Join(root, "[::1]:5000")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := hostCertsDir("[::1]:5000"); got != "" {
		t.Fatalf("hostCertsDir of an empty directory = %q, want none", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := hostCertsDir("[::1]:5000"); got != dir {
		t.Fatalf("hostCertsDir([::1]:5000) = %q, want %q", got, dir)
	}
}
