package acr

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// downloadRange is DownloadBlob for a byte range: one ranged GET, whose
// bytes are checked against the Content-Range the registry answers. A
// registry that ignores Range and sends the whole blob is read past the
// offset.
func (c *Client) downloadRange(ctx context.Context, repo string, d digest.Digest, o DownloadBlobOptions) (io.ReadCloser, error) {
	offset, length := o.Offset, o.Length
	if offset < 0 || length < 0 || offset > 1<<62 || length > 1<<62 {
		return nil, fmt.Errorf("acr: DownloadBlob of %s@%s: Offset %d and Length %d: want Offset >= 0 and Length >= 0 (0: to the end)", repo, d, offset, length)
	}
	rg := "bytes=" + strconv.FormatInt(offset, 10) + "-"
	last := int64(-1) // open-ended
	if length > 0 {
		last = offset + length - 1
		rg += strconv.FormatInt(last, 10)
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "pull"),
		header: http.Header{"Range": {rg}},
		ok:     []int{http.StatusPartialContent, http.StatusOK}})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		// The whole blob: skip to offset and stop after length bytes.
		if _, err := io.CopyN(io.Discard, resp.Body, offset); err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("acr: %s@%s has no byte at offset %d (the registry sent the whole blob, which ended first): %w",
				repo, d, offset, err)
		}
		var r io.Reader = resp.Body
		if length > 0 {
			r = io.LimitReader(resp.Body, length)
		}
		return readCloser{progressReader{r: r, f: o.Progress}.wrap(), resp.Body}, nil
	}
	first, end, _, err := spec.ParseContentRange(resp.Header.Get("Content-Range"))
	if err != nil || first != offset || (last >= 0 && end > last) || end < first {
		resp.Body.Close()
		return nil, fmt.Errorf("acr: %s@%s: the registry answered Content-Range %q for %s",
			repo, d, resp.Header.Get("Content-Range"), rg)
	}
	rr := &rangeReader{r: resp.Body, left: end - first + 1, what: fmt.Sprintf("%s@%s bytes %d-%d", repo, d, first, end)}
	return readCloser{progressReader{r: rr, f: o.Progress}.wrap(), resp.Body}, nil
}

// progressReader tells f the running total after each read.
type progressReader struct {
	r io.Reader
	f func(int64)
	n int64
}

// wrap returns r itself when there is no f to tell.
func (p progressReader) wrap() io.Reader {
	if p.f == nil {
		return p.r
	}
	return &p
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.n += int64(n)
		p.f(p.n)
	}
	return n, err
}

// rangeReader delivers exactly the left bytes a Content-Range announced,
// and fails when the body ends early or goes on after them.
type rangeReader struct {
	r    io.Reader
	left int64
	what string
	err  error
}

func (e *rangeReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		var one [1]byte
		if n, _ := io.ReadAtLeast(e.r, one[:], 1); n > 0 {
			e.err = fmt.Errorf("acr: %s: the registry sent more bytes than its Content-Range announced", e.what)
			return 0, e.err
		}
		e.err = io.EOF
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF && e.left > 0 {
		err = fmt.Errorf("acr: %s: the body ended %d bytes short of its Content-Range: %w", e.what, e.left, io.ErrUnexpectedEOF)
	}
	if err == io.EOF {
		err = nil
	}
	if err != nil {
		e.err = err
	}
	return n, err
}

// readCloser reads from one reader and closes another.
type readCloser struct {
	io.Reader
	io.Closer
}
