package emulator

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// DefaultUploadIdleTimeout is how long an upload session may receive no
// bytes before it is cancelled, when Options.UploadIdleTimeout is 0.
// Distribution purges sessions by age (168 h, checked daily); this
// registry counts idleness instead, so that a long upload still sending
// is never cut, and an abandoned one goes within the hour.
const DefaultUploadIdleTimeout = 30 * time.Minute

// handleUploadStart serves POST /v2/{name}/blobs/uploads/ (OCI distribution
// spec: "Pushing a blob monolithically", "Pushing a blob in chunks",
// "Mounting a blob from another repository").
func (s *Server) handleUploadStart(w http.ResponseWriter, r *http.Request, rt route, id identity) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed(r)
	}
	ctx := r.Context()
	q := r.URL.Query()
	if err := s.checkPushable(ctx, rt.repo); err != nil {
		return err
	}
	if m := q.Get("mount"); m != "" {
		d, err := spec.ParseDigest(m)
		if err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "mount: %v", err)
		}
		mounted, err := s.mount(ctx, rt.repo, q.Get("from"), d, id)
		if err != nil {
			return err
		}
		// ACR answered its one recorded mount with 202 and a plain
		// session although the source held the blob (G
		// TestBlobClient_MountBlob); this registry mounts when the
		// caller may pull from the source, as the OCI spec asks.
		if mounted {
			return blobCreated(w, rt.repo, d)
		}
		// Not mountable: fall through to a new session, as the spec says.
	}
	if ds := q.Get("digest"); ds != "" {
		d, err := spec.ParseDigest(ds)
		if err != nil {
			return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
		}
		size := r.ContentLength
		if s.opts.MaxBlobSize > 0 && size > s.opts.MaxBlobSize {
			return s.blobTooLarge(size, "nothing was stored")
		}
		body := &recordingBody{r: s.capBlob(r.Body, 0)}
		n, err := s.store.PutBlob(ctx, d, size, body)
		if err != nil && errors.Is(body.err, errBlobTooLarge) {
			return s.blobTooLarge(-1, "nothing was stored")
		}
		if err != nil {
			if body.err != nil && !errors.Is(err, store.ErrDigestMismatch) && !errors.Is(err, store.ErrSizeMismatch) {
				return bodyError(body.err, "nothing was stored; upload the blob again")
			}
			return blobWriteError(err, d)
		}
		if err := s.link(ctx, rt.repo, d, n); err != nil {
			return err
		}
		return blobCreated(w, rt.repo, d)
	}
	client := clientKey(r, id)
	if !s.owners.reserve(client, s.opts.MaxUploadSessionsPerClient) &&
		(s.reclaimStale(ctx) == 0 || !s.owners.reserve(client, s.opts.MaxUploadSessionsPerClient)) {
		return &apiError{status: http.StatusTooManyRequests, code: spec.ErrorCodeTooManyRequests,
			message: "too many open upload sessions for this client (" + strconv.Itoa(s.opts.MaxUploadSessionsPerClient) + "): finish or cancel some, then retry",
			header:  http.Header{"Retry-After": {"5"}}}
	}
	if err := s.reserveUpload(ctx); err != nil {
		s.owners.unreserve(client)
		return err
	}
	u, err := s.store.CreateUpload(ctx, rt.repo)
	if err != nil {
		s.owners.unreserve(client)
		s.uploads.Add(-1)
		return err
	}
	s.owners.bind(u.ID, client)
	setUploadHeaders(w, u)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// checkPushable refuses uploads into a write-locked repository.
func (s *Server) checkPushable(ctx context.Context, name string) error {
	return s.store.View(ctx, func(tx store.Tx) error {
		repo, ok, err := tx.Repo(name)
		if err != nil || !ok {
			return err
		}
		return checkWrite(repo.Attrs, "push to", "repository "+name)
	})
}

// endUpload counts a session as ended, for the global and per-client caps.
func (s *Server) endUpload(id string) {
	s.uploads.Add(-1)
	s.owners.release(id)
}

// reserveUpload counts a new session against MaxUploadSessions, reclaiming
// stale sessions when the limit is reached.
func (s *Server) reserveUpload(ctx context.Context) error {
	if s.uploads.Add(1) <= int64(s.opts.MaxUploadSessions) {
		return nil
	}
	s.reclaimStale(ctx)
	if s.uploads.Load() <= int64(s.opts.MaxUploadSessions) {
		return nil
	}
	s.uploads.Add(-1)
	return &apiError{status: http.StatusTooManyRequests, code: spec.ErrorCodeTooManyRequests,
		message: "too many open upload sessions (" + strconv.Itoa(s.opts.MaxUploadSessions) + "): finish or cancel some, then retry",
		header:  http.Header{"Retry-After": {"5"}}}
}

