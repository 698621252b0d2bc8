package acr

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultChunkSize is the upload chunk size when UploadBlobOptions leaves it
// unset: large enough that per-request costs vanish at loopback speed, small
// enough to bound memory and the bytes resent after a dropped connection.
const DefaultChunkSize = 32 << 20

// maxResumes bounds how often one upload or download resumes after dropped
// connections.
const maxResumes = 8

// UploadBlobOptions configures UploadBlob.
type UploadBlobOptions struct {
	// MediaType goes into the returned descriptor; the default is
	// application/octet-stream.
	MediaType string
	// ChunkSize is the size of each PATCH; 0 means DefaultChunkSize. The
	// registry's OCI-Chunk-Min-Length raises it.
	ChunkSize int64
	// Progress, when set, is called with the number of bytes the registry
	// has acknowledged so far.
	Progress func(done int64)
}

// UploadBlob uploads the content of r to repo in one pass, hashing as it
// sends, and returns its descriptor. Content that fits in one chunk goes in
// one monolithic PUT; larger content goes in chunks (PATCH with
// Content-Range), each hashed while it is sent. After a dropped connection
// it asks the registry how much arrived and resends only the rest of the
// chunk in hand. Memory use is bounded by the chunk size, whatever the
// blob's size. OCI distribution spec: "Pushing a blob in chunks".
func (c *Client) UploadBlob(ctx context.Context, repo string, r io.Reader, opts *UploadBlobOptions) (ocispec.Descriptor, error) {
	var o UploadBlobOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return ocispec.Descriptor{}, err
	}
	if o.MediaType == "" {
		o.MediaType = "application/octet-stream"
	}
	loc, minChunk, err := c.startUpload(ctx, repo)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	chunk := o.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	chunk = max(chunk, minChunk)
	buf := make([]byte, chunk)
	h := sha256.New()
	var offset int64
	for first := true; ; first = false {
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			c.cancelUpload(loc)
			return ocispec.Descriptor{}, fmt.Errorf("acr: upload to %s: reading the content: %w", repo, rerr)
		}
		last := rerr != nil
		if first && last {
			// Everything fits in one chunk: one monolithic PUT.
			h.Write(buf[:n])
			d := digest.NewDigest(digest.SHA256, h)
			if err := c.putUpload(ctx, repo, loc, d, buf[:n], 0); err != nil {
				return ocispec.Descriptor{}, err
			}
			if o.Progress != nil {
				o.Progress(int64(n))
			}
			return ocispec.Descriptor{MediaType: o.MediaType, Digest: d, Size: int64(n)}, nil
		}
		if n > 0 {
			// Hash the chunk while it is being sent: both only read buf.
			hashed := make(chan struct{})
			go func(p []byte) { h.Write(p); close(hashed) }(buf[:n])
			loc, err = c.patchChunk(ctx, repo, loc, buf[:n], offset)
			<-hashed
			if err != nil {
				c.cancelUpload(loc)
				return ocispec.Descriptor{}, err
			}
			offset += int64(n)
			if o.Progress != nil {
				o.Progress(offset)
			}
		}
		if last {
			break
		}
	}
	d := digest.NewDigest(digest.SHA256, h)
	if err := c.putUpload(ctx, repo, loc, d, nil, offset); err != nil {
		return ocispec.Descriptor{}, err
	}
	return ocispec.Descriptor{MediaType: o.MediaType, Digest: d, Size: offset}, nil
}

// startUpload opens an upload session and returns its absolute Location
// and the registry's minimum chunk length.
func (c *Client) startUpload(ctx context.Context, repo string) (*url.URL, int64, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: v2Path(repo, "blobs", "uploads") + "/", scope: scopeRepo(repo, "pull,push"),
		ok: []int{http.StatusAccepted}})
	if err != nil {
		return nil, 0, err
	}
	resp.Body.Close()
	loc, err := c.location(resp)
	if err != nil {
		return nil, 0, err
	}
	minChunk, _ := strconv.ParseInt(resp.Header.Get(spec.HeaderChunkMinLength), 10, 64)
	return loc, max(minChunk, 0), nil
}

