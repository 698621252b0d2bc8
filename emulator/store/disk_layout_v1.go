package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// Layout version 1 of meta.db, read only to convert it: "repos" held one
// bucket per repository, with the repository's record under "record" and
// one sub-bucket per kind of item, named as the kind's bucket of version 2
// ("manifests", "tags", "links", "referrers", "annotations") and keyed as
// version 2 keys the item after the repository's prefix; "deleted" held one
// bucket per repository of soft-deleted records. Values are those of
// version 2.
var (
	bucketV1Repos   = []byte("repos")
	bucketV1Deleted = []byte("deleted")
	keyV1Record     = []byte("record")
)

// migrateBatch is how many items one transaction of the conversion writes,
// bounding the memory the new file's dirty pages take. Tests lower it.
var migrateBatch = 20000

// migrateBatchBytes bounds the keys and values one transaction of the
// conversion writes, for items much larger than most (annotations may be
// megabytes each). Tests lower it.
var migrateBatchBytes = 16 << 20

// migrateHook, when set by a test, runs after each transaction of the
// conversion commits; an error from it stops the conversion there.
var migrateHook func(committed int) error

// migrateV1 converts old, a version 1 meta.db whose lock this process
// holds, to the current layout. It writes the new layout to a file in tmp
// (which OpenDisk empties, so an interrupted conversion leaves nothing
// behind), makes it durable and renames it over meta.db: a crash at any
// moment leaves either the old file or the new one. The new file is
// written in key order with full pages, so it is also compact. A process
// waiting for old's lock finds, once it has it, that meta.db names another
// file (see openMeta).
func (s *diskStore) migrateV1(old *bolt.DB) error {
	tmp := filepath.Join(s.dir, tmpDir, metaFile)
	nw, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout, NoSync: true})
	if err != nil {
		return ioError("convert metadata database: create the new file", err)
	}
	w := &migrateWriter{db: nw}
	err = old.View(func(otx *bolt.Tx) error {
		// Only while otx is open: it keeps the map in place.
		w.release = func() { releaseMapped(old, otx.Size()) }
		defer func() { w.release = nil }()
		return w.copyV1(otx)
	})
	if err == nil {
		err = w.finish()
	}
	if err == nil {
		err = nw.Sync()
	}
	if cerr := nw.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return ioError("convert meta.db from layout version 1 (it is left as it was; the next open tries again)", err)
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, metaFile)); err != nil {
		os.Remove(tmp)
		return ioError("convert metadata database: replace meta.db", err)
	}
	if err := syncDir(s.dir); err != nil {
		return ioError("convert metadata database: sync the store directory", err)
	}
	return nil
}

// migrateWriter writes the new layout in transactions of migrateBatch
// items or migrateBatchBytes bytes.
type migrateWriter struct {
	db        *bolt.DB
	tx        *bolt.Tx
	n         int // items in tx
	bytes     int // bytes of the keys and values in tx
	committed int // items committed
	read      int // items of the old file read
	// release drops the pages of the old file read so far from the
	// resident set (see releaseMapped); nil outside the read transaction.
	release func()
}

// put appends key to bucket. Keys reach each bucket in ascending order, so
// pages are filled completely.
func (w *migrateWriter) put(bucket, key, val []byte) error {
	if w.tx == nil {
		tx, err := w.db.Begin(true)
		if err != nil {
			return err
		}
		w.tx = tx
		if err := createBuckets(tx); err != nil {
			return err
		}
	}
	b := w.tx.Bucket(bucket)
	b.FillPercent = 1
	// A copy: bbolt reads the value at the commit, and a value pointing
	// into the old file's map would fault its pages back in after release
	// dropped them, each with the 64 KiB around it.
	if err := b.Put(key, bytes.Clone(val)); err != nil {
		return err
	}
	w.n++
	w.bytes += len(key) + len(val)
	if w.n >= migrateBatch || w.bytes >= migrateBatchBytes {
		return w.commit()
	}
	return nil
}

func (w *migrateWriter) commit() error {
	tx := w.tx
	w.tx = nil
	if err := tx.Commit(); err != nil {
		return err
	}
	w.committed += w.n
	w.n, w.bytes = 0, 0
	if migrateHook != nil {
		return migrateHook(w.committed)
	}
	return nil
}

// finish records the version in the last transaction and commits it.
func (w *migrateWriter) finish() error {
	if w.tx == nil {
		tx, err := w.db.Begin(true)
		if err != nil {
			return err
		}
		w.tx = tx
	}
	if err := createLayout(w.tx); err != nil {
		w.abort()
		return err
	}
	return w.commit()
}

