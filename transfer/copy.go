package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
	"github.com/acrgo/acr/internal/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultConcurrency is the number of blobs copied at once when
// CopyOptions leaves it unset.
const DefaultConcurrency = 8

// CopyOptions configures Copy.
type CopyOptions struct {
	// Platforms selects children of an index by OS and architecture (and
	// variant, when set). One platform copies that child alone as the
	// root; several copy a new index of the matching children. Empty
	// copies everything.
	Platforms []ocispec.Platform
	// Referrers also copies, recursively, the referrers (signatures, SBOMs,
	// attestations) of every manifest copied.
	Referrers bool
	// Concurrency bounds the blobs in flight; 0 means DefaultConcurrency.
	// To a registry on this machine over plain HTTP, blobs of 4 MiB and
	// more send their bodies at most GOMAXPROCS at a time, each taking its
	// turn once its upload session is open: so each blob's commit (a
	// durable registry's sync to disk) overlaps the next bodies instead of
	// all finishing at once.
	Concurrency int
	// Progress, when set, receives events from many goroutines at once. A
	// blob whose transfer broke is started again once, and then reports
	// its bytes from zero again.
	Progress func(Progress)
}

// Progress reports the state of one piece of content.
type Progress struct {
	Desc ocispec.Descriptor
	// Bytes is how much of it has been copied so far.
	Bytes int64
	// Done is set once, when the piece is in place.
	Done bool
	// Skipped reports that the destination already had it.
	Skipped bool
	// Mounted reports that it was linked across repositories, not copied.
	Mounted bool
}

