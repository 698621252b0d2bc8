package store_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/emulator/store/storetest"
	"github.com/opencontainers/go-digest"
)

func TestMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return store.NewMemory() })
}

// TestMemoryIterateChangesAhead: the memory store's iterators read a shared
// snapshot of the entries until the transaction writes, and from then on
// each entry as it is when reached: a tag deleted ahead of the iterator is
// not yielded, a tag moved ahead of it is yielded with its new digest. (The
// disk store reads in batches and does not promise this.)
func TestMemoryIterateChangesAhead(t *testing.T) {
	s := store.NewMemory()
	oldD, newD := digest.FromString("old"), digest.FromString("new")
	put := func(tx store.Tx, name string, d digest.Digest) {
		t.Helper()
		if err := tx.PutTag("r", store.Tag{Name: name, Digest: d, CreatedAt: time.Unix(1, 0), UpdatedAt: time.Unix(1, 0),
			Attrs: store.Attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}}); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Update(t.Context(), func(tx store.Tx) error {
		if err := tx.PutRepo(store.Repository{Name: "r"}); err != nil {
			return err
		}
		for i := range 10 {
			put(tx, fmt.Sprintf("t%d", i), oldD)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A listing first, so that the sorted snapshot exists and is shared.
	err = s.View(t.Context(), func(tx store.Tx) error {
		for _, err := range tx.Tags("r", "") {
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx store.Tx) error {
		var names []string
		for tg, err := range tx.Tags("r", "") {
			if err != nil {
				return err
			}
			names = append(names, tg.Name)
			switch tg.Name {
			case "t1":
				if err := tx.DeleteTag("r", "t3"); err != nil {
					return err
				}
				put(tx, "t5", newD)
			case "t5":
				if tg.Digest != newD {
					t.Errorf("a tag moved ahead of the iterator was yielded with %s, want %s", tg.Digest, newD)
				}
			}
		}
		if got, want := strings.Join(names, " "), "t0 t1 t2 t4 t5 t6 t7 t8 t9"; got != want {
			t.Errorf("iterating while changing tags ahead: got %s, want %s", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