// abort rolls back the open transaction, if any.
func (w *migrateWriter) abort() {
	if w.tx != nil {
		w.tx.Rollback()
		w.tx = nil
	}
}

// copyV1 writes everything in otx, a version 1 database, to the new
// layout: one pass over the repositories per bucket, in name order, which
// is the order of their keys, so that each bucket is written in ascending
// order and lies in one stretch of the new file.
func (w *migrateWriter) copyV1(otx *bolt.Tx) (err error) {
	defer func() {
		if err != nil {
			w.abort()
		}
	}()
	repos := otx.Bucket(bucketV1Repos)
	if repos != nil {
		if err := w.eachV1Repo(repos, func(name string, rb *bolt.Bucket) error {
			if rec := rb.Get(keyV1Record); rec != nil {
				return w.put(bucketRecords, []byte(name), rec)
			}
			return nil
		}); err != nil {
			return err
		}
		if err := w.eachV1Repo(repos, func(name string, rb *bolt.Bucket) error {
			m, t := w.countV1(rb.Bucket(bucketManifests)), w.countV1(rb.Bucket(bucketTags))
			if m == 0 && t == 0 {
				return nil
			}
			return w.put(bucketCounts, []byte(name), encodeCounts(m, t))
		}); err != nil {
			return err
		}
		for _, kind := range repoItemBuckets {
			if err := w.eachV1Repo(repos, func(name string, rb *bolt.Bucket) error {
				return w.copyItems(kind, name, rb.Bucket(kind))
			}); err != nil {
				return err
			}
		}
	}
	if deleted := otx.Bucket(bucketV1Deleted); deleted != nil {
		return w.eachV1Repo(deleted, func(name string, b *bolt.Bucket) error {
			return w.copyItems(bucketDeleted, name, b)
		})
	}
	return nil
}

// releaseEvery is how many repositories the conversion reads between two
// calls of release: each repository of layout 1 is its own pages, spread
// over the file, and each page read maps the 64 KiB around it.
// releaseItems is how many items it reads between two calls, so that one
// repository holding most of the file (a CI pushing every build to one
// repository) is not read into the resident set whole.
const (
	releaseEvery = 256
	releaseItems = 4096
)

// readItem counts an item read from the old file, calling release every
// releaseItems.
func (w *migrateWriter) readItem() {
	if w.read++; w.read%releaseItems == 0 && w.release != nil {
		w.release()
	}
}

// eachV1Repo calls fn with each repository's bucket in parent.
func (w *migrateWriter) eachV1Repo(parent *bolt.Bucket, fn func(name string, b *bolt.Bucket) error) error {
	c := parent.Cursor()
	n := 0
	for name, v := c.First(); name != nil; name, v = c.Next() {
		if n++; n%releaseEvery == 0 && w.release != nil {
			w.release()
		}
		if v != nil {
			continue // not a repository's bucket
		}
		if !validRepoKey(string(name)) {
			return fmt.Errorf("repository name %q holds a NUL byte, which the current layout cannot key", name)
		}
		if err := fn(string(name), parent.Bucket(name)); err != nil {
			return err
		}
	}
	return nil
}

// convertV1 returns the record of version 2 for v, a record of version 1
// in bucket: tags and manifests become binary (disk_codec.go), but for
// manifests holding their annotations inline; a record that does not
// decode is kept as it is, to fail as before when read.
func convertV1(bucket, v []byte) []byte {
	switch {
	case bytes.Equal(bucket, bucketTags):
		if tag, err := decodeTag(v); err == nil {
			return encodeTag(tag)
		}
	case bytes.Equal(bucket, bucketManifests):
		var m Manifest
		if err := json.Unmarshal(v, &m); err == nil && m.Annotations == nil {
			return encodeManifest(m)
		}
	}
	return v
}

// countV1 counts the items of a version 1 sub-bucket.
func (w *migrateWriter) countV1(b *bolt.Bucket) int {
	if b == nil {
		return 0
	}
	n := 0
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		w.readItem()
		if v != nil {
			n++
		}
	}
	return n
}

// copyItems writes the items of src, one kind of repo's items in version
// 1, to bucket under repo's prefix.
func (w *migrateWriter) copyItems(bucket []byte, repo string, src *bolt.Bucket) error {
	if src == nil {
		return nil
	}
	prefix := itemPrefix(repo)
	c := src.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		w.readItem()
		if v == nil {
			continue
		}
		// A fresh key each time: bbolt keeps it until the commit.
		key := make([]byte, 0, len(prefix)+len(k))
		if err := w.put(bucket, append(append(key, prefix...), k...), convertV1(bucket, v)); err != nil {
			return err
		}
	}
	return nil
}
