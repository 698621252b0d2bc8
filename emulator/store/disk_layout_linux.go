//go:build linux

package store

import (
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"
)

// releaseMapped tells the kernel that this process no longer needs the
// first size bytes of db's memory map: the pages stay in the page cache,
// but leave the process's resident set until touched again. It must run
// inside a transaction of db, which keeps bbolt from remapping the file,
// and size must not exceed the transaction's Size. The conversion of a
// meta.db reads the whole old file once; without this its resident set
// grew to the file's size (274-283 MiB for W7's 254-270 MB file).
func releaseMapped(db *bolt.DB, size int64) {
	// db.Info().Data is the start of bbolt's read-only shared map of the
	// file; MADV_DONTNEED on it only drops page table entries.
	unix.Syscall(unix.SYS_MADVISE, db.Info().Data, uintptr(size), unix.MADV_DONTNEED)
}
