package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// foreignStore hides the transactions' concrete types, as a Store from
// another package would, so GC must find repositories through Repos.
type foreignStore struct{ store.Store }

type foreignTx struct{ store.Tx }

func (s foreignStore) View(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.View(ctx, func(tx store.Tx) error { return fn(foreignTx{tx}) })
}

func (s foreignStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.Store.Update(ctx, func(tx store.Tx) error { return fn(foreignTx{tx}) })
}

func TestGCForeignStore(t *testing.T) {
	ctx := t.Context()
	s := foreignStore{store.NewMemory()}
	defer s.Close()
	layer := put(t, s, []byte("layer"))
	image := put(t, s, []byte("image"))
	orphan := put(t, s, []byte("orphan"))
	err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutRepo(store.Repository{Name: "r"}); err != nil {
			return err
		}
		if err := tx.PutBlobLink("r", store.BlobLink{Digest: orphan, Size: 6}); err != nil {
			return err
		}
		return tx.PutManifest("r", store.Manifest{Digest: image, Blobs: []digest.Digest{layer}})
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := store.GC(ctx, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := store.GCResult{Removed: []digest.Digest{orphan}, BytesFreed: 6, LinksRemoved: 1}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("GC mismatch (-want +got):\n%s", diff)
	}
	var left []digest.Digest
	for d, err := range s.Blobs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, d)
	}
	slices.SortFunc(left, func(a, b digest.Digest) int { return strings.Compare(string(a), string(b)) })
	wantLeft := []digest.Digest{layer, image}
	slices.SortFunc(wantLeft, func(a, b digest.Digest) int { return strings.Compare(string(a), string(b)) })
	if diff := cmp.Diff(wantLeft, left); diff != "" {
		t.Errorf("blobs left mismatch (-want +got):\n%s", diff)
	}
}
