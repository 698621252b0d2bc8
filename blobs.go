package acr

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/acrgo/acr/internal/spec"
	"github.com/acrgo/acr/internal/transport"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// DefaultChunkSize is the upload chunk size when UploadBlobOptions leaves it
// unset: large enough that per-request costs vanish at loopback speed, small
// enough to bound memory and the bytes resent after a dropped connection.
const DefaultChunkSize = 32 << 20

// UploadBlobOptions configures UploadBlob.
type UploadBlobOptions struct {
	// MediaType goes into the returned descriptor; the default is
	// Descriptor's, else application/octet-stream.
	MediaType string
	// Descriptor, when set, is the content's digest and size, known
	// beforehand (a copy from another registry, an OCI layout): the
	// content then streams in one PUT, without buffering or hashing on
	// the client, so a copy pays for one hash on each side; the registry
	// verifies digest and size. Content longer or shorter than
	// Descriptor.Size fails before it is committed. Blobs up to 1 MiB are
	// read into memory, checked and sent in one monolithic POST where the
	// registry accepts it.
	Descriptor *ocispec.Descriptor
	// ChunkSize is the size of each PATCH when the digest is not known;
	// 0 means DefaultChunkSize. The registry's OCI-Chunk-Min-Length
	// raises it.
	ChunkSize int64
	// Progress, when set, is called with the number of bytes sent so far:
	// acknowledged by the registry, chunk by chunk, or with Descriptor,
	// handed to the connection. When the upload starts over in a new
	// session, the count starts over from 0.
	Progress func(done int64)
}

// UploadBlob uploads the content of r to repo and returns its descriptor.
// It does not ask whether the repository has the blob already: BlobExists
// does.
//
// Without Descriptor it reads r in one pass, hashing as it sends. Content
// that fits in one chunk goes in one monolithic PUT; larger content goes
// in chunks (PATCH with Content-Range), each hashed while it is sent.
// Memory use is bounded by the chunk size, whatever the blob's size. OCI
// distribution spec: "Pushing a blob in chunks". With Descriptor the
// content streams in one PUT ("Pushing a blob monolithically"), and the
// registry stores nothing when it does not match, which fails with
// ErrDigestMismatch.
//
// After a dropped connection it asks the registry how much arrived and
// resends only the rest (with Descriptor, when r is an io.ReadSeeker).
// When the registry loses the session midway (404 BLOB_UPLOAD_UNKNOWN or
// BLOB_UPLOAD_INVALID, which ACR answers now and then during long uploads,
// and for which its guidance is to start again), the upload starts over in
// a new session, up to twice, if r can seek (an *os.File, a bytes.Reader)
// or the whole content is still in hand; otherwise the error says so. To
// control the session yourself (resume it from another process, say), use
// StartUpload. A repository whose writeEnabled flag is off refuses the
// upload: the error matches ErrLocked.
func (c *Client) UploadBlob(ctx context.Context, repo string, r io.Reader, opts *UploadBlobOptions) (_ ocispec.Descriptor, err error) {
	ctx, endSpan := c.span(ctx, "Client.UploadBlob")
	defer func() { endSpan(err) }()
	var o UploadBlobOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return ocispec.Descriptor{}, err
	}
	if o.Descriptor != nil {
		desc := *o.Descriptor
		if o.MediaType != "" {
			desc.MediaType = o.MediaType
		}
		if desc.MediaType == "" {
			desc.MediaType = "application/octet-stream"
		}
		return desc, c.putBlob(ctx, repo, desc, r, o.Progress)
	}
	if o.MediaType == "" {
		o.MediaType = "application/octet-stream"
	}
	seeker, start := seekStart(r)
	for restart := 0; ; restart++ {
		desc, sent, inHand, err := c.uploadOnce(ctx, repo, r, o)
		if err == nil || !errors.Is(err, ErrUploadSessionLost) || ctx.Err() != nil {
			return desc, err
		}
		if inHand != nil && seeker == nil {
			// All of the content was read into one chunk: send it again.
			br := bytes.NewReader(inHand)
			r, seeker, start = br, br, 0
		}
		what := fmt.Sprintf("upload to %s (%d bytes sent)", repo, sent)
		if err := startOver(seeker, start, restart, what, err); err != nil {
			return desc, err
		}
	}
}

