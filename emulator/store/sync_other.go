//go:build !linux

package store

import (
	"errors"
	"os"
	"runtime"
)

// datasync flushes f's content and the metadata needed to read it back.
func datasync(f *os.File) error { return f.Sync() }

// startWriteback is a hint that only Linux implements.
func startWriteback(f *os.File, off, n int64) {}

// syncDir makes the entries of a directory durable. Windows cannot sync a
// directory and makes renames durable on its own.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncNames makes the new entries of dirs durable, one directory at a time.
var syncNames = func(root *os.File, dirs map[string]struct{}) error { return syncDirs(dirs) }

// openSyncRoot returns nil: only Linux syncs a whole file system (syncfs).
func openSyncRoot(dir string) (*os.File, error) { return nil, nil }

// setRecordAttr is implemented on Linux only; elsewhere session records are
// files.
func setRecordAttr(f *os.File, rec []byte) error { return errors.ErrUnsupported }

// recordAttr is implemented on Linux only.
func recordAttr(path string) ([]byte, error) { return nil, nil }

// removeRecordAttr is implemented on Linux only.
func removeRecordAttr(f *os.File) {}
