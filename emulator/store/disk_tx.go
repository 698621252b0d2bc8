package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"iter"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// scanBatch is how many entries an iterator of a write transaction reads
// per cursor pass. Between passes the cursor is dropped and re-sought,
// since bbolt cursors do not survive writes, and fn may write while it
// iterates.
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

// checkRepo refuses a repository name that cannot key items.
func checkRepo(repo string) error {
	if !validRepoKey(repo) && repo != "" {
		return fmt.Errorf("store: repository name %q holds a NUL byte, which no registry allows: use a valid repository name", truncate(repo))
	}
	return nil
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

// get reads one item of a repository.
func get[T any](t *diskTx, kind []byte, repo string, key string) (T, bool, error) {
	return getRecord(t, kind, repo, key, func(v []byte) (T, error) {
		var item T
		err := json.Unmarshal(v, &item)
		return item, err
	})
}

// getRecord reads one item of a repository, decoding it with decode.
func getRecord[T any](t *diskTx, kind []byte, repo string, key string, decode func(v []byte) (T, error)) (T, bool, error) {
	var zero T
	if err := t.checkRead(); err != nil {
		return zero, false, err
	}
	if !validRepoKey(repo) || key == "" {
		return zero, false, nil
	}
	v := t.tx.Bucket(kind).Get(itemKey(repo, key))
	if v == nil {
		return zero, false, nil
	}
	item, err := decode(v)
	if err != nil {
		return zero, false, fmt.Errorf("store: corrupt record %q in %q: %w", key, repo, err)
	}
	return item, true, nil
}

// set writes one item of a repository as JSON; it reports whether the
// item existed.
func (t *diskTx) set(kind []byte, repo string, key string, v any) (existed bool, err error) {
	data, err := json.Marshal(v)
	if err != nil {
		return false, fmt.Errorf("store: encode %q: %w", key, err)
	}
	return t.setRecord(kind, repo, key, data)
}

// setRecord writes one item of a repository; it reports whether the item
// existed.
func (t *diskTx) setRecord(kind []byte, repo string, key string, data []byte) (existed bool, err error) {
	if err := t.checkWrite(repo, key); err != nil {
		return false, err
	}
	if err := checkRepo(repo); err != nil {
		return false, err
	}
	return t.put(kind, itemKey(repo, key), data)
}

// remove deletes one item of a repository; a missing item is not an
// error. It reports whether the item existed.
func (t *diskTx) remove(kind []byte, repo string, key string) (existed bool, err error) {
	if err := t.checkWrite(); err != nil {
		return false, err
	}
	if !validRepoKey(repo) || key == "" {
		return false, nil
	}
	return t.delete(kind, itemKey(repo, key))
}

// addCounts adds to repo's counts of manifests and tags.
func (t *diskTx) addCounts(repo string, manifests, tags int) error {
	m, n, err := t.counts(repo)
	if err != nil {
		return err
	}
	m, n = max(m+manifests, 0), max(n+tags, 0)
	if m == 0 && n == 0 {
		_, err = t.delete(bucketCounts, []byte(repo))
		return err
	}
	_, err = t.put(bucketCounts, []byte(repo), encodeCounts(m, n))
	return err
}

// counts returns repo's counts of manifests and tags.
func (t *diskTx) counts(repo string) (manifests, tags int, err error) {
	if !validRepoKey(repo) {
		return 0, 0, nil
	}
	v := t.tx.Bucket(bucketCounts).Get([]byte(repo))
	if v == nil {
		return 0, 0, nil
	}
	m, n, err := decodeCounts(v)
	if err != nil {
		return 0, 0, fmt.Errorf("%w of %q", err, repo)
	}
	return m, n, nil
}

// scan yields the decoded entries of the bucket that bucket returns whose
// keys start with prefix and, when after is not empty, sort after it. In a
// write transaction it reads scanBatch entries per cursor pass and yields
// them with no cursor open, so fn may write to the bucket between entries;
// in a read transaction, which nothing changes, it decodes each entry as
// it is asked for, from one cursor.
func scan[T any](t *diskTx, bucket func() (*bolt.Bucket, error), prefix, after []byte,
	decode func(b *bolt.Bucket, k, v []byte) (T, bool, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		start, exclusive := prefix, false
		if len(after) > 0 && bytes.Compare(after, prefix) >= 0 {
			// A key before prefix starts at prefix's first key.
			start, exclusive = after, true
		}
		if !t.writable {
			scanRead(t, bucket, prefix, start, exclusive, decode, yield)
			return
		}
		batch := make([]T, 0, scanBatch)
		for {
			b, c, k, v, err := seekFrom(t, bucket, start, exclusive)
			if err != nil {
				yield(zero, err)
				return
			}
			if c == nil {
				return
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

// scanRead is scan in a read transaction: one cursor pass, an entry
// decoded only when the one before has been yielded (a page of one tag
// decodes one record, not a batch), without copying entries into a batch.
func scanRead[T any](t *diskTx, bucket func() (*bolt.Bucket, error), prefix, start []byte, exclusive bool,
	decode func(b *bolt.Bucket, k, v []byte) (T, bool, error), yield func(T, error) bool) {
	var zero T
	b, c, k, v, err := seekFrom(t, bucket, start, exclusive)
	if err != nil {
		yield(zero, err)
		return
	}
	if c == nil {
		return
	}
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		item, ok, err := decode(b, k, v)
		if err != nil {
			yield(zero, err)
			return
		}
		if ok && !yield(item, nil) {
			return
		}
		// The caller's loop body ran: the transaction must still be open
		// for the cursor's pages to be valid.
		if err := t.checkRead(); err != nil {
			yield(zero, err)
			return
		}
	}
}

// seekFrom opens a cursor on the bucket that bucket returns, at the first
// key from start (after start when exclusive) and its value. The cursor is
// nil when the bucket does not exist.
func seekFrom(t *diskTx, bucket func() (*bolt.Bucket, error), start []byte, exclusive bool) (b *bolt.Bucket, c *bolt.Cursor, k, v []byte, err error) {
	if err := t.checkRead(); err != nil {
		return nil, nil, nil, nil, err
	}
	if b, err = bucket(); err != nil || b == nil {
		return nil, nil, nil, nil, err
	}
	c = b.Cursor()
	k, v = c.Seek(start)
	if exclusive && k != nil && bytes.Equal(k, start) {
		k, v = c.Next()
	}
	return b, c, k, v, nil
}

// scanItems iterates over one kind of a repository's items, from the first
// key after after, decoding values as JSON.
func scanItems[T any](t *diskTx, kind []byte, repo, after string) iter.Seq2[T, error] {
	return scanRepo(t, kind, repo, "", after, func(k, v []byte) (T, error) {
		var item T
		if err := json.Unmarshal(v, &item); err != nil {
			return item, fmt.Errorf("store: corrupt record %q in %q: %w", k, repo, err)
		}
		return item, nil
	})
}

// scanRepo iterates over the items of kind in repo whose keys start with
// prefix, from the first key after after, decoding them with decode, which
// gets the item's own key (without the repository's prefix).
func scanRepo[T any](t *diskTx, kind []byte, repo, prefix, after string, decode func(k, v []byte) (T, error)) iter.Seq2[T, error] {
	if !validRepoKey(repo) {
		return func(func(T, error) bool) {}
	}
	rp := itemPrefix(repo)
	var start []byte
	if after != "" {
		start = append(bytes.Clone(rp), after...)
	}
	return scan(t, func() (*bolt.Bucket, error) { return t.tx.Bucket(kind), nil }, append(rp, prefix...), start,
		func(_ *bolt.Bucket, k, v []byte) (T, bool, error) {
			if v == nil {
				var zero T
				return zero, false, nil
			}
			item, err := decode(k[len(rp):], v)
			return item, err == nil, err
		})
}

// Repo implements [Tx.Repo].
func (t *diskTx) Repo(name string) (Repository, bool, error) {
	if err := t.checkRead(); err != nil {
		return Repository{}, false, err
	}
	if !validRepoKey(name) {
		return Repository{}, false, nil
	}
	return getJSON[Repository](t.tx.Bucket(bucketRecords), []byte(name))
}

// PutRepo implements [Tx.PutRepo].
func (t *diskTx) PutRepo(r Repository) error {
	if err := t.checkWrite(r.Name); err != nil {
		return err
	}
	if err := checkRepo(r.Name); err != nil {
		return err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: encode %q: %w", r.Name, err)
	}
	_, err = t.put(bucketRecords, []byte(r.Name), data)
	return err
}

// DeleteRepo implements [Tx.DeleteRepo]. It deletes the repository's items
// a batch at a time, each bucket's range in turn, holding one batch of keys;
// in a group commit shared with other Updates, the undo log also holds a
// copy of every item deleted, until the commit.
func (t *diskTx) DeleteRepo(name string) error {
	if err := t.checkWrite(name); err != nil {
		return err
	}
	if !validRepoKey(name) {
		return nil
	}
	if _, err := t.delete(bucketRecords, []byte(name)); err != nil {
		return err
	}
	if _, err := t.delete(bucketCounts, []byte(name)); err != nil {
		return err
	}
	prefix := itemPrefix(name)
	for _, kind := range repoItemBuckets {
		if err := t.deleteRange(kind, prefix); err != nil {
			return err
		}
	}
	return nil
}

// deleteRange deletes every key of bucket with prefix, scanBatch at a time:
// keys are copied out of a cursor pass and deleted after it, since a
// bbolt cursor does not survive writes.
func (t *diskTx) deleteRange(bucket, prefix []byte) error {
	keys := make([][]byte, 0, scanBatch)
	for {
		keys = keys[:0]
		c := t.tx.Bucket(bucket).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(keys) < scanBatch; k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k))
		}
		if len(keys) == 0 {
			return nil
		}
		for _, k := range keys {
			if _, err := t.delete(bucket, k); err != nil {
				return err
			}
		}
	}
}

// Repos implements [Tx.Repos].
func (t *diskTx) Repos(after string) iter.Seq2[Repository, error] {
	return scan(t, func() (*bolt.Bucket, error) { return t.tx.Bucket(bucketRecords), nil }, nil, []byte(after),
		func(_ *bolt.Bucket, k, v []byte) (Repository, bool, error) {
			var r Repository
			if err := json.Unmarshal(v, &r); err != nil {
				return r, false, fmt.Errorf("store: corrupt record of repository %q: %w", k, err)
			}
			return r, true, nil
		})
}

// repoNames yields, in name order from the first after after, the names of
// the repositories with a key in any of buckets: each step seeks every
// bucket past the name before.
func (t *diskTx) repoNames(after string, buckets ...[]byte) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		var from []byte
		if after != "" {
			from = append([]byte(after), 1) // past every key of after, whose name ends in a NUL
		}
		for {
			if err := t.checkRead(); err != nil {
				yield("", err)
				return
			}
			var next []byte
			for _, name := range buckets {
				k, _ := t.tx.Bucket(name).Cursor().Seek(from)
				if k == nil {
					continue
				}
				if r := repoOfKey(k); next == nil || bytes.Compare(r, next) < 0 {
					next = r
				}
			}
			if next == nil {
				return
			}
			repo := string(next)
			if !yield(repo, nil) {
				return
			}
			from = append([]byte(repo), 1)
		}
	}
}