// startOver decides, after attempt restart of an upload lost its session
// with err, whether the upload can start over: it moves seeker back to
// start and returns nil, or returns the error to give up with. what names
// the upload in errors.
func startOver(seeker io.Seeker, start int64, restart int, what string, err error) error {
	if seeker == nil {
		return fmt.Errorf("acr: %s: the registry lost the upload session, and the content comes from a reader that cannot seek, so it cannot be sent again; upload again with a fresh reader (an *os.File or bytes.Reader starts over by itself): %w",
			what, err)
	}
	if restart == maxRestarts {
		return fmt.Errorf("acr: %s: the registry lost the upload session %d times; try again later: %w", what, restart+1, err)
	}
	if _, serr := seeker.Seek(start, io.SeekStart); serr != nil {
		return fmt.Errorf("acr: %s: the registry lost the upload session, and going back to the content's start failed: %v: %w", what, serr, err)
	}
	return nil
}

// maxRestarts bounds how often an upload starts over in a new session after
// the registry lost the one in use.
const maxRestarts = 2

// seekStart returns r as an io.Seeker and its current offset, or nil when r
// cannot seek (or cannot tell where it is).
func seekStart(r io.Reader) (io.Seeker, int64) {
	s, ok := r.(io.Seeker)
	if !ok {
		return nil, 0
	}
	at, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, 0
	}
	return s, at
}

