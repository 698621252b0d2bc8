package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
)

// DownloadBlobOptions configures DownloadBlob.
type DownloadBlobOptions struct {
	// Offset and Length select a byte range of the blob: Length bytes
	// from Offset (fewer when the blob ends first), or everything from
	// Offset when Length is 0. A range is read with one ranged GET, as the
	// Go SDK's GetChunk does: for reading a header or an index inside a
	// large layer, or splitting a download across processes. Its bytes
	// are checked against the range the registry says it sent, but cannot
	// be checked against the digest, which only the whole blob can be. An
	// offset at or past the blob's end fails.
	Offset, Length int64
	// Unverified skips hashing; the length is still checked. It is for
	// consumers that verify the digest themselves, such as a registry the
	// content is pushed to: hashing on both sides would double the CPU
	// spent.
	Unverified bool
	// Progress, when set, is called by the reading goroutine after each
	// read with the number of bytes delivered so far.
	Progress func(done int64)
}

// DownloadBlob streams a blob, or with Offset or Length a byte range of it.
// The reader of a whole blob verifies the content while the caller reads:
// a length or digest that differs from d fails the final Read with
// ErrDigestMismatch, so a caller that reads to io.EOF has verified bytes.
// After a dropped connection it resumes with a Range request from the byte
// it reached. To write a blob to a file, DownloadBlobTo is faster. The
// caller closes the reader. OCI distribution spec: "Pulling blobs".
func (c *Client) DownloadBlob(ctx context.Context, repo string, d digest.Digest, opts *DownloadBlobOptions) (_ io.ReadCloser, err error) {
	ctx, endSpan := c.span(ctx, "Client.DownloadBlob")
	defer func() { endSpan(err) }()
	var o DownloadBlobOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := checkDigest(d); err != nil {
		return nil, err
	}
	if o.Offset != 0 || o.Length != 0 {
		return c.downloadRange(ctx, repo, d, o)
	}
	br := &blobReader{c: c, ctx: ctx, repo: repo, d: d, size: -1, noVerify: o.Unverified, progress: o.Progress}
	if !o.Unverified {
		br.v = d.Verifier()
	}
	if err := br.open(0); err != nil {
		return nil, err
	}
	return br, nil
}

// blobReader is DownloadBlob's verifying, resuming reader.
type blobReader struct {
	c       *Client
	ctx     context.Context
	repo    string
	d       digest.Digest
	v       digest.Verifier
	body    io.ReadCloser
	size    int64 // total, from the first response; -1 unknown
	n       int64 // bytes delivered, from's included
	from    int64 // the first byte asked for: a prefix an earlier run left (Resume)
	resumes int
	err     error // sticky
	// noVerify skips hashing (DownloadBlobOptions.Unverified); the
	// length is still checked.
	noVerify bool
	// progress, when set, is told b.n after each read.
	progress func(int64)

	// For large blobs the digest is computed in a goroutine, so hashing
	// overlaps the caller's writes and the next socket reads: on two
	// cores a download then costs max(hash, copy) rather than their sum.
	hashq    chan []byte
	hashDone chan struct{}
}

// asyncHashMin is the size from which a download hashes in the background.
const asyncHashMin = 8 << 20

// hashPool recycles the buffers handed to the hashing goroutine.
var hashPool = sync.Pool{New: func() any { b := make([]byte, 0, 1<<20); return &b }}

// hash feeds p to the verifier, in the background for large blobs.
func (b *blobReader) hash(p []byte) {
	if b.noVerify {
		return
	}
	if b.size < asyncHashMin {
		b.v.Write(p)
		return
	}
	if b.hashq == nil {
		b.hashq, b.hashDone = make(chan []byte, 8), make(chan struct{})
		go func(q <-chan []byte, done chan<- struct{}) {
			for buf := range q {
				b.v.Write(buf)
				bp := buf[:0]
				hashPool.Put(&bp)
			}
			close(done)
		}(b.hashq, b.hashDone)
	}
	for len(p) > 0 {
		bp := hashPool.Get().(*[]byte)
		n := min(len(p), cap(*bp))
		buf := append((*bp)[:0], p[:n]...)
		b.hashq <- buf
		p = p[n:]
	}
}

