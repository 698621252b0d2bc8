package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

func createUpload(t *testing.T, s store.Store, repo string) store.Upload {
	t.Helper()
	u, err := s.CreateUpload(t.Context(), repo)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	return u
}

func appendUpload(t *testing.T, s store.Store, id string, offset int64, data []byte) int64 {
	t.Helper()
	n, err := s.AppendUpload(t.Context(), id, offset, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("AppendUpload(%d bytes at %d): %v", len(data), offset, err)
	}
	if want := offset + int64(len(data)); n != want {
		t.Fatalf("AppendUpload(%d bytes at %d): got size %d, want %d", len(data), offset, n, want)
	}
	return n
}

// checkUploadGone fails the test unless the session has ended.
func checkUploadGone(t *testing.T, s store.Store, id string) {
	t.Helper()
	ctx := t.Context()
	_, err := s.GetUpload(ctx, id)
	wantErr(t, "GetUpload of an ended session", err, store.ErrNotFound)
	_, err = s.AppendUpload(ctx, id, 0, strings.NewReader("x"))
	wantErr(t, "AppendUpload to an ended session", err, store.ErrNotFound)
	_, err = s.CommitUpload(ctx, id, digest.FromString(""), -1)
	wantErr(t, "CommitUpload of an ended session", err, store.ErrNotFound)
	wantErr(t, "CancelUpload of an ended session", s.CancelUpload(ctx, id), store.ErrNotFound)
	for u, err := range s.Uploads(ctx) {
		must(t, err)
		if u.ID == id {
			t.Fatalf("Uploads lists ended session %s", id)
		}
	}
}

func testUpload(t *testing.T, s store.Store) {
	ctx := t.Context()
	before := time.Now().Add(-time.Minute)
	u := createUpload(t, s, "library/hello")
	if u.ID == "" || u.Repo != "library/hello" || u.Size != 0 || u.StartedAt.Before(before) || u.StartedAt.After(time.Now().Add(time.Minute)) {
		t.Fatalf("CreateUpload: got %+v", u)
	}
	got, err := s.GetUpload(ctx, u.ID)
	must(t, err)
	if diff := cmp.Diff(u, got, opts); diff != "" {
		t.Errorf("GetUpload mismatch (-want +got):\n%s", diff)
	}
	appendUpload(t, s, u.ID, 0, []byte("hello, "))
	appendUpload(t, s, u.ID, 7, nil) // an empty chunk changes nothing
	appendUpload(t, s, u.ID, 7, []byte("world"))
	got, err = s.GetUpload(ctx, u.ID)
	must(t, err)
	if got.Size != 12 {
		t.Errorf("GetUpload after two appends: got size %d, want 12", got.Size)
	}
	data := []byte("hello, world")
	d := digest.FromBytes(data)
	n, err := s.CommitUpload(ctx, u.ID, d, 12)
	if err != nil || n != 12 {
		t.Fatalf("CommitUpload: got %d, %v", n, err)
	}
	checkBlob(t, s, d, data)
	checkUploadGone(t, s, u.ID)

	// Commit without a size.
	u = createUpload(t, s, "r")
	appendUpload(t, s, u.ID, 0, []byte("unsized"))
	if n, err := s.CommitUpload(ctx, u.ID, digest.FromString("unsized"), -1); err != nil || n != 7 {
		t.Fatalf("CommitUpload without size: got %d, %v", n, err)
	}
	checkBlob(t, s, digest.FromString("unsized"), []byte("unsized"))
}

func testUploadOffsetMismatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUpload(t, s, "r")
	n, err := s.AppendUpload(ctx, u.ID, 5, strings.NewReader("xyz"))
	wantErr(t, "AppendUpload at 5 to an empty session", err, store.ErrOffsetMismatch)
	if n != 0 {
		t.Errorf("AppendUpload with a wrong offset: got size %d, want the current 0", n)
	}
	appendUpload(t, s, u.ID, 0, []byte("abc"))
	for _, off := range []int64{0, 2, 4, -1} {
		n, err := s.AppendUpload(ctx, u.ID, off, strings.NewReader("xyz"))
		wantErr(t, fmt.Sprintf("AppendUpload at %d to a 3-byte session", off), err, store.ErrOffsetMismatch)
		if n != 3 {
			t.Errorf("AppendUpload at %d: got size %d, want the current 3", off, n)
		}
	}
	appendUpload(t, s, u.ID, 3, []byte("def"))
	if _, err := s.CommitUpload(ctx, u.ID, digest.FromString("abcdef"), 6); err != nil {
		t.Fatalf("CommitUpload after refused appends: %v", err)
	}
	checkBlob(t, s, digest.FromString("abcdef"), []byte("abcdef"))
}