// uploadOnce is one attempt of UploadBlob, in one session. It returns how
// many bytes of r it had sent when it failed and, when all of the content
// fit in one chunk, that content, which a new session can be sent.
func (c *Client) uploadOnce(ctx context.Context, repo string, r io.Reader, o UploadBlobOptions) (ocispec.Descriptor, int64, []byte, error) {
	loc, minChunk, err := c.startUpload(ctx, repo)
	if err != nil {
		return ocispec.Descriptor{}, 0, nil, err
	}
	chunk := o.ChunkSize
	if chunk <= 0 {
		chunk = DefaultChunkSize
	}
	chunk = max(chunk, minChunk)
	// Small blobs, the common case in artifacts, get a small buffer; the
	// chunk-sized one is allocated once content proves larger.
	buf := make([]byte, min(chunk, 64<<10))
	h := sha256.New()
	var offset int64
	for first := true; ; first = false {
		n, rerr := io.ReadFull(r, buf)
		if rerr == nil && int64(len(buf)) < chunk {
			grown := make([]byte, chunk)
			copy(grown, buf[:n])
			m, gerr := io.ReadFull(r, grown[n:])
			n, rerr, buf = n+m, gerr, grown
		}
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			c.cancelUpload(ctx, repo, loc)
			return ocispec.Descriptor{}, offset, nil, fmt.Errorf("acr: upload to %s: reading the content: %w", repo, rerr)
		}
		last := rerr != nil
		if first && last {
			// Everything fits in one chunk: one monolithic PUT.
			h.Write(buf[:n])
			d := digest.NewDigest(digest.SHA256, h)
			if err := c.putSingle(ctx, repo, loc, d, buf[:n]); err != nil {
				return ocispec.Descriptor{}, 0, buf[:n], err
			}
			if o.Progress != nil {
				o.Progress(int64(n))
			}
			return ocispec.Descriptor{MediaType: o.MediaType, Digest: d, Size: int64(n)}, int64(n), nil, nil
		}
		if n > 0 {
			// Hash the chunk while it is being sent: both only read buf.
			hashed := make(chan struct{})
			go func(p []byte) { h.Write(p); close(hashed) }(buf[:n])
			loc, err = c.patchChunk(ctx, repo, loc, buf[:n], offset)
			<-hashed
			if err != nil {
				c.cancelUpload(ctx, repo, loc)
				return ocispec.Descriptor{}, offset, nil, err
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
		return ocispec.Descriptor{}, offset, nil, err
	}
	return ocispec.Descriptor{MediaType: o.MediaType, Digest: d, Size: offset}, offset, nil, nil
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
		resp, err := c.doChunk(ctx, loc, request{method: http.MethodPatch, body: part, scope: scopeRepo(repo, "pull,push"),
			header: http.Header{"Content-Type": {"application/octet-stream"},
				"Content-Range": {strconv.FormatInt(start, 10) + "-" + strconv.FormatInt(start+int64(len(part))-1, 10)}},
			ok: []int{http.StatusAccepted, http.StatusNoContent, http.StatusCreated}}, c.resendCheck(ctx, repo, loc, start))
		if err == nil {
			resp.Body.Close()
			return c.location(resp)
		}
		if ctx.Err() != nil || attempt == maxResumes {
			return loc, err
		}
		var re *ResponseError
		refused := errors.As(err, &re)
		if refused && re.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			return loc, err // the registry refused the chunk itself
		}
		held, nloc, serr := c.uploadStatus(ctx, repo, loc)
		if serr != nil {
			// serr stays matchable: a lost session restarts the upload.
			return loc, fmt.Errorf("%w (and asking the session for its offset failed: %w)", err, serr)
		}
		if refused && attempt == 0 && held != start {
			// No connection dropped: the registry refused the range
			// because the session moved on without this writer (another
			// BlobUpload on the same session). Bytes it holds past start
			// are not this chunk's.
			return loc, fmt.Errorf("acr: upload to %s: the session holds %d bytes, not the %d this upload wrote: another writer has used it; ask its Status and write from there: %w",
				repo, held, start, err)
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

// putSingle sends a whole blob, data, in the PUT that completes the
// session at loc. The PUT carries a Content-Range, so that when the
// transport resends it after a dropped connection, a registry that kept
// part of the first attempt refuses the resend (416) instead of appending
// it to that part; the upload then resumes from the registry's offset.
func (c *Client) putSingle(ctx context.Context, repo string, loc *url.URL, d digest.Digest, data []byte) error {
	err := c.putUpload(ctx, repo, loc, d, data, int64(len(data)))
	var re *ResponseError
	if err == nil || ctx.Err() != nil || errors.Is(err, ErrDigestMismatch) ||
		(errors.As(err, &re) && re.StatusCode != http.StatusRequestedRangeNotSatisfiable) {
		// Only a dropped connection (or a refused resend, 416) asks the
		// session where it stands; a completed upload whose digest the
		// registry contradicts has no session left to ask.
		return err
	}
	held, nloc, serr := c.uploadStatus(ctx, repo, loc)
	if serr != nil {
		return fmt.Errorf("%w (and asking the session for its offset failed: %w)", err, serr)
	}
	if held > int64(len(data)) {
		return fmt.Errorf("acr: upload to %s: after a dropped connection the registry holds %d bytes of a %d-byte blob; start the upload again: %w",
			repo, held, len(data), err)
	}
	if held < int64(len(data)) {
		if nloc, err = c.patchChunk(ctx, repo, nloc, data[held:], held); err != nil {
			return err
		}
	}
	return c.putUpload(ctx, repo, nloc, d, nil, int64(len(data)))
}

// putUpload completes a session with digest d, sending body (may be nil),
// which ends the blob of size bytes.
func (c *Client) putUpload(ctx context.Context, repo string, loc *url.URL, d digest.Digest, body []byte, size int64) error {
	u := *loc
	q := u.Query()
	q.Set("digest", d.String())
	u.RawQuery = q.Encode()
	r := request{method: http.MethodPut, body: body, scope: scopeRepo(repo, "pull,push"),
		header: http.Header{"Content-Type": {"application/octet-stream"}}, ok: []int{http.StatusCreated, http.StatusAccepted, http.StatusNoContent}}
	if len(body) > 0 {
		start := size - int64(len(body))
		r.header.Set("Content-Range", strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(size-1, 10))
	}
	resp, err := c.doChunk(ctx, &u, r, c.resendCheck(ctx, repo, loc, size-int64(len(body))))
	if isNotFound(err) {
		// The session is gone. When a dropped connection lost the
		// response to a PUT that completed it, the transport's resend finds
		// the session closed, and the blob stored.
		if n, ok, xerr := c.BlobExists(ctx, repo, d); xerr == nil && ok && n == size {
			return nil
		}
	}
	if err != nil {
		if errors.Is(err, ErrDigestMismatch) {
			return fmt.Errorf("%w: the registry computed another digest than %s for the uploaded content: %w", ErrDigestMismatch, d, err)
		}
		return err
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
		return fmt.Errorf("%w: uploaded %s but the registry stored %s", ErrDigestMismatch, d, got)
	}
	return nil
}

// doChunk is doURL for a request whose body is a window of a buffer that
// the caller refills once doChunk returns; keep the two in step. net/http
// may read a request body after Client.Do has returned (it writes and
// closes bodies in its own goroutine), so the body handed to it is revoked
// on return: later reads fail instead of racing with the refill and
// sending the next chunk's bytes.
//
// Before the transport sends the body again (a retry, a challenge, a
// redirect), resend is asked whether that is still right; its error ends
// the request.
func (c *Client) doChunk(ctx context.Context, u *url.URL, r request, resend func() error) (*http.Response, error) {
	body := &chunkBody{data: r.body}
	defer body.revoke()
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), http.NoBody)
	if err != nil {
		return nil, err
	}
	if len(r.body) > 0 {
		req.Body, _ = body.open()
		req.GetBody = func() (io.ReadCloser, error) {
			if err := resend(); err != nil {
				return nil, err
			}
			return body.open()
		}
	}
	req.ContentLength = int64(len(r.body))
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := c.tr.Do(req, strings.Fields(r.scope)...)
	return c.result(resp, err, r.method, u, r.ok)
}

