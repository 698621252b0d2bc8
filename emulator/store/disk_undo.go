package store

import (
	"bytes"
	"fmt"
)

// undoStep takes back one write of a diskTx: it puts back the old value of
// a key, or deletes a key that had none. The layout's buckets are created
// with the file and never deleted, so keys are the only writes.
type undoStep struct {
	bucket []byte // a top-level bucket
	key    []byte
	old    []byte // the key's value before, when it had one
	had    bool   // whether it had one
}

// put writes key in bucket, logging its old value; it reports whether the
// key had one.
func (t *diskTx) put(bucket, key, val []byte) (existed bool, err error) {
	b := t.tx.Bucket(bucket)
	old := b.Get(key)
	var step undoStep
	if t.logUndo {
		step = undoStep{bucket: bucket, key: bytes.Clone(key), old: bytes.Clone(old), had: old != nil}
	}
	if err := b.Put(key, val); err != nil {
		return false, err
	}
	t.log(step)
	return old != nil, nil
}

// delete removes key from bucket, logging its old value; it reports whether
// the key existed.
func (t *diskTx) delete(bucket, key []byte) (existed bool, err error) {
	b := t.tx.Bucket(bucket)
	old := b.Get(key)
	if old == nil {
		return false, nil
	}
	var step undoStep
	if t.logUndo {
		step = undoStep{bucket: bucket, key: bytes.Clone(key), old: bytes.Clone(old), had: true}
	}
	if err := b.Delete(key); err != nil {
		return false, err
	}
	t.log(step)
	return true, nil
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
		b := t.tx.Bucket(st.bucket)
		var err error
		if st.had {
			err = b.Put(st.key, st.old)
		} else {
			err = b.Delete(st.key)
		}
		if err != nil {
			return fmt.Errorf("store: taking back a failed transaction's writes: %w", err)
		}
	}
	return nil
}
