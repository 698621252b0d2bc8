package acr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Manifest is a manifest's exact bytes with their media type and digest.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Bytes     []byte
}

// Descriptor returns the manifest's descriptor.
func (m Manifest) Descriptor() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: int64(len(m.Bytes))}
}

// IsIndex reports whether the manifest is an OCI index or a Docker
// manifest list.
func (m Manifest) IsIndex() bool { return spec.IsIndex(m.MediaType) }

// Image decodes an OCI image manifest or Docker v2 manifest (the two share
// their JSON shape).
func (m Manifest) Image() (ocispec.Manifest, error) {
	var v ocispec.Manifest
	if !spec.IsImageManifest(m.MediaType) && m.MediaType != "" {
		return v, fmt.Errorf("acr: manifest %s is %s, not an image manifest", m.Digest, m.MediaType)
	}
	return v, json.Unmarshal(m.Bytes, &v)
}

// Index decodes an OCI index or Docker manifest list.
func (m Manifest) Index() (ocispec.Index, error) {
	var v ocispec.Index
	if !m.IsIndex() {
		return v, fmt.Errorf("acr: manifest %s is %s, not an index", m.Digest, m.MediaType)
	}
	return v, json.Unmarshal(m.Bytes, &v)
}

// GetManifestOptions configures GetManifest.
type GetManifestOptions struct {
	// MediaTypes are the manifest media types accepted, sent as the Accept
	// header in this order of preference. Empty means every type the
	// client knows: OCI image manifest and index, Docker v2 schema 2
	// manifest and manifest list, and the OCI artifact manifest of the OCI
	// 1.1 release candidates. ACR (as distribution) answers an OCI
	// manifest, index or artifact manifest that the list leaves out with
	// ErrNotFound, and a
	// Docker manifest list asked for by tag with its linux/amd64 image
	// when only Docker v2 manifests are accepted; the Manifest's
	// MediaType and Digest say what it sent.
	MediaTypes []string
}

// GetManifest fetches a manifest by tag or digest. It accepts the media
// types of opts (by default every manifest type the client knows), refuses
// bodies over 4 MiB, and verifies the digest: against the requested
// digest, or the registry's Docker-Content-Digest for a tag; a body that
// does not match fails with an error matching ErrDigestMismatch. A
// repository, tag or digest the registry does not hold, or a manifest of a
// type opts leaves out, fails with an error matching ErrNotFound; one whose
// readEnabled flag is off, ErrLocked; an invalid repo or tagOrDigest,
// ErrInvalidReference, before any request.
func (c *Client) GetManifest(ctx context.Context, repo, tagOrDigest string, opts *GetManifestOptions) (_ Manifest, err error) {
	ctx, endSpan := c.span(ctx, "Client.GetManifest")
	defer func() { endSpan(err) }()
	var o GetManifestOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return Manifest{}, err
	}
	if err := checkTagOrDigest(tagOrDigest); err != nil {
		return Manifest{}, err
	}
	accept := manifestAccept
	if len(o.MediaTypes) > 0 {
		for _, mt := range o.MediaTypes {
			if _, _, err := mime.ParseMediaType(mt); err != nil || strings.ContainsAny(mt, ",;") {
				return Manifest{}, fmt.Errorf("acr: GetManifestOptions.MediaTypes: %q is not a media type (want one such as %s)", mt, spec.MediaTypeOCIManifest)
			}
		}
		accept = strings.Join(o.MediaTypes, ", ")
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: v2Path(repo, "manifests", tagOrDigest),
		header: http.Header{"Accept": {accept}}, scope: scopeRepo(repo, "pull")})
	if err != nil {
		return Manifest{}, err
	}
	defer resp.Body.Close()
	if resp.ContentLength > spec.MaxManifestSize {
		return Manifest{}, fmt.Errorf("acr: manifest %s:%s is %d bytes; manifests over 4 MiB are refused", repo, tagOrDigest, resp.ContentLength)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, spec.MaxManifestSize+1))
	if err != nil {
		return Manifest{}, fmt.Errorf("acr: reading manifest %s:%s: %w", repo, tagOrDigest, err)
	}
	if len(body) > spec.MaxManifestSize {
		return Manifest{}, fmt.Errorf("acr: manifest %s:%s is over 4 MiB; refused", repo, tagOrDigest)
	}
	want := digest.Digest(resp.Header.Get("Docker-Content-Digest"))
	if spec.IsDigest(tagOrDigest) {
		want = digest.Digest(tagOrDigest)
	}
	var got digest.Digest
	if want != "" {
		if want.Validate() != nil {
			return Manifest{}, fmt.Errorf("acr: %s sent an invalid Docker-Content-Digest %q", c.host, want)
		}
		got = want.Algorithm().FromBytes(body)
		if got != want {
			return Manifest{}, fmt.Errorf("%w: manifest %s:%s: the body hashes to %s, not %s", ErrDigestMismatch, repo, tagOrDigest, got, want)
		}
	} else {
		got = digest.FromBytes(body)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == "" || mt == "application/json" || mt == "application/octet-stream" {
		var probe struct {
			MediaType string `json:"mediaType"`
		}
		if json.Unmarshal(body, &probe) == nil && probe.MediaType != "" {
			mt = probe.MediaType
		}
	}
	return Manifest{Digest: got, MediaType: mt, Bytes: body}, nil
}

