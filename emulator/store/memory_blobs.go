package store

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
)

const (
	// memMinChunk and memMaxChunk bound the chunks the memory store reads
	// content into. Chunks grow with the content, so that small blobs stay
	// small and large ones are held in 16 MiB pieces without ever being
	// copied into one contiguous buffer.
	//
	// The chunks are plain heap memory. Advising them as transparent huge
	// pages (MADV_HUGEPAGE, tried in e2cd752) made ingesting cost 2-5 times
	// more server CPU on the benchmark VM, almost all of it in the kernel
	// zeroing fresh huge pages. Most likely (not proven) because a huge
	// page needs a free 2 MiB block, such blocks are the ones the VM's
	// balloon hands back to the host (free page reporting), and each is then
	// faulted in again from the host, while 4 KiB pages mostly come from
	// recently freed memory. Measured
	// there (bench/RESULTS.md, "the memory store without huge pages"): 512 MiB
	// pushed in 8 blobs cost the server 0.74-0.91 s of CPU with plain pages
	// and 1.21-4.07 s with huge ones; a fresh GiB touched by a test program
	// 0.41-0.69 s and 0.99-8.09 s.
	memMinChunk = 32 << 10
	memMaxChunk = 16 << 20
)

// memBuffer accumulates content in chunks as it streams in. Every chunk but
// the last is full.
type memBuffer struct {
	chunks [][]byte
	size   int64
}

// readFrom reads r to EOF into the buffer, feeding every byte to h. hint is
// the expected total size, or -1. The bytes read before an error stay in the
// buffer and in h.
//
// Hashing overlaps reading: the bytes read land in the buffer and stay put,
// so a second goroutine hashes them, in order, while the next ones arrive.
// Read then hash then read again on one goroutine made an upload cost the
// sum of the two (1.6 s per GiB pushed by the in-process benchmark, with
// one of the two cores idle a third of the time).
func (b *memBuffer) readFrom(ctx context.Context, r io.Reader, h hash.Hash, hint int64) (int64, error) {
	ph := pipedHash{h: h}
	defer ph.close()
	return b.readPiped(ctx, r, &ph, hint)
}