// location resolves a response's Location against the request URL. A
// Location on another origin is refused: credentials must not follow it,
// and an upload there would leave the registry's view.
func (c *Client) location(resp *http.Response) (*url.URL, error) {
	l := resp.Header.Get("Location")
	if l == "" {
		return nil, fmt.Errorf("acr: %s answered %s %s without a Location", c.host, resp.Request.Method, redactURL(resp.Request.URL))
	}
	u, err := resp.Request.URL.Parse(l)
	if err != nil {
		return nil, fmt.Errorf("acr: %s sent an upload Location that does not parse", c.host)
	}
	if u.Scheme != c.endpoint.Scheme || u.Host != c.endpoint.Host {
		return nil, fmt.Errorf("acr: %s sent an upload Location on another origin (%s://%s); refusing to send content or credentials there", c.host, u.Scheme, u.Host)
	}
	return u, nil
}

// patchChunk sends data, which starts at offset in the blob, and returns
// the session's next Location. On a dropped connection it asks the session
// for the offset the registry holds and sends the rest.
func (c *Client) patchChunk(ctx context.Context, repo string, loc *url.URL, data []byte, offset int64) (*url.URL, error) {
	sent := int64(0) // bytes of data the registry holds
	for attempt := 0; ; attempt++ {
		part := data[sent:]
		start := offset + sent
		resp, err := c.doURL(ctx, loc, request{method: http.MethodPatch, body: part, scope: scopeRepo(repo, "pull,push"),
			header: http.Header{"Content-Type": {"application/octet-stream"},
				"Content-Range": {strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start+int64(len(part))-1, 10)}},
			ok: []int{http.StatusAccepted, http.StatusNoContent, http.StatusCreated}})
		if err == nil {
			resp.Body.Close()
			return c.location(resp)
		}
		if ctx.Err() != nil || attempt == maxResumes {
			return loc, err
		}
		var re *ResponseError
		if errors.As(err, &re) && re.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			return loc, err // the registry refused the chunk itself
		}
		held, nloc, serr := c.uploadStatus(ctx, repo, loc)
		if serr != nil {
			return loc, fmt.Errorf("%w (and asking the session for its offset failed: %v)", err, serr)
		}
		if held < offset || held > offset+int64(len(data)) {
			return loc, fmt.Errorf("acr: upload to %s: after a dropped connection the registry holds %d bytes, outside the chunk %d-%d in hand; start the upload again: %w",
				repo, held, offset, offset+int64(len(data)), err)
		}
		sent, loc = held-offset, nloc
		if sent == int64(len(data)) {
			return loc, nil
		}
	}
}

// uploadStatus asks an upload session how many bytes it holds.
func (c *Client) uploadStatus(ctx context.Context, repo string, loc *url.URL) (int64, *url.URL, error) {
	resp, err := c.doURL(ctx, loc, request{method: http.MethodGet, scope: scopeRepo(repo, "pull,push"), ok: []int{http.StatusNoContent, http.StatusOK}})
	if err != nil {
		return 0, loc, err
	}
	resp.Body.Close()
	nloc := loc
	if resp.Header.Get("Location") != "" {
		if nloc, err = c.location(resp); err != nil {
			return 0, loc, err
		}
	}
	rg := resp.Header.Get("Range")
	if rg == "" {
		return 0, nloc, nil
	}
	_, end, err := spec.ParseUploadRange(rg)
	if err != nil {
		return 0, nloc, fmt.Errorf("acr: the upload session's Range %q does not parse", rg)
	}
	if end == 0 && rg == "0-0" {
		// Registries write an empty session as 0-0; one byte is 0-0 too.
		// Ambiguous: treat it as empty and resend, which is always safe
		// because a chunk starting at 0 is then accepted or refused.
		return 0, nloc, nil
	}
	return end + 1, nloc, nil
}

