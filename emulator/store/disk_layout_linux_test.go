//go:build linux

package store

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// mappedRSS returns the resident bytes of this process's mappings of the
// file at path, from /proc/self/smaps.
func mappedRSS(t *testing.T, path string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	defer f.Close()
	var rss int64
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		switch {
		case len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":"):
			// A mapping's header: range, perms, offset, device, inode[, path].
			in = len(fields) >= 6 && fields[5] == path
		case in && len(fields) == 3 && fields[0] == "Rss:":
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			rss += kb << 10
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rss
}

// TestDiskMigrateBigRepoRSS: converting a layout 1 meta.db whose one
// repository holds most of it keeps little of the old file resident: the
// pages read are dropped as the conversion goes, within a repository as
// between repositories.
func TestDiskMigrateBigRepoRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const tags = 100000
	dir := t.TempDir()
	path := filepath.Join(dir, metaFile)
	writeV1(t, path, 1, tags)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var peak int64
	setMigrate(t, 1000, func(int) error {
		peak = max(peak, mappedRSS(t, path))
		return nil
	})
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	t.Logf("old meta.db of %d MiB: at most %d MiB of it resident during the conversion", fi.Size()>>20, peak>>20)
	if peak > 8<<20 {
		t.Errorf("the conversion kept %d MiB of the old meta.db (%d MiB) resident, want at most 8 MiB", peak>>20, fi.Size()>>20)
	}
	err = s.View(t.Context(), func(tx Tx) error {
		if n, err := tx.TagCount("crash/r-00000"); n != tags || err != nil {
			t.Errorf("tag count after conversion: %d, %v; want %d", n, err, tags)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