// allRepos yields the name of every repository holding a record or data,
// for garbage collection.
func (t *diskTx) allRepos() iter.Seq2[string, error] {
	return t.repoNames("", append([][]byte{bucketRecords}, repoItemBuckets...)...)
}

// Manifest implements [Tx.Manifest].
func (t *diskTx) Manifest(repo string, d digest.Digest) (Manifest, bool, error) {
	m, ok, err := getRecord(t, bucketManifests, repo, string(d), func(v []byte) (Manifest, error) {
		return decodeManifestRecord([]byte(d), v, true)
	})
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
	a, ok, err := get[map[string]string](t, bucketAnnotations, repo, string(m.Digest))
	if ok {
		m.Annotations = a
	}
	return err
}

// PutManifest implements [Tx.PutManifest].
func (t *diskTx) PutManifest(repo string, m Manifest) error {
	if err := t.checkWrite(repo, string(m.Digest)); err != nil {
		return err
	}
	if len(m.Annotations) > 0 {
		if _, err := t.set(bucketAnnotations, repo, string(m.Digest), m.Annotations); err != nil {
			return err
		}
	} else if _, err := t.remove(bucketAnnotations, repo, string(m.Digest)); err != nil {
		return err
	}
	existed, err := t.setRecord(bucketManifests, repo, string(m.Digest), encodeManifest(m))
	if err != nil || existed {
		return err
	}
	return t.addCounts(repo, 1, 0)
}

