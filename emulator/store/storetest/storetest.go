// Package storetest is the conformance suite of [store.Store]
// implementations. Every store runs the same suite, so that the memory
// store used in tests cannot drift from the disk store used in production.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opencontainers/go-digest"
)

// Run runs the conformance suite. open must return a new, empty store each
// time it is called; Run closes it when the subtest ends, possibly after
// the subtest closed it too, so Close must tolerate a second call. Subtests
// run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Repos", testRepos},
		{"DeleteRepo", testDeleteRepo},
		{"Manifests", testManifests},
		{"Tags", testTags},
		{"TagsPaging", testTagsPaging},
		{"BlobLinks", testBlobLinks},
		{"Referrers", testReferrers},
		{"Deleted", testDeleted},
		{"GCDeleted", testGCDeleted},
		{"EmptyKeys", testEmptyKeys},
		{"Rollback", testRollback},
		{"RollbackPanic", testRollbackPanic},
		{"ReadOnlyTx", testReadOnlyTx},
		{"TxAfterReturn", testTxAfterReturn},
		{"IterateAndWrite", testIterateAndWrite},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"Context", testContext},
		{"Close", testClose},

		{"PutBlob", testPutBlob},
		{"PutBlobExisting", testPutBlobExisting},
		{"PutBlobDigestMismatch", testPutBlobDigestMismatch},
		{"PutBlobSizeMismatch", testPutBlobSizeMismatch},
		{"PutBlobReadError", testPutBlobReadError},
		{"PutBlobSHA512", testPutBlobSHA512},
		{"UnsupportedDigest", testUnsupportedDigest},
		{"BlobReader", testBlobReader},
		{"DeleteBlob", testDeleteBlob},
		{"Blobs", testBlobs},
		{"ConcurrentPutBlob", testConcurrentPutBlob},

		{"Upload", testUpload},
		{"UploadOffsetMismatch", testUploadOffsetMismatch},
		{"UploadLarge", testUploadLarge},
		{"UploadSHA512", testUploadSHA512},
		{"UploadDigestMismatch", testUploadDigestMismatch},
		{"UploadSizeMismatch", testUploadSizeMismatch},
		{"UploadUnsupportedDigest", testUploadUnsupportedDigest},
		{"UploadCancel", testUploadCancel},
		{"UploadReadError", testUploadReadError},
		{"UploadEmpty", testUploadEmpty},
		{"UploadExistingBlob", testUploadExistingBlob},
		{"UploadConcurrentAppends", testUploadConcurrentAppends},
		{"UploadUnknown", testUploadUnknown},
		{"Uploads", testUploads},
		{"UploadActivity", testUploadActivity},

		{"GC", testGC},
		{"GCDeletedContent", testGCDeletedContent},
		{"GCRepoWithoutRecord", testGCRepoWithoutRecord},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// epoch is the base of the suite's timestamps; whole seconds in UTC survive
// any encoding a store may use.
var epoch = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

func at(sec int) time.Time { return epoch.Add(time.Duration(sec) * time.Second) }

// errBoom is the error the suite's transactions fail with.
var errBoom = errors.New("storetest: boom")

// opts compares store values: stores may return nil for empty maps and
// slices.
var opts = cmp.Options{cmpopts.EquateEmpty()}

func update(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func view(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// collect drains an iterator, failing the test on an error.
func collect[T any](t *testing.T, seq iter.Seq2[T, error]) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatalf("iterator: %v", err)
		}
		out = append(out, v)
	}
	return out
}

// must fails the test on err.
func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantErr fails the test unless err matches target.
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

// content returns n deterministic pseudo-random bytes and their sha256.
func content(n int, seed uint64) ([]byte, digest.Digest) {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b, digest.FromBytes(b)
}

// fakeDigest returns a well-formed sha256 digest named after s.
func fakeDigest(s string) digest.Digest { return digest.FromString(s) }

func putBlob(t *testing.T, s store.Store, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	n, err := s.PutBlob(t.Context(), d, int64(len(data)), bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PutBlob(%d bytes): %v", len(data), err)
	}
	if n != int64(len(data)) {
		t.Fatalf("PutBlob: got %d bytes, want %d", n, len(data))
	}
	return d
}

// checkBlob fails the test unless d is stored with exactly want.
func checkBlob(t *testing.T, s store.Store, d digest.Digest, want []byte) {
	t.Helper()
	size, err := s.StatBlob(t.Context(), d)
	if err != nil {
		t.Fatalf("StatBlob(%s): %v", d, err)
	}
	if size != int64(len(want)) {
		t.Fatalf("StatBlob(%s): got %d, want %d", d, size, len(want))
	}
	r, err := s.OpenBlob(t.Context(), d)
	if err != nil {
		t.Fatalf("OpenBlob(%s): %v", d, err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", d, err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("content of %s: got %d bytes (%s), want %d bytes", d, len(got), digest.FromBytes(got), len(want))
	}
}

// checkNoBlob fails the test if d is stored.
func checkNoBlob(t *testing.T, s store.Store, d digest.Digest) {
	t.Helper()
	if _, err := s.StatBlob(t.Context(), d); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("StatBlob(%s): got error %v, want ErrNotFound", d, err)
	}
	if r, err := s.OpenBlob(t.Context(), d); !errors.Is(err, store.ErrNotFound) {
		if r != nil {
			r.Close()
		}
		t.Fatalf("OpenBlob(%s): got error %v, want ErrNotFound", d, err)
	}
	for got, err := range s.Blobs(t.Context()) {
		if err != nil {
			t.Fatalf("Blobs: %v", err)
		}
		if got == d {
			t.Fatalf("Blobs lists %s, which should not be stored", d)
		}
	}
}

// failingReader yields data, then fails with err.
type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

// cancelled returns a context that is already cancelled.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
