package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// Layout of meta.db. Each repository is a bucket inside "repos", so that
// DeleteRepo is one bucket delete; it holds the repository's record under
// "record" and one bucket per kind of content. Values are JSON. Referrer
// keys are the subject, a NUL byte and the referrer, so a subject's
// referrers are one prefix in digest order.
var (
	bucketRepos     = []byte("repos")
	keyRecord       = []byte("record")
	bucketManifests = []byte("manifests")
	bucketTags      = []byte("tags")
	bucketLinks     = []byte("links")
	bucketReferrers = []byte("referrers")
	// bucketAnnotations holds manifests' annotations apart from their
	// records, keyed by digest, so that listings never read them.
	// Records written before it existed hold them inline.
	bucketAnnotations = []byte("annotations")
	// bucketDeleted holds one bucket per repository with soft-deleted
	// records, keyed by DeletedKey; outside "repos", so that deleting a
	// repository keeps them.
	bucketDeleted = []byte("deleted")
)

// scanBatch is how many entries an iterator reads per cursor pass. Between
// passes the cursor is dropped and re-sought, since bbolt cursors do not
// survive writes, and fn may write while it iterates.
const scanBatch = 64

// diskTx is a transaction of the disk store over a bbolt transaction.
type diskTx struct {
	tx       *bolt.Tx
	writable bool
	done     bool
	// undo logs the writes of the function running in a write
	// transaction, when logUndo is set, so that they can be taken back
	// when it fails while the other functions of its group commit keep
	// theirs (see groupCommit). A function alone in its transaction needs
	// no log: the whole transaction rolls back.
	undo    []undoStep
	logUndo bool
	wrote   bool // the function wrote something
}

func (t *diskTx) checkRead() error {
	if t.done {
		return errTxDone
	}
	return nil
}

func (t *diskTx) checkWrite(keys ...string) error {
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

// repoBucket returns a repository's bucket, or nil when it has none and
// create is false.
func (t *diskTx) repoBucket(repo string, create bool) (*bolt.Bucket, error) {
	repos := t.tx.Bucket(bucketRepos)
	if repo == "" {
		return nil, nil
	}
	if !create {
		return repos.Bucket([]byte(repo)), nil
	}
	return t.bucket(true, bucketRepos, []byte(repo))
}

// sub returns one kind of a repository's content, or nil when there is none
// and create is false.
func (t *diskTx) sub(repo string, kind []byte, create bool) (*bolt.Bucket, error) {
	rb, err := t.repoBucket(repo, create)
	if rb == nil || err != nil {
		return nil, err
	}
	if !create {
		return rb.Bucket(kind), nil
	}
	return t.bucket(true, bucketRepos, []byte(repo), kind)
}

func getJSON[T any](b *bolt.Bucket, key []byte) (T, bool, error) {
	var v T
	if b == nil || len(key) == 0 {
		return v, false, nil
	}
	data := b.Get(key)
	if data == nil {
		return v, false, nil
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, false, fmt.Errorf("store: corrupt record %q: %w", key, err)
	}
	return v, true, nil
}

// get reads one value of a repository's content.
func get[T any](t *diskTx, repo string, kind []byte, key string) (T, bool, error) {
	if err := t.checkRead(); err != nil {
		var zero T
		return zero, false, err
	}
	b, err := t.sub(repo, kind, false)
	if err != nil {
		var zero T
		return zero, false, err
	}
	return getJSON[T](b, []byte(key))
}

// set writes one value of a repository's content.
func (t *diskTx) set(repo string, kind []byte, key string, v any) error {
	if err := t.checkWrite(repo, key); err != nil {
		return err
	}
	b, err := t.sub(repo, kind, true)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %q: %w", key, err)
	}
	return t.put(b, []byte(key), data, bucketRepos, []byte(repo), kind)
}

// remove deletes one key of a repository's content; a missing key is not
// an error.
func (t *diskTx) remove(repo string, kind []byte, key string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	b, err := t.sub(repo, kind, false)
	if b == nil || err != nil || key == "" {
		return err
	}
	return t.delete(b, []byte(key), bucketRepos, []byte(repo), kind)
}