// readPiped is readFrom with the hashing handed to ph, which the caller
// closes or detaches.
func (b *memBuffer) readPiped(ctx context.Context, r io.Reader, ph *pipedHash, hint int64) (int64, error) {
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var last []byte
		if k := len(b.chunks); k > 0 && len(b.chunks[k-1]) < cap(b.chunks[k-1]) {
			last = b.chunks[k-1]
		} else {
			last = make([]byte, 0, b.nextChunk(hint))
			b.chunks = append(b.chunks, last)
		}
		m, err := r.Read(last[len(last):cap(last)])
		if m > 0 {
			ph.write(last[len(last) : len(last)+m])
			b.chunks[len(b.chunks)-1] = last[:len(last)+m]
			b.size += int64(m)
			n += int64(m)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

const (
	// pipeMin is how much content is hashed in line before hashing moves to
	// its own goroutine: small blobs are not worth the hand-over.
	pipeMin = 256 << 10
	// pipeBatch is the least a hand-over carries, unless it ends the content
	// or a chunk, so that channel operations cost nothing next to hashing.
	pipeBatch = 256 << 10
)

// pipedHash feeds byte slices to a hash, in order, on a goroutine of its own
// once more than pipeMin bytes came. The slices must not change until h has
// hashed them: close waits for that; detach does not, and returns a channel
// closed once it is so. A pipedHash whose after is not nil hashes nothing
// until after is closed: it continues the hashing of an earlier one.
type pipedHash struct {
	h       hash.Hash
	after   <-chan struct{}
	seen    int64
	pending []byte // written, not yet handed over; contiguous in one chunk
	ch      chan []byte
	done    chan struct{}
}

func (p *pipedHash) write(s []byte) {
	p.seen += int64(len(s))
	if p.ch == nil && p.seen <= pipeMin && p.settled() {
		p.h.Write(s)
		return
	}
	if p.ch == nil {
		p.ch, p.done = make(chan []byte, 64), make(chan struct{})
		go func() {
			defer close(p.done)
			if p.after != nil {
				<-p.after
			}
			for s := range p.ch {
				p.h.Write(s)
			}
		}()
	}
	// s continues pending when it starts where pending ends in memory.
	if len(p.pending) > 0 && cap(p.pending) > len(p.pending) && &p.pending[:len(p.pending)+1][len(p.pending)] == &s[0] {
		p.pending = p.pending[:len(p.pending)+len(s)]
	} else {
		p.flush()
		p.pending = s
	}
	if len(p.pending) >= pipeBatch {
		p.flush()
	}
}

func (p *pipedHash) flush() {
	if len(p.pending) > 0 {
		p.ch <- p.pending
		p.pending = nil
	}
}

// settled reports whether the hashing that p continues is over, and forgets
// it once it is.
func (p *pipedHash) settled() bool {
	if p.after == nil {
		return true
	}
	select {
	case <-p.after:
		p.after = nil
		return true
	default:
		return false
	}
}

// close hands over what is pending and waits until h has hashed it all.
func (p *pipedHash) close() {
	if done := p.detach(); done != nil {
		<-done
	}
}

// detach hands over what is pending and returns a channel that is closed
// once h has hashed every byte written, or nil if it already has.
func (p *pipedHash) detach() <-chan struct{} {
	if p.ch == nil {
		return p.after
	}
	p.flush()
	close(p.ch)
	return p.done
}

// nextChunk sizes the next chunk: the rest of the expected content plus one
// byte to see EOF in, or double what the buffer holds, within bounds.
func (b *memBuffer) nextChunk(hint int64) int {
	want := b.size
	if hint >= 0 {
		want = hint - b.size + 1
	}
	return int(min(max(want, memMinChunk), memMaxChunk))
}

// blob freezes the buffer into a blob. A last chunk with much unused
// capacity is copied to its length, so that a small blob does not pin a
// large chunk.
func (b *memBuffer) blob() *memBlob {
	if k := len(b.chunks); k > 0 {
		if last := b.chunks[k-1]; len(last) == 0 {
			b.chunks = b.chunks[:k-1]
		} else if len(last) < cap(last)*3/4 {
			b.chunks[k-1] = slices.Clone(last)
		}
	}
	mb := &memBlob{chunks: b.chunks, starts: make([]int64, len(b.chunks)), size: b.size}
	var off int64
	for i, c := range b.chunks {
		mb.starts[i] = off
		off += int64(len(c))
	}
	return mb
}

// memBlob is stored content. It never changes once stored.
type memBlob struct {
	chunks [][]byte
	starts []int64 // starts[i] is the offset of chunks[i]
	size   int64
}

// readAt copies content at off into p and returns the count copied.
func (b *memBlob) readAt(p []byte, off int64) int {
	if off >= b.size || len(p) == 0 {
		return 0
	}
	i := sort.Search(len(b.starts), func(i int) bool { return b.starts[i] > off }) - 1
	n := 0
	for ; i < len(b.chunks) && n < len(p); i++ {
		c := b.chunks[i][off-b.starts[i]:]
		m := copy(p[n:], c)
		n += m
		off += int64(m)
	}
	return n
}

// memReader reads a memBlob. Like an *os.File, Read and Seek share an
// offset and must not be called concurrently; ReadAt may be.
type memReader struct {
	b      *memBlob
	off    int64
	closed atomic.Bool
}

var errReaderClosed = errors.New("store: read from a closed blob reader")

func (r *memReader) Read(p []byte) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if r.off >= r.b.size {
		return 0, io.EOF
	}
	n := r.b.readAt(p, r.off)
	r.off += int64(n)
	return n, nil
}

// WriteTo writes the rest of the blob to w straight from the stored chunks,
// without an intermediate buffer: an HTTP response then sends each chunk
// (up to 16 MiB) in one write, rather than copying it out 32 KiB at a time.
func (r *memReader) WriteTo(w io.Writer) (int64, error) {
	var n int64
	for r.off < r.b.size {
		if r.closed.Load() {
			return n, errReaderClosed
		}
		i := sort.Search(len(r.b.starts), func(i int) bool { return r.b.starts[i] > r.off }) - 1
		c := r.b.chunks[i][r.off-r.b.starts[i]:]
		m, err := w.Write(c)
		if m < 0 || m > len(c) {
			return n, errors.New("store: invalid write count")
		}
		n += int64(m)
		r.off += int64(m)
		if err != nil {
			return n, err
		}
		if m < len(c) {
			return n, io.ErrShortWrite
		}
	}
	return n, nil
}

func (r *memReader) ReadAt(p []byte, off int64) (int, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	if off < 0 {
		return 0, errors.New("store: negative offset")
	}
	n := r.b.readAt(p, off)
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (r *memReader) Seek(offset int64, whence int) (int64, error) {
	if r.closed.Load() {
		return 0, errReaderClosed
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += r.off
	case io.SeekEnd:
		offset += r.b.size
	default:
		return 0, errors.New("store: invalid whence")
	}
	if offset < 0 {
		return 0, errors.New("store: negative position")
	}
	r.off = offset
	return offset, nil
}

func (r *memReader) Close() error {
	r.closed.Store(true)
	return nil
}

// StatBlob implements [Store.StatBlob].
func (s *memStore) StatBlob(ctx context.Context, d digest.Digest) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if _, err := newHash(d); err != nil {
		return 0, err
	}
	s.blobMu.RLock()
	b := s.blobs[d]
	s.blobMu.RUnlock()
	if b == nil {
		return 0, blobNotFound(d)
	}
	return b.size, nil
}

// OpenBlob implements [Store.OpenBlob].
func (s *memStore) OpenBlob(ctx context.Context, d digest.Digest) (BlobReader, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if _, err := newHash(d); err != nil {
		return nil, err
	}
	s.blobMu.RLock()
	b := s.blobs[d]
	s.blobMu.RUnlock()
	if b == nil {
		return nil, blobNotFound(d)
	}
	return &memReader{b: b}, nil
}

// PutBlob implements [Store.PutBlob].
func (s *memStore) PutBlob(ctx context.Context, d digest.Digest, size int64, r io.Reader) (int64, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	h, err := newHash(d)
	if err != nil {
		return 0, err
	}
	var buf memBuffer
	n, err := buf.readFrom(ctx, limitClaimed(r, size), h, size)
	if err != nil {
		return n, fmt.Errorf("store: reading blob %s: %w", d, err)
	}
	if err := verify(d, size, n, h); err != nil {
		return n, err
	}
	s.storeBlob(d, &buf)
	return n, nil
}

// storeBlob stores verified content under d unless d is already stored:
// equal digests mean equal content.
func (s *memStore) storeBlob(d digest.Digest, buf *memBuffer) {
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	if s.blobs[d] == nil {
		s.blobs[d] = buf.blob()
	}
}

// DeleteBlob implements [Store.DeleteBlob].
func (s *memStore) DeleteBlob(ctx context.Context, d digest.Digest) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	s.blobMu.Lock()
	defer s.blobMu.Unlock()
	if s.blobs[d] == nil {
		return blobNotFound(d)
	}
	delete(s.blobs, d)
	return nil
}

