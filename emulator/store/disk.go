package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// DiskOptions configures [OpenDisk]. The zero value, or nil, selects the
// defaults.
type DiskOptions struct {
	// Converted, if set, is called once when the open has converted
	// meta.db from an older layout version (from) to this build's (to),
	// with the time the conversion took: a build older than to can no
	// longer read the directory.
	Converted func(from, to int, took time.Duration)
}

// Names inside the store's directory.
const (
	blobsDir   = "blobs"   // blobs/<alg>/<first 2 hex>/<hex>: content-addressed blobs
	uploadsDir = "uploads" // uploads/<id>: the content of upload sessions
	tmpDir     = "tmp"     // blobs being written; emptied on open
	metaFile   = "meta.db" // bbolt: metadata and upload session records
)

// lockTimeout bounds the wait for another process to release meta.db.
// Converting meta.db to a new layout (see openMeta) holds the lock for as
// long as the conversion takes. Tests that wait for the lock on purpose
// lengthen it, so that a slow machine does not turn their wait into a
// timeout.
var lockTimeout = time.Second

// OpenDisk opens, creating it if needed, a store persisted in dir: blobs as
// content-addressed files under dir/blobs, upload sessions as files under
// dir/uploads each holding its record (an extended attribute, or a record
// file beside it), and metadata in the bbolt database
// dir/meta.db. One process at a time may open a directory. The store is safe
// for concurrent use; Close it to release the directory.
//
// Every acknowledged write is durable: PutBlob and CommitUpload return after
// the blob's content is on disk and its name in place, and Update after its
// transaction is, and after the names of every blob stored before it;
// concurrent Updates share commits, so the syncs of one commit acknowledge
// many writes (see blobNames). A blob is thus durable once an Update that
// began after it returns, or the store is closed: callers acknowledge a
// blob after committing metadata that names it, which they must store
// first. A crash at any moment leaves either the old state or the new one,
// never a partial blob under a digest.
//
// meta.db records its layout's version. A directory written by an older
// layout is converted on open, once and atomically (the open then takes as
// long as copying meta.db); one written by a newer build is refused with an
// error saying so.
//
// Upload sessions survive a restart; after one, the first append or commit
// of a session re-reads its content to rebuild the running hash. Session
// records are written without fsync (see recordSuffix). Store methods
// must not be called from inside Update's fn.
//
// Errors of a file system that is read-only, full or denies permission
// match ErrReadOnly.
func OpenDisk(dir string, opts *DiskOptions) (Store, error) {
	var o DiskOptions
	if opts != nil {
		o = *opts
	}
	s := &diskStore{dir: dir, opts: o, uploads: make(map[string]*diskUpload)}
	if err := makeDirs(dir); err != nil {
		return nil, err
	}
	// The lock on meta.db also guards the directory: openMeta takes it
	// before touching anything that another process could be using.
	if err := s.openMeta(); err != nil {
		return nil, err
	}
	root, err := openSyncRoot(dir)
	if err != nil {
		s.db.Close()
		return nil, ioError("open store directory", err)
	}
	s.names.root = root
	if err := s.init(); err != nil {
		if root != nil {
			root.Close()
		}
		s.db.Close()
		return nil, err
	}
	return s, nil
}

// makeDirs creates the store's directories that are missing and makes their
// entries durable, so that a crash cannot lose a directory holding blobs
// that committed metadata names.
func makeDirs(dir string) error {
	for _, d := range []string{
		dir,
		filepath.Join(dir, blobsDir),
		filepath.Join(dir, blobsDir, string(digest.SHA256)),
		filepath.Join(dir, blobsDir, string(digest.SHA512)),
		filepath.Join(dir, uploadsDir),
		filepath.Join(dir, tmpDir),
	} {
		if _, err := os.Stat(d); err == nil {
			continue
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return ioError("create store directory", err)
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return ioError("sync store directory", err)
		}
	}
	return nil
}

