package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// blobSizes cross the chunk boundaries of both stores (32 KiB growing to
// 16 MiB in memory, 512 KiB copy pieces on disk).
var blobSizes = []int{0, 1, 1000, 32<<10 + 1, 1<<20 - 1, 1 << 20, 1<<20 + 1, 3<<20 + 17, 16<<20 + 1}

func testPutBlob(t *testing.T, s store.Store) {
	for i, n := range blobSizes {
		for _, size := range []int64{int64(n), -1} {
			t.Run(fmt.Sprintf("%d/size=%d", n, size), func(t *testing.T) {
				data, d := content(n, uint64(i)+uint64(size+2)<<8)
				got, err := s.PutBlob(t.Context(), d, size, bytes.NewReader(data))
				if err != nil {
					t.Fatalf("PutBlob: %v", err)
				}
				if got != int64(n) {
					t.Fatalf("PutBlob: got %d bytes, want %d", got, n)
				}
				checkBlob(t, s, d, data)
			})
		}
	}
	// A reader that returns data with io.EOF, as some do, loses nothing.
	data, d := content(5000, 99)
	if _, err := s.PutBlob(t.Context(), d, 5000, &eofReader{data: data}); err != nil {
		t.Fatalf("PutBlob from a reader returning data with EOF: %v", err)
	}
	checkBlob(t, s, d, data)
}

// eofReader returns all its data with io.EOF in one call.
type eofReader struct{ data []byte }

func (r *eofReader) Read(p []byte) (int, error) {
	n := copy(p, r.data)
	r.data = r.data[n:]
	if len(r.data) == 0 {
		return n, io.EOF
	}
	return n, nil
}

func testPutBlobExisting(t *testing.T, s store.Store) {
	data, d := content(70000, 1)
	putBlob(t, s, data)
	putBlob(t, s, data) // again: succeeds
	checkBlob(t, s, d, data)

	// Content that does not match the stored blob's digest is refused, and
	// the stored blob is untouched.
	other, _ := content(70000, 2)
	_, err := s.PutBlob(t.Context(), d, int64(len(other)), bytes.NewReader(other))
	wantErr(t, "PutBlob of different content under an existing digest", err, store.ErrDigestMismatch)
	_, err = s.PutBlob(t.Context(), d, 5, bytes.NewReader(data))
	wantErr(t, "PutBlob of an existing blob with the wrong size", err, store.ErrSizeMismatch)
	checkBlob(t, s, d, data)
}

func testPutBlobDigestMismatch(t *testing.T, s store.Store) {
	for _, n := range []int{0, 10, 2<<20 + 5} {
		data, _ := content(n, 3)
		wrong := fakeDigest(fmt.Sprint("not the content ", n))
		_, err := s.PutBlob(t.Context(), wrong, int64(n), bytes.NewReader(data))
		wantErr(t, fmt.Sprintf("PutBlob of %d bytes under a wrong digest", n), err, store.ErrDigestMismatch)
		checkNoBlob(t, s, wrong)
		checkNoBlob(t, s, digest.FromBytes(data))
	}
}

func testPutBlobSizeMismatch(t *testing.T, s store.Store) {
	data, d := content(100000, 5)
	for _, size := range []int64{0, 1, 99999, 100001, 1 << 30} {
		_, err := s.PutBlob(t.Context(), d, size, bytes.NewReader(data))
		wantErr(t, fmt.Sprintf("PutBlob of %d bytes claiming %d", len(data), size), err, store.ErrSizeMismatch)
		checkNoBlob(t, s, d)
	}
	// A claimed size shorter than the body, with the digest of the claimed
	// prefix: still refused.
	prefix := digest.FromBytes(data[:1000])
	_, err := s.PutBlob(t.Context(), prefix, 1000, bytes.NewReader(data))
	wantErr(t, "PutBlob of a body longer than its claimed size", err, store.ErrSizeMismatch)
	checkNoBlob(t, s, prefix)
}

func testPutBlobReadError(t *testing.T, s store.Store) {
	data, d := content(3<<20, 6)
	for _, readErr := range []error{errBoom, io.ErrUnexpectedEOF} {
		for _, size := range []int64{int64(len(data)), -1} {
			r := &failingReader{data: data[:2<<20+7], err: readErr}
			_, err := s.PutBlob(t.Context(), d, size, r)
			wantErr(t, fmt.Sprintf("PutBlob from a reader failing with %v", readErr), err, readErr)
			checkNoBlob(t, s, d)
		}
	}
	// A cancelled request stores nothing either.
	ctx, cancel := context.WithCancel(t.Context())
	r := &cancellingReader{data: data, after: 1 << 20, cancel: cancel}
	_, err := s.PutBlob(ctx, d, int64(len(data)), r)
	wantErr(t, "PutBlob cancelled midway", err, context.Canceled)
	checkNoBlob(t, s, d)
}

// cancellingReader cancels a context once it has returned after bytes.
type cancellingReader struct {
	data   []byte
	after  int
	read   int
	cancel context.CancelFunc
}

