// Package store holds the local registry's state: content-addressed blobs,
// upload sessions and the metadata of repositories, manifests and tags.
//
// Two implementations share one contract, checked by the suite in package
// storetest: [NewMemory] keeps everything in process memory, and [OpenDisk]
// persists blobs as files and metadata in a bbolt database so that every
// acknowledged write survives a crash.
//
// The store knows nothing of HTTP, authorization or locks: package emulator
// applies the registry's rules and uses the store's transactions to apply
// them atomically.
package store

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"

	"github.com/opencontainers/go-digest"
)

// Sentinel errors returned by stores. Implementations wrap them with detail;
// match them with errors.Is.
var (
	// ErrNotFound reports a missing blob or upload session.
	ErrNotFound = errors.New("store: not found")
	// ErrDigestMismatch reports content whose digest differs from the one claimed.
	ErrDigestMismatch = errors.New("store: digest mismatch")
	// ErrSizeMismatch reports content whose length differs from the one claimed.
	ErrSizeMismatch = errors.New("store: size mismatch")
	// ErrOffsetMismatch reports an append that does not start at the session's current size.
	ErrOffsetMismatch = errors.New("store: upload offset mismatch")
	// ErrUnsupportedDigest reports a digest algorithm the store cannot compute.
	ErrUnsupportedDigest = errors.New("store: unsupported digest algorithm")
	// ErrReadOnly reports a write to a store opened read-only or a file system that refuses writes.
	ErrReadOnly = errors.New("store: read-only")
	// ErrClosed reports use of a closed store.
	ErrClosed = errors.New("store: closed")
)

// Attributes are the lock flags ACR calls changeableAttributes. The zero
// value locks everything; use [DefaultAttributes] for a new object.
type Attributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// DefaultAttributes returns the attributes of a newly created object: all enabled.
func DefaultAttributes() Attributes {
	return Attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}
}

// Repository is the metadata of one repository.
type Repository struct {
	Name      string     `json:"name"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Attrs     Attributes `json:"attrs"`
	// BlobsOnly marks a repository that blobs were pushed to but that has
	// never held a manifest. The registry serves its blobs but lists and
	// shows the repository nowhere, as the reference registry does.
	BlobsOnly bool `json:"blobsOnly,omitempty"`
}

// Platform names the platform of an image or of a child of an index.
type Platform struct {
	Digest       digest.Digest `json:"digest,omitempty"`
	Architecture string        `json:"architecture,omitempty"`
	OS           string        `json:"os,omitempty"`
}

// Manifest is the metadata of one manifest in one repository. The manifest's
// bytes are stored as a blob under Digest.
type Manifest struct {
	Digest          digest.Digest     `json:"digest"`
	MediaType       string            `json:"mediaType"`
	Size            int64             `json:"size"`
	ArtifactType    string            `json:"artifactType,omitempty"`
	ConfigMediaType string            `json:"configMediaType,omitempty"`
	Subject         digest.Digest     `json:"subject,omitempty"`
	Architecture    string            `json:"architecture,omitempty"`
	OS              string            `json:"os,omitempty"`
	ImageSize       int64             `json:"imageSize"`
	Annotations     map[string]string `json:"annotations,omitempty"`
	// Blobs lists the config and layers an image manifest references.
	Blobs []digest.Digest `json:"blobs,omitempty"`
	// Children lists the manifests an index references, with their platforms.
	Children  []Platform `json:"children,omitempty"`
	CreatedAt time.Time  `json:"createdAt"`
	UpdatedAt time.Time  `json:"updatedAt"`
	Attrs     Attributes `json:"attrs"`
}

// Tag is one tag of a repository.
type Tag struct {
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	CreatedAt time.Time     `json:"createdAt"`
	UpdatedAt time.Time     `json:"updatedAt"`
	Attrs     Attributes    `json:"attrs"`
}

// Deleted is a soft-deleted manifest or tag of a repository, kept until
// ExpiresAt so that it can be restored. Records live apart from the
// repository's content: deleting the repository keeps them.
type Deleted struct {
	// Key orders a repository's records and names this one: see
	// DeletedKey.
	Key       string    `json:"key"`
	DeletedAt time.Time `json:"deletedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Manifest is set for a deleted manifest; Tags are the tags it had.
	Manifest *Manifest `json:"manifest,omitempty"`
	Tags     []string  `json:"tags,omitempty"`
	// Tag is set for a deleted tag.
	Tag *Tag `json:"tag,omitempty"`
}

// Kinds of soft-deleted records, the first element of their keys.
const (
	DeletedManifestKind = "m"
	DeletedTagKind      = "t"
)

// DeletedKey is the key of a soft-deleted record: its kind, the digest or
// tag name, and the deletion time, so that a repository's records sort by
// kind, then name, then time (a tag or digest deleted twice has two).
func DeletedKey(kind, name string, at time.Time) string {
	return kind + "/" + name + "/" + at.UTC().Format("20060102T150405.000000000Z")
}

// BlobLink records that a blob belongs to a repository: blobs are stored once
// per store but are visible only in the repositories that link them.
type BlobLink struct {
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	CreatedAt time.Time     `json:"createdAt"`
}

