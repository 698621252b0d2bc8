package emulator

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// PutBlob stores content as a blob of repo, as a completed upload does, and
// returns its sha256 digest. It seeds a registry for tests without HTTP:
// it applies the registry's rules (a name must be valid, a write-locked
// repository refuses it) but not authentication, Throttle, FailRate or
// Latency, so it works whatever the Options.
func (s *Server) PutBlob(ctx context.Context, repo string, content []byte) (digest.Digest, error) {
	if err := spec.ValidateName(repo); err != nil {
		return "", fmt.Errorf("emulator: put blob: %w", err)
	}
	if err := s.checkPushable(ctx, repo); err != nil {
		return "", fmt.Errorf("emulator: put blob into %s: %w", repo, err)
	}
	d := digest.SHA256.FromBytes(content)
	if _, err := s.store.PutBlob(ctx, d, int64(len(content)), bytes.NewReader(content)); err != nil {
		return "", fmt.Errorf("emulator: put blob %s into %s: %w", d, repo, err)
	}
	if err := s.link(ctx, repo, d, int64(len(content))); err != nil {
		return "", fmt.Errorf("emulator: put blob %s into %s: %w", d, repo, err)
	}
	return d, nil
}

// PutManifest stores manifest in repo under reference, a tag or the
// manifest's digest, and returns its digest, as PUT
// /v2/<repo>/manifests/<reference> does (OCI distribution spec: "Pushing
// Manifests"): the blobs and manifests it references must be in repo
// already (PutBlob), and locks apply. mediaType is the Content-Type such a
// request would carry; "" takes the manifest's own mediaType field, or OCI's
// image manifest or index type by its shape. Like PutBlob, it seeds a
// registry for tests without authentication or injected faults.
func (s *Server) PutManifest(ctx context.Context, repo, reference string, manifest []byte, mediaType string) (digest.Digest, error) {
	if err := spec.ValidateName(repo); err != nil {
		return "", fmt.Errorf("emulator: put manifest: %w", err)
	}
	path := "/v2/" + repo + "/manifests/" + reference
	rt := parseRoute(path)
	if rt.kind != routeManifest || rt.repo != repo || rt.ref != reference {
		return "", fmt.Errorf("emulator: put manifest %s:%s: %q is neither a tag nor a digest", repo, reference, reference)
	}
	r, err := http.NewRequestWithContext(ctx, http.MethodPut, path, bytes.NewReader(manifest))
	if err != nil {
		return "", fmt.Errorf("emulator: put manifest %s:%s: %w", repo, reference, err)
	}
	if mediaType != "" {
		r.Header.Set("Content-Type", mediaType)
	}
	w := &headerRecorder{header: http.Header{}}
	if err := s.putManifest(w, r, rt, identity{all: true}); err != nil {
		return "", fmt.Errorf("emulator: put manifest %s:%s: %w", repo, reference, err)
	}
	return digest.Digest(w.header.Get(spec.HeaderContentDigest)), nil
}

// headerRecorder is the response of a request served in process, for the
// headers a handler sets; the body of a PUT's answer is empty.
type headerRecorder struct{ header http.Header }

func (w *headerRecorder) Header() http.Header         { return w.header }
func (w *headerRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (w *headerRecorder) WriteHeader(int)             {}
