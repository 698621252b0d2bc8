package acr

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"time"

	"github.com/acrgo/acr/internal/jsonread"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// ManifestProperties describes a manifest: an image, an index or an artifact.
type ManifestProperties struct {
	Registry   string
	Repository string
	Digest     digest.Digest
	// Size is ACR's imageSize: the manifest's config and layers, or its
	// children for an index.
	Size            int64
	MediaType       string
	ConfigMediaType string
	ArtifactType    string
	Architecture    string
	OS              string
	// Tags lists the tags that point at the manifest.
	Tags []string
	// RelatedArtifacts lists the children of an index with their platforms.
	RelatedArtifacts []ArtifactPlatform
	CreatedOn        time.Time
	LastUpdatedOn    time.Time
	Permissions      Permissions
}

// ArtifactPlatform is a child manifest of an index and its platform.
type ArtifactPlatform struct {
	Digest       digest.Digest
	Architecture string
	OS           string
}

type wireManifest struct {
	Digest          digest.Digest `json:"digest"`
	ImageSize       int64         `json:"imageSize"`
	CreatedTime     time.Time     `json:"createdTime"`
	LastUpdateTime  time.Time     `json:"lastUpdateTime"`
	Architecture    string        `json:"architecture"`
	OS              string        `json:"os"`
	MediaType       string        `json:"mediaType"`
	ConfigMediaType string        `json:"configMediaType"`
	ArtifactType    string        `json:"artifactType"`
	Tags            []string      `json:"tags"`
	References      []struct {
		Digest       digest.Digest `json:"digest"`
		Architecture string        `json:"architecture"`
		OS           string        `json:"os"`
	} `json:"references"`
	Attributes *wireAttributes `json:"changeableAttributes"`
}

func (w wireManifest) properties(registry, repo string) ManifestProperties {
	m := ManifestProperties{Registry: registry, Repository: repo, Digest: w.Digest, Size: w.ImageSize, MediaType: w.MediaType,
		ConfigMediaType: w.ConfigMediaType, ArtifactType: w.ArtifactType, Architecture: w.Architecture, OS: w.OS, Tags: w.Tags,
		CreatedOn: w.CreatedTime, LastUpdatedOn: w.LastUpdateTime, Permissions: w.Attributes.permissions()}
	for _, r := range w.References {
		m.RelatedArtifacts = append(m.RelatedArtifacts, ArtifactPlatform{Digest: r.Digest, Architecture: r.Architecture, OS: r.OS})
	}
	return m
}

// ManifestsOptions orders and pages the manifests listed.
type ManifestsOptions struct {
	Order Order
	// PageSize is the number of manifests asked per page; 0 means the
	// client's ClientOptions.PageSize.
	PageSize int
	// Last resumes the listing after the manifest of this digest, in the
	// listing's order: pass the Digest of the last manifest received to
	// continue a listing that was stopped. In a time order the manifest
	// must still exist (see TagsOptions.Last).
	Last digest.Digest
	// ReadAhead requests the next page while the caller handles the
	// current one, so that the registry builds it meanwhile: for callers
	// that read the whole listing. A caller that stops early leaves one
	// page request sent for nothing; without ReadAhead a page is requested
	// only when the caller asks for its first item.
	ReadAhead bool
}

// Manifests yields the manifests of a repository with their properties,
// page by page (ACR only). Iteration stops after the first error, which is
// yielded.
func (c *Client) Manifests(ctx context.Context, repo string, opts *ManifestsOptions) iter.Seq2[ManifestProperties, error] {
	var o ManifestsOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(ManifestProperties, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.Manifests", yield)
		defer endSpan()
		if err := checkRepo(repo); err != nil {
			yield(ManifestProperties{}, err)
			return
		}
		if o.Last != "" {
			if err := o.Last.Validate(); err != nil {
				yield(ManifestProperties{}, fmt.Errorf("%w: Last: %v", ErrInvalidReference, err))
				return
			}
		}
		if err := o.Order.check(); err != nil {
			yield(ManifestProperties{}, err)
			return
		}
		q, err := c.pageQuery(o.PageSize, o.Last.String())
		if err != nil {
			yield(ManifestProperties{}, err)
			return
		}
		if s := o.Order.query(); s != "" {
			q.Set("orderby", s)
		}
		r := request{method: http.MethodGet, path: acrPath(repo, "_manifests"), query: q, scope: scopeRepo(repo, "metadata_read")}
		listACR(ctx, c, r, o.ReadAhead, func(body []byte, _ http.Header) ([]ManifestProperties, error) {
			return checkManifests(decodeManifestPage(body, repo))
		}, "listing manifests", nil, yield)
	}
}

