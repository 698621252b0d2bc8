package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/opencontainers/go-digest"
)

// NewMemory returns a store that keeps metadata, blobs and upload sessions
// in process memory; everything is lost when it is closed or the process
// exits. It is safe for concurrent use.
//
// Updates hold an exclusive lock on the metadata for the duration of fn and
// keep an undo log, so that an error or a panic in fn leaves the metadata as
// it was. Views share the lock, so fn must not start another transaction.
// Blobs and upload sessions have locks of their own, so fn may call the
// store's blob and upload methods.
func NewMemory() Store {
	return &memStore{
		meta:    memMeta{data: make(map[string]*memRepoData), deleted: make(map[string]*omap[string, Deleted])},
		blobs:   make(map[digest.Digest]*memBlob),
		uploads: make(map[string]*memUpload),
	}
}

type memStore struct {
	closed atomic.Bool

	metaMu sync.RWMutex
	meta   memMeta

	blobMu sync.RWMutex
	blobs  map[digest.Digest]*memBlob

	upMu    sync.Mutex
	uploads map[string]*memUpload
}

// memMeta is the memory store's metadata. The data of a repository lives
// apart from its record so that a repository's content can exist before or
// without the record, as it can in the disk store.
type memMeta struct {
	repos omap[string, Repository]
	data  map[string]*memRepoData
	// deleted holds each repository's soft-deleted records, apart from its
	// data so that deleting the repository keeps them.
	deleted map[string]*omap[string, Deleted]
}

type memRepoData struct {
	manifests omap[digest.Digest, Manifest]
	tags      omap[string, Tag]
	links     omap[digest.Digest, BlobLink]
	referrers map[digest.Digest]*omap[digest.Digest, struct{}]
}

var (
	errTxDone     = fmt.Errorf("store: transaction used after its function returned: %w", ErrClosed)
	errTxReadOnly = fmt.Errorf("store: write in a read-only transaction: %w", ErrReadOnly)
	errEmptyKey   = errors.New("store: empty name or digest")
)

func (s *memStore) check(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("store: memory store: %w", ErrClosed)
	}
	return ctx.Err()
}

// View implements [Store.View].
func (s *memStore) View(ctx context.Context, fn func(Tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.metaMu.RLock()
	defer s.metaMu.RUnlock()
	tx := &memTx{m: &s.meta}
	defer func() { tx.done = true }()
	return fn(tx)
}

// Update implements [Store.Update].
func (s *memStore) Update(ctx context.Context, fn func(Tx) error) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	tx := &memTx{m: &s.meta, writable: true}
	committed := false
	defer func() {
		// Runs on a panic in fn too, so that the lock is released with the
		// metadata as it was.
		tx.done = true
		if !committed {
			for i := len(tx.undo) - 1; i >= 0; i-- {
				tx.undo[i]()
			}
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	return nil
}

// Close implements [Store.Close]. It drops all content; a second call does
// nothing.
func (s *memStore) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.metaMu.Lock()
	s.meta = memMeta{data: make(map[string]*memRepoData)}
	s.metaMu.Unlock()
	s.blobMu.Lock()
	s.blobs = make(map[digest.Digest]*memBlob)
	s.blobMu.Unlock()
	s.upMu.Lock()
	s.uploads = make(map[string]*memUpload)
	s.upMu.Unlock()
	return nil
}

// memTx is a transaction of the memory store. Every write records how to
// undo itself; Update replays the log backwards when fn fails.
type memTx struct {
	m        *memMeta
	writable bool
	done     bool
	undo     []func()
}

func (t *memTx) checkRead() error {
	if t.done {
		return errTxDone
	}
	return nil
}

func (t *memTx) checkWrite(keys ...string) error {
	if t.done {
		return errTxDone
	}
	if !t.writable {
		return errTxReadOnly
	}
	for _, k := range keys {
		if k == "" {
			return errEmptyKey
		}
	}
	return nil
}

// repoData returns the data of a repository, creating it when create is set.
func (t *memTx) repoData(repo string, create bool) *memRepoData {
	d := t.m.data[repo]
	if d == nil && create {
		d = &memRepoData{referrers: make(map[digest.Digest]*omap[digest.Digest, struct{}])}
		t.m.data[repo] = d
		t.undo = append(t.undo, func() { delete(t.m.data, repo) })
	}
	return d
}

// put sets k in o and records how to undo it.
func put[K cmp.Ordered, V any](t *memTx, o *omap[K, V], k K, v V) {
	old, had := o.set(k, v)
	t.undo = append(t.undo, func() {
		if had {
			o.set(k, old)
		} else {
			o.del(k)
		}
	})
}

// del removes k from o and records how to undo it.
func del[K cmp.Ordered, V any](t *memTx, o *omap[K, V], k K) {
	if old, had := o.del(k); had {
		t.undo = append(t.undo, func() { o.set(k, old) })
	}
}

// seq yields the values of the map that get returns, in key order, starting
// strictly after after. It iterates over a snapshot of the entries; once
// the caller changes something in the transaction (which only it can: the
// transaction holds the store's lock), each value is looked up again when
// it is reached, so fn may change the map while iterating: deleted entries
// are skipped, entries added may or may not be seen.
func seq[K cmp.Ordered, V, T any](t *memTx, get func() *omap[K, V], after K, conv func(K, V) T) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		if err := t.checkRead(); err != nil {
			yield(zero, err)
			return
		}
		o := get()
		if o == nil {
			return
		}
		writes := len(t.undo)
		for _, e := range o.entriesAfter(after) {
			if t.done {
				yield(zero, errTxDone)
				return
			}
			v := e.v
			if len(t.undo) != writes {
				if o = get(); o == nil {
					return
				}
				var ok bool
				if v, ok = o.get(e.k); !ok {
					continue
				}
			}
			if !yield(conv(e.k, v), nil) {
				return
			}
		}
	}
}