func testUploadLarge(t *testing.T, s store.Store) {
	data, d := content(7<<20+333, 20)
	u := createUpload(t, s, "r")
	var off int64
	for _, n := range []int{700 << 10, 1<<20 + 3, 1, 5 << 19, 0, 1 << 20} {
		off = appendUpload(t, s, u.ID, off, data[off:off+int64(n)])
	}
	appendUpload(t, s, u.ID, off, data[off:])
	n, err := s.CommitUpload(t.Context(), u.ID, d, int64(len(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("CommitUpload: got %d, %v", n, err)
	}
	checkBlob(t, s, d, data)

	// The same content from a reader that hands it over in uneven pieces,
	// in appends that follow each other at once: a store that hashes while
	// it reads, or after an append has returned, must still see every byte
	// once and in order.
	data, d = content(5<<20+77, 22)
	u = createUpload(t, s, "r")
	off = 0
	for i, n := range []int{3 << 20, 1, 300 << 10, 2, 600<<10 + 5} {
		r := &piecesReader{data: data[off : off+int64(n)], seed: uint64(i)}
		m, err := s.AppendUpload(t.Context(), u.ID, off, r)
		if err != nil || m != off+int64(n) {
			t.Fatalf("AppendUpload(%d bytes in pieces at %d): got %d, %v", n, off, m, err)
		}
		off = m
	}
	off = appendUpload(t, s, u.ID, off, data[off:])
	if n, err := s.CommitUpload(t.Context(), u.ID, d, off); err != nil || n != int64(len(data)) {
		t.Fatalf("CommitUpload after appends in pieces: got %d, %v", n, err)
	}
	checkBlob(t, s, d, data)
}

// piecesReader returns data in pieces of 1 byte to 96 KiB, as a network
// connection does.
type piecesReader struct {
	data []byte
	seed uint64
}

func (r *piecesReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	r.seed = r.seed*6364136223846793005 + 1442695040888963407
	n := min(len(p), len(r.data), 1+int(r.seed>>33)%(96<<10))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func testUploadSHA512(t *testing.T, s store.Store) {
	data, _ := content(2<<20+9, 21)
	d := digest.SHA512.FromBytes(data)
	u := createUpload(t, s, "r")
	off := appendUpload(t, s, u.ID, 0, data[:1<<20])
	appendUpload(t, s, u.ID, off, data[1<<20:])
	n, err := s.CommitUpload(t.Context(), u.ID, d, int64(len(data)))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("CommitUpload(sha512): got %d, %v", n, err)
	}
	checkBlob(t, s, d, data)
	checkNoBlob(t, s, digest.FromBytes(data))

	u = createUpload(t, s, "r")
	appendUpload(t, s, u.ID, 0, data)
	wrong := digest.SHA512.FromString("other")
	_, err = s.CommitUpload(t.Context(), u.ID, wrong, -1)
	wantErr(t, "CommitUpload under a wrong sha512", err, store.ErrDigestMismatch)
	checkNoBlob(t, s, wrong)
	checkUploadGone(t, s, u.ID)
}

func testUploadDigestMismatch(t *testing.T, s store.Store) {
	data, d := content(1<<20+5, 22)
	_, wrong := content(1<<20+5, 23)
	u := createUpload(t, s, "r")
	appendUpload(t, s, u.ID, 0, data)
	_, err := s.CommitUpload(t.Context(), u.ID, wrong, int64(len(data)))
	wantErr(t, "CommitUpload under a wrong digest", err, store.ErrDigestMismatch)
	checkNoBlob(t, s, wrong)
	checkNoBlob(t, s, d)
	checkUploadGone(t, s, u.ID)
}

func testUploadSizeMismatch(t *testing.T, s store.Store) {
	data, d := content(4096, 24)
	for _, size := range []int64{0, 4095, 4097} {
		u := createUpload(t, s, "r")
		appendUpload(t, s, u.ID, 0, data)
		_, err := s.CommitUpload(t.Context(), u.ID, d, size)
		wantErr(t, fmt.Sprintf("CommitUpload of 4096 bytes claiming %d", size), err, store.ErrSizeMismatch)
		checkNoBlob(t, s, d)
		checkUploadGone(t, s, u.ID)
	}
}

func testUploadUnsupportedDigest(t *testing.T, s store.Store) {
	u := createUpload(t, s, "r")
	appendUpload(t, s, u.ID, 0, []byte("abc"))
	for _, d := range []digest.Digest{digest.SHA384.FromString("abc"), "sha256:abc", ""} {
		_, err := s.CommitUpload(t.Context(), u.ID, d, -1)
		wantErr(t, fmt.Sprintf("CommitUpload(%q)", d), err, store.ErrUnsupportedDigest)
	}
	// The session survives a digest the store cannot check.
	got, err := s.GetUpload(t.Context(), u.ID)
	if err != nil || got.Size != 3 {
		t.Fatalf("GetUpload after an unsupported digest: got %+v, %v", got, err)
	}
	if _, err := s.CommitUpload(t.Context(), u.ID, digest.FromString("abc"), 3); err != nil {
		t.Fatalf("CommitUpload after an unsupported digest: %v", err)
	}
}

func testUploadCancel(t *testing.T, s store.Store) {
	u := createUpload(t, s, "r")
	appendUpload(t, s, u.ID, 0, []byte("cancel me"))
	other := createUpload(t, s, "r")
	must(t, s.CancelUpload(t.Context(), u.ID))
	checkUploadGone(t, s, u.ID)
	checkNoBlob(t, s, digest.FromString("cancel me"))
	if _, err := s.GetUpload(t.Context(), other.ID); err != nil {
		t.Errorf("GetUpload of another session after a cancel: %v", err)
	}
}

func testUploadReadError(t *testing.T, s store.Store) {
	data, d := content(3<<20+11, 25)
	u := createUpload(t, s, "r")
	// The bytes received before the failure stay appended, so that the
	// client can ask for the offset and resume.
	cut := int64(2<<20 + 5)
	for _, readErr := range []error{errBoom, io.ErrUnexpectedEOF} {
		n, err := s.AppendUpload(t.Context(), u.ID, 0, &failingReader{data: data[:cut], err: readErr})
		wantErr(t, "AppendUpload from a failing reader", err, readErr)
		if n != cut {
			t.Fatalf("AppendUpload from a reader failing after %d bytes: got size %d", cut, n)
		}
		got, err := s.GetUpload(t.Context(), u.ID)
		if err != nil || got.Size != cut {
			t.Fatalf("GetUpload after a failed append: got %+v, %v, want size %d", got, err, cut)
		}
		must(t, s.CancelUpload(t.Context(), u.ID))
		u = createUpload(t, s, "r")
	}
	n, _ := s.AppendUpload(t.Context(), u.ID, 0, &failingReader{data: data[:cut], err: errBoom})
	appendUpload(t, s, u.ID, n, data[n:])
	if _, err := s.CommitUpload(t.Context(), u.ID, d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload after resuming: %v", err)
	}
	checkBlob(t, s, d, data)
}

func testUploadEmpty(t *testing.T, s store.Store) {
	u := createUpload(t, s, "r")
	d := digest.FromBytes(nil)
	n, err := s.CommitUpload(t.Context(), u.ID, d, 0)
	if err != nil || n != 0 {
		t.Fatalf("CommitUpload of an empty session: got %d, %v", n, err)
	}
	checkBlob(t, s, d, nil)
}

func testUploadExistingBlob(t *testing.T, s store.Store) {
	data, d := content(40000, 26)
	putBlob(t, s, data)
	u := createUpload(t, s, "r")
	appendUpload(t, s, u.ID, 0, data)
	if _, err := s.CommitUpload(t.Context(), u.ID, d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload of a blob already stored: %v", err)
	}
	checkBlob(t, s, d, data)
	checkUploadGone(t, s, u.ID)
}

// testUploadConcurrentAppends races appends at the same offset: exactly one
// wins, the others see ErrOffsetMismatch.
func testUploadConcurrentAppends(t *testing.T, s store.Store) {
	u := createUpload(t, s, "r")
	data, _ := content(300<<10, 27)
	const workers = 8
	var wg sync.WaitGroup
	results := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			_, err := s.AppendUpload(t.Context(), u.ID, 0, bytes.NewReader(data))
			results <- err
		})
	}
	wg.Wait()
	close(results)
	won := 0
	for err := range results {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrOffsetMismatch):
			t.Errorf("concurrent AppendUpload: got error %v, want nil or ErrOffsetMismatch", err)
		}
	}
	if won != 1 {
		t.Fatalf("concurrent AppendUpload at the same offset: %d succeeded, want 1", won)
	}
	if _, err := s.CommitUpload(t.Context(), u.ID, digest.FromBytes(data), int64(len(data))); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
}