// Copy copies the graph that srcRef names in src to dst and tags its root
// dstRef there (no tag when dstRef is empty or a digest). It returns the
// root's descriptor, which differs from the source's only when Platforms
// selected part of an index.
func Copy(ctx context.Context, src Target, srcRef string, dst Target, dstRef string, opts *CopyOptions) (_ ocispec.Descriptor, err error) {
	ctx, endSpan := startSpan(ctx, "transfer.Copy", src, dst)
	defer func() { endSpan(err) }()
	var o CopyOptions
	if opts != nil {
		o = *opts
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	root, err := src.Resolve(ctx, srcRef)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	c := &copier{src: src, dst: dst, o: o, sem: make(chan struct{}, o.Concurrency), turns: sendTurns(dst, o.Concurrency),
		nodes: map[digest.Digest]*node{}, cancel: cancel}
	var synthetic []byte
	if len(o.Platforms) > 0 && spec.IsIndex(root.MediaType) {
		if root, synthetic, err = c.selectPlatforms(ctx, root); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	tag := dstRef != "" && !spec.IsDigest(dstRef)
	if _, ok := dst.(taggedPusher); ok && tag && !o.Referrers {
		// The root goes up once, by tag, after everything it references:
		// not by digest, then fetched back and put again by tag (two more
		// round trips, and registries check every reference of a manifest
		// on each put). With Referrers the tag waits for them instead.
		c.root, c.rootTag = root.Digest, dstRef
	}
	if synthetic != nil {
		if _, err = c.copyIndexBytes(ctx, root, synthetic, ""); err == nil {
			err = c.copyReferrers(ctx, root, 0)
		}
	} else {
		err = c.copy(ctx, root, "", 0)
	}
	if err != nil {
		// A piece cancelled because another failed reports the failure,
		// not the cancellation (a registry killed mid-push read as
		// "interrupted"), unless the caller itself cancelled. net/http
		// reports a request cancelled with a cause as that cause inside
		// its own URL error: the failure then reads as another request's.
		if cause := context.Cause(ctx); (errors.Is(err, context.Canceled) || errors.Is(err, cause)) && parent.Err() == nil &&
			cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause
		}
		return ocispec.Descriptor{}, err
	}
	if tag && c.rootTag == "" {
		if err := dst.Tag(ctx, root, dstRef); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	if l, ok := dst.(*Layout); ok && !tag {
		// Untagged, the root must still be an entry of index.json, or
		// the layout would not show it at all.
		if err := l.recordEntry(root); err != nil {
			return ocispec.Descriptor{}, err
		}
	}
	return root, nil
}

type copier struct {
	src, dst Target
	o        CopyOptions
	sem      chan struct{}
	// turns, when set, bounds the blob bodies being sent at once (see
	// sendTurns); a blob holds its turn until its body is written, not
	// until the registry answers.
	turns  chan struct{}
	cancel context.CancelCauseFunc
	// root, when rootTag is set, is pushed by that tag in one request.
	root    digest.Digest
	rootTag string

	mu    sync.Mutex
	nodes map[digest.Digest]*node
}

// maxReferrerDepth bounds chains of referrers of referrers, which a source
// could otherwise make up without end (each new referrer naming the one
// before as its subject), as purge bounds them.
const maxReferrerDepth = 16

// node is one digest's copy, shared by every parent that references it.
type node struct {
	// done closes when the content is in place: for a manifest, before
	// its referrers are copied, so that a referrer that leads back to it
	// (an index listing its own subject) finds it done instead of waiting
	// for itself.
	done chan struct{}
	err  error
	// subject is a manifest's subject, set before done closes.
	subject digest.Digest
}

// copy copies desc and everything below it, once per digest, then (with
// CopyOptions.Referrers) its referrers. subject, when set, is the manifest
// whose referrers listed desc: desc must then be a manifest whose subject
// it is, or the copy fails before desc is pushed. depth counts the
// referrer links from the root.
func (c *copier) copy(ctx context.Context, desc ocispec.Descriptor, subject digest.Digest, depth int) error {
	if subject != "" && !isManifest(desc.MediaType) {
		return fmt.Errorf("transfer: the source lists %s (%s) as a referrer of %s, but a referrer is a manifest; refusing its answer", desc.Digest, desc.MediaType, subject)
	}
	c.mu.Lock()
	n, ok := c.nodes[desc.Digest]
	if !ok {
		n = &node{done: make(chan struct{})}
		c.nodes[desc.Digest] = n
	}
	c.mu.Unlock()
	if ok {
		// Copied, or being copied, elsewhere in the graph. Nodes wait only
		// for their children, never for referrers, and children cannot
		// form a cycle (a manifest holds its children's digests), so this
		// wait ends.
		select {
		case <-n.done:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
		if n.err != nil {
			return n.err
		}
		return checkSubject(desc.Digest, n.subject, subject)
	}
	if isManifest(desc.MediaType) {
		n.subject, n.err = c.copyManifest(ctx, desc, subject)
	} else {
		n.err = c.copyBlob(ctx, desc)
	}
	if n.err != nil {
		c.cancel(n.err)
	}
	close(n.done)
	if n.err != nil || !isManifest(desc.MediaType) {
		return n.err
	}
	return c.copyReferrers(ctx, desc, depth)
}

// checkSubject checks that a manifest listed as a referrer of want has
// want as its subject (got).
func checkSubject(d, got, want digest.Digest) error {
	if want == "" || got == want {
		return nil
	}
	if got == "" {
		return fmt.Errorf("transfer: the source lists %s as a referrer of %s, but it has no subject; refusing its answer", d, want)
	}
	return fmt.Errorf("transfer: the source lists %s as a referrer of %s, but its subject is %s; refusing its answer", d, want, got)
}

// copyManifest copies a manifest after all it references and returns its
// subject. With want set, a manifest whose subject is not want fails
// before anything is pushed.
func (c *copier) copyManifest(ctx context.Context, desc ocispec.Descriptor, want digest.Digest) (digest.Digest, error) {
	rc, err := c.src.Fetch(ctx, desc)
	if err != nil {
		return "", err
	}
	b, err := readManifest(rc, desc)
	rc.Close()
	if err != nil {
		return "", err
	}
	return c.copyIndexBytes(ctx, desc, b, want)
}

// copyIndexBytes copies the children of manifest bytes b, then b itself,
// and returns its subject; with want set, only when that is its subject.
func (c *copier) copyIndexBytes(ctx context.Context, desc ocispec.Descriptor, b []byte, want digest.Digest) (digest.Digest, error) {
	children, subject, err := children(desc, b)
	if err != nil {
		return "", err
	}
	if err := checkSubject(desc.Digest, subject, want); err != nil {
		return "", err
	}
	if err := c.all(ctx, children); err != nil {
		return "", err
	}
	if c.rootTag != "" && desc.Digest == c.root {
		if err := c.dst.(taggedPusher).pushTagged(ctx, desc, b, c.rootTag); err != nil {
			return "", fmt.Errorf("push manifest %s as %s: %w", desc.Digest, c.rootTag, err)
		}
	} else if ok, err := c.dst.Exists(ctx, desc); err != nil {
		return "", err
	} else if !ok {
		if err := c.dst.Push(ctx, desc, bytes.NewReader(b)); err != nil {
			return "", fmt.Errorf("push manifest %s: %w", desc.Digest, err)
		}
	}
	c.report(Progress{Desc: desc, Bytes: desc.Size, Done: true})
	return subject, nil
}

// copyReferrers copies, with CopyOptions.Referrers, the referrers of the
// manifest desc, depth referrer links from the root, after checking what
// the source lists: each must be a manifest whose subject is desc. A
// listing that breaks this (desc itself, or a manifest of another
// subject, which would copy content nobody asked for) fails the copy
// rather than being skipped, since it shows the source's referrers
// answer cannot be trusted.
func (c *copier) copyReferrers(ctx context.Context, desc ocispec.Descriptor, depth int) error {
	if !c.o.Referrers {
		return nil
	}
	var refs []ocispec.Descriptor
	for r, err := range c.src.Referrers(ctx, desc, "") {
		if err != nil {
			return fmt.Errorf("list referrers of %s: %w", desc.Digest, err)
		}
		if err := r.Digest.Validate(); err != nil {
			return fmt.Errorf("transfer: the source lists a referrer of %s with an invalid digest: %w", desc.Digest, err)
		}
		refs = append(refs, plain(r))
	}
	if len(refs) == 0 {
		return nil
	}
	if depth == maxReferrerDepth {
		return fmt.Errorf("transfer: the referrers of %s nest deeper than %d levels (referrers of referrers); refusing to follow them further", desc.Digest, maxReferrerDepth)
	}
	return c.each(ctx, refs, func(d ocispec.Descriptor) error { return c.copy(ctx, d, desc.Digest, depth+1) })
}

// all copies descs, children of one manifest, concurrently and returns
// the first error.
func (c *copier) all(ctx context.Context, descs []ocispec.Descriptor) error {
	return c.each(ctx, descs, func(d ocispec.Descriptor) error { return c.copy(ctx, d, "", 0) })
}

// each runs f on descs concurrently and returns their errors joined.
func (c *copier) each(ctx context.Context, descs []ocispec.Descriptor, f func(ocispec.Descriptor) error) error {
	if len(descs) == 0 {
		return nil
	}
	errs := make([]error, len(descs))
	var wg sync.WaitGroup
	for i, d := range descs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = f(d)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// copyBlob copies one blob, bounded by the concurrency limit, and starts
// it once more when its transfer broke (see retryable).
func (c *copier) copyBlob(ctx context.Context, desc ocispec.Descriptor) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-c.sem }()
	if ok, err := c.dst.Exists(ctx, desc); err != nil {
		return err
	} else if ok {
		c.report(Progress{Desc: desc, Bytes: desc.Size, Done: true, Skipped: true})
		return nil
	}
	if m, ok := c.dst.(Mounter); ok {
		if mounted, err := m.Mount(ctx, desc, c.src); err == nil && mounted {
			c.report(Progress{Desc: desc, Bytes: desc.Size, Done: true, Mounted: true})
			return nil
		}
	}
	err := c.transferBlob(ctx, desc)
	if err != nil && retryable(ctx, err) {
		// The stream broke where neither side could resume it (a PUT
		// streaming from a registry cannot rewind its source), or the
		// registry refused a request the client could not send again (a
		// 429 or 503 to such a PUT): start the blob once more, after the
		// delay the registry asked for.
		var re *acr.ResponseError
		if errors.As(err, &re) && re.RetryAfter > 0 {
			t := time.NewTimer(re.RetryAfter)
			select {
			case <-ctx.Done():
				t.Stop()
				return err
			case <-t.C:
			}
		}
		err = c.transferBlob(ctx, desc)
	}
	if err != nil {
		return err
	}
	c.report(Progress{Desc: desc, Bytes: desc.Size, Done: true})
	return nil
}

// sendTurns returns the turns that blob bodies take to dst, or nil where
// they are all sent at once: turns only for a registry on this machine
// over plain HTTP, as many as the process may run threads. (Over HTTP/2,
// which TLS connections negotiate, net/http closes a request's body only
// once the registry has answered, so a turn would last through the
// commit; TLS was not measured.)
//
// A registry that stores a blob durably writes it to disk when the upload
// ends (the distribution registry calls fsync then; acrctl serve --data
// flushes as it receives and syncs at the end). Sent all at once, eight
// bodies share the registry's CPU and finish together, and every commit
// waits at the end; taking turns, each blob's commit overlaps the next
// bodies' transfer. A turn is taken once the upload session is open (the
// distribution registry syncs a file to open one, which waits behind the
// commits), and a blob from another registry is fetched only then. Over
// loopback a few connections carry all the registry can receive, so the
// turns cost no bandwidth; over a network each connection is bounded by
// its window and round trips, and more bodies at once pay, so other
// registries get none. Measured on this machine (2 cores), W2 of
// bench/run.sh (8 x 64 MiB), medians of 6 alternating runs of this version
// against the build without turns (bench/RESULTS.md, "Blob bodies taking
// turns"): a push to the reference registry 1.64 against 1.83 s, a copy to
// it 1.71 against 2.12 s, a push to --memory 0.49 s for both. A first
// version, also measured against acrctl serve --data, pushed there in 1.21
// against 1.27 s and copied in 1.09 against 1.21 s. With the turn taken
// before the session opened, the reference got slower instead (push
// 2.02 s, copy 2.20 s); one turn instead of two was no faster.
func sendTurns(dst Target, concurrency int) chan struct{} {
	r, ok := dst.(*repository)
	n := runtime.GOMAXPROCS(0)
	if !ok || !strings.HasPrefix(r.client.Endpoint(), "http://") || !transport.IsLoopbackHost(r.client.Host()) || n >= concurrency {
		return nil
	}
	return make(chan struct{}, n)
}

// turnMinSize is the smallest blob that takes a turn (see sendTurns):
// smaller bodies are sent in a moment, and acr sends those up to 1 MiB
// from memory, in a request that does not report its body sent.
const turnMinSize = 4 << 20

// transferBlob fetches a blob from the source and pushes it to the
// destination.
func (c *copier) transferBlob(ctx context.Context, desc ocispec.Descriptor) error {
	turns := c.turns != nil && desc.Size >= turnMinSize && !isManifest(desc.MediaType)
	raw, unhashed := c.src.(rawFetcher)
	// A destination that hashes what it receives refuses a mismatch:
	// hashing here as well would only double the CPU spent.
	unhashed = unhashed && verifiesOnPush(c.dst)
	_, remote := c.src.(*repository)
	var rc io.ReadCloser
	var lf *lazyFetch
	var err error
	switch {
	case turns && remote && unhashed:
		// Fetched once the upload's turn comes: the source's answer is
		// not left unread while the blob waits for one.
		lf = &lazyFetch{open: func(ctx context.Context) (io.ReadCloser, error) { return raw.fetchRaw(ctx, desc) }}
		rc = lf
	case unhashed:
		rc, err = raw.fetchRaw(ctx, desc)
	default:
		rc, err = c.src.Fetch(ctx, desc)
	}
	if err != nil {
		return fmt.Errorf("fetch %s: %w", desc.Digest, err)
	}
	defer rc.Close()
	var r io.Reader = rc
	if c.o.Progress != nil {
		cr := &countingReader{r: rc, f: func(n int64) { c.report(Progress{Desc: desc, Bytes: n}) }}
		r = cr
		if isSelfVerifying(rc) {
			r = verifyingCounter{cr}
		}
	}
	if turns {
		var onTurn func(context.Context) error
		if lf != nil {
			onTurn = lf.fetch
		}
		ctx = transport.WithTurns(ctx, c.turns, onTurn)
	}
	if err := c.dst.Push(ctx, desc, r); err != nil {
		if lf != nil && lf.err != nil && errors.Is(err, lf.err) {
			return fmt.Errorf("fetch %s: %w", desc.Digest, lf.err)
		}
		return fmt.Errorf("push %s: %w", desc.Digest, err)
	}
	return nil
}

// lazyFetch is a blob's content fetched when its upload's turn comes:
// fetch runs in the uploading goroutine before the body is sent (see
// transport.WithTurns), and Read then reads what it fetched.
type lazyFetch struct {
	open func(context.Context) (io.ReadCloser, error)
	rc   io.ReadCloser
	err  error // the fetch's failure
}

var errNotFetched = errors.New("transfer: a blob's body was read before its fetch")

// fetch fetches the blob, once: a later turn (a resumed upload) reuses
// what the first fetched.
func (l *lazyFetch) fetch(ctx context.Context) error {
	if l.rc == nil && l.err == nil {
		l.rc, l.err = l.open(ctx)
	}
	return l.err
}

func (l *lazyFetch) Read(p []byte) (int, error) {
	if l.rc == nil {
		return 0, errNotFetched
	}
	return l.rc.Read(p)
}

func (l *lazyFetch) Close() error {
	if l.rc == nil {
		return nil
	}
	return l.rc.Close()
}

// retryable reports whether a blob whose copy failed with err is worth
// starting again: the connection broke, the registry lost the upload
// session, or it answered 408, 429 or 5xx. Refusals, mismatched content,
// local I/O errors and the end of ctx are final.
func retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, acr.ErrDigestMismatch) {
		return false
	}
	if errors.Is(err, acr.ErrUploadSessionLost) {
		return true // replaced by starting the blob again
	}
	var re *acr.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusRequestTimeout || re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500
	}
	var ue *url.Error // only net/http returns these: the request failed on the wire
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func (c *copier) report(p Progress) {
	if c.o.Progress != nil {
		c.o.Progress(p)
	}
}