// SetManifestOptions configures SetManifest.
type SetManifestOptions struct {
	// Tag, when set, tags the manifest; otherwise it is pushed by digest.
	Tag string
}

// SetManifest pushes manifest bytes with their media type and returns the
// digest, verified against the one the registry answers. An empty
// mediaType takes the manifest's own mediaType field, else OCI's: an index
// when the manifest lists manifests, an image manifest otherwise.
//
// A manifest with a subject pushed to a registry without the referrers API
// (no OCI-Subject header in the answer) is also added to the subject's
// referrers tag index, as distribution spec v1.1 "Pushing Manifests with
// Subject" requires. If that fails, the digest is returned with a
// *ReferrersTagError: the manifest is stored, its index entry is not.
//
// A repository whose writeEnabled flag is off, or a Tag whose own flag is
// off (moving a locked tag), refuses the push: the error matches
// ErrLocked.
func (c *Client) SetManifest(ctx context.Context, repo string, manifest []byte, mediaType string, opts *SetManifestOptions) (_ digest.Digest, err error) {
	ctx, endSpan := c.span(ctx, "Client.SetManifest")
	defer func() { endSpan(err) }()
	var o SetManifestOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	if len(manifest) > spec.MaxManifestSize {
		return "", fmt.Errorf("acr: the manifest is %d bytes; registries accept at most 4 MiB", len(manifest))
	}
	if mediaType == "" {
		// The manifest's own mediaType, else OCI's, as the .NET SDK
		// defaults: an index when it lists manifests, else an image
		// manifest (the OCI image spec tells them apart so).
		var probe struct {
			MediaType string          `json:"mediaType"`
			Manifests json.RawMessage `json:"manifests"`
		}
		if err := json.Unmarshal(manifest, &probe); err != nil {
			return "", fmt.Errorf("acr: the manifest is not JSON: %w", err)
		}
		switch {
		case probe.MediaType != "":
			mediaType = probe.MediaType
		case probe.Manifests != nil:
			mediaType = spec.MediaTypeOCIIndex
		default:
			mediaType = spec.MediaTypeOCIManifest
		}
	}
	d := digest.FromBytes(manifest)
	ref := d.String()
	if o.Tag != "" {
		if err := checkTag(o.Tag); err != nil {
			return "", err
		}
		ref = o.Tag
	}
	resp, err := c.do(ctx, request{method: http.MethodPut, path: v2Path(repo, "manifests", ref), body: manifest,
		header: http.Header{"Content-Type": {mediaType}}, scope: scopeRepo(repo, "pull,push")})
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != "" && got != d.String() {
		return "", fmt.Errorf("%w: pushed manifest %s but the registry answered %s", ErrDigestMismatch, d, got)
	}
	return d, c.indexPushedReferrer(ctx, repo, manifest, mediaType, d, resp.Header)
}

// SetImage marshals an OCI image manifest and pushes it, with the media
// type of its MediaType field, or OCI's image manifest type when that is
// empty (which it then fills in). A SchemaVersion of 0 is sent as 2, the
// only one the image spec defines, so that a manifest literal needs no
// specs.Versioned. Push an index with SetIndex, and other manifests as
// bytes with SetManifest.
func (c *Client) SetImage(ctx context.Context, repo string, m ocispec.Manifest, opts *SetManifestOptions) (_ ocispec.Descriptor, err error) {
	ctx, endSpan := c.span(ctx, "Client.SetImage")
	defer func() { endSpan(err) }()
	if m.MediaType == "" {
		m.MediaType = ocispec.MediaTypeImageManifest
	}
	if m.SchemaVersion == 0 {
		m.SchemaVersion = 2
	}
	return c.setJSON(ctx, repo, m, m.MediaType, opts)
}