// DeleteManifest implements [Tx.DeleteManifest].
func (t *diskTx) DeleteManifest(repo string, d digest.Digest) error {
	if _, err := t.remove(bucketAnnotations, repo, string(d)); err != nil {
		return err
	}
	existed, err := t.remove(bucketManifests, repo, string(d))
	if err != nil || !existed {
		return err
	}
	return t.addCounts(repo, -1, 0)
}

// Manifests implements [Tx.Manifests].
func (t *diskTx) Manifests(repo string, after digest.Digest) iter.Seq2[Manifest, error] {
	return func(yield func(Manifest, error) bool) {
		for m, err := range t.manifests(repo, after, true) {
			if err == nil {
				err = t.annotate(repo, &m)
			}
			if !yield(m, err) || err != nil {
				return
			}
		}
	}
}

// summary decodes a manifest's JSON record without its inline annotations
// (held by records written before bucketAnnotations): struct{} takes the
// object without allocating its strings.
type summary struct {
	Manifest
	Annotations struct{} `json:"annotations"`
}

// ManifestSummaries implements [Tx.ManifestSummaries].
func (t *diskTx) ManifestSummaries(repo string, after digest.Digest) iter.Seq2[Manifest, error] {
	return t.manifests(repo, after, false)
}

// manifests iterates over a repository's manifest records, decoding the
// annotations that old JSON records hold inline when annotations is set.
func (t *diskTx) manifests(repo string, after digest.Digest, annotations bool) iter.Seq2[Manifest, error] {
	return scanRepo(t, bucketManifests, repo, "", string(after), func(k, v []byte) (Manifest, error) {
		m, err := decodeManifestRecord(k, v, annotations)
		if err != nil {
			return m, fmt.Errorf("store: corrupt record %q in %q: %w", k, repo, err)
		}
		return m, nil
	})
}