// PutDeleted implements [Tx.PutDeleted].
func (t *memTx) PutDeleted(repo string, d Deleted) error {
	if err := t.checkWrite(repo, d.Key); err != nil {
		return err
	}
	o := t.m.deleted[repo]
	if o == nil {
		o = &omap[string, Deleted]{}
		t.m.deleted[repo] = o
		t.undo = append(t.undo, func() { delete(t.m.deleted, repo) })
	}
	put(t, o, d.Key, cloneDeleted(d))
	return nil
}

// DeleteDeleted implements [Tx.DeleteDeleted].
func (t *memTx) DeleteDeleted(repo, key string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if o := t.m.deleted[repo]; o != nil {
		del(t, o, key)
	}
	return nil
}

// Deleted implements [Tx.Deleted].
func (t *memTx) Deleted(repo, prefix, after string) iter.Seq2[Deleted, error] {
	all := seq(t, func() *omap[string, Deleted] { return t.m.deleted[repo] }, after,
		func(_ string, d Deleted) Deleted { return cloneDeleted(d) })
	return func(yield func(Deleted, error) bool) {
		for d, err := range all {
			if err != nil {
				yield(d, err)
				return
			}
			if !strings.HasPrefix(d.Key, prefix) {
				if d.Key > prefix {
					return
				}
				continue
			}
			if !yield(d, nil) {
				return
			}
		}
	}
}

// DeletedRepos implements [Tx.DeletedRepos].
func (t *memTx) DeletedRepos(after string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := t.checkRead(); err != nil {
			yield("", err)
			return
		}
		var names []string
		for name, o := range t.m.deleted {
			if o.len() > 0 && name > after {
				names = append(names, name)
			}
		}
		slices.Sort(names)
		for _, n := range names {
			if t.done {
				yield("", errTxDone)
				return
			}
			if !yield(n, nil) {
				return
			}
		}
	}
}

func cloneDeleted(d Deleted) Deleted {
	if d.Manifest != nil {
		m := cloneManifest(*d.Manifest)
		d.Manifest = &m
	}
	if d.Tag != nil {
		tg := *d.Tag
		d.Tag = &tg
	}
	d.Tags = slices.Clip(slices.Clone(d.Tags))
	return d
}

// Repo implements [Tx.Repo].
func (t *memTx) Repo(name string) (Repository, bool, error) {
	if err := t.checkRead(); err != nil {
		return Repository{}, false, err
	}
	r, ok := t.m.repos.get(name)
	return r, ok, nil
}

// PutRepo implements [Tx.PutRepo].
func (t *memTx) PutRepo(r Repository) error {
	if err := t.checkWrite(r.Name); err != nil {
		return err
	}
	put(t, &t.m.repos, r.Name, r)
	return nil
}

// DeleteRepo implements [Tx.DeleteRepo].
func (t *memTx) DeleteRepo(name string) error {
	if err := t.checkWrite(name); err != nil {
		return err
	}
	del(t, &t.m.repos, name)
	if d, ok := t.m.data[name]; ok {
		delete(t.m.data, name)
		t.undo = append(t.undo, func() { t.m.data[name] = d })
	}
	return nil
}

// Repos implements [Tx.Repos].
func (t *memTx) Repos(after string) iter.Seq2[Repository, error] {
	return seq(t, func() *omap[string, Repository] { return &t.m.repos }, after,
		func(_ string, r Repository) Repository { return r })
}