// maybeSweepUploads cancels idle sessions when the last sweep is older
// than the sweep interval. Requests drive it, one at a time, rather than a
// goroutine of the server's own, so that a Server holds no goroutine
// between requests (tests that check for leaks, synctest bubbles): an idle
// registry only keeps its sessions until its next request.
func (s *Server) maybeSweepUploads(ctx context.Context) {
	last, now := s.lastSweep.Load(), time.Now().UnixNano()
	if time.Duration(now-last) < s.sweepEvery || !s.lastSweep.CompareAndSwap(last, now) {
		return
	}
	s.reclaimStale(context.WithoutCancel(ctx))
}

// reclaimStale cancels the sessions idle for Options.UploadIdleTimeout,
// at each sweep and when a cap is reached, and reports how many
// it cancelled. A session counts as idle by the last bytes it received,
// not by its start, so that a long upload that is still sending (a large
// layer in chunks, or one slow PATCH) is kept.
func (s *Server) reclaimStale(ctx context.Context) int {
	// Stores stamp sessions with the real clock, not Options.Now.
	cutoff := time.Now().Add(-time.Duration(s.uploadIdle.Load()))
	n := 0
	for u, err := range s.store.Uploads(ctx) {
		if err != nil {
			break
		}
		if u.ActiveAt.Before(cutoff) && s.store.CancelUpload(ctx, u.ID) == nil {
			s.endUpload(u.ID)
			n++
		}
	}
	return n
}

// mount links blob d into repo from the repository from, or, when from is
// empty, from any repository the caller may pull from. It reports whether
// the blob was mounted.
func (s *Server) mount(ctx context.Context, repo, from string, d digest.Digest, id identity) (bool, error) {
	var size int64 = -1
	err := s.store.View(ctx, func(tx store.Tx) error {
		try := func(name string) error {
			if !id.allows("repository", name, "pull") {
				return nil
			}
			if src, ok, err := tx.Repo(name); err != nil || !ok || !src.Attrs.ReadEnabled {
				return err
			}
			l, ok, err := tx.BlobLink(name, d)
			if err != nil || !ok {
				return err
			}
			size = l.Size
			return nil
		}
		if from != "" {
			if spec.ValidateName(from) != nil {
				return nil
			}
			return try(from)
		}
		for r, err := range tx.Repos("") {
			if err != nil {
				return err
			}
			if err := try(r.Name); err != nil || size >= 0 {
				return err
			}
		}
		return nil
	})
	if err != nil || size < 0 {
		return false, err
	}
	if _, err := s.store.StatBlob(ctx, d); err != nil {
		return false, nil
	}
	return true, s.link(ctx, repo, d, size)
}

// link records that repo holds blob d.
func (s *Server) link(ctx context.Context, repo string, d digest.Digest, size int64) error {
	now := s.now().UTC()
	return s.store.Update(ctx, func(tx store.Tx) error {
		if err := ensureBlobRepo(tx, repo, now); err != nil {
			return err
		}
		if _, ok, err := tx.BlobLink(repo, d); err != nil || ok {
			return err
		}
		return tx.PutBlobLink(repo, store.BlobLink{Digest: d, Size: size, CreatedAt: now})
	})
}