// decodeManifestPage decodes a page of ACR's manifest listing:
// {"registry":..., "imageName":..., "manifests":[{"digest":...,
// "imageSize":..., ...}]}, with the fields of wireManifest.
func decodeManifestPage(body []byte, repo string) ([]ManifestProperties, error) {
	r := jsonread.New(body)
	var registry string
	var out []ManifestProperties
	err := r.Object(func(key []byte) error {
		if !jsonread.Match(key, "manifests") {
			if jsonread.Match(key, "registry") {
				return r.ReadString(&registry)
			}
			return r.Skip()
		}
		out = out[:0]
		if null, err := r.Null(); null || err != nil {
			out = nil
			return err
		}
		return r.Array(func() error {
			m := ManifestProperties{Repository: repo}
			var a attributes
			err := r.Object(func(key []byte) error {
				switch {
				case jsonread.Match(key, "digest"):
					return r.ReadString((*string)(&m.Digest))
				case jsonread.Match(key, "imageSize"):
					return r.ReadInt(&m.Size)
				case jsonread.Match(key, "createdTime"):
					return r.ReadTime(&m.CreatedOn)
				case jsonread.Match(key, "lastUpdateTime"):
					return r.ReadTime(&m.LastUpdatedOn)
				case jsonread.Match(key, "architecture"):
					return r.ReadString(&m.Architecture)
				case jsonread.Match(key, "os"):
					return r.ReadString(&m.OS)
				case jsonread.Match(key, "mediaType"):
					return r.ReadString(&m.MediaType)
				case jsonread.Match(key, "configMediaType"):
					return r.ReadString(&m.ConfigMediaType)
				case jsonread.Match(key, "artifactType"):
					return r.ReadString(&m.ArtifactType)
				case jsonread.Match(key, "tags"):
					return readStrings(r, &m.Tags)
				case jsonread.Match(key, "references"):
					m.RelatedArtifacts = m.RelatedArtifacts[:0]
					if null, err := r.Null(); null || err != nil {
						m.RelatedArtifacts = nil
						return err
					}
					return r.Array(func() error {
						var p ArtifactPlatform
						err := r.Object(func(key []byte) error {
							switch {
							case jsonread.Match(key, "digest"):
								return r.ReadString((*string)(&p.Digest))
							case jsonread.Match(key, "architecture"):
								return r.ReadString(&p.Architecture)
							case jsonread.Match(key, "os"):
								return r.ReadString(&p.OS)
							}
							return r.Skip()
						})
						m.RelatedArtifacts = append(m.RelatedArtifacts, p)
						return err
					})
				case jsonread.Match(key, "changeableAttributes"):
					return a.read(r)
				}
				return r.Skip()
			})
			m.Permissions = a.permissions()
			out = append(out, m)
			return err
		})
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Registry = registry
		if len(out[i].RelatedArtifacts) == 0 {
			out[i].RelatedArtifacts = nil
		}
	}
	return out, nil
}

// readStrings reads an array of strings into p, as encoding/json decodes
// one into a []string: null sets nil, and null elements are "".
func readStrings(r *jsonread.Reader, p *[]string) error {
	if null, err := r.Null(); null || err != nil {
		*p = nil
		return err
	}
	s := (*p)[:0]
	if s == nil {
		s = []string{}
	}
	err := r.Array(func() error {
		var v string
		err := r.ReadString(&v)
		s = append(s, v)
		return err
	})
	*p = s
	return err
}

// GetManifestProperties returns the properties of the manifest a tag or
// digest names (ACR only: elsewhere the error matches ErrNotSupported; a
// manifest, tag or repository the registry does not hold, ErrNotFound).
func (c *Client) GetManifestProperties(ctx context.Context, repo, tagOrDigest string) (_ ManifestProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.GetManifestProperties")
	defer func() { endSpan(err) }()
	return c.manifestRequest(ctx, http.MethodGet, repo, tagOrDigest, nil)
}

// UpdateManifestProperties changes the lock flags of the manifest a tag or
// digest names and returns its new properties (ACR only).
func (c *Client) UpdateManifestProperties(ctx context.Context, repo, tagOrDigest string, update PermissionsUpdate) (_ ManifestProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.UpdateManifestProperties")
	defer func() { endSpan(err) }()
	return c.manifestRequest(ctx, http.MethodPatch, repo, tagOrDigest, &update)
}

func (c *Client) manifestRequest(ctx context.Context, method, repo, ref string, update *PermissionsUpdate) (ManifestProperties, error) {
	if err := checkRepo(repo); err != nil {
		return ManifestProperties{}, err
	}
	if err := checkTagOrDigest(ref); err != nil {
		return ManifestProperties{}, err
	}
	// ACR's manifest endpoints take digests: resolve a tag first, as the
	// .NET SDK does.
	if !spec.IsDigest(ref) {
		t, err := c.tagRequest(ctx, http.MethodGet, repo, ref, nil, "manifest properties")
		if err != nil {
			return ManifestProperties{}, err
		}
		ref = t.Digest.String()
	}
	r := request{method: method, path: acrPath(repo, "_manifests", ref), scope: scopeRepo(repo, "metadata_read")}
	if update != nil {
		r.body, r.header = jsonBody(update.wire())
		r.scope = scopeRepo(repo, "metadata_write")
	}
	var w struct {
		Registry string       `json:"registry"`
		Manifest wireManifest `json:"manifest"`
	}
	if err := c.acrJSON(ctx, "manifest properties", r, &w); err != nil {
		return ManifestProperties{}, err
	}
	return w.Manifest.properties(w.Registry, repo), nil
}

// MediaTypeArtifactManifest is the media type of the OCI artifact
// manifest of the OCI 1.1 release candidates (artifactType, blobs and
// subject, no config), which OCI 1.1 final dropped and which ocispec no
// longer names; ACR stores and serves such manifests, pushed by oras 1.0
// and early notation releases, and this client reads and copies them.
const MediaTypeArtifactManifest = spec.MediaTypeOCIArtifact

// manifestAccept lists every manifest media type the client understands,
// for Accept headers. ACR answers an OCI artifact manifest that Accept
// leaves out with 404 MANIFEST_UNKNOWN "OCI artifact found, but accept
// header does not support OCI artifacts" (go-containerregistry#1697), so
// it is named too.
var manifestAccept = strings.Join([]string{spec.MediaTypeOCIManifest, spec.MediaTypeOCIIndex,
	spec.MediaTypeDockerManifest, spec.MediaTypeDockerList, spec.MediaTypeOCIArtifact}, ", ")

// ResolveDigest returns the digest of the manifest a tag names, with one
// HEAD request. A digest is returned as is, after validation.
func (c *Client) ResolveDigest(ctx context.Context, repo, tagOrDigest string) (_ digest.Digest, err error) {
	ctx, endSpan := c.span(ctx, "Client.ResolveDigest")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return "", err
	}
	if err := checkTagOrDigest(tagOrDigest); err != nil {
		return "", err
	}
	if spec.IsDigest(tagOrDigest) {
		return digest.Digest(tagOrDigest), nil
	}
	resp, err := c.headManifest(ctx, repo, tagOrDigest, nil)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	d, err := digest.Parse(resp.Header.Get("Docker-Content-Digest"))
	if err != nil {
		return "", fmt.Errorf("acr: %s answered HEAD %s:%s without a valid Docker-Content-Digest", c.host, repo, tagOrDigest)
	}
	return d, nil
}