// scan yields the decoded entries of the bucket that bucket returns whose
// keys start with prefix and, when after is not empty, sort after it. It
// reads scanBatch entries per cursor pass and yields them with no cursor
// open, so fn may write to the bucket between entries.
func scan[T any](t *diskTx, bucket func() (*bolt.Bucket, error), prefix, after []byte,
	decode func(b *bolt.Bucket, k, v []byte) (T, bool, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		start, exclusive := prefix, false
		if len(after) > 0 {
			start, exclusive = after, true
		}
		batch := make([]T, 0, scanBatch)
		for {
			if err := t.checkRead(); err != nil {
				yield(zero, err)
				return
			}
			b, err := bucket()
			if err != nil {
				yield(zero, err)
				return
			}
			if b == nil {
				return
			}
			c := b.Cursor()
			k, v := c.Seek(start)
			if exclusive && k != nil && bytes.Equal(k, start) {
				k, v = c.Next()
			}
			batch = batch[:0]
			var last []byte
			for scanned := 0; k != nil && bytes.HasPrefix(k, prefix) && scanned < scanBatch; k, v = c.Next() {
				item, ok, err := decode(b, k, v)
				if err != nil {
					yield(zero, err)
					return
				}
				if ok {
					batch = append(batch, item)
				}
				last = k
				scanned++
			}
			more := k != nil && bytes.HasPrefix(k, prefix)
			// Keys point into the transaction's pages, which writes in fn
			// may change: keep a copy to seek from.
			start, exclusive = bytes.Clone(last), true
			for _, item := range batch {
				if !yield(item, nil) {
					return
				}
			}
			if !more {
				return
			}
		}
	}
}

// scanSub iterates over one kind of a repository's content.
func scanSub[T any](t *diskTx, repo string, kind []byte, after string) iter.Seq2[T, error] {
	return scan(t, func() (*bolt.Bucket, error) { return t.sub(repo, kind, false) }, nil, []byte(after),
		func(_ *bolt.Bucket, k, v []byte) (T, bool, error) {
			var item T
			if v == nil {
				return item, false, nil
			}
			if err := json.Unmarshal(v, &item); err != nil {
				return item, false, fmt.Errorf("store: corrupt record %q in %q: %w", k, repo, err)
			}
			return item, true, nil
		})
}

// Repo implements [Tx.Repo].
func (t *diskTx) Repo(name string) (Repository, bool, error) {
	if err := t.checkRead(); err != nil {
		return Repository{}, false, err
	}
	rb, err := t.repoBucket(name, false)
	if err != nil {
		return Repository{}, false, err
	}
	return getJSON[Repository](rb, keyRecord)
}

// PutRepo implements [Tx.PutRepo].
func (t *diskTx) PutRepo(r Repository) error {
	if err := t.checkWrite(r.Name); err != nil {
		return err
	}
	rb, err := t.repoBucket(r.Name, true)
	if err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: encode %q: %w", r.Name, err)
	}
	return t.put(rb, keyRecord, data, bucketRepos, []byte(r.Name))
}

// DeleteRepo implements [Tx.DeleteRepo].
func (t *diskTx) DeleteRepo(name string) error {
	if err := t.checkWrite(name); err != nil {
		return err
	}
	return t.deleteBucket(bucketRepos, []byte(name))
}

// Repos implements [Tx.Repos].
func (t *diskTx) Repos(after string) iter.Seq2[Repository, error] {
	return scan(t, func() (*bolt.Bucket, error) { return t.tx.Bucket(bucketRepos), nil }, nil, []byte(after),
		func(b *bolt.Bucket, k, v []byte) (Repository, bool, error) {
			if v != nil {
				return Repository{}, false, nil
			}
			return getJSON[Repository](b.Bucket(k), keyRecord)
		})
}

// allRepos yields the name of every repository holding a record or data,
// for garbage collection.
func (t *diskTx) allRepos() iter.Seq2[string, error] {
	return scan(t, func() (*bolt.Bucket, error) { return t.tx.Bucket(bucketRepos), nil }, nil, nil,
		func(_ *bolt.Bucket, k, v []byte) (string, bool, error) { return string(k), v == nil, nil })
}

