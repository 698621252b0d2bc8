package emulator

import "time"

// SetUploadIdleTimeout changes s's Options.UploadIdleTimeout while it
// runs (its sweep keeps its interval), for a test.
func (s *Server) SetUploadIdleTimeout(d time.Duration) { s.uploadIdle.Store(int64(d)) }

// SetMaxPageSize sets the page size of /v2 listings (and its cap), for a
// test, and returns the function that restores it.
func SetMaxPageSize(n int) (restore func()) {
	old := maxPageSize
	maxPageSize = n
	return func() { maxPageSize = old }
}