// ManifestDeletion reports what DeleteManifest did.
type ManifestDeletion struct {
	// Digest is the manifest deleted: the one the tag named, when
	// DeleteManifest was given a tag.
	Digest digest.Digest
	// UnindexedFrom is set when the manifest was a referrer (a signature,
	// an SBOM) on a registry without the referrers API, and DeleteManifest
	// removed its entry from the referrers tag index of this subject (the
	// image index tagged sha256-HEX of UnindexedFrom). It is empty when
	// there was no entry to remove, or no index to keep: on ACR and other
	// registries with the referrers API, which drop a deleted referrer
	// from their listing themselves.
	UnindexedFrom digest.Digest
}

// DeleteManifest deletes a manifest, named by tag or digest, with every tag
// that points at it; on ACR its referrers (signatures, SBOMs) go with it.
// A tag is resolved to its digest first, since registries delete manifests
// by digest only.
//
// On a registry without the referrers API, a deleted referrer is also
// removed from its subject's referrers tag index (distribution spec v1.1,
// "Deleting Manifests"), so that tools listing referrers through that
// index, such as oras discover, stop listing it; the index it replaces is
// deleted, and so is the index and its tag when the last referrer goes
// (where the registry refuses to delete manifests, the old index stays
// and an empty one is tagged). That takes a fetch of the manifest before
// the deletion, to learn its subject, and one request per Client to learn
// whether the registry serves the API; neither is sent to ACR, nor to a
// registry already known to serve the API. When the index cannot be
// updated, the manifest is deleted all the same and the error is a
// *ReferrersTagError, returned with the ManifestDeletion.
//
// A manifest, tag or repository whose deleteEnabled flag is off is not
// deleted: the error matches ErrLocked.
func (c *Client) DeleteManifest(ctx context.Context, repo, tagOrDigest string) (_ ManifestDeletion, err error) {
	ctx, endSpan := c.span(ctx, "Client.DeleteManifest")
	defer func() { endSpan(err) }()
	del, err := c.prepareDeletion(ctx, repo, tagOrDigest)
	if err != nil {
		return ManifestDeletion{}, err
	}
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: v2Path(repo, "manifests", del.digest.String()), scope: scopeRepo(repo, "delete")})
	if err != nil {
		return ManifestDeletion{}, err
	}
	resp.Body.Close()
	out := ManifestDeletion{Digest: del.digest}
	if del.subject == "" {
		return out, nil
	}
	// Also when asking whether the registry serves the referrers API
	// failed: a registry with the API has no such index, and nothing
	// changes.
	removed, err := c.unindexDeletedReferrer(ctx, repo, del.digest, del.subject)
	if removed {
		out.UnindexedFrom = del.subject
	}
	return out, err
}