// Blobs implements [Store.Blobs]. It yields a snapshot taken when iteration
// starts, so the caller may delete blobs while iterating.
func (s *memStore) Blobs(ctx context.Context) iter.Seq2[digest.Digest, error] {
	return func(yield func(digest.Digest, error) bool) {
		if err := s.check(ctx); err != nil {
			yield("", err)
			return
		}
		s.blobMu.RLock()
		ds := make([]digest.Digest, 0, len(s.blobs))
		for d := range s.blobs {
			ds = append(ds, d)
		}
		s.blobMu.RUnlock()
		for _, d := range ds {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// memUpload is an upload session of the memory store.
type memUpload struct {
	info Upload       // immutable but for Size, which size holds
	size atomic.Int64 // read without mu, so GetUpload does not wait for an append

	mu   sync.Mutex // serializes appends, commit and cancel
	buf  memBuffer
	hash hash.Hash // sha256 of buf, once hashing is closed
	// hashing, when not nil, is closed once hash has seen all of buf: an
	// append returns as soon as its bytes are in buf, while they are still
	// being hashed, so that the client's next chunk is not kept waiting.
	hashing <-chan struct{}
	done    bool

	active activity
}

func (u *memUpload) upload() Upload {
	info := u.info
	info.Size = u.size.Load()
	info.ActiveAt = u.active.at()
	return info
}

// CreateUpload implements [Store.CreateUpload].
func (s *memStore) CreateUpload(ctx context.Context, repo string) (Upload, error) {
	if err := s.check(ctx); err != nil {
		return Upload{}, err
	}
	u := &memUpload{info: Upload{ID: newUploadID(), Repo: repo, StartedAt: time.Now().UTC()}, hash: sha256.New()}
	u.active.last.Store(u.info.StartedAt.UnixNano())
	s.upMu.Lock()
	s.uploads[u.info.ID] = u
	s.upMu.Unlock()
	return u.upload(), nil
}

func (s *memStore) upload(id string) (*memUpload, error) {
	s.upMu.Lock()
	u := s.uploads[id]
	s.upMu.Unlock()
	if u == nil {
		return nil, uploadNotFound(id)
	}
	return u, nil
}

// end ends a session; the caller holds u.mu.
func (s *memStore) end(u *memUpload) {
	u.done = true
	u.buf = memBuffer{}
	s.upMu.Lock()
	delete(s.uploads, u.info.ID)
	s.upMu.Unlock()
}

// GetUpload implements [Store.GetUpload].
func (s *memStore) GetUpload(ctx context.Context, id string) (Upload, error) {
	if err := s.check(ctx); err != nil {
		return Upload{}, err
	}
	u, err := s.upload(id)
	if err != nil {
		return Upload{}, err
	}
	return u.upload(), nil
}

// AppendUpload implements [Store.AppendUpload].
func (s *memStore) AppendUpload(ctx context.Context, id string, offset int64, r io.Reader) (int64, error) {
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
	if offset != u.buf.size {
		return u.buf.size, fmt.Errorf("store: upload session %s holds %d bytes, not %d: %w", id, u.buf.size, offset, ErrOffsetMismatch)
	}
	ph := pipedHash{h: u.hash, after: u.hashing}
	_, err = u.buf.readPiped(ctx, r, &ph, -1)
	u.hashing = ph.detach()
	u.size.Store(u.buf.size)
	if err != nil {
		return u.buf.size, fmt.Errorf("store: upload session %s: reading: %w", id, err)
	}
	return u.buf.size, nil
}

// CommitUpload implements [Store.CommitUpload].
func (s *memStore) CommitUpload(ctx context.Context, id string, d digest.Digest, size int64) (int64, error) {
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
	if u.hashing != nil {
		<-u.hashing
		u.hashing = nil
	}
	if d.Algorithm() == digest.SHA256 {
		h = u.hash
	} else {
		for _, c := range u.buf.chunks {
			h.Write(c)
		}
	}
	n := u.buf.size
	if err := verify(d, size, n, h); err != nil {
		s.end(u)
		return n, fmt.Errorf("store: upload session %s ended: %w", id, err)
	}
	s.storeBlob(d, &u.buf)
	s.end(u)
	return n, nil
}

// CancelUpload implements [Store.CancelUpload].
func (s *memStore) CancelUpload(ctx context.Context, id string) error {
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
	s.end(u)
	return nil
}

// Uploads implements [Store.Uploads]. It yields a snapshot in ID order.
func (s *memStore) Uploads(ctx context.Context) iter.Seq2[Upload, error] {
	return func(yield func(Upload, error) bool) {
		if err := s.check(ctx); err != nil {
			yield(Upload{}, err)
			return
		}
		s.upMu.Lock()
		us := make([]Upload, 0, len(s.uploads))
		for _, u := range s.uploads {
			us = append(us, u.upload())
		}
		s.upMu.Unlock()
		slices.SortFunc(us, func(a, b Upload) int { return cmp.Compare(a.ID, b.ID) })
		for _, u := range us {
			if !yield(u, nil) {
				return
			}
		}
	}
}