// allRepos yields the name of every repository holding a record or data,
// for garbage collection.
func (t *memTx) allRepos() iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		if err := t.checkRead(); err != nil {
			yield("", err)
			return
		}
		names := make(map[string]struct{}, len(t.m.data))
		for name := range t.m.data {
			names[name] = struct{}{}
		}
		for _, e := range t.m.repos.entriesAfter("") {
			names[e.k] = struct{}{}
		}
		for _, name := range slices.Sorted(maps.Keys(names)) {
			if !yield(name, nil) {
				return
			}
		}
	}
}

// Manifest implements [Tx.Manifest].
func (t *memTx) Manifest(repo string, d digest.Digest) (Manifest, bool, error) {
	if err := t.checkRead(); err != nil {
		return Manifest{}, false, err
	}
	rd := t.repoData(repo, false)
	if rd == nil {
		return Manifest{}, false, nil
	}
	m, ok := rd.manifests.get(d)
	return cloneManifest(m), ok, nil
}

// PutManifest implements [Tx.PutManifest].
func (t *memTx) PutManifest(repo string, m Manifest) error {
	if err := t.checkWrite(repo, string(m.Digest)); err != nil {
		return err
	}
	put(t, &t.repoData(repo, true).manifests, m.Digest, cloneManifest(m))
	return nil
}

// DeleteManifest implements [Tx.DeleteManifest].
func (t *memTx) DeleteManifest(repo string, d digest.Digest) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if rd := t.repoData(repo, false); rd != nil {
		del(t, &rd.manifests, d)
	}
	return nil
}

// Manifests implements [Tx.Manifests].
func (t *memTx) Manifests(repo string, after digest.Digest) iter.Seq2[Manifest, error] {
	return seq(t, func() *omap[digest.Digest, Manifest] {
		if rd := t.repoData(repo, false); rd != nil {
			return &rd.manifests
		}
		return nil
	}, after, func(_ digest.Digest, m Manifest) Manifest { return cloneManifest(m) })
}

// ManifestCount implements [Tx.ManifestCount].
func (t *memTx) ManifestCount(repo string) (int, error) {
	if err := t.checkRead(); err != nil {
		return 0, err
	}
	if rd := t.repoData(repo, false); rd != nil {
		return rd.manifests.len(), nil
	}
	return 0, nil
}

// TagCount implements [Tx.TagCount].
func (t *memTx) TagCount(repo string) (int, error) {
	if err := t.checkRead(); err != nil {
		return 0, err
	}
	if rd := t.repoData(repo, false); rd != nil {
		return rd.tags.len(), nil
	}
	return 0, nil
}

// ManifestSummaries implements [Tx.ManifestSummaries].
func (t *memTx) ManifestSummaries(repo string, after digest.Digest) iter.Seq2[Manifest, error] {
	return seq(t, func() *omap[digest.Digest, Manifest] {
		if rd := t.repoData(repo, false); rd != nil {
			return &rd.manifests
		}
		return nil
	}, after, func(_ digest.Digest, m Manifest) Manifest {
		m.Annotations = nil
		return cloneManifest(m)
	})
}

// Tag implements [Tx.Tag].
func (t *memTx) Tag(repo, name string) (Tag, bool, error) {
	if err := t.checkRead(); err != nil {
		return Tag{}, false, err
	}
	rd := t.repoData(repo, false)
	if rd == nil {
		return Tag{}, false, nil
	}
	tag, ok := rd.tags.get(name)
	return tag, ok, nil
}

// PutTag implements [Tx.PutTag].
func (t *memTx) PutTag(repo string, tag Tag) error {
	if err := t.checkWrite(repo, tag.Name); err != nil {
		return err
	}
	put(t, &t.repoData(repo, true).tags, tag.Name, tag)
	return nil
}

// DeleteTag implements [Tx.DeleteTag].
func (t *memTx) DeleteTag(repo, name string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if rd := t.repoData(repo, false); rd != nil {
		del(t, &rd.tags, name)
	}
	return nil
}

// Tags implements [Tx.Tags].
func (t *memTx) Tags(repo, after string) iter.Seq2[Tag, error] {
	return seq(t, func() *omap[string, Tag] {
		if rd := t.repoData(repo, false); rd != nil {
			return &rd.tags
		}
		return nil
	}, after, func(_ string, tag Tag) Tag { return tag })
}

// BlobLink implements [Tx.BlobLink].
func (t *memTx) BlobLink(repo string, d digest.Digest) (BlobLink, bool, error) {
	if err := t.checkRead(); err != nil {
		return BlobLink{}, false, err
	}
	rd := t.repoData(repo, false)
	if rd == nil {
		return BlobLink{}, false, nil
	}
	l, ok := rd.links.get(d)
	return l, ok, nil
}

// PutBlobLink implements [Tx.PutBlobLink].
func (t *memTx) PutBlobLink(repo string, l BlobLink) error {
	if err := t.checkWrite(repo, string(l.Digest)); err != nil {
		return err
	}
	put(t, &t.repoData(repo, true).links, l.Digest, l)
	return nil
}

