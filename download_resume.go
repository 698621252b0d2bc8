package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// Resumption says what a download with DownloadBlobToOptions.Resume did
// with the bytes its destination already held.
type Resumption struct {
	// Kept is the number of bytes kept as the start of the blob: they
	// were hashed again from the file, not transferred again.
	Kept int64
	// Discarded is the number of bytes that could not be used and were
	// truncated away before the whole blob was downloaded; 0 when they
	// were kept.
	Discarded int64
	// Reason says, in a clause fit to follow "discarded N bytes: ", why
	// the bytes were discarded; empty when they were kept.
	Reason string
	// Size is the blob's length as the registry's answer announced it (or
	// Kept, when the bytes kept were the whole blob); -1 when unknown.
	Size int64
}

// resumeFile is a destination that a download can resume into: its bytes
// are read back to hash them, and it is truncated when they are of no use.
// An *os.File opened for reading and writing is one.
type resumeFile interface {
	io.Writer
	io.ReaderAt
	io.Seeker
	Truncate(size int64) error
}

// resumeHashBuf is the size of the reads that hash a kept prefix again:
// large, since the file is usually in the page cache and hashing, not
// reading, is then the cost.
const resumeHashBuf = 1 << 20

// downloadResume is DownloadBlobTo with Resume. The decisions, and why:
//
//   - The bytes dst holds, from offset 0 to its end, are the kept prefix:
//     a download appends in order (one stream, never parts), so a run that
//     died left exactly a prefix, whatever killed it. The caller keeps the
//     file between runs, under a name of its choosing that records the
//     digest (acrctl blob get --continue uses .NAME.partial-HEX12).
//   - The prefix is hashed again rather than trusting a saved hash state:
//     Go's hash states can be marshaled, but not portably across versions
//     or algorithms' implementations, and rereading a local file runs at
//     the hash's speed. It is hashed while the rest is requested and
//     written, by a goroutine that then follows the new bytes into the
//     file and reads them back to hash them, as parts do: a resume takes
//     as long as the longer of hashing the whole blob and receiving the
//     rest, not their sum (BenchmarkDownloadBlobToResume).
//   - The rest is asked for with Range: bytes=N-. A 206 must say
//     Content-Range: bytes N-LAST/TOTAL; a 200 (Range ignored), a 416
//     (the file is at least as long as the blob) or a 206 from another
//     byte makes the download start over: dst is truncated and the whole
//     blob comes, from the 200 answer in hand when there is one. A 416 to
//     a file that hashes to d is the finished download, as curl -C -
//     takes it: nothing more is transferred. The caller learns what
//     became of the bytes through Resumed, not an error, since the result
//     is verified content either way.
//   - The digest is checked over the whole blob, kept bytes included. A
//     mismatch truncates dst, so that a retry starts over instead of
//     failing on the same bad prefix forever, and fails with
//     ErrDigestMismatch: whether the kept bytes or the new ones were
//     wrong cannot be told, and downloading the whole blob again without
//     being asked would double the transfer from a registry that may be
//     serving bad content.
//   - Any other failure (a broken connection after the in-process
//     resumes, a cancelled context) leaves dst as it is: a prefix for the
//     next call.
func (c *Client) downloadResume(ctx context.Context, repo string, d digest.Digest, f resumeFile, o DownloadBlobToOptions) (int64, error) {
	held, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, fmt.Errorf("acr: resuming %s@%s: finding the end of the partial file: %w", repo, d, err)
	}
	br := &blobReader{c: c, ctx: ctx, repo: repo, d: d, v: d.Verifier(), size: -1, progress: o.Progress}
	defer br.Close()
	if held == 0 {
		return c.downloadWhole(br, f, o, nil)
	}
	if _, err := f.ReadAt(make([]byte, 1), 0); err != nil {
		return 0, fmt.Errorf("acr: resuming %s@%s: reading the %d bytes kept from an earlier download: %w (open the file for reading and writing, os.O_RDWR)", repo, d, held, err)
	}
	v := d.Verifier()
	h := followHash(f, held, v)
	defer h.stop()
	status, reason, err := br.openFrom(held)
	if err != nil {
		return 0, err
	}
	if reason == "" {
		if o.Resumed != nil {
			o.Resumed(Resumption{Kept: held, Size: br.size})
		}
		if o.Size != nil {
			o.Size(br.size)
		}
		// The follower hashes; br only checks the length.
		br.noVerify = true
		n, err := br.WriteTo(&followWriter{w: f, h: h, pos: held})
		if err == nil {
			if err = h.finish(held + n); err == nil && !v.Verified() {
				err = fmt.Errorf("%w: %s@%s: the %d bytes kept from an earlier download and the %d received hash to another digest", ErrDigestMismatch, repo, d, held, n)
			}
		}
		return held + n, c.resumeFailed(f, err, held)
	}
	// A 416, or a 200 with the file's length, may come for a file that
	// holds the whole blob already: a download that ended before its
	// rename.
	if status == http.StatusRequestedRangeNotSatisfiable || (status == http.StatusOK && br.size == held) {
		if err := h.finish(held); err == nil && v.Verified() {
			if o.Resumed != nil {
				o.Resumed(Resumption{Kept: held, Size: held})
			}
			if o.Size != nil {
				o.Size(held)
			}
			if o.Progress != nil {
				o.Progress(held)
			}
			return held, nil
		}
		if status == http.StatusRequestedRangeNotSatisfiable {
			reason += " and do not hash to its digest"
		}
	}
	h.stop()
	if err := rewind(f); err != nil {
		return 0, fmt.Errorf("acr: resuming %s@%s: %s, and the partial file could not be truncated to start over: %w", repo, d, reason, err)
	}
	return c.downloadWhole(br, f, o, &Resumption{Discarded: held, Reason: reason})
}