// children lists what a manifest references: an index's manifests, an
// image's config and layers (without non-distributable layers that live
// elsewhere), an OCI artifact manifest's blobs; and the digest of its
// subject, if it has one.
func children(desc ocispec.Descriptor, b []byte) (_ []ocispec.Descriptor, subject digest.Digest, _ error) {
	var m struct {
		Subject   *ocispec.Descriptor  `json:"subject"`
		Config    *ocispec.Descriptor  `json:"config"`
		Layers    []ocispec.Descriptor `json:"layers"`
		Blobs     []ocispec.Descriptor `json:"blobs"`
		Manifests []ocispec.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, "", fmt.Errorf("manifest %s does not parse: %w", desc.Digest, err)
	}
	var out []ocispec.Descriptor
	for _, d := range m.Manifests {
		out = append(out, plain(d))
	}
	if m.Config != nil {
		out = append(out, plain(*m.Config))
	}
	for _, l := range m.Layers {
		if len(l.URLs) > 0 && spec.IsNonDistributable(l.MediaType) {
			continue
		}
		out = append(out, plain(l))
	}
	for _, bl := range m.Blobs {
		out = append(out, plain(bl))
	}
	for _, d := range out {
		if err := d.Digest.Validate(); err != nil {
			return nil, "", fmt.Errorf("manifest %s references an invalid digest: %w", desc.Digest, err)
		}
		if d.Size < 0 {
			return nil, "", fmt.Errorf("manifest %s references %s with a negative size", desc.Digest, d.Digest)
		}
	}
	if m.Subject != nil {
		subject = m.Subject.Digest
	}
	return out, subject, nil
}