type diskStore struct {
	dir    string
	opts   DiskOptions
	db     *bolt.DB
	closed atomic.Bool

	mu      sync.Mutex // guards uploads
	uploads map[string]*diskUpload

	dirs sync.Map // blob prefix directories known to exist

	commits groupCommit // concurrent Updates share commits
	names   blobNames   // blob renames not yet durable
}

// diskUpload is an open upload session. Every session of the store is in
// memory; its record in meta.db lets it survive a restart.
type diskUpload struct {
	info Upload       // immutable but for Size, which size holds
	size atomic.Int64 // read without mu, so GetUpload does not wait for an append

	mu   sync.Mutex // serializes appends, commit and cancel
	hash hash.Hash  // sha256 of the file's content; nil until rebuilt after a restart
	done bool

	recordFile bool // the record is a file beside the data, not an attribute of it

	active activity
}

func (u *diskUpload) upload() Upload {
	info := u.info
	info.Size = u.size.Load()
	info.ActiveAt = u.active.at()
	return info
}

// cleanTmp removes what writes interrupted by a crash left in tmp.
func (s *diskStore) cleanTmp() error {
	dir := filepath.Join(s.dir, tmpDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ioError("list temporary files", err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return ioError("remove leftover temporary file", err)
		}
	}
	return nil
}

// init loads the upload sessions, dropping records whose file is gone (the
// session was committed or cancelled when the process died) and files
// without a record (it died creating the session).
func (s *diskStore) init() error {
	dir := filepath.Join(s.dir, uploadsDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return ioError("list upload sessions", err)
	}
	load := func(id string, info Upload, recordFile bool) {
		if !validUploadID(id) || info.ID != id || s.uploads[id] != nil {
			return // dropped below, with its data file
		}
		fi, err := os.Stat(s.uploadPath(id))
		if err != nil {
			return
		}
		u := &diskUpload{info: info, recordFile: recordFile}
		u.info.Size = 0
		u.size.Store(fi.Size())
		u.active.last.Store(max(fi.ModTime().UnixNano(), info.StartedAt.UnixNano()))
		s.uploads[id] = u
	}
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), recordSuffix); ok {
			var info Upload
			if rec, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && json.Unmarshal(rec, &info) == nil {
				load(id, info, true)
			}
		} else if validUploadID(e.Name()) {
			if rec, err := recordAttr(filepath.Join(dir, e.Name())); err == nil && rec != nil {
				if info, ok := parseAttrRecord(e.Name(), rec); ok {
					load(e.Name(), info, false)
				}
			}
		}
	}
	for _, e := range entries {
		id := strings.TrimSuffix(e.Name(), recordSuffix)
		if s.uploads[id] == nil {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				return ioError("remove abandoned upload", err)
			}
		}
	}
	return nil
}

// recordSuffix names an upload session's record file beside its data file,
// where the file system cannot hold the record in an extended attribute of
// the data file (recordXattr on Linux). The attribute is preferred: a
// record file is one more inode made and freed per blob, and ext4 without
// a journal scans every inode freed in the last minute on each inode it
// allocates (recently_deleted), which took 40% of the registry's CPU under
// 32 clients pushing small images. Records are written without fsync: they survive a process crash (the
// page cache outlives the process), and an operating-system crash only
// loses sessions in progress, which clients restart. This keeps small
// pushes free of two metadata commits each.
const recordSuffix = ".json"

// attrRecord is a session's record as its data file's attribute holds it:
// the start time in Unix nanoseconds, a space and the repository, short
// enough for ext4 to keep inside the inode for ordinary repository names.
func attrRecord(info Upload) []byte {
	return fmt.Appendf(nil, "%d %s", info.StartedAt.UnixNano(), info.Repo)
}

func parseAttrRecord(id string, rec []byte) (Upload, bool) {
	ns, repo, ok := strings.Cut(string(rec), " ")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || repo == "" {
		return Upload{}, false
	}
	return Upload{ID: id, Repo: repo, StartedAt: time.Unix(0, n).UTC()}, true
}

