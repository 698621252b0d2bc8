package emulator

import "time"

// SetStaleUpload sets the age after which sessions may be reclaimed, for a
// test, and returns the function that restores it.
func SetStaleUpload(d time.Duration) (restore func()) {
	old := staleUpload
	staleUpload = d
	return func() { staleUpload = old }
}
