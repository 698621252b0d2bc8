package store

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"
)

// namesSyncs wraps syncNames for one test: it records the directories of
// each call (as paths under the store's directory) and fails the calls for
// which fail returns an error.
type namesSyncs struct {
	calls [][]string
	fail  func(call int) error
}

func recordNamesSyncs(t *testing.T, dir string) *namesSyncs {
	r := &namesSyncs{}
	real := syncNames
	syncNames = func(root *os.File, dirs map[string]struct{}) error {
		if root != nil && root.Name() != dir {
			return real(root, dirs) // another test's store
		}
		rel := make([]string, 0, len(dirs))
		for d := range maps.Keys(dirs) {
			p, err := filepath.Rel(dir, d)
			if err != nil {
				t.Errorf("syncNames: %s is outside the store: %v", d, err)
			}
			rel = append(rel, filepath.ToSlash(p))
		}
		slices.Sort(rel)
		r.calls = append(r.calls, rel)
		if r.fail != nil {
			if err := r.fail(len(r.calls)); err != nil {
				return err
			}
		}
		return real(root, dirs)
	}
	t.Cleanup(func() { syncNames = real })
	return r
}

func openNamesStore(t *testing.T) (*diskStore, string) {
	dir := t.TempDir()
	st, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(*diskStore), dir
}

func putNamed(t *testing.T, s *diskStore, content string) digest.Digest {
	t.Helper()
	d := digest.FromString(content)
	if _, err := s.PutBlob(t.Context(), d, int64(len(content)), strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	return d
}

func commitNamed(t *testing.T, s *diskStore, content string) digest.Digest {
	t.Helper()
	ctx := t.Context()
	u, err := s.CreateUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, u.ID, 0, strings.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	d := digest.FromString(content)
	if _, err := s.CommitUpload(ctx, u.ID, d, int64(len(content))); err != nil {
		t.Fatal(err)
	}
	return d
}

// blobDirs is what a flush must cover for blobs stored in a new store: the
// prefix directory of each (a rename in it) and its parent (the prefix
// directory created).
func blobDirs(ds ...digest.Digest) []string {
	set := map[string]bool{}
	for _, d := range ds {
		set[filepath.ToSlash(filepath.Join(blobsDir, string(d.Algorithm())))] = true
		set[filepath.ToSlash(filepath.Join(blobsDir, string(d.Algorithm()), d.Encoded()[:2]))] = true
	}
	return slices.Sorted(maps.Keys(set))
}

// TestDiskBlobNamesBeforeCommit checks the order that makes an
// acknowledged blob survive a crash: the names of the blobs stored by
// PutBlob and CommitUpload are synced, all in one call, before the next
// Update's function runs (so before its commit can name them), also when
// that Update writes nothing; an Update with no new names syncs none.
func TestDiskBlobNamesBeforeCommit(t *testing.T) {
	s, dir := openNamesStore(t)
	if runtime.GOOS == "linux" && s.names.root == nil {
		t.Fatal("a store on one file system syncs blob names one directory at a time, not with syncfs")
	}
	syncs := recordNamesSyncs(t, dir)
	ctx := t.Context()

	var ds []digest.Digest
	for i := range 6 {
		ds = append(ds, putNamed(t, s, fmt.Sprintf("put %d", i)))
		ds = append(ds, commitNamed(t, s, fmt.Sprintf("upload %d", i)))
	}
	if len(syncs.calls) != 0 {
		t.Fatalf("names were synced one blob at a time (%d syncs before any Update): %v", len(syncs.calls), syncs.calls)
	}
	ran := false
	err := s.Update(ctx, func(tx Tx) error {
		ran = true
		if len(syncs.calls) != 1 {
			t.Errorf("the Update's function ran after %d syncs of blob names, want 1", len(syncs.calls))
		}
		return nil // writes nothing: the blobs' names must be durable all the same
	})
	if err != nil || !ran {
		t.Fatalf("Update: ran %v, %v", ran, err)
	}
	if want := blobDirs(ds...); len(syncs.calls) != 1 || !slices.Equal(syncs.calls[0], want) {
		t.Fatalf("syncs of blob names: %v\nwant one call, of %v", syncs.calls, want)
	}

	// A blob already stored leaves nothing to sync; nor does an Update.
	putNamed(t, s, "put 0")
	if err := s.Update(ctx, func(tx Tx) error { return tx.PutRepo(Repository{Name: "r"}) }); err != nil {
		t.Fatal(err)
	}
	if len(syncs.calls) != 1 {
		t.Fatalf("%d syncs of blob names after an Update with none new, want 1: %v", len(syncs.calls), syncs.calls)
	}

	// Close syncs what is left.
	d := putNamed(t, s, "at close")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.ToSlash(filepath.Join(blobsDir, "sha256", d.Encoded()[:2]))}; len(syncs.calls) != 2 || !slices.Contains(syncs.calls[1], want[0]) {
		t.Fatalf("syncs of blob names after Close: %v, want a second one holding %v", syncs.calls, want)
	}
}

// TestDiskBlobNamesSyncFails makes the sync of blob names fail once: the
// Updates of that group fail without running (nothing that names the blob
// is committed), and the next Update syncs the same names again.
func TestDiskBlobNamesSyncFails(t *testing.T) {
	s, dir := openNamesStore(t)
	syncs := recordNamesSyncs(t, dir)
	syncs.fail = func(call int) error {
		if call == 1 {
			return syscall.EIO
		}
		return nil
	}
	ctx := t.Context()
	d := commitNamed(t, s, "layer")
	ran := false
	err := s.Update(ctx, func(tx Tx) error {
		ran = true
		return tx.PutRepo(Repository{Name: "r"})
	})
	if !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), "sync blob names") || ran {
		t.Fatalf("Update while the names' sync fails: ran %v, error %v; want an error naming the sync, fn not run", ran, err)
	}
	if err := s.View(ctx, func(tx Tx) error {
		if _, ok, err := tx.Repo("r"); err != nil || ok {
			return fmt.Errorf("repository after the failed Update: ok %v, %v", ok, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, func(tx Tx) error { return tx.PutRepo(Repository{Name: "r"}) }); err != nil {
		t.Fatal(err)
	}
	if want := blobDirs(d); len(syncs.calls) != 2 || !slices.Equal(syncs.calls[1], want) {
		t.Fatalf("syncs of blob names: %v; want the failed one again: %v", syncs.calls, want)
	}
	got, err := s.OpenBlob(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(got); err != nil || b.String() != "layer" {
		t.Fatalf("blob after the retried sync: %q, %v", b.String(), err)
	}
}

// TestSyncDirs checks the one-directory-at-a-time path of syncNames (other
// systems, or a blob directory mounted from another file system): each
// directory is synced, and one that is gone fails the sync.
func TestSyncDirs(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := syncNames(nil, map[string]struct{}{a: {}, b: {}}); err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS == "windows" {
		t.Skip("Windows does not sync directories (syncDir)")
	}
	gone := filepath.Join(a, "gone")
	if err := syncNames(nil, map[string]struct{}{a: {}, gone: {}}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("syncing a directory that is gone: %v, want an error that it does not exist", err)
	}
}
