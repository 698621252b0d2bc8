//go:build !unix

package main

import "os"

// lockPartial does nothing where flock(2) does not exist: two runs that
// resume the same partial at once there may interleave their writes, which
// the digest check then catches.
func lockPartial(f *os.File) error { return nil }

// openNoFollow is 0 where open(2) has no O_NOFOLLOW; there the look before
// the open and the check after it must do.
const openNoFollow = 0
