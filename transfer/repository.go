package transfer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// repository is a Target backed by a registry repository.
type repository struct {
	client *acr.Client
	repo   string
}

// Repository returns a Target for a repository of the registry client talks to.
func Repository(client *acr.Client, repo string) Target {
	return &repository{client: client, repo: repo}
}

func (r *repository) String() string { return r.client.Host() + "/" + r.repo }

func (r *repository) Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error) {
	m, err := r.client.GetManifest(ctx, r.repo, ref, nil)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	return m.Descriptor(), nil
}

func isManifest(mt string) bool {
	return spec.IsManifest(mt)
}

func (r *repository) Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if isManifest(desc.MediaType) {
		m, err := r.client.GetManifest(ctx, r.repo, desc.Digest.String(), nil)
		if err != nil {
			return nil, err
		}
		return selfVerifying{io.NopCloser(bytes.NewReader(m.Bytes))}, nil // GetManifest verified it
	}
	rc, err := r.client.DownloadBlob(ctx, r.repo, desc.Digest, nil)
	if err != nil {
		return nil, err
	}
	return selfVerifying{rc}, nil
}

// fetchRaw streams a blob without hashing it, for destinations that verify.
func (r *repository) fetchRaw(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error) {
	if isManifest(desc.MediaType) {
		return r.Fetch(ctx, desc)
	}
	return r.client.DownloadBlob(ctx, r.repo, desc.Digest, &acr.DownloadBlobOptions{Unverified: true})
}

func (r *repository) Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error) {
	if isManifest(desc.MediaType) {
		return r.client.ManifestExists(ctx, r.repo, desc.Digest.String())
	}
	_, ok, err := r.client.BlobExists(ctx, r.repo, desc.Digest)
	return ok, err
}

func (r *repository) Push(ctx context.Context, desc ocispec.Descriptor, rd io.Reader) error {
	if isManifest(desc.MediaType) {
		b, err := readManifest(rd, desc)
		if err != nil {
			return err
		}
		_, err = r.client.SetManifest(ctx, r.repo, b, desc.MediaType, nil)
		return err
	}
	// Copy asked Exists already: UploadBlob does not ask again.
	_, err := r.client.UploadBlob(ctx, r.repo, rd, &acr.UploadBlobOptions{Descriptor: &desc})
	return err
}

func (r *repository) Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error {
	rc, err := r.Fetch(ctx, desc)
	if err != nil {
		return err
	}
	b, err := readManifest(rc, desc)
	rc.Close()
	if err != nil {
		return err
	}
	_, err = r.client.SetManifest(ctx, r.repo, b, desc.MediaType, &acr.SetManifestOptions{Tag: ref})
	return err
}

// pushTagged puts a manifest by tag, so that storing and tagging it is one
// request (SetManifest checks the digest the registry answers).
func (r *repository) pushTagged(ctx context.Context, desc ocispec.Descriptor, b []byte, tag string) error {
	_, err := r.client.SetManifest(ctx, r.repo, b, desc.MediaType, &acr.SetManifestOptions{Tag: tag})
	return err
}

func (r *repository) Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string) iter.Seq2[ocispec.Descriptor, error] {
	return r.client.Referrers(ctx, r.repo, desc.Digest, artifactType)
}

// Mount links a blob from another repository of the same registry.
func (r *repository) Mount(ctx context.Context, desc ocispec.Descriptor, src Target) (bool, error) {
	s, ok := src.(*repository)
	if !ok || s.client.Host() != r.client.Host() || s.repo == r.repo || isManifest(desc.MediaType) {
		return false, nil
	}
	return r.client.MountBlob(ctx, r.repo, s.repo, desc.Digest)
}

// readManifest reads manifest bytes, bounded and verified against desc.
func readManifest(rd io.Reader, desc ocispec.Descriptor) ([]byte, error) {
	if desc.Size > spec.MaxManifestSize {
		return nil, fmt.Errorf("transfer: manifest %s is %d bytes; over the 4 MiB limit", desc.Digest, desc.Size)
	}
	b, err := io.ReadAll(io.LimitReader(rd, spec.MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != desc.Size || desc.Digest.Algorithm().FromBytes(b) != desc.Digest {
		return nil, fmt.Errorf("%w: manifest %s: content does not match its descriptor", acr.ErrDigestMismatch, desc.Digest)
	}
	return b, nil
}

// selfVerifying marks a reader that checks its content's size and digest
// and fails the read that reaches EOF on a mismatch, so that a destination
// need not hash the content a second time.
type selfVerifying struct{ io.ReadCloser }

func (selfVerifying) verifies() {}

// verifier is implemented by self-verifying readers.
type verifier interface{ verifies() }

func isSelfVerifying(r io.Reader) bool {
	_, ok := r.(verifier)
	return ok
}
