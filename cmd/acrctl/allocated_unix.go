//go:build unix

package main

import (
	"os"
	"syscall"
)

// allocated returns the bytes a file holds on disk, which for a sparse
// file written out of order (DownloadBlobTo's parallel ranges) is how much
// has been written, unlike its size.
func allocated(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return min(st.Blocks*512, fi.Size())
	}
	return fi.Size()
}