// headManifest sends HEAD for the manifest tagOrDigest names, answered
// with a status in ok (nil: 2xx). A 405, which ACR answers when a lock
// flag refuses the read, comes without a body to say so, as any answer to
// HEAD: the request is then made again with GET, whose body names the
// cause ([ErrLocked]).
func (c *Client) headManifest(ctx context.Context, repo, tagOrDigest string, ok []int) (*http.Response, error) {
	r := request{method: http.MethodHead, path: v2Path(repo, "manifests", tagOrDigest),
		header: http.Header{"Accept": {manifestAccept}}, scope: scopeRepo(repo, "pull"), ok: ok}
	resp, err := c.do(ctx, r)
	var re *ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusMethodNotAllowed || len(re.Errors) > 0 {
		return resp, err
	}
	r.method = http.MethodGet
	gresp, gerr := c.do(ctx, r)
	if gerr != nil {
		return nil, gerr
	}
	gresp.Body.Close()
	return nil, err
}

// ManifestExists reports whether repo holds the manifest a tag or digest
// names, with one HEAD request.
func (c *Client) ManifestExists(ctx context.Context, repo, tagOrDigest string) (_ bool, err error) {
	ctx, endSpan := c.span(ctx, "Client.ManifestExists")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return false, err
	}
	if err := checkTagOrDigest(tagOrDigest); err != nil {
		return false, err
	}
	resp, err := c.headManifest(ctx, repo, tagOrDigest, []int{http.StatusOK, http.StatusNotFound})
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK, nil
}
