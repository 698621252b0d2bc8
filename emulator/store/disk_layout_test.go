package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// fixtureV1 is a meta.db in layout version 1 written by the code of that
// layout, and want.json what that code read back from it (see gen.go).
const fixtureV1 = "testdata/layout-v1"

// fixtureRepos are the repositories gen.go fills, and one it does not.
// The dump below must match dump.go.txt, which wrote want.json.
var fixtureRepos = []string{"app", "app/sub", "app-x", "empty", "many", "locked", "norecord", "legacy", "gone", "missing"}

type fixtureDump struct {
	Repos        []Repository
	Content      map[string]repoDump
	DeletedRepos []string
}

type repoDump struct {
	Repo                    *Repository                `json:",omitempty"`
	Manifests, Summaries    []Manifest                 `json:",omitempty"`
	Tags                    []Tag                      `json:",omitempty"`
	TagsAfterLatest         []Tag                      `json:",omitempty"`
	Links                   []BlobLink                 `json:",omitempty"`
	Referrers               map[string][]digest.Digest `json:",omitempty"`
	Deleted                 []Deleted                  `json:",omitempty"`
	ManifestCount, TagCount int
}

func collectAll[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// dumpFixture reads every item of the fixture's repositories through s.
func dumpFixture(t *testing.T, s Store) fixtureDump {
	t.Helper()
	var out fixtureDump
	err := s.View(t.Context(), func(tx Tx) error {
		out.Repos = collectAll(t, tx.Repos(""))
		out.DeletedRepos = collectAll(t, tx.DeletedRepos(""))
		out.Content = make(map[string]repoDump)
		for _, name := range fixtureRepos {
			var c repoDump
			var err error
			if r, ok, err := tx.Repo(name); err != nil {
				return err
			} else if ok {
				c.Repo = &r
			}
			c.Manifests = collectAll(t, tx.Manifests(name, ""))
			c.Summaries = collectAll(t, tx.ManifestSummaries(name, ""))
			c.Tags = collectAll(t, tx.Tags(name, ""))
			c.TagsAfterLatest = collectAll(t, tx.Tags(name, "latest"))
			c.Links = collectAll(t, tx.BlobLinks(name, ""))
			for _, m := range c.Manifests {
				if m.Subject == "" {
					continue
				}
				if c.Referrers == nil {
					c.Referrers = make(map[string][]digest.Digest)
				}
				c.Referrers[m.Subject.String()] = collectAll(t, tx.Referrers(name, m.Subject))
			}
			c.Deleted = collectAll(t, tx.Deleted(name, "", ""))
			if c.ManifestCount, err = tx.ManifestCount(name); err != nil {
				return err
			}
			if c.TagCount, err = tx.TagCount(name); err != nil {
				return err
			}
			out.Content[name] = c
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// wantFixture returns what the code of layout version 1 read from the
// fixture, through JSON as dumpFixture's result goes for comparing.
func wantFixture(t *testing.T) fixtureDump {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureV1, "want.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want fixtureDump
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	return want
}

// roundTrip passes d through JSON, as want.json did.
func roundTrip(t *testing.T, d fixtureDump) fixtureDump {
	t.Helper()
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var out fixtureDump
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// copyFixture copies the version 1 meta.db into a new store directory.
func copyFixture(t *testing.T) (dir string, original []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(fixtureV1, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, metaFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, data
}

// layoutVersion reads the version recorded in a closed store's meta.db.
func layoutVersion(t *testing.T, dir string) string {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var v string
	db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketMeta); b != nil {
			v = string(b.Get(keyFormat))
		}
		return nil
	})
	return v
}

// TestDiskMigrateV1 opens a store of layout version 1 written by that
// layout's code: it is converted once, and reads back what that code read.
func TestDiskMigrateV1(t *testing.T) {
	dir, _ := copyFixture(t)
	want := wantFixture(t)
	var converted []string
	opts := &DiskOptions{Converted: func(from, to int, took time.Duration) {
		converted = append(converted, fmt.Sprintf("%d->%d", from, to))
	}}
	for i := range 2 { // converted by the first open, read as is by the second
		s, err := OpenDisk(dir, opts)
		if err != nil {
			t.Fatalf("OpenDisk of a version 1 store: %v", err)
		}
		if want := []string{"1->" + fmt.Sprint(formatVersion)}; !slices.Equal(converted, want) {
			t.Errorf("open %d: DiskOptions.Converted called for %v, want %v (once, by the first open)", i+1, converted, want)
		}
		got := roundTrip(t, dumpFixture(t, s))
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("content after conversion mismatch (-version 1 +now):\n%s", diff)
		}
		if v := layoutVersion(t, dir); v != fmt.Sprint(formatVersion) {
			t.Fatalf("layout version after open: got %q, want %d", v, formatVersion)
		}
		if left, _ := os.ReadDir(filepath.Join(dir, tmpDir)); len(left) != 0 {
			t.Errorf("files left in tmp after conversion: %v", left)
		}
	}
}

// TestDiskMigrateKeepsUploads: upload sessions, whose records live
// beside their data under uploads rather than in meta.db, are open after
// the conversion as before it, and commit.
func TestDiskMigrateKeepsUploads(t *testing.T) {
	dir, original := copyFixture(t)
	os.Remove(filepath.Join(dir, metaFile))
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload(t.Context(), "app/sub")
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("session content")
	if _, err := s.AppendUpload(t.Context(), u.ID, 0, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, metaFile), original, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n := len(collectAll(t, func(yield func(Repository, error) bool) {
		s.View(t.Context(), func(tx Tx) error {
			for r, err := range tx.Repos("") {
				if !yield(r, err) {
					break
				}
			}
			return nil
		})
	})); n != len(wantFixture(t).Repos) {
		t.Fatalf("%d repositories after the conversion, want the fixture's %d", n, len(wantFixture(t).Repos))
	}
	got, err := s.GetUpload(t.Context(), u.ID)
	if err != nil {
		t.Fatalf("upload session after the conversion: %v", err)
	}
	if got.Repo != u.Repo || got.Size != int64(len(content)) || !got.StartedAt.Equal(u.StartedAt) {
		t.Errorf("upload session after the conversion: %+v, want %+v with %d bytes", got, u, len(content))
	}
	if _, err := s.CommitUpload(t.Context(), u.ID, digest.FromBytes(content), int64(len(content))); err != nil {
		t.Errorf("CommitUpload after the conversion: %v", err)
	}
}

// TestDiskMigrateInterrupted stops the conversion part way, as a crash
// would: meta.db is still the old file, byte for byte, and the next open
// converts it.
func TestDiskMigrateInterrupted(t *testing.T) {
	dir, original := copyFixture(t)
	errStop := errors.New("stopped")
	setMigrate(t, 10, func(committed int) error {
		if committed >= 30 {
			return errStop
		}
		return nil
	})
	if _, err := OpenDisk(dir, nil); !errors.Is(err, errStop) {
		t.Fatalf("OpenDisk with the conversion stopped: got %v, want the stop", err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, metaFile)); err != nil || !bytes.Equal(got, original) {
		t.Fatalf("meta.db changed by a stopped conversion (err %v)", err)
	}
	// A crash leaves the new file half written in tmp: the next open
	// starts over.
	if err := os.WriteFile(filepath.Join(dir, tmpDir, metaFile), []byte("half written"), 0o600); err != nil {
		t.Fatal(err)
	}
	migrateHook = nil
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatalf("OpenDisk after a stopped conversion: %v", err)
	}
	defer s.Close()
	if diff := cmp.Diff(wantFixture(t), roundTrip(t, dumpFixture(t, s))); diff != "" {
		t.Fatalf("content after conversion mismatch (-version 1 +now):\n%s", diff)
	}
}

// setMigrate makes the conversion commit every batch items and call hook,
// until the test ends.
func setMigrate(t *testing.T, batch int, hook func(int) error) {
	oldBatch, oldHook := migrateBatch, migrateHook
	migrateBatch, migrateHook = batch, hook
	t.Cleanup(func() { migrateBatch, migrateHook = oldBatch, oldHook })
}

// TestDiskMigrateWaiter: a process that was waiting for the old meta.db's
// lock while another converted it opens the new file, not the old one,
// which would convert the store a second time over the first's writes.
func TestDiskMigrateWaiter(t *testing.T) {
	// The wait lasts the whole conversion: a loaded machine must not turn
	// it into the timeout.
	longLockWait(t, 30*time.Second)
	dir, _ := copyFixture(t)
	old, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	opens := metaOpens(t)
	waiter := openDiskAsync(dir)
	awaitMetaOpen(t, opens, 0, waiter) // the waiter holds the old file and waits for its lock
	convertAsOther(t, dir, old)
	// What the converting process writes after the conversion must stay.
	s, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	old.Close()
	err = s.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecords).Put([]byte("after"), []byte(`{"name":"after"}`))
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	w := <-waiter
	if w.err != nil {
		t.Fatalf("OpenDisk waiting for the conversion: %v", w.err)
	}
	defer w.s.Close()
	err = w.s.View(t.Context(), func(tx Tx) error {
		if _, ok, err := tx.Repo("after"); !ok || err != nil {
			t.Errorf("a write after the conversion is lost: ok=%v err=%v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiskMigrateWaiterKeepsTmp: a process that waited for the old
// meta.db's lock while another converted it and went on to serve the new
// one leaves the serving process's files in tmp alone: a blob being
// written there is stored.
func TestDiskMigrateWaiterKeepsTmp(t *testing.T) {
	// Each wait lasts until the test lets go of the file; none may end in
	// the timeout however slow the machine.
	longLockWait(t, 30*time.Second)
	dir, _ := copyFixture(t)
	old, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	opens := metaOpens(t)
	waiter := openDiskAsync(dir)
	awaitMetaOpen(t, opens, 0, waiter) // the waiter holds the old file and waits for its lock
	convertAsOther(t, dir, old)
	live, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	// A blob half written by the live store when the waiter gets the old
	// file's lock.
	content := bytes.Repeat([]byte("x"), 1<<16)
	d := digest.FromBytes(content)
	pr, pw := io.Pipe()
	put := make(chan error, 1)
	go func() {
		_, err := live.PutBlob(t.Context(), d, int64(len(content)), pr)
		put <- err
	}()
	if _, err := pw.Write(content[:1000]); err != nil {
		t.Fatal(err)
	}
	old.Close()
	// The waiter took the old file's lock, found meta.db replaced and came
	// back to open the new file, whose lock the live store holds: whatever
	// it did to tmp on the way is done.
	awaitMetaOpen(t, opens, 1, waiter)
	pw.Write(content[1000:])
	pw.Close()
	if err := <-put; err != nil {
		t.Fatalf("PutBlob across another process's wait for meta.db: %v", err)
	}
	if _, err := live.StatBlob(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	// Once the live store lets go, the waiter serves the converted store,
	// blob included.
	live.Close()
	w := <-waiter
	if w.err != nil {
		t.Fatalf("OpenDisk after the serving process closed: %v", w.err)
	}
	defer w.s.Close()
	if _, err := w.s.StatBlob(t.Context(), d); err != nil {
		t.Fatalf("the blob written while the waiter woke, read by the waiter: %v", err)
	}
}

// TestDiskReplacedWhileWaiting: a process that waited for meta.db's lock
// while the file was renamed over (a conversion whose marking of the old
// file failed, or a restore from a backup) opens the file meta.db names
// now, not the unlinked one it locked, where its writes would be lost.
func TestDiskReplacedWhileWaiting(t *testing.T) {
	longLockWait(t, 30*time.Second)
	dir := t.TempDir()
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	other := t.TempDir()
	s, err = OpenDisk(other, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Update(t.Context(), func(tx Tx) error { return tx.PutRepo(Repository{Name: "replacement"}) }); err != nil {
		t.Fatal(err)
	}
	s.Close()

	old, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	opens := metaOpens(t)
	waiter := openDiskAsync(dir)
	awaitMetaOpen(t, opens, 0, waiter) // the waiter holds old and waits for its lock
	if err := os.Rename(filepath.Join(other, metaFile), filepath.Join(dir, metaFile)); err != nil {
		t.Fatal(err)
	}
	old.Close()
	w := <-waiter
	if w.err != nil {
		t.Fatalf("OpenDisk waiting for a replaced meta.db: %v", w.err)
	}
	defer w.s.Close()
	err = w.s.View(t.Context(), func(tx Tx) error {
		if _, ok, err := tx.Repo("replacement"); !ok || err != nil {
			t.Errorf("the store opened is not the file meta.db names: repository of the replacement ok=%v err=%v", ok, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// openResult is what an OpenDisk run by openDiskAsync returned.
type openResult struct {
	s   Store
	err error
}

// openDiskAsync runs OpenDisk(dir, nil) in a goroutine, as another process
// would, and delivers its result on the returned channel.
func openDiskAsync(dir string) <-chan openResult {
	done := make(chan openResult, 1)
	go func() {
		s, err := OpenDisk(dir, nil)
		done <- openResult{s, err}
	}()
	return done
}

// metaOpens makes every OpenDisk until the test ends send, on the returned
// channel, the attempt with which it has opened meta.db's file and is
// about to wait for its lock (see metaOpenedHook). The tests using it are
// not parallel.
func metaOpens(t *testing.T) <-chan int {
	// Buffered beyond the few opens a test makes, so the hook never
	// blocks an open the test is not waiting for.
	opens := make(chan int, 64)
	old := metaOpenedHook
	metaOpenedHook = func(attempt int) { opens <- attempt }
	t.Cleanup(func() { metaOpenedHook = old })
	return opens
}

// awaitMetaOpen waits until an OpenDisk reports opening meta.db's file
// with attempt on opens, skipping other attempts; it fails the test if the
// OpenDisk whose result waiter delivers returns first.
func awaitMetaOpen(t *testing.T, opens <-chan int, attempt int, waiter <-chan openResult) {
	t.Helper()
	for {
		select {
		case a := <-opens:
			if a == attempt {
				return
			}
		case w := <-waiter:
			if w.s != nil {
				w.s.Close()
			}
			t.Fatalf("OpenDisk returned before it opened meta.db's file (attempt %d): %v", attempt, w.err)
		}
	}
}

// convertAsOther converts old, dir's meta.db in layout version 1 whose
// lock the test holds, as another process's OpenDisk does: that process
// created the store's directories first, tmp among them.
func convertAsOther(t *testing.T, dir string, old *bolt.DB) {
	t.Helper()
	if err := makeDirs(dir); err != nil {
		t.Fatal(err)
	}
	converter := &diskStore{dir: dir}
	if err := converter.migrateV1(old); err != nil {
		t.Fatal(err)
	}
}

// TestDiskMigrateLargeValues: the conversion's transactions are bounded
// in bytes as well as items, so that converting many large annotations
// does not hold them all in memory at once.
func TestDiskMigrateLargeValues(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const manifests, size = 96, 256 << 10
	dir := t.TempDir()
	db, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	value := strings.Repeat("v", size)
	err = db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucket(bucketV1Repos)
		if err != nil {
			return err
		}
		rb, err := top.CreateBucket([]byte("big"))
		if err != nil {
			return err
		}
		ab, err := rb.CreateBucket(bucketAnnotations)
		if err != nil {
			return err
		}
		for i := range manifests {
			rec, _ := json.Marshal(map[string]string{"k": value})
			if err := ab.Put([]byte(digest.FromString(fmt.Sprint(i))), rec); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	old := migrateBatchBytes
	migrateBatchBytes = 2 << 20
	t.Cleanup(func() { migrateBatchBytes = old })

	// Garbage counts as heap until collected: collect it early, so that
	// the peak is close to what the conversion holds.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	base := heapBytes()
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			peak.Store(max(peak.Load(), heapBytes()))
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	})
	s, err := OpenDisk(dir, nil)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	grew := int64(peak.Load()) - int64(base)
	t.Logf("converting %d MiB of annotations: heap grew by at most %d MiB", manifests*size>>20, grew>>20)
	if grew > 16<<20 {
		t.Errorf("converting %d MiB of annotations grew the heap by %d MiB, want at most 16", manifests*size>>20, grew>>20)
	}
	err = s.View(t.Context(), func(tx Tx) error {
		m := Manifest{Digest: digest.FromString(fmt.Sprint(manifests - 1))}
		if err := tx.(*diskTx).annotate("big", &m); err != nil || m.Annotations["k"] != value {
			t.Errorf("annotations after conversion: %d bytes, %v", len(m.Annotations["k"]), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// heapBytes returns the bytes of the heap's objects, live or not yet
// collected.
func heapBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// TestDiskNewerLayout: a meta.db of a layout this build does not know is
// refused, untouched, with an error naming the problem and the fix.
func TestDiskNewerLayout(t *testing.T) {
	for _, tc := range []struct{ version, want string }{
		{fmt.Sprint(formatVersion + 1), "newer"},
		{"two", "damaged"},
	} {
		dir := t.TempDir()
		s, err := OpenDisk(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		db, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, nil)
		if err != nil {
			t.Fatal(err)
		}
		db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(keyFormat, []byte(tc.version)) })
		db.Close()
		_, err = OpenDisk(dir, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), dir) {
			t.Errorf("OpenDisk of layout version %q: got %v, want an error naming the directory and saying %q", tc.version, err, tc.want)
			continue
		}
		t.Logf("layout version %q: %v", tc.version, err)
		if v := layoutVersion(t, dir); v != tc.version {
			t.Errorf("a refused open changed the version to %q", v)
		}
	}
}

// TestDiskDamagedMetaDB: a meta.db that is not a bbolt database, or whose
// meta pages are damaged, is refused, untouched, with an error naming the
// directory, the problem and the fix.
func TestDiskDamagedMetaDB(t *testing.T) {
	for name, damage := range map[string]func(path string) error{
		"text": func(path string) error {
			return os.WriteFile(path, []byte(strings.Repeat("not a database ", 100)), 0o600)
		},
		"meta pages zeroed": func(path string) error {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt(make([]byte, 2*os.Getpagesize()), 0)
			return err
		},
	} {
		dir := t.TempDir()
		s, err := OpenDisk(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		path := filepath.Join(dir, metaFile)
		if err := damage(path); err != nil {
			t.Fatal(err)
		}
		before, _ := os.ReadFile(path)
		_, err = OpenDisk(dir, nil)
		if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), "backup") {
			t.Errorf("%s: OpenDisk: got %v, want an error naming the directory, saying meta.db is damaged and to restore a backup", name, err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
			t.Errorf("%s: a refused open changed meta.db", name)
		}
	}
}

// TestDecodeCounts: a count record that is short, long or out of range is
// refused, never read as a negative count.
func TestDecodeCounts(t *testing.T) {
	if m, n, err := decodeCounts(encodeCounts(3, 70000)); m != 3 || n != 70000 || err != nil {
		t.Errorf("decodeCounts(encodeCounts(3, 70000)) = %d, %d, %v", m, n, err)
	}
	huge := binary.AppendUvarint(nil, 1<<63)
	for _, v := range [][]byte{nil, {0x80}, {1}, {1, 2, 3}, append(bytes.Clone(huge), 1), append([]byte{1}, huge...),
		bytes.Repeat([]byte{0xff}, 11)} {
		if m, n, err := decodeCounts(v); err == nil {
			t.Errorf("decodeCounts(%x) = %d, %d, nil; want an error", v, m, n)
		}
	}
}

// TestDiskLayoutSmallRepos: a repository of ten tags costs its records'
// bytes in shared pages, not pages of its own (layout version 1: about 24
// KiB), and deleting repositories leaves nothing of them.
func TestDiskLayoutSmallRepos(t *testing.T) {
	const repos, tags = 1000, 10
	dir := t.TempDir()
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	err = s.Update(t.Context(), func(tx Tx) error {
		for r := range repos {
			name := fmt.Sprintf("bench/r-%05d", r)
			if err := tx.PutRepo(Repository{Name: name, CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}); err != nil {
				return err
			}
			for i := range tags {
				d := digest.FromString(fmt.Sprint(r, i))
				if err := tx.PutTag(name, Tag{Name: fmt.Sprintf("t%05d", i), Digest: d, CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	used := pagesUsed(t, dir)
	perRepo := used / repos
	t.Logf("meta.db: %d bytes of pages in use, %d per repository of %d tags", used, perRepo, tags)
	if perRepo > 4<<10 {
		t.Errorf("meta.db takes %d bytes per repository of %d tags, want at most 4 KiB", perRepo, tags)
	}

	s, err = OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx Tx) error {
		for r, err := range tx.Repos("") {
			if err != nil {
				return err
			}
			if err := tx.DeleteRepo(r.Name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		for _, name := range layoutBuckets[1:] {
			if n := tx.Bucket(name).Stats().KeyN; n != 0 {
				t.Errorf("bucket %s holds %d keys after deleting every repository", name, n)
			}
		}
		return nil
	})
}

// pagesUsed returns the bytes of the pages that hold a closed store's
// buckets: the file itself grows in large steps.
func pagesUsed(t *testing.T, dir string) int64 {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, metaFile), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			st := b.Stats()
			n += int64(st.BranchAlloc + st.LeafAlloc)
			return nil
		})
	})
	return n
}

// TestDiskCountsRollback: the counts of manifests and tags follow the
// writes a group commit keeps and drop those it takes back.
func TestDiskCountsRollback(t *testing.T) {
	dir := t.TempDir()
	st, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*diskStore)
	defer s.Close()
	errBoom := errors.New("boom")
	d := func(i int) digest.Digest { return digest.FromString(fmt.Sprint(i)) }
	fill := func(tx Tx, repo string, n int) error {
		for i := range n {
			if err := tx.PutManifest(repo, Manifest{Digest: d(i)}); err != nil {
				return err
			}
			if err := tx.PutTag(repo, Tag{Name: fmt.Sprint("t", i), Digest: d(i)}); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.Update(t.Context(), func(tx Tx) error { return errors.Join(fill(tx, "a", 3), fill(tx, "b", 2)) }); err != nil {
		t.Fatal(err)
	}
	req := func(fn func(Tx) error) *commitReq {
		return &commitReq{fn: fn, done: make(chan struct{}), lead: make(chan struct{})}
	}
	s.commitGroup([]*commitReq{
		req(func(tx Tx) error { return fill(tx, "a", 5) }),                                   // a: 5 and 5
		req(func(tx Tx) error { return errors.Join(tx.DeleteRepo("b"), errBoom) }),           // taken back
		req(func(tx Tx) error { return errors.Join(fill(tx, "c", 4), errBoom) }),             // taken back
		req(func(tx Tx) error { return tx.DeleteTag("a", "t0") }),                            // a: 5 and 4
		req(func(tx Tx) error { return errors.Join(tx.DeleteManifest("a", d(1)), errBoom) }), // taken back
		req(func(tx Tx) error { return tx.PutTag("a", Tag{Name: "t1", Digest: d(9)}) }),      // a replaced tag
	})
	want := map[string][2]int{"a": {5, 4}, "b": {2, 2}, "c": {0, 0}}
	err = s.View(t.Context(), func(tx Tx) error {
		for repo, w := range want {
			m, err1 := tx.ManifestCount(repo)
			n, err2 := tx.TagCount(repo)
			if err := errors.Join(err1, err2); err != nil {
				return err
			}
			listed := [2]int{len(collectAll(t, tx.Manifests(repo, ""))), len(collectAll(t, tx.Tags(repo, "")))}
			if got := [2]int{m, n}; got != w || listed != w {
				t.Errorf("%s: counted %v, listed %v, want %v manifests and tags", repo, got, listed, w)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiskRepoNameNUL: a NUL byte ends a repository's name in keys, so a
// name holding one is refused on write, with a clear error, and found
// nowhere on read.
func TestDiskRepoNameNUL(t *testing.T) {
	s, err := OpenDisk(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const bad = "a\x00b"
	d := digest.FromString("x")
	for name, fn := range map[string]func(Tx) error{
		"PutRepo":     func(tx Tx) error { return tx.PutRepo(Repository{Name: bad}) },
		"PutTag":      func(tx Tx) error { return tx.PutTag(bad, Tag{Name: "t", Digest: d}) },
		"PutManifest": func(tx Tx) error { return tx.PutManifest(bad, Manifest{Digest: d}) },
		"PutBlobLink": func(tx Tx) error { return tx.PutBlobLink(bad, BlobLink{Digest: d}) },
		"PutReferrer": func(tx Tx) error { return tx.PutReferrer(bad, d, d) },
		"PutDeleted":  func(tx Tx) error { return tx.PutDeleted(bad, Deleted{Key: "k"}) },
	} {
		if err := s.Update(t.Context(), fn); err == nil || !strings.Contains(err.Error(), "NUL") {
			t.Errorf("%s in a repository named with a NUL byte: got %v, want an error saying so", name, err)
		}
	}
	err = s.Update(t.Context(), func(tx Tx) error {
		if err := tx.PutTag("a", Tag{Name: "t", Digest: d}); err != nil {
			return err
		}
		if _, ok, err := tx.Repo(bad); ok || err != nil {
			t.Errorf("Repo(%q): got ok=%v, err=%v", bad, ok, err)
		}
		if got := collectAll(t, tx.Tags(bad, "")); len(got) != 0 {
			t.Errorf("Tags(%q): got %v", bad, got)
		}
		return tx.DeleteRepo(bad)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDiskRepoKeyRanges: repositories whose names extend one another, or
// differ just after the shared part by a byte sorting right after NUL or
// by a non-ASCII one, each see only their own items, list in name order, and DeleteRepo
// empties one without touching its neighbours.
func TestDiskRepoKeyRanges(t *testing.T) {
	s, err := OpenDisk(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	names := []string{"a", "a\x01", "a\x01b", "a-x", "a/b", "a\u00e9", "b"} // name order
	d := func(repo string, i int) digest.Digest { return digest.FromString(repo + fmt.Sprint(i)) }
	fill := func(tx Tx, repo string) error {
		var errs []error
		errs = append(errs, tx.PutRepo(Repository{Name: repo}))
		for i := range 3 {
			errs = append(errs,
				tx.PutManifest(repo, Manifest{Digest: d(repo, i), Annotations: map[string]string{"r": repo}}),
				tx.PutTag(repo, Tag{Name: fmt.Sprint("t", i), Digest: d(repo, i)}),
				tx.PutBlobLink(repo, BlobLink{Digest: d(repo, i)}),
				tx.PutReferrer(repo, d(repo, 0), d(repo, i)),
				tx.PutDeleted(repo, Deleted{Key: fmt.Sprint("k", i)}))
		}
		return errors.Join(errs...)
	}
	check := func(tx Tx, repo string, want int) {
		t.Helper()
		tags := collectAll(t, tx.Tags(repo, ""))
		after := collectAll(t, tx.Tags(repo, "t0"))
		ms := collectAll(t, tx.Manifests(repo, ""))
		links := collectAll(t, tx.BlobLinks(repo, ""))
		refs := collectAll(t, tx.Referrers(repo, d(repo, 0)))
		mc, err1 := tx.ManifestCount(repo)
		tc, err2 := tx.TagCount(repo)
		if err := errors.Join(err1, err2); err != nil {
			t.Fatal(err)
		}
		if len(tags) != want || len(after) != max(want-1, 0) || len(ms) != want || len(links) != want || len(refs) != want || mc != want || tc != want {
			t.Errorf("%q: %d tags (%d after t0), %d manifests, %d links, %d referrers, counts %d and %d; want %d of each",
				repo, len(tags), len(after), len(ms), len(links), len(refs), mc, tc, want)
		}
		for _, m := range ms {
			if m.Annotations["r"] != repo {
				t.Errorf("%q lists a manifest annotated for %q", repo, m.Annotations["r"])
			}
		}
		for _, tg := range tags {
			if tg.Digest != d(repo, 0) && tg.Digest != d(repo, 1) && tg.Digest != d(repo, 2) {
				t.Errorf("%q lists another repository's tag %v", repo, tg)
			}
		}
	}
	err = s.Update(t.Context(), func(tx Tx) error {
		for _, r := range names {
			if err := fill(tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(t.Context(), func(tx Tx) error {
		for _, r := range names {
			check(tx, r, 3)
		}
		var repos []string
		for _, r := range collectAll(t, tx.Repos("")) {
			repos = append(repos, r.Name)
		}
		if diff := cmp.Diff(names, repos); diff != "" {
			t.Errorf("Repos (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(names[2:], collectAll(t, tx.DeletedRepos(names[1]))); diff != "" {
			t.Errorf("DeletedRepos after %q (-want +got):\n%s", names[1], diff)
		}
		var all []string
		for r, err := range tx.(*diskTx).allRepos() {
			if err != nil {
				return err
			}
			all = append(all, r)
		}
		if diff := cmp.Diff(names, all); diff != "" {
			t.Errorf("allRepos (-want +got):\n%s", diff)
		}
		return errors.Join(tx.DeleteRepo("a"), tx.DeleteRepo("a\x01"))
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.View(t.Context(), func(tx Tx) error {
		check(tx, "a", 0)
		check(tx, "a\x01", 0)
		for _, r := range names[2:] {
			check(tx, r, 3)
		}
		if got := len(collectAll(t, tx.Deleted("a", "", ""))); got != 3 {
			t.Errorf("DeleteRepo(a) left %d of its 3 soft-deleted records", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// writeV1 writes a meta.db in layout version 1 at path, as that layout's
// code laid it out: repos/NAME/record, repos/NAME/tags/TAG.
func writeV1(t *testing.T, path string, repos, tags int) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	err = db.Update(func(tx *bolt.Tx) error {
		top, err := tx.CreateBucket(bucketV1Repos)
		if err != nil {
			return err
		}
		for r := range repos {
			name := fmt.Sprintf("crash/r-%05d", r)
			rb, err := top.CreateBucket([]byte(name))
			if err != nil {
				return err
			}
			rec, _ := json.Marshal(Repository{Name: name, CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()})
			if err := rb.Put(keyV1Record, rec); err != nil {
				return err
			}
			tb, err := rb.CreateBucket(bucketTags)
			if err != nil {
				return err
			}
			for i := range tags {
				tag := Tag{Name: fmt.Sprintf("t%05d", i), Digest: digest.FromString(fmt.Sprint(r, i)), CreatedAt: at, UpdatedAt: at, Attrs: DefaultAttributes()}
				rec, _ := json.Marshal(tag)
				if err := tb.Put([]byte(tag.Name), rec); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// convertDirEnv names the directory TestDiskMigrateCrash's child process
// opens.
const convertDirEnv = "STORE_TEST_CONVERT_DIR"

// TestDiskMigrateCrash kills a process while it converts a meta.db of
// layout version 1, at random moments: every time, the store opens after
// and holds everything.
func TestDiskMigrateCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const repos, tags = 2000, 10
	v1 := filepath.Join(t.TempDir(), "v1.db")
	writeV1(t, v1, repos, tags)
	original, err := os.ReadFile(v1)
	if err != nil {
		t.Fatal(err)
	}
	// How long a conversion takes here, to kill within it.
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, metaFile), original, 0o600)
	start := time.Now()
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	s.Close()
	t.Logf("a conversion takes %v", took)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))
	killed := 0
	found := map[string]int{}
	for round := range 6 {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, metaFile), original, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiskMigrateCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), convertDirEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// The child says when it starts to open.
		line := make([]byte, 8)
		io.ReadAtLeast(stdout, line, 8)
		time.Sleep(time.Duration(rng.Int64N(int64(took) + 1)))
		cmd.Process.Kill()
		go io.Copy(io.Discard, stdout)
		if err := cmd.Wait(); err != nil {
			killed++
		}
		// Either file, never a mix: the old one has no version.
		switch v := layoutVersion(t, dir); v {
		case "":
			found["old"]++
		case fmt.Sprint(formatVersion):
			found["new"]++
		default:
			t.Fatalf("round %d: meta.db after a kill has version %q", round, v)
		}
		s, err := OpenDisk(dir, nil)
		if err != nil {
			t.Fatalf("round %d: OpenDisk after a kill during the conversion: %v", round, err)
		}
		err = s.View(t.Context(), func(tx Tx) error {
			if got := len(collectAll(t, tx.Repos(""))); got != repos {
				t.Errorf("round %d: %d repositories after a kill, want %d", round, got, repos)
			}
			for _, r := range []int{0, repos / 2, repos - 1} {
				name := fmt.Sprintf("crash/r-%05d", r)
				n, err := tx.TagCount(name)
				if got := len(collectAll(t, tx.Tags(name, ""))); got != tags || n != tags || err != nil {
					t.Errorf("round %d: %s lists %d tags and counts %d (%v), want %d", round, name, got, n, err, tags)
				}
			}
			return nil
		})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d of 6 children killed before they finished; meta.db found old %d times, converted %d times", killed, found["old"], found["new"])
}

// TestDiskMigrateCrashChild is TestDiskMigrateCrash's child process: it
// opens, and so converts, the store.
func TestDiskMigrateCrashChild(t *testing.T) {
	dir := os.Getenv(convertDirEnv)
	if dir == "" {
		t.Skip("runs as TestDiskMigrateCrash's child process")
	}
	fmt.Println("opening")
	s, err := OpenDisk(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// longLockWait lets OpenDisk wait up to d for meta.db's lock for the rest
// of the test, for the tests whose second opener must still be waiting
// when the first lets go, however slow the machine. The tests using it are
// not parallel.
func longLockWait(t *testing.T, d time.Duration) {
	old := lockTimeout
	lockTimeout = d
	t.Cleanup(func() { lockTimeout = old })
}
