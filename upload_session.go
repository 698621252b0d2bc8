package acr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// BlobUpload is an upload session that the caller drives chunk by chunk,
// as the Go SDK's StartUpload, UploadChunk, GetUploadStatus, CompleteUpload
// and CancelUpload do: for content that arrives over time, or an upload
// that another process (a retried job) finishes, given the session's
// Location. UploadBlob does all of this in one call and is what most
// callers want. OCI distribution spec: "Pushing a blob in chunks".
//
// The registry decides how long an idle session lives: finish or cancel
// sessions rather than leave them. A BlobUpload is safe for concurrent use,
// but chunks must arrive in order: write from one goroutine.
type BlobUpload struct {
	c        *Client
	repo     string
	minChunk int64

	mu     sync.Mutex
	loc    *url.URL
	offset int64
	closed error // set by Complete and Cancel
}

// errUploadClosed is the cause of using a session after it ended.
var errUploadClosed = errors.New("acr: the upload session was completed or cancelled")

// StartUpload opens an upload session in repo, for a caller that sends
// the chunks itself (UploadBlob does all of it in one call). The caller
// hashes what it writes (digest.Canonical.Digester()) and passes the digest
// to Complete; the registry checks it.
func (c *Client) StartUpload(ctx context.Context, repo string) (_ *BlobUpload, err error) {
	ctx, endSpan := c.span(ctx, "Client.StartUpload")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	loc, minChunk, err := c.startUpload(ctx, repo)
	if err != nil {
		return nil, err
	}
	return &BlobUpload{c: c, repo: repo, loc: loc, minChunk: minChunk}, nil
}

// ResumeUpload takes up the session at location (BlobUpload.Location, from
// this process or another) and asks the registry how many bytes it holds,
// which Offset then reports. A location on another origin than the
// client's registry is refused: neither content nor credentials go there.
// A session the registry no longer knows fails with ErrUploadSessionLost
// (or ErrNotFound, by registry): start a new one.
func (c *Client) ResumeUpload(ctx context.Context, repo, location string) (_ *BlobUpload, err error) {
	ctx, endSpan := c.span(ctx, "Client.ResumeUpload")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return nil, err
	}
	loc, err := c.endpoint.Parse(location)
	if err != nil || location == "" {
		return nil, fmt.Errorf("acr: ResumeUpload: the location %q is not a URL; pass BlobUpload.Location", location)
	}
	if loc.Scheme != c.endpoint.Scheme || loc.Host != c.endpoint.Host {
		return nil, fmt.Errorf("acr: ResumeUpload: the location is on %s://%s, not this client's registry %s://%s; refusing to send content or credentials there",
			loc.Scheme, loc.Host, c.endpoint.Scheme, c.endpoint.Host)
	}
	if want := "/v2/" + repo + "/blobs/uploads/"; !strings.HasPrefix(loc.Path, want) {
		return nil, fmt.Errorf("acr: ResumeUpload: the location %s is not an upload session of %s (its path does not start with %s); pass the repository the session was started in",
			redactURL(loc), repo, want)
	}
	held, nloc, err := c.uploadStatus(ctx, repo, loc)
	if err != nil {
		return nil, err
	}
	return &BlobUpload{c: c, repo: repo, loc: nloc, offset: held}, nil
}

// Location returns the session's URL, for ResumeUpload. It changes as
// chunks are written (registries may put state in it): save the latest. It
// carries no credentials, but whoever may push to the repository can
// write to the session with it.
func (u *BlobUpload) Location() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.loc.String()
}

// Offset returns how many bytes of the blob the session holds, as far as
// this BlobUpload knows: after a failed Write, ask Status.
func (u *BlobUpload) Offset() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.offset
}

// MinChunkSize returns the registry's smallest accepted chunk
// (OCI-Chunk-Min-Length), which every chunk but the last must reach; 0 when
// the registry did not say, or the session was resumed.
func (u *BlobUpload) MinChunkSize() int64 { return u.minChunk }

// Write sends p as the session's next chunk (PATCH with Content-Range from
// Offset). After a dropped connection it asks the registry how much of p
// arrived and sends the rest. When it fails, the registry may hold part of
// p: ask Status, and write again from there.
func (u *BlobUpload) Write(ctx context.Context, p []byte) (err error) {
	ctx, endSpan := u.c.span(ctx, "BlobUpload.Write")
	defer func() { endSpan(err) }()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed != nil {
		return u.closed
	}
	if len(p) == 0 {
		return nil
	}
	loc, err := u.c.patchChunk(ctx, u.repo, u.loc, p, u.offset)
	u.loc = loc
	if err != nil {
		return err
	}
	u.offset += int64(len(p))
	return nil
}

// Status asks the registry how many bytes the session holds, updates
// Offset and returns it.
func (u *BlobUpload) Status(ctx context.Context) (_ int64, err error) {
	ctx, endSpan := u.c.span(ctx, "BlobUpload.Status")
	defer func() { endSpan(err) }()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed != nil {
		return 0, u.closed
	}
	held, loc, err := u.c.uploadStatus(ctx, u.repo, u.loc)
	if err != nil {
		return 0, err
	}
	u.loc, u.offset = loc, held
	return held, nil
}

// Complete ends the session: the registry checks that the bytes it holds
// hash to d and stores them as that blob, or stores nothing and fails with
// ErrDigestMismatch. The descriptor has Offset's size and the media type
// application/octet-stream.
func (u *BlobUpload) Complete(ctx context.Context, d digest.Digest) (_ ocispec.Descriptor, err error) {
	ctx, endSpan := u.c.span(ctx, "BlobUpload.Complete")
	defer func() { endSpan(err) }()
	if err := checkDigest(d); err != nil {
		return ocispec.Descriptor{}, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed != nil {
		return ocispec.Descriptor{}, u.closed
	}
	if err := u.c.putUpload(ctx, u.repo, u.loc, d, nil, u.offset); err != nil {
		if errors.Is(err, ErrDigestMismatch) || errors.Is(err, ErrUploadSessionLost) {
			// The registry ends a session whose digest does not match.
			u.closed = fmt.Errorf("%w (it ended with: %v)", errUploadClosed, err)
		}
		return ocispec.Descriptor{}, err
	}
	u.closed = errUploadClosed
	return ocispec.Descriptor{MediaType: "application/octet-stream", Digest: d, Size: u.offset}, nil
}

// Cancel ends the session and discards what it holds. On a session that
// Complete or Cancel ended it does nothing and returns nil, so a deferred
// Cancel cleans up after any failure without a check of its own.
func (u *BlobUpload) Cancel(ctx context.Context) (err error) {
	ctx, endSpan := u.c.span(ctx, "BlobUpload.Cancel")
	defer func() { endSpan(err) }()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed != nil {
		return nil // ended already: nothing left to discard
	}
	resp, err := u.c.doURL(ctx, u.loc, request{method: http.MethodDelete, scope: scopeRepo(u.repo, "pull,push"),
		ok: []int{http.StatusAccepted, http.StatusNoContent, http.StatusOK}})
	if err != nil {
		return err
	}
	resp.Body.Close()
	u.closed = errUploadClosed
	return nil
}
