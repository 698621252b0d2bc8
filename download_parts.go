package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// DefaultDownloadPartSize is the size of the byte ranges DownloadBlobTo
// fetches in parallel when ClientOptions.DownloadPartSize is 0.
const DefaultDownloadPartSize = 32 << 20

// partBuf is the piece size in which parts are written and read back for
// hashing.
const partBuf = 1 << 20

var partPool = sync.Pool{New: func() any { return new([partBuf]byte) }}

// rangeFile is one parallel ranged download into a file: parts are fetched
// by up to c.downloadParts connections and written where they belong, while
// one goroutine reads the file back in order, as far as it is written, and
// hashes it, since a digest cannot be computed out of order.
type rangeFile struct {
	c     *Client
	ctx   context.Context
	repo  string
	d     digest.Digest
	f     *os.File
	total int64
	part  int64

	mu      sync.Mutex
	cond    *sync.Cond
	written []int64 // per part: bytes written from the part's start
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
// handled=false, having written nothing, and resp, the registry's answer,
// for the caller to stream.
func (c *Client) downloadRanges(ctx context.Context, repo string, d digest.Digest, f *os.File) (n int64, handled bool, resp *http.Response, err error) {
	part := c.downloadPartSize
	first, err := c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "pull")})
	if err != nil {
		return 0, true, nil, err
	}
	total := first.ContentLength
	if total <= part || first.StatusCode != http.StatusOK || first.Header.Get("Accept-Ranges") != "bytes" {
		return 0, false, first, nil
	}
	r := &rangeFile{c: c, ctx: ctx, repo: repo, d: d, f: f, total: total, part: part}
	r.cond = sync.NewCond(&r.mu)
	nparts := int((total + part - 1) / part)
	r.written = make([]int64, nparts)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.ctx = ctx

	var wg sync.WaitGroup
	next := make(chan int)
	workers := min(c.downloadParts, nparts)
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
		return 0, true, nil, err
	}
	if !v.Verified() {
		return 0, true, nil, fmt.Errorf("%w: %s@%s: the %d bytes received hash to another digest", ErrDigestMismatch, repo, d, total)
	}
	return total, true, nil, nil
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
			if _, werr := r.f.WriteAt(buf[:n], start+*done); werr != nil {
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
	r.written[k] = done
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
				if _, err := r.f.ReadAt(buf[:n], start+pos); err != nil {
					return fmt.Errorf("acr: download of %s@%s: reading back: %w", r.repo, r.d, err)
				}
				v.Write(buf[:n])
				pos += n
			}
		}
	}
	return nil
}
