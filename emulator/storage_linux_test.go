//go:build linux

package emulator_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// tmpfs mounts a file system of size bytes on a new directory and unmounts
// it when t ends; it skips t where mounting is not permitted.
func tmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a small file system (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	// Also take the last partial page.
	for _, err := f.Write(buf[:1]); err == nil; _, err = f.Write(buf[:1]) {
	}
}

// startServer serves a registry with opts; stop, which t's cleanup calls
// too, stops it and closes its store.
func startServer(t *testing.T, opts *emulator.Options) (c *client, stop func()) {
	t.Helper()
	reg, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	var once sync.Once
	stop = func() {
		once.Do(func() {
			hs.Close()
			if err := reg.Close(); err != nil {
				t.Errorf("closing the registry: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &client{t: t, base: hs.URL, hc: hs.Client()}, stop
}

// storageFailure checks that r reports storage that refuses writes: a 5xx
// (the client is not at fault) whose message names the condition.
func storageFailure(t *testing.T, what string, r response, words ...string) {
	t.Helper()
	if r.StatusCode < 500 {
		t.Errorf("%s: got %d %s, want a 5xx that says the storage refuses writes", what, r.StatusCode, r.body)
		return
	}
	for _, w := range words {
		if !strings.Contains(string(r.body), w) {
			t.Errorf("%s: the error %s does not say %q", what, r.body, w)
		}
	}
	t.Logf("%s: %d %s", what, r.StatusCode, bytes.TrimSpace(r.body))
}

// storedBefore is what a test pushes before storage fails, to check after.
type storedBefore struct {
	im   image
	blob []byte
}

func pushBefore(c *client) storedBefore {
	b := storedBefore{im: c.pushImage("app", "v1", "before"), blob: randBytes(c.t, 200<<10)}
	c.pushBlob("app", b.blob)
	return b
}

// check verifies that everything pushed before is served intact, and that
// app has exactly tags.
func (b storedBefore) check(c *client, tags ...string) {
	c.t.Helper()
	if got := c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(c.t, http.StatusOK).body; !bytes.Equal(got, b.im.manifest) {
		c.t.Errorf("app:v1 serves %d bytes that differ from the manifest pushed", len(got))
	}
	for _, d := range []digest.Digest{b.im.config, b.im.layer, digest.FromBytes(b.blob)} {
		if got := c.do("GET", "/v2/app/blobs/"+d.String(), nil).want(c.t, http.StatusOK).body; digest.FromBytes(got) != d {
			c.t.Errorf("blob %s serves content with digest %s", d, digest.FromBytes(got))
		}
	}
	got := decode[struct{ Tags []string }](c.t, c.do("GET", "/v2/app/tags/list", nil).want(c.t, http.StatusOK))
	if !slices.Equal(got.Tags, tags) {
		c.t.Errorf("app has tags %v, want %v", got.Tags, tags)
	}
}

func randBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// refusedWrites tries every kind of write while storage refuses them and
// checks that each fails clearly and leaves nothing visible. It returns an
// upload session opened before, with the bytes it holds, to resume later.
func refusedWrites(t *testing.T, c *client, words []string, sessionLoc string, sessionData []byte) {
	t.Helper()
	big := randBytes(t, 1<<20)
	bd := digest.FromBytes(big)
	storageFailure(t, "monolithic blob push", c.do("POST", "/v2/app/blobs/uploads/?digest="+bd.String(), big), words...)
	c.do("HEAD", "/v2/app/blobs/"+bd.String(), nil).want(t, http.StatusNotFound)

	// A chunk to a session opened before: refused, and the session keeps
	// its offset.
	storageFailure(t, "chunk", c.do("PATCH", sessionLoc, sessionData[1000:], "Content-Range", fmt.Sprintf("1000-%d", len(sessionData)-1)), words...)
	if rg := c.do("GET", sessionLoc, nil).want(t, http.StatusNoContent).Header.Get("Range"); rg != "0-999" {
		t.Errorf("the session holds %q after a refused chunk, want 0-999", rg)
	}

	// A new image: its manifest is refused, and no tag appears.
	m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		digest.FromString("").String() + `","size":0},"layers":[],"annotations":{"pad":"` + strings.Repeat("x", 8000) + `"}}`)
	if r := c.do("POST", "/v2/app/blobs/uploads/?digest="+digest.FromString("").String(), []byte{}); r.StatusCode != http.StatusCreated {
		storageFailure(t, "empty config blob", r, words...)
	}
	storageFailure(t, "manifest push", c.do("PUT", "/v2/app/manifests/v2", m, "Content-Type", "application/vnd.oci.image.manifest.v1+json"), words...)
	c.do("GET", "/v2/app/manifests/v2", nil, acceptAll...).want(t, http.StatusNotFound)
	c.do("GET", "/v2/app/manifests/"+digest.FromBytes(m).String(), nil, acceptAll...).want(t, http.StatusNotFound)
}

// writesWork checks that writes succeed again: the session opened before
// resumes and commits, and a new image can be pushed.
func writesWork(t *testing.T, c *client, sessionLoc string, sessionData []byte) {
	t.Helper()
	loc := c.do("PATCH", sessionLoc, sessionData[1000:], "Content-Range", fmt.Sprintf("1000-%d", len(sessionData)-1)).want(t, http.StatusAccepted).Header.Get("Location")
	c.do("PUT", loc+"&digest="+digest.FromBytes(sessionData).String(), nil).want(t, http.StatusCreated)
	c.do("GET", "/v2/app/blobs/"+digest.FromBytes(sessionData).String(), nil).want(t, http.StatusOK)
	c.pushImage("app", "v2", "after")
}

// openSession opens an upload session in app holding 1000 bytes of data.
func openSession(t *testing.T, c *client, data []byte) string {
	t.Helper()
	loc := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	return c.do("PATCH", loc, data[:1000], "Content-Range", "0-999").want(t, http.StatusAccepted).Header.Get("Location")
}

// TestServerDiskFull runs the registry on a small file system and fills
// it: blob pushes, chunks and manifest pushes fail with a 5xx that says
// the storage is full, nothing partial becomes visible, and everything
// stored before is served intact, also after a restart. Once space is
// freed, the session opened before resumes and pushes succeed again.
func TestServerDiskFull(t *testing.T) {
	fs := tmpfs(t, 8<<20)
	opts := &emulator.Options{Dir: filepath.Join(fs, "data")}
	c, stop := startServer(t, opts)
	before := pushBefore(c)
	sessionData := randBytes(t, 300<<10)
	sessionLoc := openSession(t, c, sessionData)

	filler := filepath.Join(fs, "filler")
	fill(t, filler)
	refusedWrites(t, c, []string{"full", "no space left on device"}, sessionLoc, sessionData)
	before.check(c, "v1")

	// A restart while full loses nothing.
	stop()
	c, _ = startServer(t, opts)
	before.check(c, "v1")

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	writesWork(t, c, sessionLoc, sessionData)
	before.check(c, "v1", "v2")
}

// TestServerReadOnly makes the registry's data directory read-only. While
// it runs (a read-only bind mount over the directory: the kernel refuses
// to remount a file system read-only while the metadata database is open
// for writing, so files the registry already holds open stay writable),
// blob and manifest pushes fail with a 5xx that says so, and nothing
// partial becomes visible. Restarted on the whole file system remounted
// read-only (mount -o remount,ro), the registry refuses to start with an
// error naming the directory. Writable again, it serves everything stored
// before and accepts pushes.
func TestServerReadOnly(t *testing.T) {
	fs := tmpfs(t, 32<<20)
	dir := filepath.Join(fs, "data")
	opts := &emulator.Options{Dir: dir}
	c, stop := startServer(t, opts)
	before := pushBefore(c)
	sessionData := randBytes(t, 300<<10)
	sessionLoc := openSession(t, c, sessionData)

	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount: %v", err)
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		unix.Unmount(dir, unix.MNT_DETACH)
		t.Skipf("cannot remount read-only: %v", err)
	}
	refusedWrites(t, c, []string{"read-only"}, sessionLoc, sessionData)
	before.check(c, "v1")
	if err := unix.Unmount(dir, 0); err != nil {
		t.Fatal(err)
	}

	stop()
	if err := unix.Mount("", fs, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		t.Fatalf("mount -o remount,ro: %v", err)
	}
	if reg, err := emulator.New(opts); err == nil {
		reg.Close()
		t.Fatal("the registry started on a read-only data directory")
	} else if !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), dir) {
		t.Errorf("starting on a read-only directory: got %q, want an error that names %s and says read-only", err, dir)
	} else {
		t.Logf("starting on a read-only directory: %v", err)
	}
	if err := unix.Mount("", fs, "", unix.MS_REMOUNT, ""); err != nil {
		t.Fatalf("mount -o remount,rw: %v", err)
	}
	c, _ = startServer(t, opts)
	before.check(c, "v1")
	writesWork(t, c, sessionLoc, sessionData)
	before.check(c, "v1", "v2")
}