// hashWait waits for the background hashing to finish.
func (b *blobReader) hashWait() {
	if b.hashq != nil {
		close(b.hashq)
		<-b.hashDone
		b.hashq = nil
	}
}

func (b *blobReader) open(from int64) error {
	r := request{method: http.MethodGet, path: v2Path(b.repo, "blobs", b.d.String()), scope: scopeRepo(b.repo, "pull")}
	if from > 0 {
		r.header = http.Header{"Range": {"bytes=" + strconv.FormatInt(from, 10) + "-"}}
		r.ok = []int{http.StatusPartialContent, http.StatusOK}
	}
	resp, err := b.c.do(b.ctx, r)
	if err != nil {
		return err
	}
	if from > 0 && resp.StatusCode == http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("acr: resuming %s@%s: the registry ignored the Range request for the bytes from %d and sent the whole blob again",
			b.repo, b.d, from)
	}
	if from == 0 {
		b.size = resp.ContentLength
	} else if !strings.HasPrefix(resp.Header.Get("Content-Range"), "bytes "+strconv.FormatInt(from, 10)+"-") {
		resp.Body.Close()
		return fmt.Errorf("acr: resuming %s@%s: the registry answered Content-Range %q for a range from byte %d",
			b.repo, b.d, resp.Header.Get("Content-Range"), from)
	}
	b.body = resp.Body
	return nil
}

func (b *blobReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.next(p)
	if n > 0 {
		b.hash(p[:n])
		if b.progress != nil {
			b.progress(b.n)
		}
	}
	switch {
	case err == io.EOF:
		b.hashWait()
		return n, b.finish()
	case err != nil:
		b.err = err
	}
	return n, err
}

// finish checks the digest of a blob read to its end and makes the
// outcome sticky: io.EOF, or ErrDigestMismatch.
func (b *blobReader) finish() error {
	if !b.noVerify && !b.v.Verified() {
		b.err = fmt.Errorf("%w: %s@%s: the %d bytes received hash to another digest", ErrDigestMismatch, b.repo, b.d, b.n)
		return b.err
	}
	b.err = io.EOF
	return io.EOF
}

// next reads the next bytes of the blob into p, without hashing them. It
// checks the length, resumes after a broken connection, and returns io.EOF
// once all the bytes have come.
func (b *blobReader) next(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		if n > 0 {
			b.n += int64(n)
			if b.size >= 0 && b.n > b.size {
				return 0, fmt.Errorf("%w: %s@%s: the registry sent more than the %d bytes it announced", ErrDigestMismatch, b.repo, b.d, b.size)
			}
		}
		switch {
		case err == nil:
			return n, nil
		case errors.Is(err, io.EOF) && (b.size < 0 || b.n == b.size):
			return n, io.EOF
		}
		// A short body or a broken connection: resume from b.n.
		b.body.Close()
		if b.ctx.Err() != nil || b.resumes == maxResumes || b.size < 0 {
			return n, fmt.Errorf("acr: download of %s@%s broke after %d bytes: %w", b.repo, b.d, b.n, err)
		}
		b.resumes++
		if oerr := b.open(b.n); oerr != nil {
			return n, fmt.Errorf("acr: download of %s@%s broke after %d bytes (%v) and could not resume: %w", b.repo, b.d, b.n, err, oerr)
		}
		if n > 0 {
			return n, nil
		}
	}
}

// WriteTo's pipeline: each buffer is filled from the connection, then
// hashed by a second goroutine while it is written in writePiece pieces,
// and reused once both are done. The buffers are large because every
// hand-off between the two goroutines can wake a sleeping thread, and on
// this 2-core VM a wake-up costs more than the syscalls it saves: for
// 512 MiB from a loopback registry, 4 buffers of 2 MiB took a median
// 0.73 s of client CPU, of 1 MiB 0.77 s, and 8 of 256 KiB 0.85 s (5,100,
// 7,300 and 9,600 context switches; bench/RESULTS.md, "blob get at the
// floor"). Blobs under 128 MiB get smaller buffers, a 64th of the blob,
// and at most bigStreams downloads at once use buffers over
// writeToBufMin, so that a pull of many layers at once keeps its memory
// bounded. Small buffers come 8 to a download, so that the reads can run
// ahead while the hashing goroutine waits for a core on a busy machine.
const (
	writeToBufMax = 2 << 20
	writeToBufMin = 256 << 10
	writeToBufs   = 4 // of more than writeToBufMin
	writeToSmall  = 8 // of writeToBufMin
	// writePiece is the size of the writes to dst: on this machine writes
	// larger than 32 KiB to a new file are erratic in the kernel, at times
	// 10-25x slower (see transfer's writeSize).
	writePiece = 32 << 10
)

