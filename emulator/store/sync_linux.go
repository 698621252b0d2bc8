//go:build linux

package store

import (
	"os"

	"golang.org/x/sys/unix"
)

// datasync flushes f's content and the metadata needed to read it back.
func datasync(f *os.File) error {
	return control(f, func(fd int) error {
		for {
			err := unix.Fdatasync(fd)
			if err != unix.EINTR {
				return err
			}
		}
	})
}

// startWriteback asks the kernel to start writing a range of f to disk
// without waiting for it, so that the final datasync has little left to do.
// It is only a hint: errors surface in datasync.
func startWriteback(f *os.File, off, n int64) {
	control(f, func(fd int) error {
		return unix.SyncFileRange(fd, off, n, unix.SYNC_FILE_RANGE_WRITE)
	})
}

// syncDir makes the entries of a directory durable: a rename or a new file
// in it survives a crash once syncDir returns.
func syncDir(dir string) error {
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

func control(f *os.File, fn func(fd int) error) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ferr error
	if err := rc.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return err
	}
	return ferr
}