// downloadWhole is downloadResume from byte 0, into an empty f: with br's
// answer in hand (a 200 to a Range) or a new request. note, when not nil,
// tells Resumed what became of the bytes f held.
func (c *Client) downloadWhole(br *blobReader, f resumeFile, o DownloadBlobToOptions, note *Resumption) (int64, error) {
	if br.body == nil {
		if err := br.open(0); err != nil {
			if note != nil && o.Resumed != nil {
				note.Size = -1
				o.Resumed(*note) // the bytes are gone even so
			}
			return 0, err
		}
	}
	if note != nil && o.Resumed != nil {
		note.Size = br.size
		o.Resumed(*note)
	}
	if o.Size != nil && br.size >= 0 {
		o.Size(br.size)
	}
	n, err := br.WriteTo(f)
	return n, c.resumeFailed(f, err, 0)
}

// resumeFailed returns err, after truncating f when it is a digest
// mismatch, so that the next call starts over; kept is the number of
// bytes that came from an earlier download.
func (c *Client) resumeFailed(f resumeFile, err error, kept int64) error {
	if !errors.Is(err, ErrDigestMismatch) {
		return err
	}
	if terr := rewind(f); terr != nil {
		return fmt.Errorf("%w; the partial file could not be truncated (%v): delete it before downloading again", err, terr)
	}
	if kept > 0 {
		return fmt.Errorf("%w (either the kept bytes or the new ones are wrong); the partial file was truncated: download again to fetch the whole blob", err)
	}
	return fmt.Errorf("%w; the partial file was truncated: download again", err)
}

// follower hashes a file in order while it grows: first the bytes it
// holds, then those written after them, read back as they come.
type follower struct {
	f    io.ReaderAt
	v    io.Writer
	mu   sync.Mutex
	cond *sync.Cond
	// written is how far f holds the blob; end, once known (>= 0), where
	// hashing stops; quit ends the goroutine early.
	written, end int64
	quit         bool
	err          error
	done         chan struct{}
}

// followHash starts hashing f into v from byte 0, the first held bytes
// at once and the rest as advance announces them.
func followHash(f io.ReaderAt, held int64, v io.Writer) *follower {
	h := &follower{f: f, v: v, written: held, end: -1, done: make(chan struct{})}
	h.cond = sync.NewCond(&h.mu)
	go h.run()
	return h
}

