//go:build linux

package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// makeReadOnly makes dir read-only for this process: by permissions when it
// is not root, else by a read-only bind mount, which needs CAP_SYS_ADMIN.
// It skips the test when neither works.
func makeReadOnly(t *testing.T, dir string) {
	t.Helper()
	if os.Geteuid() != 0 {
		var paths []string
		filepath.WalkDir(dir, func(path string, _ os.DirEntry, err error) error {
			if err == nil {
				paths = append(paths, path)
			}
			return err
		})
		for _, p := range paths {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			mode := fi.Mode().Perm()
			if err := os.Chmod(p, mode&^0o222); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(p, mode) })
		}
		return
	}
	if err := unix.Mount(dir, dir, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("running as root without permission to bind-mount: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		t.Skipf("cannot remount read-only: %v", err)
	}
}

// smallFS returns the root of a fresh tmpfs of size bytes, or skips the
// test when mounting one is not allowed.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0700", size)); err != nil {
		t.Skipf("cannot mount a small file system (needs CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	return dir
}

// recordFiles returns the record file of upload session id in the store at
// dir: none when its data file holds the record as an extended attribute
// (checked here), the .json file beside it when the file system has none.
func recordFiles(t *testing.T, dir, id string) []string {
	t.Helper()
	n, err := unix.Getxattr(filepath.Join(dir, "uploads", id), "user.acrgo.upload", nil)
	if err == nil && n > 0 {
		return nil
	}
	if err != nil && err != unix.ENOTSUP && err != unix.ENODATA {
		t.Fatalf("reading the session's record attribute: %v", err)
	}
	return []string{"uploads/" + id + ".json"}
}
