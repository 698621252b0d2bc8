//go:build !unix

package transfer

// freeSpace is unknown here.
func freeSpace(dir string) (int64, bool) { return 0, false }