// errPartlyReceived stops the transport from resending a chunk that the
// registry received part of: the caller resumes from the registry's offset.
var errPartlyReceived = errors.New("acr: the registry kept part of the chunk before the connection dropped; resuming from its offset")

// resendCheck returns doChunk's resend hook for a body that starts at byte
// start of the upload session at loc. It lets the transport resend the
// body (after a challenge, a 429 or a 5xx, or a connection that dropped
// before any of it arrived) only while the session still holds exactly
// start bytes. Otherwise the resend would be refused (416) after most of
// it was sent, or appended to a partial first attempt; the error instead
// hands the upload back to its caller, which resumes from the session's
// offset and sends only what is missing.
func (c *Client) resendCheck(ctx context.Context, repo string, loc *url.URL, start int64) func() error {
	return func() error {
		held, _, err := c.uploadStatus(ctx, repo, loc)
		if err != nil || held == start {
			return nil // resend as the transport wants; a refusal is handled then
		}
		return errPartlyReceived
	}
}

// errBodyRevoked fails reads of a request body that the upload has taken
// back to refill.
var errBodyRevoked = errors.New("acr: the request body was read after its request ended")

// chunkBody hands out readers of data, one per attempt of a request, and
// takes them all back at once.
type chunkBody struct {
	mu      sync.Mutex
	data    []byte
	revoked bool
}

func (b *chunkBody) open() (io.ReadCloser, error) { return &chunkReader{b: b}, nil }