// bigStreams holds a token for each download streaming with buffers over
// writeToBufMin: at most 4 at once, 32 MiB of buffers in the process.
var bigStreams = make(chan struct{}, 4)

// writeToBufSize is the size of WriteTo's buffers for a blob of size
// bytes (-1: unknown): a 64th of the blob, in whole pieces, from
// writeToBufMin to writeToBufMax.
func writeToBufSize(size int64) int {
	if size < 0 {
		return writeToBufMax
	}
	n := min(max(size/64, writeToBufMin), writeToBufMax)
	return int(n / writePiece * writePiece)
}

// WriteTo implements io.WriterTo, so that io.Copy from a download reads
// in large buffers, writes in writePiece pieces and, for large blobs,
// hashes each buffer in a second goroutine while w writes it, without
// copying it for the hash. Like Read, it fails with ErrDigestMismatch after
// writing the last bytes when the content does not match.
func (b *blobReader) WriteTo(w io.Writer) (int64, error) {
	if b.err != nil {
		if b.err == io.EOF {
			return 0, nil
		}
		return 0, b.err
	}
	if b.noVerify || (b.size >= 0 && b.size < asyncHashMin) || b.n > b.from {
		// Small, unverified or partly read: plain reads, hashed inline.
		// The wrappers keep io.CopyBuffer from calling WriteTo again or
		// w's ReadFrom, which may copy 32 KiB at a time.
		size := int64(writePiece) // unknown length (chunked)
		if b.size >= 0 {
			size = min(max(b.size+1, 512), writePiece)
		}
		n, err := io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{b}, make([]byte, size))
		return n, err
	}
	bufSize, nbufs := writeToBufSize(b.size), writeToBufs
	if bufSize > writeToBufMin {
		select {
		case bigStreams <- struct{}{}:
			defer func() { <-bigStreams }()
		default:
			bufSize = writeToBufMin
		}
	}
	if bufSize == writeToBufMin {
		nbufs = writeToSmall
	}
	work := make(chan []byte, nbufs)
	free := make(chan []byte, nbufs)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for buf := range work {
			b.v.Write(buf)
			free <- buf[:cap(buf)]
		}
	}()
	var written int64
	allocated := 0
	for {
		var buf []byte
		select {
		case buf = <-free:
		default:
			if allocated < nbufs {
				buf = make([]byte, bufSize)
				allocated++
			} else {
				buf = <-free
			}
		}
		m, err := b.fill(buf)
		if m > 0 {
			work <- buf[:m]
			if werr := b.writePieces(w, buf[:m], &written); werr != nil {
				err = werr
			}
		}
		if err != nil {
			close(work)
			<-done
			if err == io.EOF {
				if err = b.finish(); err == io.EOF {
					return written, nil
				}
				return written, err
			}
			b.err = err
			return written, err
		}
	}
}

// writePieces writes p to w in writePiece pieces, adding to *written and
// reporting progress after each, counting the bytes a resumed download
// kept.
func (b *blobReader) writePieces(w io.Writer, p []byte, written *int64) error {
	for len(p) > 0 {
		n := min(len(p), writePiece)
		wn, err := w.Write(p[:n])
		*written += int64(wn)
		if b.progress != nil {
			b.progress(b.from + *written)
		}
		if err == nil && wn < n {
			err = io.ErrShortWrite
		}
		if err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}

// fill reads into buf until it is full or the blob ends.
func (b *blobReader) fill(buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := b.next(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (b *blobReader) Close() error {
	b.hashWait()
	if b.body != nil {
		return b.body.Close()
	}
	return nil
}