// Upload describes an upload session.
type Upload struct {
	ID        string    `json:"id"`
	Repo      string    `json:"repo"`
	Size      int64     `json:"size"`
	StartedAt time.Time `json:"startedAt"`
	// ActiveAt is when the session last received bytes (its start when
	// it has received none, its data file's time after a restart), or
	// the current time while an append is in progress: idle sessions,
	// not long ones, are the ones to reclaim.
	ActiveAt time.Time `json:"-"`
}

// Tx reads and, in an update, writes metadata atomically. A Tx is valid only
// inside the function given to [Store.View] or [Store.Update] and must not be
// used from other goroutines. Getters report a missing object with ok=false
// and a nil error. Iterators yield in ascending key order, starting strictly
// after the given key ("" starts at the beginning); they stop after the first
// error, which is yielded. Write methods return an error in a View.
type Tx interface {
	Repo(name string) (r Repository, ok bool, err error)
	PutRepo(r Repository) error
	// DeleteRepo removes the repository record and every manifest, tag,
	// blob link and referrer entry inside it.
	DeleteRepo(name string) error
	Repos(after string) iter.Seq2[Repository, error]

	Manifest(repo string, d digest.Digest) (m Manifest, ok bool, err error)
	PutManifest(repo string, m Manifest) error
	DeleteManifest(repo string, d digest.Digest) error
	Manifests(repo string, after digest.Digest) iter.Seq2[Manifest, error]
	// ManifestSummaries is Manifests without their Annotations, which
	// listings do not show and which may be megabytes per manifest: stores
	// keep them apart and do not read them here.
	ManifestSummaries(repo string, after digest.Digest) iter.Seq2[Manifest, error]
	// ManifestCount and TagCount count a repository's manifests and tags
	// without decoding them.
	ManifestCount(repo string) (int, error)
	TagCount(repo string) (int, error)

	Tag(repo, name string) (t Tag, ok bool, err error)
	PutTag(repo string, t Tag) error
	DeleteTag(repo, name string) error
	Tags(repo, after string) iter.Seq2[Tag, error]

	BlobLink(repo string, d digest.Digest) (l BlobLink, ok bool, err error)
	PutBlobLink(repo string, l BlobLink) error
	DeleteBlobLink(repo string, d digest.Digest) error
	BlobLinks(repo string, after digest.Digest) iter.Seq2[BlobLink, error]

	// PutReferrer records that manifest referrer in repo has subject as its
	// subject. Referrers yields the referrers of subject in digest order.
	PutReferrer(repo string, subject, referrer digest.Digest) error
	// PutDeleted and DeleteDeleted write a soft-deleted record of repo;
	// Deleted yields repo's records in key order, from the first key with
	// prefix after after; DeletedRepos yields the repositories that have
	// records, in name order.
	PutDeleted(repo string, d Deleted) error
	DeleteDeleted(repo, key string) error
	Deleted(repo, prefix, after string) iter.Seq2[Deleted, error]
	DeletedRepos(after string) iter.Seq2[string, error]
	DeleteReferrer(repo string, subject, referrer digest.Digest) error
	Referrers(repo string, subject digest.Digest) iter.Seq2[digest.Digest, error]
}

// BlobReader reads a stored blob. Disk stores return an *os.File so that
// net/http can send it with sendfile.
type BlobReader interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
}

// Store is the registry's state. Implementations are safe for concurrent use.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction, committed durably when fn
	// returns nil and rolled back, changing nothing, when it returns an error.
	Update(ctx context.Context, fn func(Tx) error) error

	// StatBlob returns the size of a stored blob, or ErrNotFound.
	StatBlob(ctx context.Context, d digest.Digest) (int64, error)
	// OpenBlob opens a stored blob for reading; the caller closes it.
	OpenBlob(ctx context.Context, d digest.Digest) (BlobReader, error)
	// PutBlob streams r into the store under d, verifying the digest and,
	// when size >= 0, the length. On any error nothing is stored under d.
	// Storing a blob that already exists succeeds (after verification).
	PutBlob(ctx context.Context, d digest.Digest, size int64, r io.Reader) (int64, error)
	// DeleteBlob removes a stored blob; it is used by garbage collection only.
	DeleteBlob(ctx context.Context, d digest.Digest) error
	// Blobs yields the digest of every stored blob, in no particular order.
	Blobs(ctx context.Context) iter.Seq2[digest.Digest, error]

	// CreateUpload starts an upload session for repo.
	CreateUpload(ctx context.Context, repo string) (Upload, error)
	// GetUpload returns an upload session, or ErrNotFound.
	GetUpload(ctx context.Context, id string) (Upload, error)
	// AppendUpload appends r to the session, which must hold exactly offset
	// bytes (ErrOffsetMismatch otherwise), and returns the new size. When r
	// fails midway, the bytes already received stay appended so that the
	// client can ask for the offset and resume.
	AppendUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error)
	// CommitUpload verifies that the session's content has digest d (and,
	// when size >= 0, that length), stores it as a blob, and ends the session.
	// On a mismatch the session ends and nothing is stored.
	CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) (int64, error)
	// CancelUpload ends a session and discards its content.
	CancelUpload(ctx context.Context, id string) error
	// Uploads yields every open upload session.
	Uploads(ctx context.Context) iter.Seq2[Upload, error]

	// Close releases the store's resources.
	Close() error
}