// revoke waits for a read in progress and fails all later ones.
func (b *chunkBody) revoke() {
	b.mu.Lock()
	b.revoked = true
	b.mu.Unlock()
}

type chunkReader struct {
	b   *chunkBody
	off int
}

func (r *chunkReader) Read(p []byte) (int, error) {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.b.revoked {
		return 0, errBodyRevoked
	}
	if r.off >= len(r.b.data) {
		return 0, io.EOF
	}
	n := copy(p, r.b.data[r.off:])
	r.off += n
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// cancelUpload ends a session after a failure, best effort, with 5 s of
// its own (the caller's context may be what failed). It carries the
// session's pull,push token, as the Azure SDKs do: ACR answers that with
// insufficient_scope for delete, which the transport then adds (G
// TestBlobClient_StartUpload in ../shared/docs/acr-recordings), the same
// number of round trips as a first attempt without a token. It waits no longer
// than the caller's context lasts: once that has ended, as when the
// registry stopped answering, the DELETE goes on in the background (see
// Client.Drain) and the caller gets its error at once.
func (c *Client) cancelUpload(ctx context.Context, repo string, loc *url.URL) {
	if loc == nil {
		return
	}
	done := make(chan struct{})
	c.background.start()
	go func() {
		defer c.background.done()
		defer close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 5e9)
		defer cancel()
		if resp, err := c.doURL(ctx, loc, request{method: http.MethodDelete, scope: scopeRepo(repo, "pull,push"), ok: []int{202, 204, 404}}); err == nil {
			resp.Body.Close()
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// smallBlob is the size up to which putBlob reads a blob into memory and
// sends it in a single request.
const smallBlob = 1 << 20

// putBlob is UploadBlob for content whose descriptor is known. Small blobs
// (up to 1 MiB) go in one monolithic POST where the registry accepts it,
// else in a POST and a PUT. Larger blobs stream from r in one PUT, without
// buffering or hashing. After a dropped connection a source that is an
// io.ReadSeeker resumes from the registry's offset; other sources fail, and
// the caller retries. When the registry loses the session, small blobs and
// seekable sources start over in a new session, from where r stood when
// putBlob was called, up to twice; other sources fail with an error that
// says so. progress, when set, is told the bytes sent so far.
func (c *Client) putBlob(ctx context.Context, repo string, desc ocispec.Descriptor, r io.Reader, progress func(int64)) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("%w: UploadBlobOptions.Descriptor: %v", ErrInvalidReference, err)
	}
	if desc.Size < 0 {
		return fmt.Errorf("%w: UploadBlobOptions.Descriptor: negative size %d", ErrInvalidReference, desc.Size)
	}
	if desc.Size <= smallBlob {
		data, err := io.ReadAll(io.LimitReader(r, desc.Size+1))
		if err != nil {
			return fmt.Errorf("acr: upload to %s: reading the content: %w", repo, err)
		}
		if got := desc.Digest.Algorithm().FromBytes(data); int64(len(data)) != desc.Size || got != desc.Digest {
			if got == desc.Digest {
				return fmt.Errorf("%w: the content is %s as the descriptor says, but %d bytes, not its %d",
					ErrDigestMismatch, got, len(data), desc.Size)
			}
			return fmt.Errorf("%w: content is %d bytes hashing to %s, the descriptor says %s (%d bytes)",
				ErrDigestMismatch, len(data), got, desc.Digest, desc.Size)
		}
		err = c.postMonolithic(ctx, repo, desc.Digest, data)
		for restart := 0; err != nil && errors.Is(err, ErrUploadSessionLost) && restart < maxRestarts && ctx.Err() == nil; restart++ {
			// The content is in hand: send it again in a new session.
			var loc *url.URL
			if loc, _, err = c.startUpload(ctx, repo); err == nil {
				err = c.putSingle(ctx, repo, loc, desc.Digest, data)
			}
		}
		if err == nil && progress != nil {
			progress(desc.Size)
		}
		return err
	}
	seeker, start := seekStart(r)
	for restart := 0; ; restart++ {
		loc, _, err := c.startUpload(ctx, repo)
		if err != nil {
			return err
		}
		err = c.putStream(ctx, repo, loc, desc, r, seeker, start, progress)
		if err == nil {
			return nil
		}
		c.cancelUpload(ctx, repo, loc)
		if !errors.Is(err, ErrUploadSessionLost) || ctx.Err() != nil {
			return err
		}
		if err := startOver(seeker, start, restart, "upload of "+desc.Digest.String()+" to "+repo, err); err != nil {
			return err
		}
	}
}

// postMonolithic sends a small blob in the POST that opens the session
// (OCI distribution spec: "Pushing a blob monolithically", POST then
// nothing else); a registry that answers 202 instead gets the PUT.
func (c *Client) postMonolithic(ctx context.Context, repo string, d digest.Digest, data []byte) error {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: v2Path(repo, "blobs", "uploads") + "/", query: url.Values{"digest": {d.String()}},
		body: data, header: http.Header{"Content-Type": {"application/octet-stream"}}, scope: scopeRepo(repo, "pull,push"),
		ok: []int{http.StatusCreated, http.StatusAccepted}})
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) || ctx.Err() != nil {
			return err
		}
		// The connection dropped: fall back to a fresh session.
		loc, _, serr := c.startUpload(ctx, repo)
		if serr != nil {
			return err
		}
		return c.putSingle(ctx, repo, loc, d, data)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
			return fmt.Errorf("%w: uploaded %s but the registry stored %s", ErrDigestMismatch, d, got)
		}
		return nil
	}
	loc, err := c.location(resp)
	if err != nil {
		return err
	}
	return c.putSingle(ctx, repo, loc, d, data)
}

