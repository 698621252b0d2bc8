package transfer

import (
	"context"
	"encoding/json"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// GraphSize adds up the sizes of the manifests and blobs that ref names in
// src, each once, as [Copy] with these platforms would account for them in
// its Progress (referrers aside, which are found only while copying). It
// reads the manifests, which are small, and none of the blobs. When several
// platforms make Copy write a new index, the source index's size stands in
// for it.
func GraphSize(ctx context.Context, src Target, ref string, platforms []ocispec.Platform) (_ int64, err error) {
	ctx, endSpan := startSpan(ctx, "transfer.GraphSize", src)
	defer func() { endSpan(err) }()
	root, err := src.Resolve(ctx, ref)
	if err != nil {
		return 0, err
	}
	seen := map[digest.Digest]bool{}
	var total int64
	var walk func(desc ocispec.Descriptor, top bool) error
	walk = func(desc ocispec.Descriptor, top bool) error {
		if seen[desc.Digest] {
			return nil
		}
		seen[desc.Digest] = true
		total += desc.Size
		if !isManifest(desc.MediaType) {
			return nil
		}
		b, err := fetchManifest(ctx, src, desc)
		if err != nil {
			return err
		}
		kids, _, err := children(desc, b)
		if err != nil {
			return err
		}
		if top && len(platforms) > 0 && spec.IsIndex(desc.MediaType) {
			var idx ocispec.Index
			if err := json.Unmarshal(b, &idx); err != nil {
				return err
			}
			kids = kids[:0]
			for _, m := range idx.Manifests {
				for _, p := range platforms {
					if m.Platform != nil && p.OS == m.Platform.OS && p.Architecture == m.Platform.Architecture &&
						(p.Variant == "" || p.Variant == m.Platform.Variant) {
						kids = append(kids, plain(m))
						break
					}
				}
			}
			if len(platforms) == 1 && len(kids) == 1 {
				total -= desc.Size // the child becomes the root
			}
		}
		for _, k := range kids {
			if err := walk(k, false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, true); err != nil {
		return 0, err
	}
	return total, nil
}
