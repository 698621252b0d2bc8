package store

import (
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// rawDump returns every key and value of every bucket of s's meta.db.
func rawDump(t *testing.T, s *diskStore) map[string]map[string]string {
	t.Helper()
	out := make(map[string]map[string]string)
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			kv := make(map[string]string)
			out[string(name)] = kv
			return b.ForEach(func(k, v []byte) error {
				kv[string(k)] = string(v)
				return nil
			})
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDiskUndoEveryWrite: a function that fails in a group commit after
// making every kind of write, over keys that the group's functions before
// it wrote too, leaves meta.db as those functions left it, byte for byte.
func TestDiskUndoEveryWrite(t *testing.T) {
	st, err := OpenDisk(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*diskStore)
	defer s.Close()
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	d := func(i int) digest.Digest { return digest.FromString(fmt.Sprint(i)) }
	fill := func(tx Tx, repo string, n int) error {
		var errs []error
		errs = append(errs, tx.PutRepo(Repository{Name: repo, CreatedAt: at}))
		for i := range n {
			errs = append(errs,
				tx.PutManifest(repo, Manifest{Digest: d(i), Subject: d(0), Annotations: map[string]string{"i": fmt.Sprint(i)}, CreatedAt: at}),
				tx.PutTag(repo, Tag{Name: fmt.Sprint("t", i), Digest: d(i), CreatedAt: at}),
				tx.PutBlobLink(repo, BlobLink{Digest: d(i), Size: int64(i)}),
				tx.PutReferrer(repo, d(0), d(i)),
				tx.PutDeleted(repo, Deleted{Key: DeletedKey(DeletedTagKind, fmt.Sprint("t", i), at), Tag: &Tag{Name: "x"}}))
		}
		return errors.Join(errs...)
	}
	// More items than a scan batch, so that DeleteRepo takes several.
	if err := s.Update(t.Context(), func(tx Tx) error { return errors.Join(fill(tx, "a", 100), fill(tx, "a/b", 3)) }); err != nil {
		t.Fatal(err)
	}
	errBoom := errors.New("boom")
	req := func(fn func(Tx) error) *commitReq {
		return &commitReq{fn: fn, done: make(chan struct{}), lead: make(chan struct{})}
	}
	// What the group's first function writes, to compare with.
	first := func(tx Tx) error {
		return errors.Join(
			tx.PutTag("a", Tag{Name: "t1", Digest: d(500), CreatedAt: at}),
			tx.PutManifest("a", Manifest{Digest: d(2), Annotations: map[string]string{"new": "1"}}),
			tx.DeleteTag("a", "t3"),
			tx.PutRepo(Repository{Name: "c"}))
	}
	every := func(tx Tx) error {
		return errors.Join(
			tx.PutTag("a", Tag{Name: "t1", Digest: d(600)}), // over first's
			tx.PutTag("a", Tag{Name: "new", Digest: d(600)}),
			tx.DeleteTag("a", "t2"),
			tx.PutManifest("a", Manifest{Digest: d(2)}), // drops first's annotations
			tx.PutManifest("a", Manifest{Digest: d(700), Annotations: map[string]string{"a": "b"}}),
			tx.DeleteManifest("a", d(4)),
			tx.PutBlobLink("a", BlobLink{Digest: d(5), Size: 99}),
			tx.DeleteBlobLink("a", d(6)),
			tx.PutReferrer("a", d(1), d(2)),
			tx.DeleteReferrer("a", d(0), d(7)),
			tx.PutDeleted("a", Deleted{Key: "new"}),
			tx.DeleteDeleted("a", DeletedKey(DeletedTagKind, "t8", at)),
			tx.PutRepo(Repository{Name: "a", UpdatedAt: at}),
			tx.DeleteRepo("c"), // first's
			tx.DeleteRepo("a"), // every item, a hundred of each kind
			fill(tx, "a", 120), // and back, with more
			tx.DeleteRepo("a/b"),
			fill(tx, "d", 2),
			errBoom)
	}

	want := func() map[string]map[string]string {
		st, err := OpenDisk(t.TempDir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		ref := st.(*diskStore)
		defer ref.Close()
		if err := ref.Update(t.Context(), func(tx Tx) error { return errors.Join(fill(tx, "a", 100), fill(tx, "a/b", 3)) }); err != nil {
			t.Fatal(err)
		}
		if err := ref.Update(t.Context(), first); err != nil {
			t.Fatal(err)
		}
		return rawDump(t, ref)
	}()
	group := []*commitReq{req(first), req(every)}
	s.commitGroup(group)
	if group[0].err != nil || !errors.Is(group[1].fnErr, errBoom) {
		t.Fatalf("group results: %v, %v; want nil and the failure", group[0].err, group[1].fnErr)
	}
	got := rawDump(t, s)
	for name := range maps.Keys(got) {
		if diff := cmp.Diff(want[name], got[name]); diff != "" {
			t.Errorf("bucket %s after a failed function's writes were taken back (-want +got):\n%s", name, diff)
		}
	}
}