func (r *cancellingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	if r.read += n; r.read >= r.after {
		r.cancel()
	}
	return n, nil
}

func testPutBlobSHA512(t *testing.T, s store.Store) {
	for _, n := range []int{0, 1000, 2<<20 + 3} {
		data, _ := content(n, 7)
		d := digest.SHA512.FromBytes(data)
		got, err := s.PutBlob(t.Context(), d, -1, bytes.NewReader(data))
		if err != nil || got != int64(n) {
			t.Fatalf("PutBlob(sha512, %d bytes): got %d, %v", n, got, err)
		}
		checkBlob(t, s, d, data)
		// The sha256 of the same content is a different blob.
		checkNoBlob(t, s, digest.FromBytes(data))
	}
	data, _ := content(1000, 8)
	wrong := digest.SHA512.FromString("something else")
	_, err := s.PutBlob(t.Context(), wrong, -1, bytes.NewReader(data))
	wantErr(t, "PutBlob under a wrong sha512", err, store.ErrDigestMismatch)
	checkNoBlob(t, s, wrong)
}

func testUnsupportedDigest(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, d := range []digest.Digest{
		digest.SHA384.FromString("x"),
		"md5:d41d8cd98f00b204e9800998ecf8427e",
		"sha256:abc",
		"sha256:" + digest.Digest(strings.Repeat("A", 64)),
		"sha256:../../../../etc/passwd",
		"",
	} {
		_, err := s.PutBlob(ctx, d, -1, strings.NewReader("x"))
		wantErr(t, fmt.Sprintf("PutBlob(%q)", d), err, store.ErrUnsupportedDigest)
		_, err = s.StatBlob(ctx, d)
		if err == nil {
			t.Errorf("StatBlob(%q): got no error", d)
		}
		if r, err := s.OpenBlob(ctx, d); err == nil {
			r.Close()
			t.Errorf("OpenBlob(%q): got no error", d)
		}
		if err := s.DeleteBlob(ctx, d); err == nil {
			t.Errorf("DeleteBlob(%q): got no error", d)
		}
	}
	if got := collect(t, s.Blobs(ctx)); len(got) != 0 {
		t.Errorf("Blobs after refused puts: got %v", got)
	}
}

func testBlobReader(t *testing.T, s store.Store) {
	data, d := content(16<<20+100, 9)
	putBlob(t, s, data)
	r, err := s.OpenBlob(t.Context(), d)
	must(t, err)
	defer r.Close()
	// ReadAt across chunk boundaries.
	for _, off := range []int64{0, 1, 32<<10 - 3, 1<<20 - 1, 1 << 20, 2<<20 + 5, 16<<20 - 50, 16 << 20, int64(len(data)) - 10} {
		p := make([]byte, 100)
		n, err := r.ReadAt(p, off)
		want := data[off:min(off+100, int64(len(data)))]
		if n != len(want) || !bytes.Equal(p[:n], want) {
			t.Errorf("ReadAt(%d): got %d bytes, want %d matching", off, n, len(want))
		}
		if n < len(p) && err != io.EOF {
			t.Errorf("short ReadAt(%d): got error %v, want io.EOF", off, err)
		}
	}
	if n, err := r.ReadAt(make([]byte, 10), int64(len(data))); n != 0 || err != io.EOF {
		t.Errorf("ReadAt at the end: got %d, %v, want 0, io.EOF", n, err)
	}
	// Seek then Read.
	if pos, err := r.Seek(-50, io.SeekEnd); err != nil || pos != int64(len(data))-50 {
		t.Fatalf("Seek(-50, end): got %d, %v", pos, err)
	}
	rest, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(rest, data[len(data)-50:]) {
		t.Errorf("Read after Seek: got %d bytes, %v", len(rest), err)
	}
	if pos, err := r.Seek(1<<20, io.SeekStart); err != nil || pos != 1<<20 {
		t.Fatalf("Seek(1 MiB, start): got %d, %v", pos, err)
	}
	if pos, err := r.Seek(10, io.SeekCurrent); err != nil || pos != 1<<20+10 {
		t.Fatalf("Seek(10, current): got %d, %v", pos, err)
	}
	p := make([]byte, 20)
	if _, err := io.ReadFull(r, p); err != nil || !bytes.Equal(p, data[1<<20+10:1<<20+30]) {
		t.Errorf("Read after Seek(current): %v", err)
	}
	if _, err := r.Seek(-1, io.SeekStart); err == nil {
		t.Errorf("Seek to a negative position: got no error")
	}
	// Readers are independent.
	r2, err := s.OpenBlob(t.Context(), d)
	must(t, err)
	all, err := io.ReadAll(r2)
	r2.Close()
	if err != nil || !bytes.Equal(all, data) {
		t.Errorf("second reader: got %d bytes, %v", len(all), err)
	}
	// A reader opened before DeleteBlob still reads the whole blob.
	r3, err := s.OpenBlob(t.Context(), d)
	must(t, err)
	defer r3.Close()
	must(t, s.DeleteBlob(t.Context(), d))
	if all, err := io.ReadAll(r3); err != nil || !bytes.Equal(all, data) {
		t.Errorf("reader after DeleteBlob: got %d bytes, %v", len(all), err)
	}
}