// Manifest implements [Tx.Manifest].
func (t *diskTx) Manifest(repo string, d digest.Digest) (Manifest, bool, error) {
	m, ok, err := get[Manifest](t, repo, bucketManifests, string(d))
	if err != nil || !ok {
		return m, ok, err
	}
	return m, true, t.annotate(repo, &m)
}

// annotate reads m's annotations when its record does not hold them.
func (t *diskTx) annotate(repo string, m *Manifest) error {
	if m.Annotations != nil {
		return nil
	}
	a, ok, err := get[map[string]string](t, repo, bucketAnnotations, string(m.Digest))
	if ok {
		m.Annotations = a
	}
	return err
}

// PutManifest implements [Tx.PutManifest].
func (t *diskTx) PutManifest(repo string, m Manifest) error {
	if len(m.Annotations) > 0 {
		if err := t.set(repo, bucketAnnotations, string(m.Digest), m.Annotations); err != nil {
			return err
		}
	} else if err := t.remove(repo, bucketAnnotations, string(m.Digest)); err != nil {
		return err
	}
	m.Annotations = nil
	return t.set(repo, bucketManifests, string(m.Digest), m)
}

// DeleteManifest implements [Tx.DeleteManifest].
func (t *diskTx) DeleteManifest(repo string, d digest.Digest) error {
	if err := t.remove(repo, bucketAnnotations, string(d)); err != nil {
		return err
	}
	return t.remove(repo, bucketManifests, string(d))
}