func (h *follower) run() {
	defer close(h.done)
	buf := make([]byte, resumeHashBuf)
	for pos := int64(0); ; {
		h.mu.Lock()
		for pos >= h.written && !h.quit && pos != h.end {
			h.cond.Wait()
		}
		avail, quit, end := h.written, h.quit, h.end
		h.mu.Unlock()
		if quit || pos == end {
			return
		}
		for pos < avail {
			if h.quitting() {
				return
			}
			n := min(int64(len(buf)), avail-pos)
			if _, err := h.f.ReadAt(buf[:n], pos); err != nil {
				h.mu.Lock()
				h.err = fmt.Errorf("reading back the partial file: %w", err)
				h.mu.Unlock()
				return
			}
			h.v.Write(buf[:n])
			pos += n
		}
	}
}

// quitting reports whether stop was called, so that an interrupted
// download does not wait for a long prefix to be hashed.
func (h *follower) quitting() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.quit
}

// advance announces that f holds the blob up to byte n.
func (h *follower) advance(n int64) {
	h.mu.Lock()
	h.written = n
	h.mu.Unlock()
	h.cond.Signal()
}

// finish waits for the hashing of the blob's first end bytes, which f
// holds, and returns what went wrong reading them.
func (h *follower) finish(end int64) error {
	h.mu.Lock()
	h.end, h.written = end, max(h.written, end)
	h.mu.Unlock()
	h.cond.Signal()
	<-h.done
	return h.err
}

// stop ends the hashing, if it is still running, and waits for it.
func (h *follower) stop() {
	h.mu.Lock()
	h.quit = true
	h.mu.Unlock()
	h.cond.Signal()
	<-h.done
}

// followWriter writes to w and tells h how far w holds the blob.
type followWriter struct {
	w   io.Writer
	h   *follower
	pos int64
}

func (fw *followWriter) Write(p []byte) (int, error) {
	n, err := fw.w.Write(p)
	fw.pos += int64(n)
	fw.h.advance(fw.pos)
	return n, err
}

// rewind empties f and moves its offset to 0, for a download that starts
// over.
func rewind(f resumeFile) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.Seek(0, io.SeekStart)
	return err
}

// openFrom asks for the blob from byte from, which dst already holds the
// bytes before, and sets b up to deliver the rest. When the answer cannot
// continue them it returns why, having set b up to deliver the whole blob
// (a 200) or nothing (b.body nil: open from 0).
func (b *blobReader) openFrom(from int64) (status int, restart string, err error) {
	resp, err := b.c.do(b.ctx, request{method: http.MethodGet, path: v2Path(b.repo, "blobs", b.d.String()), scope: scopeRepo(b.repo, "pull"),
		header: http.Header{"Range": {"bytes=" + strconv.FormatInt(from, 10) + "-"}},
		ok:     []int{http.StatusPartialContent, http.StatusOK, http.StatusRequestedRangeNotSatisfiable}})
	if err != nil {
		return 0, "", err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		b.size, b.body = resp.ContentLength, resp.Body
		return resp.StatusCode, fmt.Sprintf("the registry ignored the Range request for the bytes from %d and sent the whole blob (200, not 206)", from), nil
	case http.StatusRequestedRangeNotSatisfiable:
		cr := resp.Header.Get("Content-Range")
		resp.Body.Close()
		return resp.StatusCode, fmt.Sprintf("they are at least as many as the blob has (the registry answered 416 Range Not Satisfiable, Content-Range %q)", cr), nil
	}
	cr := resp.Header.Get("Content-Range")
	first, _, total, perr := spec.ParseContentRange(cr)
	if perr != nil || first != from || total < 0 {
		resp.Body.Close()
		return resp.StatusCode, fmt.Sprintf("the registry answered Content-Range %q to a request for the bytes from %d", cr, from), nil
	}
	b.size, b.n, b.from, b.body = total, from, from, resp.Body
	return resp.StatusCode, "", nil
}