// putUpload completes a session with digest d, sending body (may be nil).
func (c *Client) putUpload(ctx context.Context, repo string, loc *url.URL, d digest.Digest, body []byte, offset int64) error {
	u := *loc
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	r := request{method: http.MethodPut, body: body, scope: scopeRepo(repo, "pull,push"),
		header: http.Header{"Content-Type": {"application/octet-stream"}}, ok: []int{http.StatusCreated, http.StatusAccepted, http.StatusNoContent}}
	if body == nil {
		r.body = []byte{}
	}
	resp, err := c.doURL(ctx, &u, r)
	if err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			return fmt.Errorf("%w: the registry computed another digest than %s for the uploaded content: %v", ErrDigestMismatch, d, err)
		}
		return err
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
		return fmt.Errorf("%w: uploaded %s but the registry stored %s", ErrDigestMismatch, d, got)
	}
	return nil
}

// cancelUpload ends a session after a failure, best effort.
func (c *Client) cancelUpload(loc *url.URL) {
	if loc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5e9)
	defer cancel()
	if resp, err := c.doURL(ctx, loc, request{method: http.MethodDelete, ok: []int{202, 204, 404}}); err == nil {
		resp.Body.Close()
	}
}

// PushBlob uploads a blob whose descriptor is known, skipping the upload
// when the repository already has it. The content is verified against the
// descriptor while it streams: a mismatch fails with ErrDigestMismatch and
// the registry stores nothing.
func (c *Client) PushBlob(ctx context.Context, repo string, desc ocispec.Descriptor, r io.Reader) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	if _, ok, err := c.BlobExists(ctx, repo, desc.Digest); err != nil {
		return err
	} else if ok {
		return nil
	}
	got, err := c.UploadBlob(ctx, repo, io.LimitReader(r, desc.Size+1), &UploadBlobOptions{MediaType: desc.MediaType})
	if err != nil {
		return err
	}
	if got.Digest != desc.Digest || got.Size != desc.Size {
		return fmt.Errorf("%w: content is %s (%d bytes), the descriptor says %s (%d bytes)", ErrDigestMismatch, got.Digest, got.Size, desc.Digest, desc.Size)
	}
	return nil
}

// BlobExists reports whether repo holds the blob, with its size.
func (c *Client) BlobExists(ctx context.Context, repo string, d digest.Digest) (int64, bool, error) {
	if err := checkRepo(repo); err != nil {
		return 0, false, err
	}
	if err := d.Validate(); err != nil {
		return 0, false, fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	resp, err := c.do(ctx, request{method: http.MethodHead, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "pull"),
		ok: []int{http.StatusOK, http.StatusNotFound}})
	if err != nil {
		return 0, false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return 0, false, nil
	}
	return resp.ContentLength, true, nil
}

// MountBlob links a blob from repository from into repo without moving
// bytes, and reports whether the registry did it; when it did not (the
// blob is not there, or the credential cannot read from), upload instead.
func (c *Client) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (bool, error) {
	if err := checkRepo(repo); err != nil {
		return false, err
	}
	if err := checkRepo(from); err != nil {
		return false, err
	}
	if err := d.Validate(); err != nil {
		return false, fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: v2Path(repo, "blobs", "uploads") + "/",
		query: url.Values{"mount": {d.String()}, "from": {from}}, scope: scopeRepo(repo, "pull,push") + " " + scopeRepo(from, "pull"),
		ok: []int{http.StatusCreated, http.StatusAccepted}})
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusAccepted {
		if loc, err := c.location(resp); err == nil {
			c.cancelUpload(loc)
		}
		return false, nil
	}
	return true, nil
}

// DeleteBlob removes a blob from a repository.
func (c *Client) DeleteBlob(ctx context.Context, repo string, d digest.Digest) error {
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "delete")})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
