package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

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
//     the hash's speed, far faster than the link that the resume spares.
//   - A prefix that already hashes to d is the whole blob: nothing is
//     requested (as curl -C - finishes on a 416 for a complete file).
//   - The rest is asked for with Range: bytes=N-. A 206 must say
//     Content-Range: bytes N-LAST/TOTAL; a 200 (Range ignored), a 416
//     (the file is at least as long as the blob, yet not it) or a 206 from
//     another byte makes the download start over: dst is truncated and the
//     whole blob comes, from the 200 answer in hand when there is one. The
//     caller learns it through Resumed, not an error, since the result is
//     still verified content.
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
	v := d.Verifier()
	if held > 0 {
		if err := hashPrefix(ctx, f, held, v); err != nil {
			return 0, fmt.Errorf("acr: resuming %s@%s: hashing the %d bytes kept from an earlier download: %w (open the file for reading and writing, os.O_RDWR)", repo, d, held, err)
		}
		if v.Verified() {
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
	}
	br := &blobReader{c: c, ctx: ctx, repo: repo, d: d, v: v, size: -1, progress: o.Progress}
	defer br.Close()
	var note *Resumption
	if held > 0 {
		reason, err := br.openFrom(held)
		if err != nil {
			return 0, err
		}
		note = &Resumption{Kept: held}
		if reason != "" {
			if err := rewind(f); err != nil {
				return 0, fmt.Errorf("acr: resuming %s@%s: %s, and the partial file could not be truncated to start over: %w", repo, d, reason, err)
			}
			br.v = d.Verifier()
			note = &Resumption{Discarded: held, Reason: reason}
		}
	}
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
	if errors.Is(err, ErrDigestMismatch) {
		if terr := rewind(f); terr != nil {
			return br.from + n, fmt.Errorf("%w; the partial file could not be truncated (%v): delete it before downloading again", err, terr)
		}
		if br.from > 0 {
			return br.from + n, fmt.Errorf("%w (%d of those bytes were kept from an earlier download, and either they or the new ones are wrong); the partial file was truncated: download again to fetch the whole blob", err, br.from)
		}
		return br.from + n, fmt.Errorf("%w; the partial file was truncated: download again", err)
	}
	return br.from + n, err
}

// hashPrefix feeds the first n bytes of f to v.
func hashPrefix(ctx context.Context, f io.ReaderAt, n int64, v io.Writer) error {
	buf := make([]byte, min(n, resumeHashBuf))
	for off := int64(0); off < n; {
		if err := ctx.Err(); err != nil {
			return err
		}
		m := min(int64(len(buf)), n-off)
		if _, err := f.ReadAt(buf[:m], off); err != nil {
			return err
		}
		v.Write(buf[:m])
		off += m
	}
	return nil
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
func (b *blobReader) openFrom(from int64) (restart string, err error) {
	resp, err := b.c.do(b.ctx, request{method: http.MethodGet, path: v2Path(b.repo, "blobs", b.d.String()), scope: scopeRepo(b.repo, "pull"),
		header: http.Header{"Range": {"bytes=" + strconv.FormatInt(from, 10) + "-"}},
		ok:     []int{http.StatusPartialContent, http.StatusOK, http.StatusRequestedRangeNotSatisfiable}})
	if err != nil {
		return "", err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		b.size, b.body = resp.ContentLength, resp.Body
		return fmt.Sprintf("the registry ignored the Range request for the bytes from %d and sent the whole blob (200, not 206)", from), nil
	case http.StatusRequestedRangeNotSatisfiable:
		cr := resp.Header.Get("Content-Range")
		resp.Body.Close()
		return fmt.Sprintf("they are at least as many as the blob has (the registry answered 416 Range Not Satisfiable, Content-Range %q) and do not hash to its digest", cr), nil
	}
	cr := resp.Header.Get("Content-Range")
	first, _, total, perr := spec.ParseContentRange(cr)
	if perr != nil || first != from || total < 0 {
		resp.Body.Close()
		return fmt.Sprintf("the registry answered Content-Range %q to a request for the bytes from %d", cr, from), nil
	}
	b.size, b.n, b.from, b.body = total, from, from, resp.Body
	return "", nil
}