func blobCreated(w http.ResponseWriter, repo string, d digest.Digest) error {
	h := w.Header()
	h.Set("Location", "/v2/"+repo+"/blobs/"+d.String())
	h.Set(spec.HeaderContentDigest, d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// uploadLocation is the relative URL of a session. It carries a query so
// that clients that append "&digest=" to it (the Go SDK) build a valid URL;
// _state is opaque to clients, as on ACR.
func uploadLocation(u store.Upload) string {
	state := base64.RawURLEncoding.EncodeToString([]byte(u.ID + ":" + strconv.FormatInt(u.Size, 10)))
	return "/v2/" + u.Repo + "/blobs/uploads/" + u.ID + "?_nouploadcache=false&_state=" + url.QueryEscape(state)
}

func setUploadHeaders(w http.ResponseWriter, u store.Upload) {
	h := w.Header()
	h.Set("Location", uploadLocation(u))
	h.Set("Range", spec.FormatUploadRange(u.Size))
	h.Set(spec.HeaderUploadUUID, u.ID)
}

// blobWriteError maps store errors on blob writes to OCI errors.
func blobWriteError(err error, d digest.Digest) error {
	switch {
	case errors.Is(err, store.ErrDigestMismatch):
		return &apiError{status: http.StatusBadRequest, code: spec.ErrorCodeDigestInvalid, detail: d.String(),
			message: "provided digest did not match uploaded content: the bytes received do not hash to " + d.String() + "; nothing was stored"}
	case errors.Is(err, store.ErrSizeMismatch):
		return newError(http.StatusBadRequest, spec.ErrorCodeSizeInvalid, "the bytes received do not match Content-Length; nothing was stored: %v", err)
	case errors.Is(err, store.ErrUnsupportedDigest):
		return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
	}
	return err
}

// recordingBody remembers why reading a request body failed, so that a
// failure of the client (a stalled or broken upload) is told apart from
// one of the store.
type recordingBody struct {
	r   io.Reader
	err error
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// bodyError reports a request body that could not be read, with what
// became of the upload: 408 when the client sent nothing for
// Options.BodyIdleTimeout, else 400.
func bodyError(err error, outcome string) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return newError(http.StatusRequestTimeout, spec.ErrorCodeBlobUploadInvalid,
			"the request body timed out: the client sent nothing for too long; %s: %v", outcome, err)
	}
	return newError(http.StatusBadRequest, spec.ErrorCodeBlobUploadInvalid, "reading the request body failed; %s: %v", outcome, err)
}

// handleUpload serves /v2/{name}/blobs/uploads/{id}: status (GET), chunks
// (PATCH), completion (PUT) and cancellation (DELETE).
func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	ctx := r.Context()
	u, err := s.store.GetUpload(ctx, rt.ref)
	if err == nil && u.Repo != rt.repo {
		err = store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) {
		return uploadUnknown(rt)
	}
	if err != nil {
		return err
	}
	err = s.serveUpload(w, r, u)
	if errors.Is(err, store.ErrNotFound) {
		// Another request finished or cancelled the session meanwhile
		// (clients retry a completion whose answer they did not see).
		var ae *apiError
		if !errors.As(err, &ae) {
			return uploadUnknown(rt)
		}
	}
	return err
}

// uploadUnknown is the 404 for a session that does not exist (any more).
func uploadUnknown(rt route) error {
	return &apiError{status: http.StatusNotFound, code: spec.ErrorCodeBlobUploadUnknown, detail: rt.ref,
		message: "blob upload unknown to registry: session " + rt.ref + " does not exist in " + rt.repo + " (finished, cancelled or expired): start a new upload"}
}

// serveUpload serves one request on an existing session.
func (s *Server) serveUpload(w http.ResponseWriter, r *http.Request, u store.Upload) error {
	ctx := r.Context()
	var err error
	switch r.Method {
	case http.MethodGet:
		setUploadHeaders(w, u)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodDelete:
		if err := s.store.CancelUpload(ctx, u.ID); err != nil {
			return err
		}
		s.endUpload(u.ID)
		w.Header().Set(spec.HeaderUploadUUID, u.ID) // as ACR (G TestBlobClient_StartUpload)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
		return nil
	case http.MethodPatch:
		if u, err = s.appendChunk(w, r, u); err != nil {
			return err
		}
		setUploadHeaders(w, u)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	case http.MethodPut:
		return s.completeUpload(w, r, u)
	}
	return methodNotAllowed(r)
}

// appendChunk appends a request body to a session. With a Content-Range, the
// chunk must start at the session's size (416 otherwise) and its length
// must match.
func (s *Server) appendChunk(w http.ResponseWriter, r *http.Request, u store.Upload) (store.Upload, error) {
	want := int64(-1)
	start := u.Size
	if cr := r.Header.Get("Content-Range"); cr != "" {
		a, b, err := spec.ParseUploadRange(cr)
		if err != nil {
			// ACR's answer; the session survives
			// (G TestBlobClient_CompleteUpload_uploadByChunkFailOver).
			return u, &apiError{status: http.StatusRequestedRangeNotSatisfiable, code: spec.ErrorCodeBlobUploadRangeInvalid,
				message: "blob upload range invalid", detail: map[string]string{"Range": cr, "Reason": "the Content-Range header format is invalid"}}
		}
		if a != u.Size {
			return u, s.rangeError(w, u, "chunk starts at byte "+strconv.FormatInt(a, 10)+
				" but the session holds "+strconv.FormatInt(u.Size, 10)+" bytes: send the chunk that starts there (GET the session for its Range)")
		}
		want = b - a + 1
		if r.ContentLength >= 0 && r.ContentLength != want {
			return u, newError(http.StatusBadRequest, spec.ErrorCodeSizeInvalid,
				"Content-Range %q covers %d bytes but Content-Length is %d", cr, want, r.ContentLength)
		}
	} else if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	if s.opts.MaxBlobSize > 0 && want > s.opts.MaxBlobSize-start {
		return u, s.blobTooLarge(start+want, fmt.Sprintf("the session still holds its %d bytes", u.Size))
	}
	body := io.Reader(r.Body)
	if want >= 0 {
		body = io.LimitReader(r.Body, want)
	}
	rb := &recordingBody{r: s.capBlob(body, start)}
	n, err := s.store.AppendUpload(r.Context(), u.ID, start, rb)
	if errors.Is(err, store.ErrOffsetMismatch) {
		cur, gerr := s.store.GetUpload(r.Context(), u.ID)
		if gerr == nil {
			u = cur
		}
		return u, s.rangeError(w, u, "another request changed the session: GET it for its Range and resume there")
	}
	if n > u.Size {
		u.Size = n
	}
	if err != nil && rb.err == nil {
		if errors.Is(err, store.ErrNotFound) {
			return u, &apiError{status: http.StatusNotFound, code: spec.ErrorCodeBlobUploadUnknown, detail: u.ID,
				message: "blob upload unknown to registry: session " + u.ID + " ended while the chunk was sent: start a new upload"}
		}
		// The store failed, not the client: a full or read-only disk is
		// a 503 that says so (see writeError), not the client's fault.
		return u, err
	}
	if err != nil && errors.Is(rb.err, errBlobTooLarge) {
		return u, s.blobTooLarge(-1, fmt.Sprintf("the session holds its first %d bytes", u.Size))
	}
	if err != nil {
		return u, bodyError(rb.err, fmt.Sprintf("the session holds %d bytes: GET it for its Range and resume", u.Size))
	}
	if want >= 0 && n-start != want {
		return u, newError(http.StatusBadRequest, spec.ErrorCodeSizeInvalid,
			"the chunk ended after %d of %d bytes: GET the session for its Range and resume", n-start, want)
	}
	return u, nil
}