func testUploadUnknown(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, id := range []string{"", "nope", "../../meta.db", strings.Repeat("0", 32), "../" + strings.Repeat("a", 29)} {
		_, err := s.GetUpload(ctx, id)
		wantErr(t, fmt.Sprintf("GetUpload(%q)", id), err, store.ErrNotFound)
		_, err = s.AppendUpload(ctx, id, 0, strings.NewReader("x"))
		wantErr(t, fmt.Sprintf("AppendUpload(%q)", id), err, store.ErrNotFound)
		_, err = s.CommitUpload(ctx, id, digest.FromString(""), -1)
		wantErr(t, fmt.Sprintf("CommitUpload(%q)", id), err, store.ErrNotFound)
		wantErr(t, fmt.Sprintf("CancelUpload(%q)", id), s.CancelUpload(ctx, id), store.ErrNotFound)
	}
}

func testUploads(t *testing.T, s store.Store) {
	if got := collect(t, s.Uploads(t.Context())); len(got) != 0 {
		t.Fatalf("Uploads of an empty store: got %v", got)
	}
	want := make(map[string]store.Upload)
	// appended holds when each session's last append began; ActiveAt
	// must lie between that and the listing.
	appended := make(map[string]time.Time)
	for i := range 5 {
		u := createUpload(t, s, fmt.Sprint("repo", i))
		appended[u.ID] = time.Now()
		u.Size = appendUpload(t, s, u.ID, 0, bytes.Repeat([]byte{'x'}, i))
		want[u.ID] = u
	}
	// Two sessions interleaved keep their content apart.
	a, b := createUpload(t, s, "a"), createUpload(t, s, "b")
	appendUpload(t, s, a.ID, 0, []byte("aaa"))
	appended[b.ID] = time.Now()
	appendUpload(t, s, b.ID, 0, []byte("bb"))
	appended[a.ID] = time.Now()
	appendUpload(t, s, a.ID, 3, []byte("a"))
	a.Size, b.Size = 4, 2
	want[a.ID], want[b.ID] = a, b

	got := make(map[string]store.Upload)
	for _, u := range collect(t, s.Uploads(t.Context())) {
		if since, ok := appended[u.ID]; ok && (u.ActiveAt.Before(since) || u.ActiveAt.After(time.Now())) {
			t.Errorf("session %s: ActiveAt %v, want between its last append (%v) and now", u.ID, u.ActiveAt, since)
		}
		if w, ok := want[u.ID]; ok {
			w.ActiveAt = u.ActiveAt
			want[u.ID] = w
		}
		got[u.ID] = u
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Uploads mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.CommitUpload(t.Context(), a.ID, digest.FromString("aaaa"), 4); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitUpload(t.Context(), b.ID, digest.FromString("bb"), 2); err != nil {
		t.Fatal(err)
	}
	delete(want, a.ID)
	delete(want, b.ID)
	got = make(map[string]store.Upload)
	for _, u := range collect(t, s.Uploads(t.Context())) {
		got[u.ID] = u
	}
	if diff := cmp.Diff(want, got, opts); diff != "" {
		t.Errorf("Uploads after two commits mismatch (-want +got):\n%s", diff)
	}
}

// testUploadActivity checks ActiveAt: a new session's is its start; while
// an append is in progress it is the current time, and listing sessions
// does not wait for that append; afterwards it is when the append ended,
// and it stays there while the session is idle.
func testUploadActivity(t *testing.T, s store.Store) {
	ctx := t.Context()
	u := createUpload(t, s, "r")
	if !u.ActiveAt.Equal(u.StartedAt) {
		t.Fatalf("a new session: ActiveAt %v, want its start %v", u.ActiveAt, u.StartedAt)
	}
	time.Sleep(20 * time.Millisecond)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := s.AppendUpload(ctx, u.ID, 0, pr)
		done <- err
	}()
	if _, err := pw.Write([]byte("part")); err != nil { // the append has begun
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond)
	during := time.Now()
	listed := make(chan store.Upload, 1)
	go func() {
		for got, err := range s.Uploads(ctx) {
			if err == nil && got.ID == u.ID {
				listed <- got
			}
		}
		close(listed)
	}()
	select {
	case got := <-listed:
		if got.ActiveAt.Before(during) {
			t.Errorf("during an append: ActiveAt %v, want the current time (at least %v)", got.ActiveAt, during)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Uploads waited for an append in progress")
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	got, err := s.GetUpload(ctx, u.ID)
	must(t, err)
	if got.ActiveAt.Before(during) || got.ActiveAt.After(ended) {
		t.Errorf("after the append: ActiveAt %v, want when it ended (between %v and %v)", got.ActiveAt, during, ended)
	}
	time.Sleep(20 * time.Millisecond)
	again, err := s.GetUpload(ctx, u.ID)
	must(t, err)
	if !again.ActiveAt.Equal(got.ActiveAt) {
		t.Errorf("an idle session: ActiveAt moved from %v to %v", got.ActiveAt, again.ActiveAt)
	}
}
