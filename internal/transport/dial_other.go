//go:build !linux && !darwin

package transport

// setNotSentLowWater does nothing where the system has no
// TCP_NOTSENT_LOWAT.
func setNotSentLowWater(fd uintptr, n int) {}
