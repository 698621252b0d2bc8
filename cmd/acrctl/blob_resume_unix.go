//go:build unix

package main

import (
	"os"
	"syscall"
)

// lockPartial takes an exclusive lock on a partial download, or fails at
// once when another process holds it. The kernel drops the lock when the
// file is closed or the process ends, however it ends, so a killed run
// leaves no stale lock behind.
func lockPartial(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// openNoFollow makes opening a partial download fail on a symlink rather
// than write through it.
const openNoFollow = syscall.O_NOFOLLOW