// putStream sends desc.Size bytes of r to the session at loc in one PUT
// and, when the connection drops and r can seek (seeker is r, at offset
// start when the content begins), resumes with PUTs that carry a
// Content-Range from the session's offset.
//
// When ctx carries turns (internal/transport's WithTurns), each attempt
// takes one before it sends and gives it back once its body is written.
func (c *Client) putStream(ctx context.Context, repo string, loc *url.URL, desc ocispec.Descriptor, r io.Reader, seeker io.Seeker, start int64, progress func(int64)) error {
	seekable := seeker != nil
	var sent int64
	for attempt := 0; ; attempt++ {
		giveTurn, err := transport.TakeTurn(ctx)
		if err != nil {
			return err
		}
		u := *loc
		q := u.Query()
		q.Set("digest", desc.Digest.String())
		u.RawQuery = q.Encode()
		body := &exactReader{r: r, left: desc.Size - sent}
		rb := &revocableReader{r: body, progress: progress, sent: sent}
		var rd io.Reader = rb
		var fb *fileBody
		if progress == nil {
			if fb = newFileBody(r, desc.Size-sent); fb != nil {
				rd = fb
			}
		}
		// The transport closes the body once it has written it: the turn
		// goes back then, while the registry stores the blob.
		endSend := func() {}
		if fb != nil {
			endSend = c.sendsBy(fb, &u)
			fb.sent = func() { giveTurn(); endSend() }
		} else {
			rd = &sentBody{Reader: rb, sent: giveTurn}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), rd)
		if err != nil {
			giveTurn()
			endSend()
			return err
		}
		req.ContentLength = desc.Size - sent
		req.Header.Set("Content-Type", "application/octet-stream")
		if asksBeforeBody(&u) {
			req.Header.Set("Expect", "100-continue")
		}
		if attempt > 0 {
			// A resume says where it starts, also from byte 0: a registry
			// that took in more of the broken request after it told its
			// offset (it was still reading it) then refuses the resume
			// (416) instead of appending it after those bytes.
			req.Header.Set("Content-Range", strconv.FormatInt(sent, 10)+"-"+strconv.FormatInt(desc.Size-1, 10))
		}
		resp, err := c.tr.Do(req, scopeRepo(repo, "pull,push"))
		giveTurn()
		endSend()
		if seekable {
			// net/http may go on reading the body after Do returns (it
			// writes bodies in its own goroutine): stop it before r moves.
			// Other sources are not read again, and their reads may block.
			rb.revoke()
		}
		answered := err == nil
		if answered {
			resp, err = c.result(resp, nil, http.MethodPut, &u, []int{http.StatusCreated, http.StatusNoContent, http.StatusAccepted})
			if err == nil {
				resp.Body.Close()
				if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != desc.Digest.String() {
					return fmt.Errorf("%w: uploaded %s but the registry stored %s", ErrDigestMismatch, desc.Digest, got)
				}
				return nil
			}
		}
		if fb != nil {
			// A file sent with sendfile cannot be revoked mid-send: wait
			// until the transport lets go of it before the file moves (a
			// resume here, a new session in putBlob).
			if werr := fb.waitClosed(ctx); werr != nil {
				return fmt.Errorf("acr: PUT %s: %w (%w)", redactURL(&u), err, werr)
			}
		}
		if answered {
			var re *ResponseError
			if !seekable || attempt == 0 || attempt == maxResumes || !errors.As(err, &re) || re.StatusCode != http.StatusRequestedRangeNotSatisfiable {
				return err
			}
			// The resume was refused: the session grew after it was asked
			// for its offset. Ask again.
		} else {
			if body.err != nil {
				return fmt.Errorf("acr: upload to %s: %w", repo, body.err)
			}
			if !seekable || ctx.Err() != nil || attempt == maxResumes {
				return fmt.Errorf("acr: PUT %s: %w", redactURL(&u), err)
			}
		}
		held, nloc, serr := c.uploadStatus(ctx, repo, loc)
		if serr != nil {
			return fmt.Errorf("acr: PUT %s: %w (and asking the session for its offset failed: %w)", redactURL(&u), err, serr)
		}
		if held > desc.Size {
			return fmt.Errorf("acr: PUT %s: %w", redactURL(&u), err)
		}
		if _, serr := seeker.Seek(start+held, io.SeekStart); serr != nil {
			return fmt.Errorf("acr: upload to %s: resuming: %w", repo, serr)
		}
		sent, loc = held, nloc
	}
}

