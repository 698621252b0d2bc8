package store

import (
	"sync/atomic"
	"time"
)

// activity tracks when an upload session last received bytes, and whether
// an append is in progress, without the session's lock, so that listing
// sessions never waits for a long append.
type activity struct {
	last      atomic.Int64 // UnixNano of the last append's end, or the start
	appending atomic.Int32
}

// begin marks an append in progress; the returned function ends it.
func (a *activity) begin() (end func()) {
	a.appending.Add(1)
	return func() {
		a.last.Store(time.Now().UnixNano())
		a.appending.Add(-1)
	}
}

// at is the session's ActiveAt.
func (a *activity) at() time.Time {
	if a.appending.Load() > 0 {
		return time.Now().UTC()
	}
	return time.Unix(0, a.last.Load()).UTC()
}