// ManifestCount implements [Tx.ManifestCount]. It reads the repository's
// counts, no manifest.
func (t *diskTx) ManifestCount(repo string) (int, error) {
	if err := t.checkRead(); err != nil {
		return 0, err
	}
	m, _, err := t.counts(repo)
	return m, err
}

// TagCount implements [Tx.TagCount]. It reads the repository's counts, no
// tag.
func (t *diskTx) TagCount(repo string) (int, error) {
	if err := t.checkRead(); err != nil {
		return 0, err
	}
	_, n, err := t.counts(repo)
	return n, err
}

// PutDeleted implements [Tx.PutDeleted].
func (t *diskTx) PutDeleted(repo string, d Deleted) error {
	_, err := t.set(bucketDeleted, repo, d.Key, d)
	return err
}

// DeleteDeleted implements [Tx.DeleteDeleted].
func (t *diskTx) DeleteDeleted(repo, key string) error {
	_, err := t.remove(bucketDeleted, repo, key)
	return err
}

// Deleted implements [Tx.Deleted].
func (t *diskTx) Deleted(repo, prefix, after string) iter.Seq2[Deleted, error] {
	return scanRepo(t, bucketDeleted, repo, prefix, after, func(k, v []byte) (Deleted, error) {
		var d Deleted
		if err := json.Unmarshal(v, &d); err != nil {
			return d, fmt.Errorf("store: corrupt deleted record %q in %q: %w", k, repo, err)
		}
		return d, nil
	})
}

