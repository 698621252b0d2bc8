package store

import (
	"maps"
	"os"
	"sync"
)

// blobNames makes the directory entries of newly stored blobs durable in
// bulk. A blob's content is synced before its rename to its address, as
// ever; the rename itself is made durable by the next group commit, before
// that commit writes the metadata of any of its Updates. So every Update,
// including one that only names a blob or writes nothing, returns after the
// names of all blobs installed before it are on disk; on Linux one syncfs
// of the store's file system does it for every blob of the group, where a
// directory fsync per blob used to (W6 in bench/RESULTS.md: 32 clients
// pushing small images spend their time waiting for those syncs).
//
// PutBlob and CommitUpload therefore return with the blob's content durable
// and its name visible but not yet durable; the registry acknowledges a
// blob only after an Update (its link to a repository), so what it
// acknowledges survives a crash. Close makes the names durable too.
type blobNames struct {
	// gate is held shared by each install, over its directory creation
	// and rename and the record of them, and exclusively by flush to take
	// the record: a name that anyone can see is either recorded for the
	// next flush or covered by a flush that began after it appeared.
	gate sync.RWMutex
	mu   sync.Mutex          // guards dirs among installs
	dirs map[string]struct{} // directories whose new entries are not yet durable
	root *os.File            // for syncNames: see openSyncRoot; nil syncs each directory
}

// installed records that dir has a new entry. The caller holds gate shared.
func (n *blobNames) installed(dir string) {
	n.mu.Lock()
	if n.dirs == nil {
		n.dirs = make(map[string]struct{})
	}
	n.dirs[dir] = struct{}{}
	n.mu.Unlock()
}

// flush makes every recorded entry durable; the group commit's leader calls
// it before each commit, and Close. On an error the entries stay recorded,
// for the next flush to try again.
func (n *blobNames) flush() error {
	n.gate.Lock()
	dirs := n.dirs
	n.dirs = nil
	n.gate.Unlock()
	if len(dirs) == 0 {
		return nil
	}
	if err := syncNames(n.root, dirs); err != nil {
		n.gate.Lock()
		if n.dirs == nil {
			n.dirs = dirs
		} else {
			maps.Copy(n.dirs, dirs)
		}
		n.gate.Unlock()
		return err
	}
	return nil
}

// syncDirs syncs each directory of dirs.
func syncDirs(dirs map[string]struct{}) error {
	for d := range dirs {
		if err := syncDir(d); err != nil {
			return err
		}
	}
	return nil
}