// asksBeforeBody reports whether a streamed PUT to u sends its header
// alone and its body only once the registry asks for it (Expect:
// 100-continue): to a registry on this machine over plain HTTP.
//
// There the body would otherwise follow the header at once, and a registry
// that reads both into one buffer starts the blob's content with what was
// left of that buffer, a few KiB. The distribution registry writes what it
// reads as it reads it, so every later write of the blob's file is then off
// page alignment, and such a file takes half again as long to write into the
// page cache and a third longer to sync: a 1 GiB file of 32 KiB writes, once
// shifted by 1,000 bytes, 0.47 against 0.32 s and 2.55 against 1.93 s (3
// runs each on this machine). Measured with bench/pushcpu.sh (a 1 GiB push
// to the reference registry, 8 alternating runs each): 4.05 s with the
// header sent alone, 4.64 s without (bench/RESULTS.md, "The ties looked at
// again, and the low-water mark removed"). A registry that refuses the
// request before reading the body (an expired session, a token that no
// longer serves) and closes the connection, as Go's net/http does, then
// answers without the body sent; one that keeps the connection open gets
// the body as before. A local registry that never answers 100 Continue
// (an HTTP/1.0 server, some proxies) delays each body by the transport's
// ExpectContinueTimeout (1 s by default; with a caller's transport whose
// timeout is 0 the body follows at once). Elsewhere it would cost a round
// trip per blob, and over TLS a header most likely goes in a record of its
// own; neither was measured.
func asksBeforeBody(u *url.URL) bool {
	return u.Scheme == "http" && isLoopbackHost(u.Host)
}

