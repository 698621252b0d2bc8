package store

import (
	"bytes"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// undoStep takes back one write of a diskTx. Buckets are named by their
// path from the root rather than held, since an undone bucket deletion
// brings a bucket back as a new *bolt.Bucket.
type undoStep struct {
	path [][]byte // the bucket written, or created, or deleted
	kind undoKind
	key  []byte          // undoKey: the key written
	old  []byte          // undoKey: its value before, when it had one
	had  bool            // undoKey: whether it had one
	tree *bucketSnapshot // undoDeletedBucket: the bucket's content
}

type undoKind uint8

const (
	undoKey           undoKind = iota // a key was put or deleted
	undoCreatedBucket                 // a bucket was created
	undoDeletedBucket                 // a bucket was deleted
)

// bucketSnapshot is a bucket's content, copied out of the transaction.
type bucketSnapshot struct {
	keys, vals [][]byte
	subNames   [][]byte
	subs       []*bucketSnapshot
}

func snapshotBucket(b *bolt.Bucket) (*bucketSnapshot, error) {
	s := &bucketSnapshot{}
	err := b.ForEach(func(k, v []byte) error {
		if v != nil {
			s.keys = append(s.keys, bytes.Clone(k))
			s.vals = append(s.vals, bytes.Clone(v))
			return nil
		}
		sub, err := snapshotBucket(b.Bucket(k))
		if err != nil {
			return err
		}
		s.subNames = append(s.subNames, bytes.Clone(k))
		s.subs = append(s.subs, sub)
		return nil
	})
	return s, err
}

func (s *bucketSnapshot) restore(b *bolt.Bucket) error {
	for i, k := range s.keys {
		if err := b.Put(k, s.vals[i]); err != nil {
			return err
		}
	}
	for i, name := range s.subNames {
		sub, err := b.CreateBucket(name)
		if err != nil {
			return err
		}
		if err := s.subs[i].restore(sub); err != nil {
			return err
		}
	}
	return nil
}

// lookup returns the bucket at path, or nil when it does not exist.
func (t *diskTx) lookup(path [][]byte) *bolt.Bucket {
	b := t.tx.Bucket(path[0])
	for _, name := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

// bucket returns the bucket at path, creating (and logging) the missing
// ones when create is true; nil when it does not exist and create is false.
func (t *diskTx) bucket(create bool, path ...[]byte) (*bolt.Bucket, error) {
	var b *bolt.Bucket
	for i, name := range path {
		var next *bolt.Bucket
		if b == nil {
			next = t.tx.Bucket(name)
		} else {
			next = b.Bucket(name)
		}
		if next == nil {
			if !create {
				return nil, nil
			}
			var err error
			if b == nil {
				next, err = t.tx.CreateBucket(name)
			} else {
				next, err = b.CreateBucket(name)
			}
			if err != nil {
				return nil, err
			}
			t.log(undoStep{path: path[: i+1 : i+1], kind: undoCreatedBucket})
		}
		b = next
	}
	return b, nil
}

// put writes key in b, the bucket at path, logging its old value.
func (t *diskTx) put(b *bolt.Bucket, key, val []byte, path ...[]byte) error {
	var step undoStep
	if t.logUndo {
		old := b.Get(key)
		step = undoStep{path: path, kind: undoKey, key: bytes.Clone(key), old: bytes.Clone(old), had: old != nil}
	}
	if err := b.Put(key, val); err != nil {
		return err
	}
	t.log(step)
	return nil
}

// delete removes key from b, the bucket at path, logging its old value.
func (t *diskTx) delete(b *bolt.Bucket, key []byte, path ...[]byte) error {
	old := b.Get(key)
	if old == nil {
		return nil
	}
	var step undoStep
	if t.logUndo {
		step = undoStep{path: path, kind: undoKey, key: bytes.Clone(key), old: bytes.Clone(old), had: true}
	}
	if err := b.Delete(key); err != nil {
		return err
	}
	t.log(step)
	return nil
}

// deleteBucket removes the bucket at path, if any, logging a copy of it.
func (t *diskTx) deleteBucket(path ...[]byte) error {
	parent := t.lookup(path[:len(path)-1])
	if parent == nil {
		return nil
	}
	name := path[len(path)-1]
	b := parent.Bucket(name)
	if b == nil {
		return nil
	}
	// A copy of everything in it: the one costly undo, taken only when
	// the function shares its transaction.
	var snap *bucketSnapshot
	if t.logUndo {
		var err error
		if snap, err = snapshotBucket(b); err != nil {
			return err
		}
	}
	err := parent.DeleteBucket(name)
	if errors.Is(err, berrors.ErrBucketNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	t.log(undoStep{path: path, kind: undoDeletedBucket, tree: snap})
	return nil
}

// log records that the function wrote, and how to take it back when the
// transaction keeps an undo log.
func (t *diskTx) log(step undoStep) {
	t.wrote = true
	if t.logUndo {
		t.undo = append(t.undo, step)
	}
}

// rollback takes back every logged write, newest first, and clears the log.
func (t *diskTx) rollback() error {
	defer func() { t.undo = t.undo[:0] }()
	for i := len(t.undo) - 1; i >= 0; i-- {
		st := t.undo[i]
		if err := t.undoOne(st); err != nil {
			return fmt.Errorf("store: taking back a failed transaction's writes: %w", err)
		}
	}
	return nil
}

func (t *diskTx) undoOne(st undoStep) error {
	switch st.kind {
	case undoKey:
		b := t.lookup(st.path)
		if b == nil {
			return fmt.Errorf("bucket %q is gone", st.path)
		}
		if st.had {
			return b.Put(st.key, st.old)
		}
		return b.Delete(st.key)
	case undoCreatedBucket:
		name := st.path[len(st.path)-1]
		if len(st.path) == 1 {
			return t.tx.DeleteBucket(name)
		}
		parent := t.lookup(st.path[:len(st.path)-1])
		if parent == nil {
			return fmt.Errorf("bucket %q is gone", st.path[:len(st.path)-1])
		}
		return parent.DeleteBucket(name)
	default: // undoDeletedBucket
		name := st.path[len(st.path)-1]
		var b *bolt.Bucket
		var err error
		if len(st.path) == 1 {
			b, err = t.tx.CreateBucket(name)
		} else if parent := t.lookup(st.path[:len(st.path)-1]); parent == nil {
			return fmt.Errorf("bucket %q is gone", st.path[:len(st.path)-1])
		} else {
			b, err = parent.CreateBucket(name)
		}
		if err != nil {
			return err
		}
		return st.tree.restore(b)
	}
}