// DeletedRepos implements [Tx.DeletedRepos].
func (t *diskTx) DeletedRepos(after string) iter.Seq2[string, error] {
	return t.repoNames(after, bucketDeleted)
}

// Tag implements [Tx.Tag].
func (t *diskTx) Tag(repo, name string) (Tag, bool, error) {
	return getRecord(t, bucketTags, repo, name, func(v []byte) (Tag, error) { return decodeTagRecord([]byte(name), v, nil) })
}

// PutTag implements [Tx.PutTag].
func (t *diskTx) PutTag(repo string, tag Tag) error {
	existed, err := t.setRecord(bucketTags, repo, tag.Name, encodeTag(tag))
	if err != nil || existed {
		return err
	}
	return t.addCounts(repo, 0, 1)
}

// DeleteTag implements [Tx.DeleteTag].
func (t *diskTx) DeleteTag(repo, name string) error {
	existed, err := t.remove(bucketTags, repo, name)
	if err != nil || !existed {
		return err
	}
	return t.addCounts(repo, 0, -1)
}

// BlobLink implements [Tx.BlobLink].
func (t *diskTx) BlobLink(repo string, d digest.Digest) (BlobLink, bool, error) {
	return get[BlobLink](t, bucketLinks, repo, string(d))
}

// PutBlobLink implements [Tx.PutBlobLink].
func (t *diskTx) PutBlobLink(repo string, l BlobLink) error {
	_, err := t.set(bucketLinks, repo, string(l.Digest), l)
	return err
}

// DeleteBlobLink implements [Tx.DeleteBlobLink].
func (t *diskTx) DeleteBlobLink(repo string, d digest.Digest) error {
	_, err := t.remove(bucketLinks, repo, string(d))
	return err
}

// BlobLinks implements [Tx.BlobLinks].
func (t *diskTx) BlobLinks(repo string, after digest.Digest) iter.Seq2[BlobLink, error] {
	return scanItems[BlobLink](t, bucketLinks, repo, string(after))
}

// referrerKey is the key of a referrer after its repository's prefix: the
// subject, a NUL byte and the referrer, so that a subject's referrers are
// one range in digest order.
func referrerKey(subject, referrer digest.Digest) string {
	return string(subject) + "\x00" + string(referrer)
}

// PutReferrer implements [Tx.PutReferrer].
func (t *diskTx) PutReferrer(repo string, subject, referrer digest.Digest) error {
	if err := t.checkWrite(repo, string(subject), string(referrer)); err != nil {
		return err
	}
	if err := checkRepo(repo); err != nil {
		return err
	}
	_, err := t.put(bucketReferrers, itemKey(repo, referrerKey(subject, referrer)), []byte(referrer))
	return err
}

// DeleteReferrer implements [Tx.DeleteReferrer].
func (t *diskTx) DeleteReferrer(repo string, subject, referrer digest.Digest) error {
	_, err := t.remove(bucketReferrers, repo, referrerKey(subject, referrer))
	return err
}

// Referrers implements [Tx.Referrers].
func (t *diskTx) Referrers(repo string, subject digest.Digest) iter.Seq2[digest.Digest, error] {
	if subject == "" {
		return func(func(digest.Digest, error) bool) {}
	}
	return scanRepo(t, bucketReferrers, repo, string(subject)+"\x00", "",
		func(_, v []byte) (digest.Digest, error) { return digest.Digest(v), nil })
}