func (s *Server) rangeError(w http.ResponseWriter, u store.Upload, msg string) error {
	setUploadHeaders(w, u)
	return newError(http.StatusRequestedRangeNotSatisfiable, spec.ErrorCodeBlobUploadInvalid, "%s", msg)
}

// completeUpload appends an optional final chunk, verifies the digest and
// commits the blob.
func (s *Server) completeUpload(w http.ResponseWriter, r *http.Request, u store.Upload) error {
	ctx := r.Context()
	ds := r.URL.Query().Get("digest")
	if ds == "" {
		return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "the digest query parameter is required to complete an upload: PUT ...?digest=sha256:...")
	}
	d, err := spec.ParseDigest(ds)
	if err != nil {
		// ACR's answer to digest=sha256:00000000; the detail is a string
		// here (G TestBlobClient_completeUpload_wrongDigest).
		return &apiError{status: http.StatusBadRequest, code: spec.ErrorCodeDigestInvalid,
			message: "provided digest did not match uploaded content", detail: "digest parsing failed"}
	}
	if r.ContentLength != 0 || r.Header.Get("Content-Range") != "" {
		if u, err = s.appendChunk(w, r, u); err != nil {
			return err
		}
	}
	n, err := s.store.CommitUpload(ctx, u.ID, d, -1)
	if err != nil {
		if errors.Is(err, store.ErrDigestMismatch) || errors.Is(err, store.ErrSizeMismatch) {
			s.endUpload(u.ID)
		}
		return blobWriteError(err, d)
	}
	s.endUpload(u.ID)
	if err := s.link(ctx, u.Repo, d, n); err != nil {
		return err
	}
	return blobCreated(w, u.Repo, d)
}

// errBlobTooLarge is the read error of a body cut at Options.MaxBlobSize.
var errBlobTooLarge = errors.New("the blob is larger than the registry's MaxBlobSize")

// blobTooLarge is the 413 for a blob beyond Options.MaxBlobSize: size is
// the size it would have had, or -1 when unknown (a body without length),
// and outcome what became of the upload.
func (s *Server) blobTooLarge(size int64, outcome string) error {
	would := "would be larger"
	if size >= 0 {
		would = "would have " + strconv.FormatInt(size, 10) + " bytes, more"
	}
	return newError(http.StatusRequestEntityTooLarge, spec.ErrorCodeSizeInvalid,
		"the blob %s than this registry's limit of %d bytes per blob (its MaxBlobSize); %s", would, s.opts.MaxBlobSize, outcome)
}

// capBlob limits a body to the bytes that fit in a blob that already holds
// used bytes, under Options.MaxBlobSize: reading further fails with
// errBlobTooLarge, before the byte too many is stored.
func (s *Server) capBlob(r io.Reader, used int64) io.Reader {
	if s.opts.MaxBlobSize <= 0 {
		return r
	}
	return &blobCap{r: r, room: s.opts.MaxBlobSize - used}
}

type blobCap struct {
	r    io.Reader
	room int64
}

func (b *blobCap) Read(p []byte) (int, error) {
	if b.room <= 0 {
		// Full: one more byte means too large, none means done.
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			return 0, errBlobTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.room {
		p = p[:b.room]
	}
	n, err := b.r.Read(p)
	b.room -= int64(n)
	return n, err
}
