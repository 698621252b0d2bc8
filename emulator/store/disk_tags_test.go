package store

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// FuzzDecodeTag holds decodeTag to json.Unmarshal's decoding of a Tag.
func FuzzDecodeTag(f *testing.F) {
	at := time.Date(2026, 12, 6, 2, 42, 44, 431954300, time.UTC)
	for _, tag := range []Tag{
		{Name: "v1", Digest: digest.FromString("x"), CreatedAt: at, UpdatedAt: at.Add(time.Hour), Attrs: DefaultAttributes()},
		{Name: "v1.0_rc-2", Attrs: Attributes{ReadEnabled: true}},
		{},
	} {
		b, err := json.Marshal(tag)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"NAME":"a","attrs":null,"Attrs":{"listenabled":true},"createdAt":null}`, `{"name":1}`, `{"updatedAt":"now"}`, `[]`, `{"name":"a"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want Tag
		werr := json.Unmarshal(b, &want)
		got, err := decodeTag(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeTag(%q): error %v; encoding/json: %v", b, err, werr)
		}
		if d := cmp.Diff(want, got); err == nil && d != "" {
			t.Fatalf("decodeTag(%q) differs from encoding/json (-want +got):\n%s", b, d)
		}
	})
}

// TestDiskTagsReadOnDemand: a read transaction decodes a tag record only
// when the listing asks for it, so that a page of one tag (the clients'
// `_tags?n=1` probe) costs one record, not a batch; a write transaction
// reads ahead a batch, which a corrupt record further on then fails.
func TestDiskTagsReadOnDemand(t *testing.T) {
	s, err := OpenDisk(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	at := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	err = s.Update(ctx, func(tx Tx) error {
		if err := tx.PutRepo(Repository{Name: "app", CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}); err != nil {
			return err
		}
		for _, name := range []string{"a", "b", "c"} {
			if err := tx.PutTag("app", Tag{Name: name, Digest: digest.FromString(name), CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Break the record of tag b behind the store's back.
	db := s.(*diskStore).db
	if err := db.Update(func(btx *bolt.Tx) error {
		return btx.Bucket(bucketTags).Put(append(itemPrefix("app"), 'b'), []byte{recordBinary, 0xff})
	}); err != nil {
		t.Fatal(err)
	}
	first := func(tx Tx) error {
		for tag, err := range tx.Tags("app", "") {
			if err != nil {
				return err
			}
			if tag.Name != "a" {
				t.Errorf("first tag %q, want a", tag.Name)
			}
			break
		}
		return nil
	}
	if err := s.View(ctx, first); err != nil {
		t.Errorf("the first tag in a read transaction: %v; want it without reading b's record", err)
	}
	if err := s.Update(ctx, first); err == nil {
		t.Error("the first tag in a write transaction: no error; want b's corrupt record read with its batch")
	}
	// Past the corrupt record the listing goes on from the next key.
	err = s.View(ctx, func(tx Tx) error {
		var names []string
		for tag, err := range tx.Tags("app", "b") {
			if err != nil {
				return err
			}
			names = append(names, tag.Name)
		}
		if !slices.Equal(names, []string{"c"}) {
			t.Errorf("tags after b: %q, want [c]", names)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}
