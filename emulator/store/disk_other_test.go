//go:build !linux

package store_test

import "testing"

func makeReadOnly(t *testing.T, dir string) {
	t.Skip("read-only directories are simulated on Linux only")
}

func smallFS(t *testing.T, size int) string {
	t.Skip("small file systems are mounted on Linux only")
	return ""
}

// recordFiles returns the record file of upload session id: elsewhere than
// Linux, records are always files.
func recordFiles(t *testing.T, dir, id string) []string {
	return []string{"uploads/" + id + ".json"}
}
