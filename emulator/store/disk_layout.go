package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Layout of meta.db, format version 2. Every kind of metadata is one
// top-level bucket holding the items of all repositories, keyed by the
// repository's name, a NUL byte and the item's own key, so that a
// repository's items are one key range in the item's order, a repository of
// a few tags costs a few hundred bytes rather than its own pages, and a
// listing reads densely packed pages. Values are JSON, except where
// disk_codec.go says otherwise.
//
// Version 1 (no "meta" bucket) held one bucket per repository with one
// sub-bucket per kind: about 24 KiB of pages for a repository of ten tags,
// and a catalog listing that touched every one of them. OpenDisk converts
// it once (see migrateV1).
const formatVersion = 2

var (
	// bucketMeta holds the layout's version under keyFormat, in decimal.
	bucketMeta = []byte("meta")
	keyFormat  = []byte("format")

	// bucketRecords holds repository records keyed by name alone.
	bucketRecords = []byte("records")
	// bucketCounts holds, keyed by repository name, how many manifests and
	// tags it has (two uvarints), so that a repository's properties read
	// no manifest or tag pages.
	bucketCounts      = []byte("counts")
	bucketManifests   = []byte("manifests")
	bucketTags        = []byte("tags")
	bucketLinks       = []byte("links")
	bucketReferrers   = []byte("referrers")
	bucketAnnotations = []byte("annotations")
	// bucketDeleted holds soft-deleted records keyed by repository and
	// DeletedKey; DeleteRepo leaves them.
	bucketDeleted = []byte("deletions")
)

// layoutBuckets are the buckets of the current layout, all created with it.
var layoutBuckets = [][]byte{bucketMeta, bucketRecords, bucketCounts, bucketManifests, bucketTags,
	bucketLinks, bucketReferrers, bucketAnnotations, bucketDeleted}

// repoItemBuckets are the buckets whose keys start with a repository's
// name and a NUL byte: DeleteRepo empties the repository's range in each.
var repoItemBuckets = [][]byte{bucketManifests, bucketTags, bucketLinks, bucketReferrers, bucketAnnotations}

// validRepoKey reports whether a repository name can key items: names hold
// no NUL byte (none valid in a registry does), which ends the name in keys.
func validRepoKey(repo string) bool {
	return repo != "" && strings.IndexByte(repo, 0) < 0
}

// itemPrefix returns the prefix of every key of repo's items.
func itemPrefix(repo string) []byte {
	p := make([]byte, 0, len(repo)+1+80)
	p = append(p, repo...)
	return append(p, 0)
}

// itemKey returns the key of repo's item key.
func itemKey(repo, key string) []byte {
	return append(itemPrefix(repo), key...)
}

// repoOfKey returns the repository part of an item key, or the whole key of
// a record.
func repoOfKey(k []byte) []byte {
	if i := bytes.IndexByte(k, 0); i >= 0 {
		return k[:i]
	}
	return k
}

// encodeCounts and decodeCounts read and write a bucketCounts value.
func encodeCounts(manifests, tags int) []byte {
	b := binary.AppendUvarint(nil, uint64(manifests))
	return binary.AppendUvarint(b, uint64(tags))
}

func decodeCounts(v []byte) (manifests, tags int, err error) {
	m, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, 0, errors.New("store: corrupt count record")
	}
	tg, n2 := binary.Uvarint(v[n:])
	if n2 <= 0 || n+n2 != len(v) || m > math.MaxInt32 || tg > math.MaxInt32 {
		return 0, 0, errors.New("store: corrupt count record")
	}
	return int(m), int(tg), nil
}

// metaOpenedHook, when set by a test, runs each time openMeta has opened
// meta.db's file and is about to wait for its lock, with the number of
// files it opened before (a file renamed over while it waited sends it
// back). Tests that make a process wait for the lock of a particular file
// wait for it rather than sleep, which a loaded machine outlasts.
var metaOpenedHook func(attempt int)

