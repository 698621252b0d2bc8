package storetest

import (
	"bytes"
	"slices"
	"testing"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// gcFixture is a store with two repositories sharing a layer, an index, and
// three blobs that nothing references.
type gcFixture struct {
	config, layer, shared, image, other, index digest.Digest
	orphanLinked, orphan, orphan512            digest.Digest
	sizes                                      map[digest.Digest]int64
}

func newGCFixture(t *testing.T, s store.Store) gcFixture {
	t.Helper()
	f := gcFixture{sizes: make(map[digest.Digest]int64)}
	put := func(n int, seed uint64) digest.Digest {
		data, _ := content(n, seed)
		d := putBlob(t, s, data)
		f.sizes[d] = int64(n)
		return d
	}
	f.config = put(300, 1)
	f.layer = put(5000, 2)
	f.shared = put(7000, 3)
	f.image = put(500, 4) // the manifests' own bytes
	f.other = put(600, 5)
	f.index = put(400, 6)
	f.orphanLinked = put(800, 7)
	f.orphan = put(900, 8)
	data, _ := content(1000, 9)
	f.orphan512 = digest.SHA512.FromBytes(data)
	if _, err := s.PutBlob(t.Context(), f.orphan512, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	f.sizes[f.orphan512] = 1000

	update(t, s, func(tx store.Tx) error {
		for _, r := range []string{"a", "b"} {
			must(t, tx.PutRepo(repo(r, 0)))
		}
		must(t, tx.PutManifest("a", store.Manifest{Digest: f.image, Blobs: []digest.Digest{f.config, f.layer, f.shared}}))
		must(t, tx.PutManifest("a", store.Manifest{Digest: f.index, Children: []store.Platform{{Digest: f.image}}}))
		must(t, tx.PutManifest("b", store.Manifest{Digest: f.other, Blobs: []digest.Digest{f.shared}}))
		for _, d := range []digest.Digest{f.config, f.layer, f.shared, f.orphanLinked} {
			must(t, tx.PutBlobLink("a", link(d, f.sizes[d])))
		}
		must(t, tx.PutBlobLink("b", link(f.shared, f.sizes[f.shared])))
		must(t, tx.PutBlobLink("b", link(f.orphanLinked, f.sizes[f.orphanLinked])))
		return nil
	})
	return f
}

func (f gcFixture) all() []digest.Digest {
	return []digest.Digest{f.config, f.layer, f.shared, f.image, f.other, f.index, f.orphanLinked, f.orphan, f.orphan512}
}

func runGC(t *testing.T, s store.Store, dryRun bool) store.GCResult {
	t.Helper()
	res, err := store.GC(t.Context(), s, &store.GCOptions{DryRun: dryRun})
	if err != nil {
		t.Fatalf("GC(dryRun=%v): %v", dryRun, err)
	}
	return res
}

// checkGC compares a result with the removal of want.
func checkGC(t *testing.T, f gcFixture, got store.GCResult, links int, want ...digest.Digest) {
	t.Helper()
	w := store.GCResult{Removed: slices.Sorted(slices.Values(want)), LinksRemoved: links}
	for _, d := range want {
		w.BytesFreed += f.sizes[d]
	}
	if diff := cmp.Diff(w, got, opts); diff != "" {
		t.Errorf("GC result mismatch (-want +got):\n%s", diff)
	}
}

func stored(t *testing.T, s store.Store) []digest.Digest {
	t.Helper()
	return slices.Sorted(slices.Values(collect(t, s.Blobs(t.Context()))))
}

func testGC(t *testing.T, s store.Store) {
	f := newGCFixture(t, s)
	before := stored(t, s)

	dry := runGC(t, s, true)
	checkGC(t, f, dry, 2, f.orphanLinked, f.orphan, f.orphan512)
	if diff := cmp.Diff(before, stored(t, s)); diff != "" {
		t.Fatalf("a dry run removed blobs (-before +after):\n%s", diff)
	}
	view(t, s, func(tx store.Tx) error {
		if _, ok, _ := tx.BlobLink("a", f.orphanLinked); !ok {
			t.Errorf("a dry run removed a blob link")
		}
		return nil
	})

	checkGC(t, f, runGC(t, s, false), 2, f.orphanLinked, f.orphan, f.orphan512)
	for _, d := range []digest.Digest{f.orphanLinked, f.orphan, f.orphan512} {
		checkNoBlob(t, s, d)
	}
	for _, d := range []digest.Digest{f.config, f.layer, f.shared, f.image, f.other, f.index} {
		data, _ := content(int(f.sizes[d]), seedOf(f, d))
		checkBlob(t, s, d, data)
	}
	view(t, s, func(tx store.Tx) error {
		for _, r := range []string{"a", "b"} {
			if _, ok, _ := tx.BlobLink(r, f.orphanLinked); ok {
				t.Errorf("GC left the link of a removed blob in %s", r)
			}
		}
		if got := len(collect(t, tx.BlobLinks("a", ""))); got != 3 {
			t.Errorf("links left in a: got %d, want 3", got)
		}
		return nil
	})

	// Nothing is left to collect.
	checkGC(t, f, runGC(t, s, false), 0)
}

// seedOf returns the seed newGCFixture made d's content with.
func seedOf(f gcFixture, d digest.Digest) uint64 {
	return uint64(slices.Index(f.all(), d) + 1)
}

func testGCDeletedContent(t *testing.T, s store.Store) {
	f := newGCFixture(t, s)
	runGC(t, s, false)

	// Without its index, the image is still a manifest of a.
	update(t, s, func(tx store.Tx) error { return tx.DeleteManifest("a", f.index) })
	checkGC(t, f, runGC(t, s, false), 0, f.index)

	// Without repository a, the layer shared with b survives.
	update(t, s, func(tx store.Tx) error { return tx.DeleteRepo("a") })
	checkGC(t, f, runGC(t, s, false), 0, f.config, f.layer, f.image)
	if diff := cmp.Diff([]digest.Digest{f.other, f.shared}, stored(t, s), cmpSorted); diff != "" {
		t.Errorf("blobs left mismatch (-want +got):\n%s", diff)
	}

	update(t, s, func(tx store.Tx) error { return tx.DeleteManifest("b", f.other) })
	checkGC(t, f, runGC(t, s, false), 1, f.other, f.shared)
	if got := stored(t, s); len(got) != 0 {
		t.Errorf("blobs left after deleting every manifest: %v", got)
	}
}

// testGCRepoWithoutRecord checks that content in a repository without a
// record still protects its blobs.
func testGCRepoWithoutRecord(t *testing.T, s store.Store) {
	data, _ := content(100, 1)
	d := putBlob(t, s, data)
	m, _ := content(50, 2)
	md := putBlob(t, s, m)
	update(t, s, func(tx store.Tx) error {
		return tx.PutManifest("norecord", store.Manifest{Digest: md, Blobs: []digest.Digest{d}})
	})
	res := runGC(t, s, false)
	if len(res.Removed) != 0 {
		t.Fatalf("GC removed %v, referenced from a repository without a record", res.Removed)
	}
	checkBlob(t, s, d, data)
}

var cmpSorted = cmp.Transformer("sort", func(ds []digest.Digest) []digest.Digest {
	return slices.Sorted(slices.Values(ds))
})