// writeRecord writes a session's record file atomically.
func (s *diskStore) writeRecord(id string, rec []byte) error {
	path := s.uploadPath(id) + recordSuffix
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, rec, 0o600); err != nil {
		os.Remove(tmp)
		return ioError("write upload session record", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return ioError("write upload session record", err)
	}
	return nil
}

func (s *diskStore) check(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("store: %s: %w", s.dir, ErrClosed)
	}
	return ctx.Err()
}

// Close implements [Store.Close]. A second call does nothing.
func (s *diskStore) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	var err error
	if ferr := s.names.flush(); ferr != nil {
		err = ioError("sync blob names", ferr)
	}
	if s.names.root != nil {
		if cerr := s.names.root.Close(); err == nil {
			err = cerr
		}
	}
	if cerr := s.db.Close(); err == nil {
		err = cerr
	}
	return err
}

// View implements [Store.View].
func (s *diskStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	var fnErr error
	err := s.db.View(func(btx *bolt.Tx) error {
		t := &diskTx{tx: btx}
		defer func() { t.done = true }()
		fnErr = fn(t)
		return fnErr
	})
	return s.txError(err, fnErr)
}

// Update implements [Store.Update]. bbolt commits durably: when Update
// returns nil, the transaction survives a crash. Concurrent Updates share
// commits (see groupCommit); each fn still runs once, alone, and sees the
// writes of those committed before it.
func (s *diskStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	return s.update(fn)
}

// txError returns fn's error untouched and classifies bbolt's own.
func (s *diskStore) txError(err, fnErr error) error {
	switch {
	case fnErr != nil:
		return fnErr
	case err == nil:
		return nil
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("store: %s: %w", s.dir, ErrClosed)
	}
	return ioError("commit metadata", err)
}

// blobPath returns the file of a blob; d must have passed newHash.
func (s *diskStore) blobPath(d digest.Digest) string {
	enc := d.Encoded()
	return filepath.Join(s.dir, blobsDir, string(d.Algorithm()), enc[:2], enc)
}

func (s *diskStore) uploadPath(id string) string {
	return filepath.Join(s.dir, uploadsDir, id)
}

// StatBlob implements [Store.StatBlob].
func (s *diskStore) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if _, err := newHash(d); err != nil {
		return 0, err
	}
	fi, err := os.Stat(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, blobNotFound(d)
	}
	if err != nil {
		return 0, ioError("stat blob", err)
	}
	return fi.Size(), nil
}

// OpenBlob implements [Store.OpenBlob]. The reader is an *os.File.
func (s *diskStore) OpenBlob(ctx context.Context, d digest.Digest) (BlobReader, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if _, err := newHash(d); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, blobNotFound(d)
	}
	if err != nil {
		return nil, ioError("open blob", err)
	}
	return f, nil
}

// PutBlob implements [Store.PutBlob]. The content goes to a temporary file,
// hashed as it is written, and is renamed to its content address only once
// verified and on disk. A blob already stored is verified without writing.
func (s *diskStore) PutBlob(ctx context.Context, d digest.Digest, size int64, r io.Reader) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	h, err := newHash(d)
	if err != nil {
		return 0, err
	}
	r = limitClaimed(r, size)
	if fi, err := os.Stat(s.blobPath(d)); err == nil && fi.Mode().IsRegular() {
		n, err := hashReader(ctx, r, h)
		if err != nil {
			return n, fmt.Errorf("store: reading blob %s: %w", d, err)
		}
		return n, verify(d, size, n, h)
	}

	f, err := os.CreateTemp(filepath.Join(s.dir, tmpDir), "blob-")
	if err != nil {
		return 0, ioError("create temporary file", err)
	}
	tmp := f.Name()
	installed := false
	defer func() {
		if f != nil {
			f.Close()
		}
		if !installed {
			os.Remove(tmp)
		}
	}()
	n, rerr, werr := copyToFile(ctx, f, 0, r, h)
	switch {
	case werr != nil:
		return n, ioError("write blob "+string(d), werr)
	case rerr != nil:
		return n, fmt.Errorf("store: reading blob %s: %w", d, rerr)
	}
	if err := verify(d, size, n, h); err != nil {
		return n, err
	}
	if err := datasync(f); err != nil {
		return n, ioError("sync blob "+string(d), err)
	}
	err = f.Close()
	f = nil
	if err != nil {
		return n, ioError("write blob "+string(d), err)
	}
	if err := s.install(tmp, d); err != nil {
		return n, err
	}
	installed = true
	return n, nil
}