// openMeta opens meta.db, taking its lock, and brings it to the current
// layout: a new file gets it, a version 1 file is converted (migrateV1), a
// newer version is refused.
func (s *diskStore) openMeta() error {
	path := filepath.Join(s.dir, metaFile)
	// A file renamed over while this process waited for its lock (by a
	// conversion in another process) sends us back to the path, which
	// now names the new file.
	for attempt := range 3 {
		var file *os.File
		db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout,
			OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
				f, err := os.OpenFile(name, flag, perm)
				file = f
				if err == nil && metaOpenedHook != nil {
					metaOpenedHook(attempt)
				}
				return f, err
			}})
		if errors.Is(err, berrors.ErrTimeout) {
			return fmt.Errorf("store: open %s: the directory is in use by another process", s.dir)
		}
		if errors.Is(err, berrors.ErrInvalid) || errors.Is(err, berrors.ErrVersionMismatch) || errors.Is(err, berrors.ErrChecksum) {
			return fmt.Errorf("store: open %s: meta.db is damaged or not a store's database (%w): restore it from a backup", s.dir, err)
		}
		if err != nil {
			return ioError("open metadata database", err)
		}
		if replaced, err := isReplaced(path, file); err != nil || replaced {
			db.Close()
			if err != nil {
				return ioError("open metadata database", err)
			}
			continue
		}
		// Only now is the lock the store's: the lock of a replaced file
		// guards nothing, and the process serving the new one may be
		// writing blobs in tmp.
		if err := s.cleanTmp(); err != nil {
			db.Close()
			return err
		}
		version, err := readFormat(db)
		if err != nil {
			db.Close()
			return fmt.Errorf("store: open %s: %w", s.dir, err)
		}
		switch {
		case version == formatVersion:
			s.db = db
			return nil
		case version > formatVersion:
			db.Close()
			return fmt.Errorf("store: open %s: meta.db has layout version %d, newer than the %d this build reads: "+
				"open the directory with the newer acrctl that wrote it", s.dir, version, formatVersion)
		case version == 0:
			err := db.Update(func(tx *bolt.Tx) error { return createLayout(tx) })
			if err != nil {
				db.Close()
				return ioError("initialize metadata database", err)
			}
			s.db = db
			return nil
		default: // version 1
			start := time.Now()
			err := s.migrateV1(db)
			db.Close()
			if err != nil {
				return err
			}
			if s.opts.Converted != nil {
				s.opts.Converted(1, formatVersion, time.Since(start))
			}
			// The new file is in place: open it.
		}
	}
	return fmt.Errorf("store: open %s: meta.db kept changing while opening it: another process is converting it; try again", s.dir)
}

// isReplaced reports whether path no longer names f, the file of meta.db
// whose lock this process took: another process renamed a new file over
// it meanwhile.
func isReplaced(path string, f *os.File) (bool, error) {
	fi, err := f.Stat()
	if err != nil {
		return false, err
	}
	pi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return !os.SameFile(fi, pi), nil
}

// readFormat returns the layout version of db: 0 for an empty file, 1 for
// the layout without a version.
func readFormat(db *bolt.DB) (version int, err error) {
	err = db.View(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta == nil {
			empty := true
			err := tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
				switch {
				case bytes.Equal(name, bucketV1Repos), bytes.Equal(name, bucketV1Deleted):
					version = 1
				default:
					empty = false
				}
				return nil
			})
			if err == nil && version == 0 && !empty {
				err = errors.New("meta.db holds buckets of no known layout; it is not a store's database, or it is damaged: restore it from a backup")
			}
			return err
		}
		v := meta.Get(keyFormat)
		n, perr := strconv.Atoi(string(v))
		if perr != nil || n < 2 {
			return fmt.Errorf("meta.db records layout version %q, which is not one: the file is damaged; restore it from a backup", v)
		}
		version = n
		return nil
	})
	return version, err
}

// createLayout creates the current layout's buckets and records its
// version.
func createLayout(tx *bolt.Tx) error {
	if err := createBuckets(tx); err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyFormat, []byte(strconv.Itoa(formatVersion)))
}

func createBuckets(tx *bolt.Tx) error {
	for _, name := range layoutBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}
