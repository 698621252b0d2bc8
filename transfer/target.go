package transfer

import (
	"context"
	"io"
	"iter"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Target is where content is read from or written to. Implementations are
// safe for concurrent use.
type Target interface {
	// Resolve returns the descriptor of the manifest a tag or digest names.
	Resolve(ctx context.Context, ref string) (ocispec.Descriptor, error)
	// Fetch opens content by descriptor. Readers of registries verify the
	// digest at EOF; the caller closes the reader.
	Fetch(ctx context.Context, desc ocispec.Descriptor) (io.ReadCloser, error)
	// Exists reports whether the target holds the content.
	Exists(ctx context.Context, desc ocispec.Descriptor) (bool, error)
	// Push stores content, verifying it against desc. Manifests (by media
	// type) are stored untagged.
	Push(ctx context.Context, desc ocispec.Descriptor, r io.Reader) error
	// Tag points ref at the manifest desc.
	Tag(ctx context.Context, desc ocispec.Descriptor, ref string) error
	// Referrers yields the manifests whose subject is desc.
	Referrers(ctx context.Context, desc ocispec.Descriptor, artifactType string) iter.Seq2[ocispec.Descriptor, error]
}

// Mounter is implemented by targets that can link a blob from another
// target of the same registry without moving bytes.
type Mounter interface {
	// Mount links desc from src; it reports false when it cannot.
	Mount(ctx context.Context, desc ocispec.Descriptor, src Target) (bool, error)
}