// install renames a verified, synced file to d's address. The new entries
// (the rename, and a prefix directory it created) become durable at the
// next group commit (see blobNames).
func (s *diskStore) install(src string, d digest.Digest) error {
	dst := s.blobPath(d)
	dir := filepath.Dir(dst)
	s.names.gate.RLock()
	defer s.names.gate.RUnlock()
	if _, ok := s.dirs.Load(dir); !ok {
		err := os.Mkdir(dir, 0o700)
		switch {
		case err == nil:
			// The new directory's entry in its parent must be durable too.
			s.names.installed(filepath.Dir(dir))
		case !errors.Is(err, fs.ErrExist):
			return ioError("create blob directory", err)
		}
		s.dirs.Store(dir, struct{}{})
	}
	if err := os.Rename(src, dst); err != nil {
		return ioError("store blob "+string(d), err)
	}
	s.names.installed(dir)
	return nil
}

// DeleteBlob implements [Store.DeleteBlob]. The removal is not synced: a
// blob that a crash brings back is unreferenced and collected again.
func (s *diskStore) DeleteBlob(ctx context.Context, d digest.Digest) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	if _, err := newHash(d); err != nil {
		return err
	}
	err := os.Remove(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return blobNotFound(d)
	}
	if err != nil {
		return ioError("delete blob "+string(d), err)
	}
	return nil
}

// Blobs implements [Store.Blobs]. It walks the blob directories, skipping
// any file whose name is not a digest of its directory's algorithm.
func (s *diskStore) Blobs(ctx context.Context) iter.Seq2[digest.Digest, error] {
	return func(yield func(digest.Digest, error) bool) {
		if err := s.check(ctx); err != nil {
			yield("", err)
			return
		}
		for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
			algDir := filepath.Join(s.dir, blobsDir, string(alg))
			prefixes, err := os.ReadDir(algDir)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				yield("", ioError("list blobs", err))
				return
			}
			for _, p := range prefixes {
				if err := s.check(ctx); err != nil {
					yield("", err)
					return
				}
				if !p.IsDir() || len(p.Name()) != 2 {
					continue
				}
				names, err := os.ReadDir(filepath.Join(algDir, p.Name()))
				if err != nil {
					yield("", ioError("list blobs", err))
					return
				}
				for _, e := range names {
					d := digest.NewDigestFromEncoded(alg, e.Name())
					if !e.Type().IsRegular() || d.Validate() != nil || e.Name()[:2] != p.Name() {
						continue
					}
					if !yield(d, nil) {
						return
					}
				}
			}
		}
	}
}