// selectPlatforms narrows an index to the requested platforms: one match
// becomes the root; several become a new index.
func (c *copier) selectPlatforms(ctx context.Context, root ocispec.Descriptor) (ocispec.Descriptor, []byte, error) {
	rc, err := c.src.Fetch(ctx, root)
	if err != nil {
		return root, nil, err
	}
	b, err := readManifest(rc, root)
	rc.Close()
	if err != nil {
		return root, nil, err
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return root, nil, err
	}
	var keep []ocispec.Descriptor
	for _, m := range idx.Manifests {
		if m.Platform == nil {
			continue
		}
		for _, p := range c.o.Platforms {
			if p.OS == m.Platform.OS && p.Architecture == m.Platform.Architecture && (p.Variant == "" || p.Variant == m.Platform.Variant) {
				keep = append(keep, m)
				break
			}
		}
	}
	switch len(keep) {
	case 0:
		return root, nil, fmt.Errorf("transfer: index %s has no manifest for the platforms asked", root.Digest)
	case 1:
		if len(c.o.Platforms) == 1 {
			return plain(keep[0]), nil, nil
		}
	}
	idx.Manifests = keep
	nb, err := json.Marshal(idx)
	if err != nil {
		return root, nil, err
	}
	return ocispec.Descriptor{MediaType: root.MediaType, Digest: digest.FromBytes(nb), Size: int64(len(nb))}, nb, nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
	f func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.f(c.n.Add(int64(n)))
	return n, err
}

// verifyingCounter is a countingReader over a self-verifying reader.
type verifyingCounter struct{ *countingReader }

func (verifyingCounter) verifies() {}

// taggedPusher is implemented by targets that store a manifest and tag it
// in one request.
type taggedPusher interface {
	// pushTagged stores manifest bytes b, verified against desc, under tag.
	pushTagged(ctx context.Context, desc ocispec.Descriptor, b []byte, tag string) error
}

// rawFetcher is implemented by local sources that can hand out content
// without hashing it, for destinations that verify it themselves.
type rawFetcher interface {
	fetchRaw(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
}

// verifiesOnPush reports whether a destination checks the digest of what
// it stores (a registry does, and a Layout hashes while it writes; the
// source then need not).
func verifiesOnPush(t Target) bool {
	switch t.(type) {
	case *repository, *Layout:
		return true
	}
	return false
}
