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

// DownloadBlobRange streams up to length bytes of a blob from offset, with
// one ranged GET, as the Go SDK's GetChunk does: for reading a header or an
// index inside a large layer, or splitting a download across processes.
// Fewer bytes come when the blob ends first; an offset at or past the end
// fails. The bytes are checked against the range the registry says it sent,
// but not against the digest, which only the whole blob can be: use
// DownloadBlob or DownloadBlobTo for verified content. A registry that
// ignores Range and sends the whole blob is read past offset. The caller
// closes the reader.
func (c *Client) DownloadBlobRange(ctx context.Context, repo string, d digest.Digest, offset, length int64) (_ io.ReadCloser, err error) {
	ctx, endSpan := c.span(ctx, "Client.DownloadBlobRange")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	if offset < 0 || length <= 0 || offset > 1<<62 || length > 1<<62 {
		return nil, fmt.Errorf("acr: DownloadBlobRange: offset %d and length %d: want offset >= 0 and length > 0", offset, length)
	}
	last := offset + length - 1
	resp, err := c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "pull"),
		header: http.Header{"Range": {"bytes=" + strconv.FormatInt(offset, 10) + "-" + strconv.FormatInt(last, 10)}},
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
		return readCloser{io.LimitReader(resp.Body, length), resp.Body}, nil
	}
	first, end, _, err := spec.ParseContentRange(resp.Header.Get("Content-Range"))
	if err != nil || first != offset || end > last || end < first {
		resp.Body.Close()
		return nil, fmt.Errorf("acr: %s@%s: the registry answered Content-Range %q for bytes %d-%d",
			repo, d, resp.Header.Get("Content-Range"), offset, last)
	}
	return readCloser{&rangeReader{r: resp.Body, left: end - first + 1, what: fmt.Sprintf("%s@%s bytes %d-%d", repo, d, first, end)}, resp.Body}, nil
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