// CreateUpload implements [Store.CreateUpload].
func (s *diskStore) CreateUpload(ctx context.Context, repo string) (Upload, error) {
	if err := s.check(ctx); err != nil {
		return Upload{}, err
	}
	u := &diskUpload{info: Upload{ID: newUploadID(), Repo: repo, StartedAt: time.Now().UTC()}, hash: sha256.New()}
	u.active.last.Store(u.info.StartedAt.UnixNano())
	path := s.uploadPath(u.info.ID)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return Upload{}, ioError("create upload session", err)
	}
	// A crash before the record is set leaves a file without one, which
	// the next open drops.
	u.recordFile = setRecordAttr(f, attrRecord(u.info)) != nil
	if err := f.Close(); err != nil {
		os.Remove(path)
		return Upload{}, ioError("create upload session", err)
	}
	if u.recordFile {
		rec, err := json.Marshal(u.info)
		if err != nil {
			os.Remove(path)
			return Upload{}, err
		}
		if err := s.writeRecord(u.info.ID, rec); err != nil {
			os.Remove(path)
			return Upload{}, err
		}
	}
	s.mu.Lock()
	s.uploads[u.info.ID] = u
	s.mu.Unlock()
	return u.upload(), nil
}

func (s *diskStore) upload(id string) (*diskUpload, error) {
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil {
		return nil, uploadNotFound(id)
	}
	return u, nil
}

// end ends a session: its entry, its file and its record go. The caller
// holds u.mu. A record left behind by a failure here is dropped on the next
// open once its file is gone.
func (s *diskStore) end(u *diskUpload) error {
	u.done = true
	s.mu.Lock()
	delete(s.uploads, u.info.ID)
	s.mu.Unlock()
	err := os.Remove(s.uploadPath(u.info.ID))
	if errors.Is(err, fs.ErrNotExist) {
		err = nil // committed: the file is now a blob
	}
	if err != nil {
		err = ioError("remove upload session", err)
	}
	if !u.recordFile {
		return err
	}
	if rerr := os.Remove(s.uploadPath(u.info.ID) + recordSuffix); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
		err = ioError("remove upload session record", rerr)
	}
	return err
}

// GetUpload implements [Store.GetUpload].
func (s *diskStore) GetUpload(ctx context.Context, id string) (Upload, error) {
	if err := s.check(ctx); err != nil {
		return Upload{}, err
	}
	u, err := s.upload(id)
	if err != nil {
		return Upload{}, err
	}
	return u.upload(), nil
}

// Uploads implements [Store.Uploads]. It yields a snapshot in ID order.
func (s *diskStore) Uploads(ctx context.Context) iter.Seq2[Upload, error] {
	return func(yield func(Upload, error) bool) {
		if err := s.check(ctx); err != nil {
			yield(Upload{}, err)
			return
		}
		s.mu.Lock()
		us := make([]Upload, 0, len(s.uploads))
		for _, u := range s.uploads {
			us = append(us, u.upload())
		}
		s.mu.Unlock()
		slices.SortFunc(us, func(a, b Upload) int { return cmp.Compare(a.ID, b.ID) })
		for _, u := range us {
			if !yield(u, nil) {
				return
			}
		}
	}
}

// loadHash rebuilds the running hash of a session loaded after a restart
// by re-reading its file. The caller holds u.mu.
func (s *diskStore) loadHash(ctx context.Context, u *diskUpload) error {
	if u.hash != nil {
		return nil
	}
	f, err := os.Open(s.uploadPath(u.info.ID))
	if err != nil {
		return ioError("open upload session", err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := hashFile(ctx, f, h)
	if err != nil {
		return ioError("read upload session", err)
	}
	u.hash = h
	u.size.Store(n)
	return nil
}

// AppendUpload implements [Store.AppendUpload]. When writing fails (a full
// disk, say), the whole append is rolled back, so the session keeps exactly
// offset bytes; when reading r fails, what was read stays appended.
func (s *diskStore) AppendUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	u, err := s.upload(id)
	if err != nil {
		return 0, err
	}
	defer u.active.begin()()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return 0, uploadNotFound(id)
	}
	if err := s.loadHash(ctx, u); err != nil {
		return u.size.Load(), err
	}
	if cur := u.size.Load(); offset != cur {
		return cur, fmt.Errorf("store: upload session %s holds %d bytes, not %d: %w", id, cur, offset, ErrOffsetMismatch)
	}
	f, err := os.OpenFile(s.uploadPath(id), os.O_WRONLY, 0)
	if err != nil {
		return offset, ioError("open upload session", err)
	}
	state, err := u.hash.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		f.Close()
		return offset, fmt.Errorf("store: save hash state: %w", err)
	}
	n, rerr, werr := copyToFile(ctx, f, offset, r, u.hash)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		// Roll back so that the file and the running hash agree. If even
		// that fails, forget the hash: the next append rebuilds it from
		// whatever the file holds.
		if err := os.Truncate(s.uploadPath(id), offset); err != nil {
			u.hash = nil
		} else if err := u.hash.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			u.hash = nil
		}
		return offset, ioError("write upload session "+id, werr)
	}
	u.size.Store(offset + n)
	if rerr != nil {
		return offset + n, fmt.Errorf("store: upload session %s: reading: %w", id, rerr)
	}
	return offset + n, nil
}