// SetIndex marshals an OCI image index and pushes it, with the media type
// of its MediaType field, or OCI's index type when that is empty (which it
// then fills in), and with SchemaVersion 2 when it is 0, as SetImage does.
func (c *Client) SetIndex(ctx context.Context, repo string, idx ocispec.Index, opts *SetManifestOptions) (_ ocispec.Descriptor, err error) {
	ctx, endSpan := c.span(ctx, "Client.SetIndex")
	defer func() { endSpan(err) }()
	if idx.MediaType == "" {
		idx.MediaType = ocispec.MediaTypeImageIndex
	}
	if idx.SchemaVersion == 0 {
		idx.SchemaVersion = 2
	}
	return c.setJSON(ctx, repo, idx, idx.MediaType, opts)
}

// setJSON marshals v and pushes it as a manifest of media type mt.
func (c *Client) setJSON(ctx context.Context, repo string, v any, mt string, opts *SetManifestOptions) (ocispec.Descriptor, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return ocispec.Descriptor{}, err
	}
	d, err := c.SetManifest(ctx, repo, b, mt, opts)
	return ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))}, err
}

// Referrers yields the descriptors of the manifests whose subject is d
// (signatures, SBOMs, attestations), optionally only those of artifactType.
// It uses the OCI 1.1 referrers API and falls back to the referrers tag
// schema (tag sha256-HEX) on registries without it. Iteration stops after
// the first error, which is yielded.
func (c *Client) Referrers(ctx context.Context, repo string, d digest.Digest, artifactType string) iter.Seq2[ocispec.Descriptor, error] {
	return func(yield func(ocispec.Descriptor, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.Referrers", yield)
		defer endSpan()
		if err := checkRepo(repo); err != nil {
			yield(ocispec.Descriptor{}, err)
			return
		}
		if err := checkDigest(d); err != nil {
			yield(ocispec.Descriptor{}, err)
			return
		}
		q := url.Values{}
		if artifactType != "" {
			q.Set("artifactType", artifactType)
		}
		r := request{method: http.MethodGet, path: v2Path(repo, "referrers", d.String()), query: q, scope: scopeRepo(repo, "pull"),
			header: http.Header{"Accept": {ocispec.MediaTypeImageIndex}}}
		first := true
		filtered := false // the registry applied the artifactType filter
		for desc, err := range paginate(ctx, c, r, false, func(body []byte, h http.Header) ([]ocispec.Descriptor, error) {
			filtered = slices.Contains(strings.Split(strings.ReplaceAll(h.Get(spec.HeaderFiltersApplied), " ", ""), ","), "artifactType")
			c.noteReferrersAPIServed()
			var idx ocispec.Index
			if err := json.Unmarshal(body, &idx); err != nil {
				return nil, err
			}
			return idx.Manifests, checkListedDescriptors(idx.Manifests)
		}) {
			if err != nil && first && isNotFound(err) {
				c.noteReferrersAPIMissing(err)
				c.referrersByTag(ctx, repo, d, artifactType, yield)
				return
			}
			first = false
			// Filter here when the registry did not. When it did, trust
			// it: ACR lists some referrers without their artifactType
			// (Azure/acr#784, registries with customer-managed keys),
			// and they would all be dropped here.
			if err == nil && artifactType != "" && !filtered && desc.ArtifactType != artifactType {
				continue
			}
			if !yield(desc, err) {
				return
			}
		}
	}
}

// referrersByTag reads the referrers tag schema's index.
func (c *Client) referrersByTag(ctx context.Context, repo string, d digest.Digest, artifactType string, yield func(ocispec.Descriptor, error) bool) {
	m, err := c.GetManifest(ctx, repo, spec.ReferrersTag(d.String()), nil)
	if isNotFound(err) {
		return
	}
	if err != nil {
		yield(ocispec.Descriptor{}, err)
		return
	}
	idx, err := m.Index()
	if err == nil {
		err = checkListedDescriptors(idx.Manifests)
	}
	if err != nil {
		yield(ocispec.Descriptor{}, err)
		return
	}
	for _, desc := range idx.Manifests {
		if artifactType != "" && desc.ArtifactType != artifactType {
			continue
		}
		if !yield(desc, nil) {
			return
		}
	}
}
