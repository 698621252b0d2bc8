package emulator

import "time"

// SetStaleUpload sets the age after which sessions may be reclaimed, for a
// test, and returns the function that restores it.
func SetStaleUpload(d time.Duration) (restore func()) {
	old := staleUpload
	staleUpload = d
	return func() { staleUpload = old }
}

// SetMaxPageSize sets the page size of /v2 listings (and its cap), for a
// test, and returns the function that restores it.
func SetMaxPageSize(n int) (restore func()) {
	old := maxPageSize
	maxPageSize = n
	return func() { maxPageSize = old }
}
