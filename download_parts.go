package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// DefaultDownloadPartSize is the size of the byte ranges DownloadBlobTo
// fetches in parallel when DownloadBlobToOptions.PartSize is 0.
const DefaultDownloadPartSize = 32 << 20

// DefaultDownloadParts is the number of byte ranges DownloadBlobTo fetches
// at once when DownloadBlobToOptions.Parts is 0: one stream. On a near
// registry one stream, hashed while it is written, is the floor: receive,
// hash and write once, with the hashing on a second core. Parts add a
// request each and read the file back to hash it, and finished no sooner
// from a loopback registry (bench/blobget.sh). They win where one
// connection's throughput is bounded by its round trips: over a link of
// 20 ms with 2 MiB windows (BenchmarkDownloadBlobTo, 256 MiB, two runs),
// 4 parts were 1.7-2.4x as fast as one stream and 8 parts 2.5-3.3x; on
// loopback parts won in one run and lost by up to 28% in the other, and
// acrctl blob get from the reference registry took longer with 4 parts in
// each of 3 alternating runs.
const DefaultDownloadParts = 1

// DownloadBlobToOptions configures DownloadBlobTo.
type DownloadBlobToOptions struct {
	// Parts is the number of byte ranges fetched at once when dst is a
	// file (an io.WriterAt that is also an io.ReaderAt and an io.Seeker,
	// like an *os.File opened for reading and writing), the blob spans
	// more than one part and the registry serves ranges; otherwise the
	// blob comes in one stream. 0 means DefaultDownloadParts; 1 streams.
	Parts int
	// PartSize is the size of those ranges; 0 means
	// DefaultDownloadPartSize.
	PartSize int64
	// Progress, when set, is called with the number of bytes written so
	// far, after each write. With parts, calls come from several
	// goroutines, one at a time, with a count that only grows; keep it
	// quick, the parts wait for it.
	Progress func(done int64)
	// Size, when set, is called once with the blob's length as the
	// registry's answer announces it, before the first call to Progress,
	// so that a progress display needs no request of its own to learn it.
	// It is not called when the answer carries no length.
	Size func(size int64)
	// Resume continues a download that an earlier call left unfinished
	// in dst, after a failure, a cancelled context or a killed process,
	// as wget --continue and curl --continue-at - do. dst must then be a
	// file opened for reading and writing (an *os.File from os.OpenFile
	// with os.O_RDWR): its bytes from offset 0 to its end are taken as the
	// blob's first bytes and hashed again while the rest is asked for with
	// a Range request and appended. When the registry ignores the Range,
	// or the bytes are at least as many as the blob's, the file is
	// truncated and the whole blob downloaded; a file that already holds
	// the whole blob is verified and left as it is, with no transfer. A
	// digest mismatch truncates the file, so that the next call starts
	// over. Any other failure leaves it as it is, to resume from. With
	// Resume, Progress counts the kept bytes too and DownloadBlobTo
	// returns the blob's length in dst; Parts over 1 is refused, since
	// parts written out of order leave no prefix to resume from.
	Resume bool
	// Resumed, when set, is called once when Resume finds bytes in dst,
	// before the first call to Size or Progress, with what became of them.
	Resumed func(Resumption)
}

