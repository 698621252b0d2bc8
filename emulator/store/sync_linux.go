//go:build linux

package store

import (
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

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

// syncNames makes the new entries of dirs durable. With root (see
// openSyncRoot) it takes one syncfs of root's file system: one journal
// commit and one cache flush, however many directories; it also writes back
// whatever else is dirty on that file system. Without, it syncs each
// directory.
var syncNames = func(root *os.File, dirs map[string]struct{}) error {
	if root == nil {
		return syncDirs(dirs)
	}
	return control(root, func(fd int) error {
		for {
			err := unix.Syncfs(fd)
			if err != unix.EINTR {
				return err
			}
		}
	})
}

// openSyncRoot opens the store's directory for syncNames when one syncfs
// of it covers the blob directories, that is when they are on its file
// system; it returns nil when one is mounted elsewhere.
func openSyncRoot(dir string) (*os.File, error) {
	root, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(root.Fd()), &st); err != nil {
		root.Close()
		return nil, err
	}
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		var bst unix.Stat_t
		if err := unix.Stat(filepath.Join(dir, blobsDir, string(alg)), &bst); err != nil {
			root.Close()
			return nil, err
		}
		if bst.Dev != st.Dev {
			return nil, root.Close()
		}
	}
	return root, nil
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

// recordXattr is the extended attribute that holds an upload session's
// record on its data file.
const recordXattr = "user.acrgo.upload"

// setRecordAttr stores an upload session's record on its open data file.
func setRecordAttr(f *os.File, rec []byte) error {
	return control(f, func(fd int) error { return unix.Fsetxattr(fd, recordXattr, rec, 0) })
}

// recordAttr reads the record stored by setRecordAttr; it returns nil and
// no error when the file has none.
func recordAttr(path string) ([]byte, error) {
	for {
		n, err := unix.Getxattr(path, recordXattr, nil)
		if err == unix.ENODATA || err == unix.ENOTSUP {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = unix.Getxattr(path, recordXattr, buf)
		if err == unix.ERANGE {
			continue // it grew in between
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}

// removeRecordAttr drops the record from a session's data file that is
// about to become a blob. Failing leaves a few unused bytes: no error.
func removeRecordAttr(f *os.File) {
	control(f, func(fd int) error { return unix.Fremovexattr(fd, recordXattr) })
}
