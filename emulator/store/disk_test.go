package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/emulator/store/storetest"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/opencontainers/go-digest"
)

func TestDisk(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openDisk(t, t.TempDir()) })
}

func openDisk(t testing.TB, dir string) store.Store {
	t.Helper()
	s, err := store.OpenDisk(dir, nil)
	if err != nil {
		t.Fatalf("OpenDisk: %v", err)
	}
	return s
}

// randomData returns n pseudo-random bytes.
func randomData(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 0))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

func put(t testing.TB, s store.Store, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	if _, err := s.PutBlob(context.Background(), d, int64(len(data)), bytes.NewReader(data)); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	return d
}

func readBlob(t testing.TB, s store.Store, d digest.Digest) []byte {
	t.Helper()
	r, err := s.OpenBlob(context.Background(), d)
	if err != nil {
		t.Fatalf("OpenBlob(%s): %v", d, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("reading %s: %v", d, err)
	}
	return data
}

// files lists the regular files under dir, relative to it.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func blobFile(d digest.Digest) string {
	return "blobs/" + string(d.Algorithm()) + "/" + d.Encoded()[:2] + "/" + d.Encoded()
}

func TestDiskLayout(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	defer s.Close()
	ctx := t.Context()
	data := randomData(1000, 1)
	d := put(t, s, data)
	d512 := digest.SHA512.FromBytes(data)
	if _, err := s.PutBlob(ctx, d512, -1, bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(ctx, "repo")
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{blobFile(d), blobFile(d512), "meta.db", "uploads/" + u.ID}, recordFiles(t, dir, u.ID)...)
	if diff := cmp.Diff(want, files(t, dir), cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("files mismatch (-want +got):\n%s", diff)
	}
	r, err := s.OpenBlob(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, ok := r.(*os.File); !ok {
		t.Errorf("OpenBlob: got %T, want *os.File for sendfile", r)
	}
}

func TestDiskReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openDisk(t, dir)
	blobs := map[digest.Digest][]byte{}
	for i := range 5 {
		data := randomData(i*300000+1, uint64(i))
		blobs[put(t, s, data)] = data
	}
	data512 := randomData(5000, 9)
	d512 := digest.SHA512.FromBytes(data512)
	if _, err := s.PutBlob(ctx, d512, -1, bytes.NewReader(data512)); err != nil {
		t.Fatal(err)
	}
	blobs[d512] = data512

	now := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	m := store.Manifest{Digest: digest.FromString("m"), MediaType: "x", Size: 2, Subject: digest.FromString("s"),
		Annotations: map[string]string{"a": "b"}, Blobs: []digest.Digest{digest.FromString("l")},
		Children: []store.Platform{{Digest: digest.FromString("c"), OS: "linux"}}, CreatedAt: now, UpdatedAt: now,
		Attrs: store.DefaultAttributes()}
	repo := store.Repository{Name: "a/b", CreatedAt: now, UpdatedAt: now, Attrs: store.DefaultAttributes()}
	tag := store.Tag{Name: "latest", Digest: m.Digest, CreatedAt: now, UpdatedAt: now, Attrs: store.Attributes{ReadEnabled: true}}
	link := store.BlobLink{Digest: digest.FromString("l"), Size: 7, CreatedAt: now}
	err := s.Update(ctx, func(tx store.Tx) error {
		return errors.Join(tx.PutRepo(repo), tx.PutManifest("a/b", m), tx.PutTag("a/b", tag),
			tx.PutBlobLink("a/b", link), tx.PutReferrer("a/b", m.Subject, m.Digest))
	})
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(ctx, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, u.ID, 0, strings.NewReader("partial")); err != nil {
		t.Fatal(err)
	}
	u.Size = 7
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDisk(t, dir)
	defer s.Close()
	for d, data := range blobs {
		if got := readBlob(t, s, d); !bytes.Equal(got, data) {
			t.Errorf("blob %s after reopen: got %d bytes, want %d", d, len(got), len(data))
		}
	}
	var listed []digest.Digest
	for d, err := range s.Blobs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, d)
	}
	if len(listed) != len(blobs) {
		t.Errorf("Blobs after reopen: got %d, want %d", len(listed), len(blobs))
	}
	err = s.View(ctx, func(tx store.Tx) error {
		gotRepo, _, err1 := tx.Repo("a/b")
		gotM, _, err2 := tx.Manifest("a/b", m.Digest)
		gotTag, _, err3 := tx.Tag("a/b", "latest")
		gotLink, _, err4 := tx.BlobLink("a/b", link.Digest)
		var refs []digest.Digest
		for r, err := range tx.Referrers("a/b", m.Subject) {
			if err != nil {
				return err
			}
			refs = append(refs, r)
		}
		if err := errors.Join(err1, err2, err3, err4); err != nil {
			return err
		}
		for name, diff := range map[string]string{
			"repo":      cmp.Diff(repo, gotRepo),
			"manifest":  cmp.Diff(m, gotM),
			"tag":       cmp.Diff(tag, gotTag),
			"link":      cmp.Diff(link, gotLink),
			"referrers": cmp.Diff([]digest.Digest{m.Digest}, refs),
		} {
			if diff != "" {
				t.Errorf("%s after reopen mismatch (-want +got):\n%s", name, diff)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetUpload(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(u, got); diff != "" {
		t.Errorf("upload after reopen mismatch (-want +got):\n%s", diff)
	}
}

func TestDiskUploadSurvivesReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	data := randomData(3<<20+5, 1)
	half := int64(len(data) / 2)
	s := openDisk(t, dir)
	var ids [3]string
	active := map[string]time.Time{} // each session's ActiveAt before the reopen
	for i := range ids {
		u, err := s.CreateUpload(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // the append's time differs from the start
		if _, err := s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(data[:half])); err != nil {
			t.Fatal(err)
		}
		u, err = s.GetUpload(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids[i], active[u.ID] = u.ID, u.ActiveAt
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openDisk(t, dir)
	defer s.Close()
	var listed []string
	for u, err := range s.Uploads(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if u.Size != half {
			t.Errorf("upload %s after reopen: got size %d, want %d", u.ID, u.Size, half)
		}
		// The data file's time stands for the last append: within the
		// file system's timestamp granularity of it, and after the start.
		if d := u.ActiveAt.Sub(active[u.ID]).Abs(); d > 50*time.Millisecond || !u.ActiveAt.After(u.StartedAt) {
			t.Errorf("upload %s after reopen: ActiveAt %v, want about %v (its last append), after its start %v", u.ID, u.ActiveAt, active[u.ID], u.StartedAt)
		}
		listed = append(listed, u.ID)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values(ids[:])), listed); diff != "" {
		t.Errorf("Uploads after reopen mismatch (-want +got):\n%s", diff)
	}

	// Resume with sha256, whose running hash must be rebuilt first.
	if _, err := s.AppendUpload(ctx, ids[0], 0, strings.NewReader("x")); !errors.Is(err, store.ErrOffsetMismatch) {
		t.Errorf("AppendUpload at 0 after reopen: got %v, want ErrOffsetMismatch", err)
	}
	if n, err := s.AppendUpload(ctx, ids[0], half, bytes.NewReader(data[half:])); err != nil || n != int64(len(data)) {
		t.Fatalf("AppendUpload after reopen: got %d, %v", n, err)
	}
	d := digest.FromBytes(data)
	if _, err := s.CommitUpload(ctx, ids[0], d, int64(len(data))); err != nil {
		t.Fatalf("CommitUpload after reopen: %v", err)
	}
	if !bytes.Equal(readBlob(t, s, d), data) {
		t.Errorf("blob committed after reopen differs")
	}
	// Commit straight after reopen, sha256 and sha512.
	if _, err := s.CommitUpload(ctx, ids[1], digest.FromBytes(data[:half]), half); err != nil {
		t.Fatalf("CommitUpload(sha256) straight after reopen: %v", err)
	}
	if _, err := s.CommitUpload(ctx, ids[2], digest.SHA512.FromBytes(data[:half]), half); err != nil {
		t.Fatalf("CommitUpload(sha512) straight after reopen: %v", err)
	}
	if got := files(t, filepath.Join(dir, "uploads")); len(got) != 0 {
		t.Errorf("upload files left after commits: %v", got)
	}
}

// TestDiskLargeBlob stores blobs larger than the writeback interval, by
// PutBlob and by an upload whose appends straddle it.
func TestDiskLargeBlob(t *testing.T) {
	s := openDisk(t, t.TempDir())
	defer s.Close()
	ctx := t.Context()
	data := randomData(40<<20+3, 1)
	d := put(t, s, data)
	if !bytes.Equal(readBlob(t, s, d), data) {
		t.Fatal("large blob differs")
	}
	if err := s.DeleteBlob(ctx, d); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var off int64
	for _, n := range []int64{10 << 20, 20<<20 + 1, int64(len(data)) - 30<<20 - 1} {
		if off, err = s.AppendUpload(ctx, u.ID, off, bytes.NewReader(data[off:off+n])); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CommitUpload(ctx, u.ID, d, int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readBlob(t, s, d), data) {
		t.Fatal("large uploaded blob differs")
	}
}

// TestDiskNoPartialFiles fails writes in every way a client can and checks
// that nothing is left behind: no temporary file, no blob, no session.
func TestDiskNoPartialFiles(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	defer s.Close()
	ctx := t.Context()
	data := randomData(5<<20, 1)
	d := digest.FromBytes(data)
	cancelled, cancel := context.WithCancel(ctx)
	cancel()

	attempts := map[string]func() error{
		"digest mismatch": func() error {
			_, err := s.PutBlob(ctx, digest.FromString("other"), -1, bytes.NewReader(data))
			return err
		},
		"size mismatch": func() error {
			_, err := s.PutBlob(ctx, d, int64(len(data))-1, bytes.NewReader(data))
			return err
		},
		"failing reader": func() error {
			_, err := s.PutBlob(ctx, d, -1, io.MultiReader(bytes.NewReader(data[:3<<20]), iotestErrReader{}))
			return err
		},
		"cancelled": func() error {
			_, err := s.PutBlob(cancelled, d, -1, bytes.NewReader(data))
			return err
		},
		"upload digest mismatch": func() error {
			u, err := s.CreateUpload(ctx, "r")
			if err != nil {
				return nil
			}
			s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(data))
			_, err = s.CommitUpload(ctx, u.ID, digest.FromString("other"), -1)
			return err
		},
		"upload size mismatch": func() error {
			u, err := s.CreateUpload(ctx, "r")
			if err != nil {
				return nil
			}
			s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(data))
			_, err = s.CommitUpload(ctx, u.ID, d, 1)
			return err
		},
		"upload cancelled": func() error {
			u, err := s.CreateUpload(ctx, "r")
			if err != nil {
				return nil
			}
			s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(data))
			if err := s.CancelUpload(ctx, u.ID); err != nil {
				return nil
			}
			return errors.New("cancelled")
		},
	}
	for name, attempt := range attempts {
		if err := attempt(); err == nil {
			t.Errorf("%s: got no error", name)
		}
		if got := files(t, dir); !slices.Equal(got, []string{"meta.db"}) {
			t.Fatalf("%s left files behind: %v", name, got)
		}
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDiskOpenCleansUp(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := openDisk(t, dir)
	keep, err := s.CreateUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	lost, err := s.CreateUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// What a crash can leave: a temporary file, a session file without a
	// record, a record without a session file.
	for _, name := range []string{"tmp/blob-123", "uploads/" + strings.Repeat("ab", 16)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "uploads", lost.ID)); err != nil {
		t.Fatal(err)
	}

	s = openDisk(t, dir)
	defer s.Close()
	want := append([]string{"meta.db", "uploads/" + keep.ID}, recordFiles(t, dir, keep.ID)...)
	if diff := cmp.Diff(want, files(t, dir)); diff != "" {
		t.Errorf("files after reopen mismatch (-want +got):\n%s", diff)
	}
	if _, err := s.GetUpload(ctx, lost.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetUpload of a session whose file was lost: got %v, want ErrNotFound", err)
	}
	if _, err := s.GetUpload(ctx, keep.ID); err != nil {
		t.Errorf("GetUpload of an intact session: %v", err)
	}
}

func TestDiskLocked(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	// A blob the first store is writing must survive the second's attempt.
	inFlight := filepath.Join(dir, "tmp", "blob-in-flight")
	if err := os.WriteFile(inFlight, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s2, err := store.OpenDisk(dir, nil); err == nil {
		s2.Close()
		t.Fatal("second OpenDisk of an open directory: got no error")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("second OpenDisk: got %v, want an error saying the directory is in use", err)
	}
	if _, err := os.Stat(inFlight); err != nil {
		t.Errorf("a refused OpenDisk removed the open store's temporary file: %v", err)
	}
	s.Close()
	openDisk(t, dir).Close()
}

func TestDiskReadOnly(t *testing.T) {
	dir := t.TempDir()
	s := openDisk(t, dir)
	data := randomData(1000, 1)
	d := put(t, s, data)
	s.Close()
	makeReadOnly(t, dir)

	_, err := store.OpenDisk(dir, nil)
	if !errors.Is(err, store.ErrReadOnly) {
		t.Fatalf("OpenDisk of a read-only directory: got %v, want ErrReadOnly", err)
	}
	t.Logf("OpenDisk of a read-only directory: %v", err)
	if !strings.Contains(err.Error(), dir) {
		t.Errorf("OpenDisk error %q does not name the directory", err)
	}
	// A read-only directory where no store exists yet fails the same way.
	_, err = store.OpenDisk(filepath.Join(dir, "new"), nil)
	if !errors.Is(err, store.ErrReadOnly) {
		t.Errorf("OpenDisk of a new store in a read-only directory: got %v, want ErrReadOnly", err)
	}
	// Nothing stored was lost.
	got, err := os.ReadFile(filepath.Join(dir, blobFile(d)))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("blob after failed opens: %v", err)
	}
}

// TestDiskFull fills a small file system and checks that writes fail with
// ErrReadOnly and ENOSPC, leave nothing partial, and lose nothing stored.
func TestDiskFull(t *testing.T) {
	dir := smallFS(t, 8<<20)
	s := openDisk(t, dir)
	defer s.Close()
	ctx := t.Context()
	small := randomData(100000, 1)
	ds := put(t, s, small)
	err := s.Update(ctx, func(tx store.Tx) error {
		return tx.PutTag("r", store.Tag{Name: "t", Digest: ds})
	})
	if err != nil {
		t.Fatal(err)
	}

	big := randomData(16<<20, 2)
	_, err = s.PutBlob(ctx, digest.FromBytes(big), int64(len(big)), bytes.NewReader(big))
	if !errors.Is(err, store.ErrReadOnly) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("PutBlob on a full disk: got %v, want ErrReadOnly and ENOSPC", err)
	}
	t.Logf("PutBlob on a full disk: %v", err)
	if _, err := s.StatBlob(ctx, digest.FromBytes(big)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("StatBlob after a failed put: got %v, want ErrNotFound", err)
	}
	if got := files(t, filepath.Join(dir, "tmp")); len(got) != 0 {
		t.Errorf("temporary files left after a full disk: %v", got)
	}

	// An append that fills the disk is rolled back to its offset.
	u, err := s.CreateUpload(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(big[:1000])); err != nil {
		t.Fatal(err)
	}
	n, err := s.AppendUpload(ctx, u.ID, 1000, bytes.NewReader(big[1000:]))
	if !errors.Is(err, store.ErrReadOnly) || n != 1000 {
		t.Fatalf("AppendUpload on a full disk: got %d, %v, want 1000, ErrReadOnly", n, err)
	}
	if got, _ := s.GetUpload(ctx, u.ID); got.Size != 1000 {
		t.Errorf("session size after a failed append: got %d, want 1000", got.Size)
	}
	// With room again, the session resumes and commits.
	if n, err := s.AppendUpload(ctx, u.ID, 1000, bytes.NewReader(big[1000:200000])); err != nil || n != 200000 {
		t.Fatalf("AppendUpload after a failed one: got %d, %v", n, err)
	}
	if _, err := s.CommitUpload(ctx, u.ID, digest.FromBytes(big[:200000]), 200000); err != nil {
		t.Fatalf("CommitUpload after a failed append: %v", err)
	}
	if !bytes.Equal(readBlob(t, s, ds), small) {
		t.Errorf("a stored blob changed when the disk filled")
	}
	err = s.View(ctx, func(tx store.Tx) error {
		if _, ok, err := tx.Tag("r", "t"); !ok || err != nil {
			t.Errorf("Tag after the disk filled: got ok=%v, err=%v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// crashDirEnv names the directory TestDiskCrash's child process writes to.
const crashDirEnv = "STORE_TEST_CRASH_DIR"

// TestDiskCrash kills a process writing to a store at random moments and
// checks after each kill that the store opens, that every blob matches its
// digest, and that all metadata names blobs that are stored.
func TestDiskCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiskCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir, fmt.Sprint("STORE_TEST_CRASH_ROUND=", round))
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(200+rng.IntN(600)) * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		if strings.Contains(out.String(), "FAIL") {
			t.Fatalf("child failed:\n%s", out.String())
		}
		checkConsistent(t, dir)
	}
}

func checkConsistent(t *testing.T, dir string) {
	t.Helper()
	s := openDisk(t, dir)
	defer s.Close()
	ctx := t.Context()
	n := 0
	for d, err := range s.Blobs(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		if got := digest.FromBytes(readBlob(t, s, d)); got != d {
			t.Fatalf("blob %s holds content with digest %s", d, got)
		}
		n++
	}
	tags := 0
	err := s.View(ctx, func(tx store.Tx) error {
		for tg, err := range tx.Tags("repo", "") {
			if err != nil {
				return err
			}
			if _, err := s.StatBlob(ctx, tg.Digest); err != nil {
				t.Errorf("tag %s names blob %s: %v", tg.Name, tg.Digest, err)
			}
			tags++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := files(t, filepath.Join(dir, "tmp")); len(got) != 0 {
		t.Errorf("temporary files after open: %v", got)
	}
	t.Logf("after a kill: %d blobs, %d tags", n, tags)
}

// TestDiskCrashChild is TestDiskCrash's child process: it writes blobs,
// through PutBlob and through upload sessions, and tags them, until killed.
func TestDiskCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("runs as TestDiskCrash's child process")
	}
	s := openDisk(t, dir)
	defer s.Close()
	ctx := t.Context()
	round := os.Getenv("STORE_TEST_CRASH_ROUND")
	deadline := time.Now().Add(20 * time.Second) // in case the parent dies
	for i := 0; time.Now().Before(deadline); i++ {
		data := randomData(rand.IntN(3<<20), rand.Uint64())
		d := digest.FromBytes(data)
		if i%2 == 0 {
			if _, err := s.PutBlob(ctx, d, int64(len(data)), bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
		} else {
			u, err := s.CreateUpload(ctx, "repo")
			if err != nil {
				t.Fatal(err)
			}
			half := int64(len(data) / 2)
			if _, err := s.AppendUpload(ctx, u.ID, 0, bytes.NewReader(data[:half])); err != nil {
				t.Fatal(err)
			}
			if _, err := s.AppendUpload(ctx, u.ID, half, bytes.NewReader(data[half:])); err != nil {
				t.Fatal(err)
			}
			if _, err := s.CommitUpload(ctx, u.ID, d, int64(len(data))); err != nil {
				t.Fatal(err)
			}
		}
		err := s.Update(ctx, func(tx store.Tx) error {
			return tx.PutTag("repo", store.Tag{Name: fmt.Sprintf("r%s-%d", round, i), Digest: d})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// benchSize is the blob size of the disk benchmarks.
const benchSize = 256 << 20

func benchData(b *testing.B) ([]byte, digest.Digest) {
	b.Helper()
	data := randomData(benchSize, 42)
	return data, digest.FromBytes(data)
}

// BenchmarkDiskPutBlob stores a 256 MiB blob with PutBlob: hashed, written,
// synced and renamed into place.
func BenchmarkDiskPutBlob(b *testing.B) {
	data, d := benchData(b)
	s := openDisk(b, b.TempDir())
	defer s.Close()
	ctx := context.Background()
	b.SetBytes(benchSize)
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.PutBlob(ctx, d, benchSize, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.DeleteBlob(ctx, d); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}

// BenchmarkDiskUpload stores a 256 MiB blob through an upload session, in
// one append or in 16 MiB chunks, and commits it.
func BenchmarkDiskUpload(b *testing.B) {
	data, d := benchData(b)
	for _, chunk := range []int{benchSize, 16 << 20} {
		b.Run(fmt.Sprintf("chunk=%dMiB", chunk>>20), func(b *testing.B) {
			s := openDisk(b, b.TempDir())
			defer s.Close()
			ctx := context.Background()
			b.SetBytes(benchSize)
			for b.Loop() {
				u, err := s.CreateUpload(ctx, "repo")
				if err != nil {
					b.Fatal(err)
				}
				for off := 0; off < benchSize; off += chunk {
					if _, err := s.AppendUpload(ctx, u.ID, int64(off), bytes.NewReader(data[off:off+chunk])); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := s.CommitUpload(ctx, u.ID, d, benchSize); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := s.DeleteBlob(ctx, d); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkDiskReference is the baseline: how the reference registry
// stores a blob, hashing and writing 32 KiB pieces serially, then syncing
// and renaming.
func BenchmarkDiskReference(b *testing.B) {
	data, d := benchData(b)
	dir := b.TempDir()
	b.SetBytes(benchSize)
	for b.Loop() {
		f, err := os.CreateTemp(dir, "ref-")
		if err != nil {
			b.Fatal(err)
		}
		h := sha256.New()
		if _, err := io.CopyBuffer(io.MultiWriter(f, h), bytes.NewReader(data), make([]byte, 32<<10)); err != nil {
			b.Fatal(err)
		}
		if digest.NewDigest(digest.SHA256, h) != d {
			b.Fatal("digest mismatch")
		}
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		f.Close()
		dst := filepath.Join(dir, "blob")
		if err := os.Rename(f.Name(), dst); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(dst)
		b.StartTimer()
	}
}