func testDeleteBlob(t *testing.T, s store.Store) {
	a, da := content(100, 10)
	b, db := content(200, 11)
	putBlob(t, s, a)
	putBlob(t, s, b)
	must(t, s.DeleteBlob(t.Context(), da))
	checkNoBlob(t, s, da)
	checkBlob(t, s, db, b)
	wantErr(t, "DeleteBlob of a deleted blob", s.DeleteBlob(t.Context(), da), store.ErrNotFound)
	wantErr(t, "DeleteBlob of an unknown blob", s.DeleteBlob(t.Context(), fakeDigest("never")), store.ErrNotFound)
	// Put again after delete.
	putBlob(t, s, a)
	checkBlob(t, s, da, a)
}

func testBlobs(t *testing.T, s store.Store) {
	if got := collect(t, s.Blobs(t.Context())); len(got) != 0 {
		t.Fatalf("Blobs of an empty store: got %v", got)
	}
	var want []digest.Digest
	for i := range 20 {
		data, _ := content(i*37, uint64(100+i))
		if i%4 == 0 {
			d := digest.SHA512.FromBytes(data)
			_, err := s.PutBlob(t.Context(), d, -1, bytes.NewReader(data))
			must(t, err)
			want = append(want, d)
			continue
		}
		want = append(want, putBlob(t, s, data))
	}
	got := collect(t, s.Blobs(t.Context()))
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Blobs mismatch (-want +got):\n%s", diff)
	}
	// Deleting while iterating is allowed (garbage collection does it).
	n := 0
	for d, err := range s.Blobs(t.Context()) {
		must(t, err)
		must(t, s.DeleteBlob(t.Context(), d))
		n++
	}
	if n != len(want) {
		t.Errorf("deleting while iterating: saw %d blobs, want %d", n, len(want))
	}
	if got := collect(t, s.Blobs(t.Context())); len(got) != 0 {
		t.Errorf("Blobs after deleting all: got %v", got)
	}
}

func testConcurrentPutBlob(t *testing.T, s store.Store) {
	data, d := content(2<<20+1, 12)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			if _, err := s.PutBlob(t.Context(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent PutBlob: %v", err)
	}
	checkBlob(t, s, d, data)
}

func testContext(t *testing.T, s store.Store) {
	ctx := cancelled()
	called := false
	fn := func(store.Tx) error { called = true; return nil }
	wantErr(t, "View with a cancelled context", s.View(ctx, fn), context.Canceled)
	wantErr(t, "Update with a cancelled context", s.Update(ctx, fn), context.Canceled)
	if called {
		t.Errorf("a transaction ran with a cancelled context")
	}
	data, d := content(10, 13)
	_, err := s.PutBlob(ctx, d, -1, bytes.NewReader(data))
	wantErr(t, "PutBlob with a cancelled context", err, context.Canceled)
	checkNoBlob(t, s, d)
	_, err = s.CreateUpload(ctx, "repo")
	wantErr(t, "CreateUpload with a cancelled context", err, context.Canceled)
}

func testClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	data, d := content(10, 14)
	putBlob(t, s, data)
	u, err := s.CreateUpload(ctx, "repo")
	must(t, err)
	must(t, s.Close())
	must(t, s.Close()) // a second Close does nothing

	nop := func(store.Tx) error { return nil }
	_, statErr := s.StatBlob(ctx, d)
	_, openErr := s.OpenBlob(ctx, d)
	_, putErr := s.PutBlob(ctx, d, -1, bytes.NewReader(data))
	_, createErr := s.CreateUpload(ctx, "repo")
	_, getErr := s.GetUpload(ctx, u.ID)
	_, appendErr := s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(data))
	_, commitErr := s.CommitUpload(ctx, u.ID, d, -1)
	var blobsErr, uploadsErr error
	for _, err := range s.Blobs(ctx) {
		blobsErr = err
		break
	}
	for _, err := range s.Uploads(ctx) {
		uploadsErr = err
		break
	}
	for name, err := range map[string]error{
		"View":         s.View(ctx, nop),
		"Update":       s.Update(ctx, nop),
		"StatBlob":     statErr,
		"OpenBlob":     openErr,
		"PutBlob":      putErr,
		"DeleteBlob":   s.DeleteBlob(ctx, d),
		"Blobs":        blobsErr,
		"CreateUpload": createErr,
		"GetUpload":    getErr,
		"AppendUpload": appendErr,
		"CommitUpload": commitErr,
		"CancelUpload": s.CancelUpload(ctx, u.ID),
		"Uploads":      uploadsErr,
	} {
		if !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: got error %v, want ErrClosed", name, err)
		}
	}
}