// DownloadBlobTo downloads a blob into dst and returns the number of bytes
// written, verified against d: the content is hashed while it is written,
// in writes of 32 KiB. A mismatch fails with ErrDigestMismatch after the
// bytes were written, so dst holds verified content only when the error is
// nil: write to a temporary file and rename it into place once
// DownloadBlobTo succeeds. After a dropped connection the download resumes
// from the byte it reached.
//
// When dst is a file and DownloadBlobToOptions.Parts is over 1, a blob
// larger than PartSize comes in that many byte ranges at once, written at
// their place from dst's current offset (which ends after the blob), each
// resuming on its own; the file is read back in order to hash it (a file
// that cannot be read, opened write-only, gets one stream instead). That
// wins on links whose round trips limit one connection's throughput; on a
// fast, near link one stream is as fast and does less work.
//
// With DownloadBlobToOptions.Resume, dst is a file that may hold the start
// of the blob from an earlier call, which the download continues.
func (c *Client) DownloadBlobTo(ctx context.Context, repo string, d digest.Digest, dst io.Writer, opts *DownloadBlobToOptions) (_ int64, err error) {
	ctx, endSpan := c.span(ctx, "Client.DownloadBlobTo")
	defer func() { endSpan(err) }()
	var o DownloadBlobToOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return 0, err
	}
	if err := checkDigest(d); err != nil {
		return 0, err
	}
	if o.Resume {
		f, ok := dst.(resumeFile)
		switch {
		case !ok:
			return 0, fmt.Errorf("acr: DownloadBlobTo of %s@%s with Resume: dst (%T) cannot be read back and truncated; pass a file opened for reading and writing (os.OpenFile with os.O_RDWR)", repo, d, dst)
		case o.Parts > 1:
			return 0, fmt.Errorf("acr: DownloadBlobTo of %s@%s: Resume and Parts %d cannot be combined: parts are written out of order, so an interrupted download leaves no prefix to resume from; set Parts to 0 or 1", repo, d, o.Parts)
		}
		return c.downloadResume(ctx, repo, d, f, o)
	}
	if o.Parts <= 0 {
		o.Parts = DefaultDownloadParts
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultDownloadPartSize
	}
	br := &blobReader{c: c, ctx: ctx, repo: repo, d: d, v: d.Verifier(), size: -1, progress: o.Progress}
	if f, ok := dst.(partsFile); ok && o.Parts > 1 && readable(f) {
		if base, err := f.Seek(0, io.SeekCurrent); err == nil {
			n, first, err := c.downloadRanges(ctx, repo, d, f, base, o)
			if first == nil {
				if err == nil {
					_, err = f.Seek(base+n, io.SeekStart)
				}
				return n, err
			}
			// Not worth parts: stream the answer in hand.
			br.size, br.body = first.ContentLength, first.Body
		}
	}
	if br.body == nil {
		if err := br.open(0); err != nil {
			return 0, err
		}
		if o.Size != nil && br.size >= 0 {
			o.Size(br.size)
		}
	}
	defer br.Close()
	return br.WriteTo(dst)
}

// maxDownloadParts bounds the parts of one download, so that a length the
// registry announces cannot size an allocation at will (8 bytes a part):
// 32 TiB in parts of DefaultDownloadPartSize, far beyond any registry's
// blob limit (ACR's is 200 GiB a layer).
const maxDownloadParts = 1 << 20

// partsFile is a destination that parts can be written into in any order
// and read back from to hash.
type partsFile interface {
	io.WriterAt
	io.ReaderAt
	io.Seeker
}

// readable reports whether f can be read back, as parts need for hashing:
// a file opened write-only cannot, and then one stream is used instead of
// failing after the whole download.
func readable(f io.ReaderAt) bool {
	_, err := f.ReadAt(make([]byte, 1), 0)
	return err == nil || err == io.EOF
}

// partPool recycles the pieces in which parts are written and read back.
var partPool = sync.Pool{New: func() any { return new([partBuf]byte) }}

// partBuf is the piece size in which parts are written and read back for
// hashing: writePiece, which says why.
const partBuf = writePiece

// rangeFile is one parallel ranged download into a file: parts are fetched
// by up to o.Parts connections and written where they belong, while one
// goroutine reads the file back in order, as far as it is written, and
// hashes it, since a digest cannot be computed out of order.
type rangeFile struct {
	c        *Client
	ctx      context.Context
	repo     string
	d        digest.Digest
	f        partsFile
	base     int64 // the file's offset of the blob's first byte
	total    int64
	part     int64
	progress func(int64)

	mu      sync.Mutex
	cond    *sync.Cond
	written []int64 // per part: bytes written from the part's start
	done    int64   // bytes written, for progress
	err     error   // first failure; ends every goroutine
}

// fail records the first error and wakes the hasher.
func (r *rangeFile) fail(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
	r.cond.Broadcast()
}

func (r *rangeFile) failed() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// bounds returns part k's first byte and its length.
func (r *rangeFile) bounds(k int) (int64, int64) {
	start := int64(k) * r.part
	return start, min(r.part, r.total-start)
}