// DeleteBlobLink implements [Tx.DeleteBlobLink].
func (t *memTx) DeleteBlobLink(repo string, d digest.Digest) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	if rd := t.repoData(repo, false); rd != nil {
		del(t, &rd.links, d)
	}
	return nil
}

// BlobLinks implements [Tx.BlobLinks].
func (t *memTx) BlobLinks(repo string, after digest.Digest) iter.Seq2[BlobLink, error] {
	return seq(t, func() *omap[digest.Digest, BlobLink] {
		if rd := t.repoData(repo, false); rd != nil {
			return &rd.links
		}
		return nil
	}, after, func(_ digest.Digest, l BlobLink) BlobLink { return l })
}

// PutReferrer implements [Tx.PutReferrer].
func (t *memTx) PutReferrer(repo string, subject, referrer digest.Digest) error {
	if err := t.checkWrite(repo, string(subject), string(referrer)); err != nil {
		return err
	}
	rd := t.repoData(repo, true)
	o := rd.referrers[subject]
	if o == nil {
		o = new(omap[digest.Digest, struct{}])
		rd.referrers[subject] = o
		t.undo = append(t.undo, func() { delete(rd.referrers, subject) })
	}
	put(t, o, referrer, struct{}{})
	return nil
}

// DeleteReferrer implements [Tx.DeleteReferrer].
func (t *memTx) DeleteReferrer(repo string, subject, referrer digest.Digest) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	rd := t.repoData(repo, false)
	if rd == nil || rd.referrers[subject] == nil {
		return nil
	}
	o := rd.referrers[subject]
	del(t, o, referrer)
	if o.len() == 0 {
		delete(rd.referrers, subject)
		t.undo = append(t.undo, func() { rd.referrers[subject] = o })
	}
	return nil
}

// Referrers implements [Tx.Referrers].
func (t *memTx) Referrers(repo string, subject digest.Digest) iter.Seq2[digest.Digest, error] {
	return seq(t, func() *omap[digest.Digest, struct{}] {
		if rd := t.repoData(repo, false); rd != nil {
			return rd.referrers[subject]
		}
		return nil
	}, "", func(d digest.Digest, _ struct{}) digest.Digest { return d })
}

// cloneManifest copies the maps and slices of a manifest so that callers
// cannot change stored metadata through a returned value. Empty ones become
// nil, as they do in the disk store's JSON.
func cloneManifest(m Manifest) Manifest {
	m.Annotations = cloneEmpty(m.Annotations)
	m.Blobs = slices.Clip(cloneSlice(m.Blobs))
	m.Children = slices.Clip(cloneSlice(m.Children))
	return m
}

func cloneEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}

func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// omap is a map with ordered iteration. The sorted entries are built on
// first use after a change and then shared, so paging through a large map
// costs one sort per change, not one per page, and no lookup per entry.
// Readers holding a shared lock may build the cache concurrently, hence the
// atomic pointer; writers hold the exclusive lock. The zero value is an
// empty map.
type omap[K cmp.Ordered, V any] struct {
	m      map[K]V
	sorted atomic.Pointer[[]entry[K, V]]
}

// entry is one key and value of an omap.
type entry[K cmp.Ordered, V any] struct {
	k K
	v V
}

func (o *omap[K, V]) len() int { return len(o.m) }

func (o *omap[K, V]) get(k K) (V, bool) {
	v, ok := o.m[k]
	return v, ok
}

func (o *omap[K, V]) set(k K, v V) (old V, had bool) {
	if o.m == nil {
		o.m = make(map[K]V)
	}
	old, had = o.m[k]
	o.m[k] = v
	o.sorted.Store(nil)
	return old, had
}

func (o *omap[K, V]) del(k K) (old V, had bool) {
	old, had = o.m[k]
	if had {
		delete(o.m, k)
		o.sorted.Store(nil)
	}
	return old, had
}

// entriesAfter returns the entries whose keys are greater than after, in
// ascending order of key, as they are now. The slice is shared: callers
// must not modify it.
func (o *omap[K, V]) entriesAfter(after K) []entry[K, V] {
	ep := o.sorted.Load()
	if ep == nil {
		es := make([]entry[K, V], 0, len(o.m))
		for k, v := range o.m {
			es = append(es, entry[K, V]{k, v})
		}
		slices.SortFunc(es, func(a, b entry[K, V]) int { return cmp.Compare(a.k, b.k) })
		ep = &es
		o.sorted.Store(ep)
	}
	es := *ep
	i, found := slices.BinarySearchFunc(es, after, func(e entry[K, V], k K) int { return cmp.Compare(e.k, k) })
	if found {
		i++
	}
	return es[i:]
}
