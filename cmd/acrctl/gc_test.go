package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
)

// TestGC: gc refuses a directory that is not a registry's (it created an
// empty registry there), removes unreferenced blobs, and removes upload
// sessions older than --upload-age, which a client that died mid-push left.
func TestGC(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "typo")
	acrctl(t, "", "gc", "--data", missing).fails(t, 1, "not the data directory", "check --data")
	if _, err := os.Stat(missing); err == nil {
		t.Error("gc created the directory it was given by mistake")
	}

	dir := t.TempDir()
	reg, err := emulator.New(&emulator.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	resp, err := http.Post(hs.URL+"/v2/app/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	req, _ := http.NewRequest(http.MethodPatch, hs.URL+loc, bytes.NewReader(make([]byte, 1000)))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("PATCH: %v %v", err, resp)
	}
	resp.Body.Close()
	hs.Close()
	reg.Close()

	r := acrctl(t, "", "gc", "--data", dir, "--upload-age", "0s", "--dry-run").ok(t)
	if !strings.Contains(r.stdout, "would remove 1 upload sessions older than 0s, 1000 bytes") {
		t.Errorf("dry run: %q", r.stdout)
	}
	if r := acrctl(t, "", "gc", "--data", dir).ok(t); !strings.Contains(r.stdout, "removed 0 upload sessions older than 24h0m0s") {
		t.Errorf("a session younger than a day went: %q", r.stdout)
	}
	r = acrctl(t, "", "gc", "--data", dir, "--upload-age", "0s").ok(t)
	if !strings.Contains(r.stdout, "removed 1 upload sessions") {
		t.Errorf("gc: %q", r.stdout)
	}
	r = acrctl(t, "", "gc", "--data", dir, "--upload-age", "0s").ok(t)
	if !strings.Contains(r.stdout, "removed 0 upload sessions") {
		t.Errorf("second gc: %q", r.stdout)
	}
}
