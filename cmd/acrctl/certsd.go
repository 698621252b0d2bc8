package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// certsDirs are the directories searched, in order, for a registry's own
// certificate authorities: DIR/HOST[:PORT]/*.crt, the layout docker
// (/etc/docker/certs.d) and podman and the other containers/image tools
// (/etc/containers/certs.d, and per user $XDG_CONFIG_HOME/containers/certs.d)
// read. Tests replace it.
var certsDirs = func() []string {
	var dirs []string
	if c, err := os.UserConfigDir(); err == nil {
		dirs = append(dirs, filepath.Join(c, "containers", "certs.d"))
	}
	return append(dirs, "/etc/containers/certs.d", "/etc/docker/certs.d")
}

// userCertsDir is the user's own certs.d directory, for advice.
func userCertsDir() string {
	if dirs := certsDirs(); len(dirs) > 0 {
		return dirs[0]
	}
	return "~/.config/containers/certs.d"
}

// hostCertsDir returns the first certs.d directory of host that holds a
// *.crt file, or "" when none does.
func hostCertsDir(host string) string {
	if strings.ContainsAny(host, `/\`) || host == "." || host == ".." {
		return ""
	}
	for _, d := range certsDirs() {
		dir := filepath.Join(d, host)
		if len(crtFiles(dir)) > 0 {
			return dir
		}
	}
	return ""
}

// crtFiles returns the *.crt files in dir, sorted. It reads the directory
// rather than globbing: a host such as [::1]:5000 holds glob brackets.
func crtFiles(dir string) []string {
	entries, _ := os.ReadDir(dir) // sorted by name
	var crts []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".crt") {
			crts = append(crts, filepath.Join(dir, e.Name()))
		}
	}
	return crts
}

// certsDirConfig returns a TLS configuration that trusts the system's
// roots and the certificates of every *.crt file in dir.
func certsDirConfig(dir string) (*tls.Config, error) {
	pool, err := rootsWith(crtFiles(dir)...)
	if err != nil {
		return nil, fmt.Errorf("%w; fix: put the registry's CA certificate there in PEM, or remove the file", err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}, nil
}

// rootsWith returns the system's roots with the PEM certificates of files
// added. Its errors begin with the file's name.
func rootsWith(files ...string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err // the path comes first already
			}
			return nil, fmt.Errorf("%s: cannot be read: %w", f, err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f)
		}
	}
	return pool, nil
}