// downloadRanges downloads d into f in parallel ranges when the registry
// serves ranges and the blob spans more than one part. It asks for the
// whole blob first, as a streamed download does, so that small blobs take
// one plain request: when the answer announces more than one part and
// Accept-Ranges: bytes, the first part comes from that response, which is
// then closed, and the others from range requests. Otherwise it returns
// the registry's answer, having written nothing, for the caller to stream.
func (c *Client) downloadRanges(ctx context.Context, repo string, d digest.Digest, f partsFile, base int64, o DownloadBlobToOptions) (int64, *http.Response, error) {
	part := o.PartSize
	first, err := c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "pull")})
	if err != nil {
		return 0, nil, err
	}
	total := first.ContentLength
	if o.Size != nil && total >= 0 && first.StatusCode == http.StatusOK {
		o.Size(total)
	}
	if total <= part || first.StatusCode != http.StatusOK || first.Header.Get("Accept-Ranges") != "bytes" {
		return 0, first, nil
	}
	// The length is the registry's word: check it before it sizes
	// anything (total+part-1 would overflow near 2^63).
	nparts64 := (total-1)/part + 1
	switch {
	case total > math.MaxInt64-base:
		first.Body.Close()
		return 0, nil, fmt.Errorf("acr: download of %s@%s: the registry announced a blob of %d bytes, more than a file can hold after offset %d", repo, d, total, base)
	case nparts64 > maxDownloadParts:
		first.Body.Close()
		return 0, nil, fmt.Errorf("acr: download of %s@%s: the registry announced a blob of %d bytes, which would take %d parts of %d bytes, over the limit of %d; set a larger PartSize, or Parts 1 to stream it",
			repo, d, total, nparts64, part, maxDownloadParts)
	}
	nparts := int(nparts64)
	r := &rangeFile{c: c, ctx: ctx, repo: repo, d: d, f: f, base: base, total: total, part: part, progress: o.Progress}
	r.cond = sync.NewCond(&r.mu)
	r.written = make([]int64, nparts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctx = ctx

	var wg sync.WaitGroup
	next := make(chan int)
	workers := min(o.Parts, nparts)
	for w := range workers {
		wg.Go(func() {
			if w == 0 {
				if err := r.fetch(0, first); err != nil {
					r.fail(err)
					return
				}
			}
			for k := range next {
				if err := r.fetch(k, nil); err != nil {
					r.fail(err)
					return
				}
			}
		})
	}
	wg.Go(func() {
		defer close(next)
		for k := 1; k < nparts; k++ {
			select {
			case next <- k:
			case <-ctx.Done():
				return
			}
		}
	})
	v := d.Verifier()
	if err := r.hash(v); err != nil {
		r.fail(err)
	}
	cancel()
	wg.Wait()
	if err := r.failed(); err != nil {
		return 0, nil, err
	}
	if !v.Verified() {
		return total, nil, fmt.Errorf("%w: %s@%s: the %d bytes received hash to another digest", ErrDigestMismatch, repo, d, total)
	}
	return total, nil, nil
}

// getRange asks for length bytes of d from byte start.
func (c *Client) getRange(ctx context.Context, repo string, d digest.Digest, start, length int64) (*http.Response, error) {
	return c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "pull"),
		header: http.Header{"Range": {"bytes=" + strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start+length-1, 10)}},
		ok:     []int{http.StatusOK, http.StatusPartialContent}})
}

// rangeTotal checks that a 206 answer starts at byte start and returns the
// blob's total size from its Content-Range.
func rangeTotal(resp *http.Response, start int64) (int64, error) {
	cr := resp.Header.Get("Content-Range")
	first, _, total, err := spec.ParseContentRange(cr)
	switch {
	case err != nil:
		return 0, fmt.Errorf("the registry answered an unreadable Content-Range for a range from byte %d: %w", start, err)
	case first != start:
		return 0, fmt.Errorf("the registry answered Content-Range %q for a range from byte %d", cr, start)
	case total < 0:
		return 0, fmt.Errorf("the registry answered Content-Range %q, without the blob's size", cr)
	}
	return total, nil
}