// Manifests implements [Tx.Manifests].
func (t *diskTx) Manifests(repo string, after digest.Digest) iter.Seq2[Manifest, error] {
	return func(yield func(Manifest, error) bool) {
		for m, err := range scanSub[Manifest](t, repo, bucketManifests, string(after)) {
			if err == nil {
				err = t.annotate(repo, &m)
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// summary decodes a manifest record without its inline annotations (held
// by records written before bucketAnnotations): struct{} takes the object
// without allocating its strings.
type summary struct {
	Manifest
	Annotations struct{} `json:"annotations"`
}

// ManifestSummaries implements [Tx.ManifestSummaries].
func (t *diskTx) ManifestSummaries(repo string, after digest.Digest) iter.Seq2[Manifest, error] {
	return func(yield func(Manifest, error) bool) {
		for s, err := range scanSub[summary](t, repo, bucketManifests, string(after)) {
			if !yield(s.Manifest, err) || err != nil {
				return
			}
		}
	}
}

// ManifestCount implements [Tx.ManifestCount].
func (t *diskTx) ManifestCount(repo string) (int, error) { return t.count(repo, bucketManifests) }

// TagCount implements [Tx.TagCount].
func (t *diskTx) TagCount(repo string) (int, error) { return t.count(repo, bucketTags) }

// count counts the keys of a repository's sub-bucket, reading no values.
func (t *diskTx) count(repo string, kind []byte) (int, error) {
	if err := t.checkRead(); err != nil {
		return 0, err
	}
	b, err := t.sub(repo, kind, false)
	if b == nil || err != nil {
		return 0, err
	}
	n := 0
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		n++
	}
	return n, nil
}

// PutDeleted implements [Tx.PutDeleted].
func (t *diskTx) PutDeleted(repo string, d Deleted) error {
	if err := t.checkWrite(repo, d.Key); err != nil {
		return err
	}
	b, err := t.bucket(true, bucketDeleted, []byte(repo))
	if err != nil {
		return err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: encode %q: %w", d.Key, err)
	}
	return t.put(b, []byte(d.Key), data, bucketDeleted, []byte(repo))
}

// DeleteDeleted implements [Tx.DeleteDeleted].
func (t *diskTx) DeleteDeleted(repo, key string) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	top := t.tx.Bucket(bucketDeleted)
	if top == nil || repo == "" || key == "" {
		return nil
	}
	b := top.Bucket([]byte(repo))
	if b == nil {
		return nil
	}
	if err := t.delete(b, []byte(key), bucketDeleted, []byte(repo)); err != nil {
		return err
	}
	if k, _ := b.Cursor().First(); k == nil {
		return t.deleteBucket(bucketDeleted, []byte(repo))
	}
	return nil
}

// Deleted implements [Tx.Deleted].
func (t *diskTx) Deleted(repo, prefix, after string) iter.Seq2[Deleted, error] {
	bucket := func() (*bolt.Bucket, error) {
		top := t.tx.Bucket(bucketDeleted)
		if top == nil || repo == "" {
			return nil, nil
		}
		return top.Bucket([]byte(repo)), nil
	}
	return scan(t, bucket, []byte(prefix), []byte(after), func(_ *bolt.Bucket, k, v []byte) (Deleted, bool, error) {
		var d Deleted
		if v == nil {
			return d, false, nil
		}
		if err := json.Unmarshal(v, &d); err != nil {
			return d, false, fmt.Errorf("store: corrupt deleted record %q in %q: %w", k, repo, err)
		}
		return d, true, nil
	})
}

// DeletedRepos implements [Tx.DeletedRepos].
func (t *diskTx) DeletedRepos(after string) iter.Seq2[string, error] {
	return scan(t, func() (*bolt.Bucket, error) { return t.tx.Bucket(bucketDeleted), nil }, nil, []byte(after),
		func(_ *bolt.Bucket, k, v []byte) (string, bool, error) { return string(k), v == nil, nil })
}

// Tag implements [Tx.Tag].
func (t *diskTx) Tag(repo, name string) (Tag, bool, error) {
	return get[Tag](t, repo, bucketTags, name)
}

// PutTag implements [Tx.PutTag].
func (t *diskTx) PutTag(repo string, tag Tag) error {
	return t.set(repo, bucketTags, tag.Name, tag)
}

// DeleteTag implements [Tx.DeleteTag].
func (t *diskTx) DeleteTag(repo, name string) error {
	return t.remove(repo, bucketTags, name)
}

// BlobLink implements [Tx.BlobLink].
func (t *diskTx) BlobLink(repo string, d digest.Digest) (BlobLink, bool, error) {
	return get[BlobLink](t, repo, bucketLinks, string(d))
}

// PutBlobLink implements [Tx.PutBlobLink].
func (t *diskTx) PutBlobLink(repo string, l BlobLink) error {
	return t.set(repo, bucketLinks, string(l.Digest), l)
}

// DeleteBlobLink implements [Tx.DeleteBlobLink].
func (t *diskTx) DeleteBlobLink(repo string, d digest.Digest) error {
	return t.remove(repo, bucketLinks, string(d))
}

// BlobLinks implements [Tx.BlobLinks].
func (t *diskTx) BlobLinks(repo string, after digest.Digest) iter.Seq2[BlobLink, error] {
	return scanSub[BlobLink](t, repo, bucketLinks, string(after))
}

func referrerKey(subject, referrer digest.Digest) []byte {
	k := make([]byte, 0, len(subject)+1+len(referrer))
	k = append(k, subject...)
	k = append(k, 0)
	return append(k, referrer...)
}

// PutReferrer implements [Tx.PutReferrer].
func (t *diskTx) PutReferrer(repo string, subject, referrer digest.Digest) error {
	if err := t.checkWrite(repo, string(subject), string(referrer)); err != nil {
		return err
	}
	b, err := t.sub(repo, bucketReferrers, true)
	if err != nil {
		return err
	}
	return t.put(b, referrerKey(subject, referrer), []byte(referrer), bucketRepos, []byte(repo), bucketReferrers)
}

// DeleteReferrer implements [Tx.DeleteReferrer].
func (t *diskTx) DeleteReferrer(repo string, subject, referrer digest.Digest) error {
	if err := t.checkWrite(); err != nil {
		return err
	}
	b, err := t.sub(repo, bucketReferrers, false)
	if b == nil || err != nil {
		return err
	}
	return t.delete(b, referrerKey(subject, referrer), bucketRepos, []byte(repo), bucketReferrers)
}

// Referrers implements [Tx.Referrers].
func (t *diskTx) Referrers(repo string, subject digest.Digest) iter.Seq2[digest.Digest, error] {
	if subject == "" {
		return func(func(digest.Digest, error) bool) {}
	}
	prefix := append([]byte(subject), 0)
	return scan(t, func() (*bolt.Bucket, error) { return t.sub(repo, bucketReferrers, false) }, prefix, nil,
		func(_ *bolt.Bucket, _, v []byte) (digest.Digest, bool, error) { return digest.Digest(v), v != nil, nil })
}