// sentBody is a request body that calls sent when the transport closes
// it, which net/http does over HTTP/1 once it has written the body (or
// failed to, or decided not to send it: a PUT refused before 100
// Continue), and over HTTP/2 only once the registry has answered.
type sentBody struct {
	io.Reader
	sent func()
}

func (b *sentBody) Close() error {
	b.sent()
	return nil
}

// revocableReader passes reads to r until it is revoked. Revoking waits
// for a read in progress, and later reads fail.
// When progress is set, it is told sent plus the bytes read so far.
type revocableReader struct {
	mu       sync.Mutex
	r        io.Reader
	revoked  bool
	progress func(int64)
	sent     int64
}

func (b *revocableReader) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.revoked {
		return 0, errBodyRevoked
	}
	n, err := b.r.Read(p)
	if n > 0 && b.progress != nil {
		b.sent += int64(n)
		b.progress(b.sent)
	}
	return n, err
}

func (b *revocableReader) revoke() {
	b.mu.Lock()
	b.revoked = true
	b.mu.Unlock()
}

// exactReader yields exactly left bytes of r: a source that ends early or
// runs long fails the request before the registry can commit it.
type exactReader struct {
	r    io.Reader
	left int64
	err  error
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if e.left == 0 {
		// The source must end here, and that is checked before the last
		// bytes are handed over: once the transport has sent them, the
		// registry holds a whole blob that matches its digest and commits
		// it, whatever this reader reports afterwards. Reading to the
		// source's EOF also lets a verifying source (a download, an OCI
		// layout) check its digest before the PUT ends.
		if err := e.atEOF(err); err != nil {
			e.err = err
			return 0, err
		}
		return n, io.EOF
	}
	if err == io.EOF {
		e.err = fmt.Errorf("%w: the content is shorter than its descriptor says", ErrDigestMismatch)
		return n, e.err
	}
	if err != nil {
		e.err = err
	}
	return n, err
}

// atEOF checks that the source has nothing after the bytes already read;
// err is what the read of the last of them returned.
func (e *exactReader) atEOF(err error) error {
	if err == nil {
		var one [1]byte
		var n int
		n, err = io.ReadAtLeast(e.r, one[:], 1)
		if n > 0 {
			return fmt.Errorf("%w: the content is longer than its descriptor says", ErrDigestMismatch)
		}
	}
	if err == io.EOF {
		return nil
	}
	return err
}

// BlobExists reports whether repo holds the blob, with its size.
func (c *Client) BlobExists(ctx context.Context, repo string, d digest.Digest) (_ int64, _ bool, err error) {
	ctx, endSpan := c.span(ctx, "Client.BlobExists")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return 0, false, err
	}
	if err := checkDigest(d); err != nil {
		return 0, false, err
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
func (c *Client) MountBlob(ctx context.Context, repo, from string, d digest.Digest) (_ bool, err error) {
	ctx, endSpan := c.span(ctx, "Client.MountBlob")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return false, err
	}
	if err := checkRepo(from); err != nil {
		return false, err
	}
	if err := checkDigest(d); err != nil {
		return false, err
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
			c.cancelUpload(ctx, repo, loc)
		}
		return false, nil
	}
	return true, nil
}

// DeleteBlob removes a blob from a repository. A blob the repository does
// not hold fails with ErrNotFound; a repository whose deleteEnabled flag
// is off, with ErrLocked.
func (c *Client) DeleteBlob(ctx context.Context, repo string, d digest.Digest) (err error) {
	ctx, endSpan := c.span(ctx, "Client.DeleteBlob")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkDigest(d); err != nil {
		return err
	}
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: v2Path(repo, "blobs", d.String()), scope: scopeRepo(repo, "delete")})
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}