// fetch downloads part k into the file, resuming after dropped connections;
// head, when not nil, is a response carrying the whole blob from byte 0, of
// which part k (0) is read before it is closed.
func (r *rangeFile) fetch(k int, head *http.Response) error {
	start, length := r.bounds(k)
	buf := partPool.Get().(*[partBuf]byte)
	defer partPool.Put(buf)
	done := int64(0)
	resp := head
	for resumes := 0; ; resumes++ {
		if resp == nil {
			var err error
			if resp, err = r.c.getRange(r.ctx, r.repo, r.d, start+done, length-done); err != nil {
				return err
			}
			if resp.StatusCode != http.StatusPartialContent {
				resp.Body.Close()
				return fmt.Errorf("acr: download of %s@%s: the registry ignored the Range request for bytes %d-%d and sent the whole blob",
					r.repo, r.d, start+done, start+length-1)
			}
			if total, err := rangeTotal(resp, start+done); err != nil || total != r.total {
				resp.Body.Close()
				if err == nil {
					err = fmt.Errorf("the blob's size changed from %d to %d bytes", r.total, total)
				}
				return fmt.Errorf("acr: download of %s@%s: %w", r.repo, r.d, err)
			}
		}
		err := r.copyPart(k, resp.Body, start, length, &done, buf, resp == head)
		resp.Body.Close()
		resp = nil
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrDigestMismatch), r.ctx.Err() != nil, resumes == maxResumes:
			return err
		}
	}
}

// copyPart writes body to the file at part k's place from *done on,
// publishing progress to the hasher. A body that ends early returns an
// error to resume from; one that runs past the part's end is a lie, unless
// it is the head response, which goes on with the next parts.
func (r *rangeFile) copyPart(k int, body io.Reader, start, length int64, done *int64, buf *[partBuf]byte, head bool) error {
	for *done < length {
		want := min(int64(partBuf), length-*done)
		n, err := io.ReadFull(body, buf[:want])
		if n > 0 {
			if _, werr := r.f.WriteAt(buf[:n], r.base+start+*done); werr != nil {
				return fmt.Errorf("acr: download of %s@%s: writing: %w", r.repo, r.d, werr)
			}
			*done += int64(n)
			if *done < length || head {
				r.publish(k, *done)
			}
		}
		if err != nil {
			if *done == length && errors.Is(err, io.ErrUnexpectedEOF) {
				break
			}
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("acr: download of %s@%s broke in bytes %d-%d after %d of them: %w", r.repo, r.d, start, start+length-1, *done, err)
		}
	}
	if head {
		return nil
	}
	// The part is complete: anything more is more than was asked for. The
	// part's last piece is published to the hasher only after this check,
	// so that the hasher cannot finish, and cancel the context under this
	// read, before the check has seen the end of the body.
	if n, _ := body.Read(buf[:1]); n > 0 {
		return fmt.Errorf("%w: %s@%s: the registry sent more than the %d bytes of range %d-%d", ErrDigestMismatch, r.repo, r.d, length, start, start+length-1)
	}
	r.publish(k, *done)
	return nil
}

// publish tells the hasher that part k holds done bytes from its start.
func (r *rangeFile) publish(k int, done int64) {
	r.mu.Lock()
	r.done += done - r.written[k]
	r.written[k] = done
	if r.progress != nil {
		r.progress(r.done)
	}
	r.mu.Unlock()
	r.cond.Broadcast()
}

// hash reads the file back in order as far as it is written and feeds v.
func (r *rangeFile) hash(v digest.Verifier) error {
	buf := partPool.Get().(*[partBuf]byte)
	defer partPool.Put(buf)
	for k := range r.written {
		start, length := r.bounds(k)
		for pos := int64(0); pos < length; {
			r.mu.Lock()
			for r.written[k] <= pos && r.err == nil {
				r.cond.Wait()
			}
			avail, err := r.written[k], r.err
			r.mu.Unlock()
			if err != nil {
				return err
			}
			for pos < avail {
				n := min(int64(partBuf), avail-pos)
				if _, err := r.f.ReadAt(buf[:n], r.base+start+pos); err != nil {
					return fmt.Errorf("acr: download of %s@%s: reading back: %w", r.repo, r.d, err)
				}
				v.Write(buf[:n])
				pos += n
			}
		}
	}
	return nil
}