// CommitUpload implements [Store.CommitUpload]. The session's file becomes
// the blob by a rename, after a datasync; for sha512 the file is hashed
// again, since the running hash is sha256.
func (s *diskStore) CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	h, err := newHash(d)
	if err != nil {
		return 0, err
	}
	u, err := s.upload(id)
	if err != nil {
		return 0, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return 0, uploadNotFound(id)
	}
	path := s.uploadPath(id)
	n, err := s.verifyUpload(ctx, u, d, size, h)
	if errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrSizeMismatch) {
		if eerr := s.end(u); eerr != nil {
			err = errors.Join(err, eerr)
		}
		return n, fmt.Errorf("store: upload session %s ended: %w", id, err)
	}
	if err != nil {
		return n, err
	}
	if _, err := os.Stat(s.blobPath(d)); err == nil {
		s.end(u) // already stored: the session's copy goes
		return n, nil
	}
	if err := s.install(path, d); err != nil {
		s.keepRecord(path, u)
		return n, err
	}
	// The session's file is now the blob; if removing the record fails,
	// the next open drops it since its file is gone.
	s.end(u)
	return n, nil
}

// verifyUpload checks a session's content against d and size and, when it
// matches, syncs it to disk. The caller holds u.mu.
func (s *diskStore) verifyUpload(ctx context.Context, u *diskUpload, d digest.Digest, size int64, h hash.Hash) (int64, error) {
	// Opened for writing because some systems sync only writable files.
	f, err := os.OpenFile(s.uploadPath(u.info.ID), os.O_RDWR, 0)
	if err != nil {
		return 0, ioError("open upload session", err)
	}
	defer f.Close()
	n := u.size.Load()
	if d.Algorithm() == digest.SHA256 && u.hash != nil {
		h = u.hash
	} else if n, err = hashFile(ctx, f, h); err != nil {
		return n, ioError("read upload session", err)
	}
	if err := verify(d, size, n, h); err != nil {
		return n, err
	}
	if !u.recordFile {
		// The file becomes the blob: it keeps no session record.
		removeRecordAttr(f)
	}
	if err := datasync(f); err != nil {
		s.keepRecord(f.Name(), u)
		return n, ioError("sync upload session", err)
	}
	if err := f.Close(); err != nil {
		s.keepRecord(f.Name(), u)
		return n, ioError("sync upload session", err)
	}
	return n, nil
}

// keepRecord puts back the session record that verifyUpload took off the
// session's file, when the commit failed after it: the session stays open,
// and must survive a restart. The caller holds u.mu.
func (s *diskStore) keepRecord(path string, u *diskUpload) {
	if u.recordFile {
		return
	}
	if f, err := os.OpenFile(path, os.O_RDWR, 0); err == nil {
		setRecordAttr(f, attrRecord(u.info))
		f.Close()
	}
}

// CancelUpload implements [Store.CancelUpload].
func (s *diskStore) CancelUpload(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	u, err := s.upload(id)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.done {
		return uploadNotFound(id)
	}
	return s.end(u)
}
