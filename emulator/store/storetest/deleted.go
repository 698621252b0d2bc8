package storetest

import (
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

func deletedManifest(repo string, sec int, tags ...string) store.Deleted {
	m := manifest(repo, sec)
	return store.Deleted{Key: store.DeletedKey(store.DeletedManifestKind, string(m.Digest), at(100+sec)),
		DeletedAt: at(100 + sec), ExpiresAt: at(1000 + sec), Manifest: &m, Tags: tags}
}

func deletedTag(name string, d digest.Digest, sec int) store.Deleted {
	tg := tag(name, d, sec)
	return store.Deleted{Key: store.DeletedKey(store.DeletedTagKind, name, at(100+sec)),
		DeletedAt: at(100 + sec), ExpiresAt: at(1000 + sec), Tag: &tg}
}

func deletedKey(d store.Deleted) string { return d.Key }

// testDeleted: soft-deleted records are kept apart from a repository's
// content (deleting the repository keeps them), listed in key order by
// kind prefix, removed one by one, and rolled back with their transaction.
func testDeleted(t *testing.T, s store.Store) {
	m1, m2 := deletedManifest("r", 1, "v1", "latest"), deletedManifest("r", 2)
	again := m1
	again.Key = store.DeletedKey(store.DeletedManifestKind, string(m1.Manifest.Digest), at(500))
	t1, t2 := deletedTag("v1", m1.Manifest.Digest, 3), deletedTag("v0", m2.Manifest.Digest, 4)
	update(t, s, func(tx store.Tx) error {
		fillRepo(t, tx, "r")
		for _, d := range []store.Deleted{m1, m2, again, t1, t2} {
			must(t, tx.PutDeleted("r", d))
		}
		must(t, tx.PutDeleted("q/sub", deletedTag("x", m1.Manifest.Digest, 5)))
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteRepo("r") })
	view(t, s, func(tx store.Tx) error {
		if got := collect(t, tx.DeletedRepos("")); !cmp.Equal(got, []string{"q/sub", "r"}) {
			t.Errorf("DeletedRepos = %v", got)
		}
		if got := collect(t, tx.DeletedRepos("q/sub")); !cmp.Equal(got, []string{"r"}) {
			t.Errorf("DeletedRepos after q/sub = %v", got)
		}
		all := collect(t, tx.Deleted("r", "", ""))
		if len(all) != 5 {
			t.Fatalf("Deleted(r) = %d records, want 5", len(all))
		}
		for i := 1; i < len(all); i++ {
			if all[i-1].Key >= all[i].Key {
				t.Errorf("records out of key order: %q, %q", all[i-1].Key, all[i].Key)
			}
		}
		ms := collect(t, tx.Deleted("r", store.DeletedManifestKind+"/", ""))
		if got := names(ms, deletedKey); len(got) != 3 || ms[0].Manifest == nil {
			t.Errorf("deleted manifests = %v", got)
		}
		for _, d := range ms {
			if d.Key == m1.Key && !cmp.Equal(d, m1, opts) {
				t.Errorf("record mismatch (-want +got):\n%s", cmp.Diff(m1, d, opts))
			}
		}
		ts := collect(t, tx.Deleted("r", store.DeletedTagKind+"/", ""))
		if got := names(ts, deletedKey); len(got) != 2 || got[0] != t2.Key {
			t.Errorf("deleted tags = %v", got)
		}
		if got := collect(t, tx.Deleted("r", store.DeletedTagKind+"/", t2.Key)); len(got) != 1 || got[0].Key != t1.Key {
			t.Errorf("deleted tags after %s = %v", t2.Key, names(got, deletedKey))
		}
		// A key sorting before the prefix (a manifest's, for tags) starts
		// at the prefix's first record.
		if got := collect(t, tx.Deleted("r", store.DeletedTagKind+"/", m2.Key)); len(got) != 2 || got[0].Key != t2.Key {
			t.Errorf("deleted tags after %s = %v", m2.Key, names(got, deletedKey))
		}
		return nil
	})
	// Rolled back with their transaction.
	if err := s.Update(t.Context(), func(tx store.Tx) error {
		must(t, tx.DeleteDeleted("r", m1.Key))
		must(t, tx.PutDeleted("new", deletedTag("n", m1.Manifest.Digest, 6)))
		return errBoom
	}); err == nil {
		t.Fatal("Update returned no error")
	}
	update(t, s, func(tx store.Tx) error {
		for _, d := range []store.Deleted{m1, m2, again, t1, t2} {
			must(t, tx.DeleteDeleted("r", d.Key))
		}
		return tx.DeleteDeleted("r", "missing")
	})
	view(t, s, func(tx store.Tx) error {
		if got := collect(t, tx.DeletedRepos("")); !cmp.Equal(got, []string{"q/sub"}) {
			t.Errorf("DeletedRepos after removing r's records = %v", got)
		}
		return nil
	})
}

// testGCDeleted: blobs of a soft-deleted manifest survive GC until its
// retention runs out; then the record and the blobs go.
func testGCDeleted(t *testing.T, s store.Store) {
	cfg, _ := content(300, 21)
	layer, _ := content(4000, 22)
	own, _ := content(500, 23)
	c, l, o := putBlob(t, s, cfg), putBlob(t, s, layer), putBlob(t, s, own)
	m := store.Manifest{Digest: o, Blobs: []digest.Digest{c, l}}
	expires := at(1000)
	update(t, s, func(tx store.Tx) error {
		return tx.PutDeleted("gone", store.Deleted{Key: store.DeletedKey(store.DeletedManifestKind, string(o), at(10)),
			DeletedAt: at(10), ExpiresAt: expires, Manifest: &m})
	})
	res, err := store.GC(t.Context(), s, &store.GCOptions{Now: func() time.Time { return expires.Add(-time.Second) }})
	if err != nil || len(res.Removed) != 0 || res.DeletedExpired != 0 {
		t.Fatalf("GC before expiry: %+v, %v", res, err)
	}
	res, err = store.GC(t.Context(), s, &store.GCOptions{Now: func() time.Time { return expires }})
	if err != nil || len(res.Removed) != 3 || res.DeletedExpired != 1 {
		t.Fatalf("GC at expiry: %+v, %v", res, err)
	}
	for _, d := range []digest.Digest{c, l, o} {
		if _, err := s.StatBlob(t.Context(), d); err == nil {
			t.Errorf("blob %s survived its manifest's expiry", d)
		}
	}
	view(t, s, func(tx store.Tx) error {
		if got := collect(t, tx.DeletedRepos("")); len(got) != 0 {
			t.Errorf("DeletedRepos after expiry = %v", got)
		}
		return nil
	})
}
