package acr

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"time"

	"github.com/opencontainers/go-digest"
)

// Soft delete: a registry with a soft-delete policy keeps deleted manifests
// and tags for a retention period, during which they can be listed and
// restored. No Azure SDK covers these endpoints; the Azure CLI's
// `az acr repository list-deleted`, `az acr manifest list-deleted`,
// `list-deleted-tags` and `restore` are the reference for the wire, and
// where they leave a point open (paging, error bodies) the calls behave as
// ACR's other /acr/v1 endpoints do.

// scopeDeletedCatalog is the token scope of the deleted repositories'
// listing, as az asks for it.
const scopeDeletedCatalog = "registry:deleted_catalog:*"

// DeletedManifest is one soft deletion of a manifest. A manifest deleted,
// restored and deleted again is listed once per deletion.
type DeletedManifest struct {
	Registry   string
	Repository string
	Digest     digest.Digest
	// Size is ACR's imageSize: the manifest's config and layers, or its
	// children for an index.
	Size      int64
	MediaType string
	// Tags are the tags that pointed at the manifest when it was deleted;
	// restoring it without naming a tag brings them back.
	Tags          []string
	CreatedOn     time.Time
	LastUpdatedOn time.Time
	DeletedOn     time.Time
	// ExpiresOn is when the registry purges the deletion for good. It is
	// zero when the registry does not say: ACR never does (its retention
	// is a property of the registry's policy in Azure Resource Manager),
	// while the local registry sends it as expiresAfter.
	ExpiresOn time.Time
}

// DeletedTag is one soft deletion of a tag: the tag's name and the
// manifest it pointed at then. A tag deleted several times is listed once
// per deletion, the most recent last.
type DeletedTag struct {
	Registry   string
	Repository string
	Name       string
	Digest     digest.Digest
	DeletedOn  time.Time
	// ExpiresOn is when the registry purges the deletion for good, or zero
	// when the registry does not say (ACR never does).
	ExpiresOn time.Time
}

type wireDeletedManifest struct {
	Digest         digest.Digest `json:"digest"`
	ImageSize      int64         `json:"imageSize"`
	CreatedTime    time.Time     `json:"createdTime"`
	LastUpdateTime time.Time     `json:"lastUpdateTime"`
	MediaType      string        `json:"mediaType"`
	Tags           []string      `json:"tags"`
	DeletedAt      time.Time     `json:"deletedAt"`
	// ExpiresAfter is the local registry's extension, named as az names
	// the field it computes from the policy's retention days.
	ExpiresAfter time.Time `json:"expiresAfter"`
}

type wireDeletedTag struct {
	// Tag carries the name: az reads x['tag'], not 'name' as in the
	// listing of live tags.
	Tag          string        `json:"tag"`
	Digest       digest.Digest `json:"digest"`
	DeletedAt    time.Time     `json:"deletedAt"`
	ExpiresAfter time.Time     `json:"expiresAfter"`
}

// deletedPath builds a /acr/v1/_deleted path with the repository's slashes
// raw, as az sends it: az is the only client known to work with these
// endpoints on ACR.
func deletedPath(repo string, rest ...string) string {
	p := "/acr/v1/_deleted/" + repo
	for _, r := range rest {
		p += "/" + url.PathEscape(r)
	}
	return p
}

// DeletedRepositories yields, in name order and page by page, the names
// of the repositories that hold soft-deleted manifests or tags (ACR only).
// Resume a stopped listing with opts.Last set to the last name received.
// The credential needs the registry:deleted_catalog:* scope, which ACR
// grants with the deleted/read permission. Iteration stops after the first
// error, which is yielded.
func (c *Client) DeletedRepositories(ctx context.Context, opts *ListOptions) iter.Seq2[string, error] {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(string, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.DeletedRepositories", yield)
		defer endSpan()
		q, err := c.pageQuery(o.PageSize, o.Last)
		if err != nil {
			yield("", err)
			return
		}
		r := request{method: http.MethodGet, path: "/acr/v1/_deleted/_catalog", query: q, scope: scopeDeletedCatalog}
		listACR(ctx, c, r, o.ReadAhead, func(body []byte, _ http.Header) ([]string, error) {
			return decodeNames(body, "repositories")
		}, "listing deleted repositories", nil, yield)
	}
}

// DeletedManifests yields the soft deletions of a repository's manifests,
// page by page, in digest order and, for one digest, oldest deletion first
// (ACR only). Resume a stopped listing with opts.Last set to the Digest of
// the last deletion received: the listing goes on after every deletion of
// that digest. The credential needs the repository's deleted_read action.
// Iteration stops after the first error, which is yielded.
func (c *Client) DeletedManifests(ctx context.Context, repo string, opts *ListOptions) iter.Seq2[DeletedManifest, error] {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(DeletedManifest, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.DeletedManifests", yield)
		defer endSpan()
		if err := checkRepo(repo); err != nil {
			yield(DeletedManifest{}, err)
			return
		}
		q, err := c.pageQuery(o.PageSize, o.Last)
		if err != nil {
			yield(DeletedManifest{}, err)
			return
		}
		r := request{method: http.MethodGet, path: deletedPath(repo, "_manifests"), query: q, scope: scopeRepo(repo, "deleted_read")}
		listACR(ctx, c, r, o.ReadAhead, func(body []byte, _ http.Header) ([]DeletedManifest, error) {
			var page struct {
				Registry  string                `json:"registry"`
				Manifests []wireDeletedManifest `json:"manifests"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return nil, err
			}
			out := make([]DeletedManifest, len(page.Manifests))
			for i, w := range page.Manifests {
				if err := checkListed(listedDigest, string(w.Digest)); err != nil {
					return nil, err
				}
				if err := checkListedTags(w.Tags); err != nil {
					return nil, err
				}
				out[i] = DeletedManifest{Registry: page.Registry, Repository: repo, Digest: w.Digest, Size: w.ImageSize,
					MediaType: w.MediaType, Tags: w.Tags, CreatedOn: w.CreatedTime, LastUpdatedOn: w.LastUpdateTime,
					DeletedOn: w.DeletedAt, ExpiresOn: w.ExpiresAfter}
			}
			return out, nil
		}, "listing deleted manifests", nil, yield)
	}
}

// DeletedTags yields the soft deletions of a repository's tags, page by
// page, in tag order and, for one tag, oldest deletion first, so that the
// last entry of a tag is its most recent deletion, the one az restores
// (ACR only). Resume a stopped listing with opts.Last set to the Name of
// the last deletion received: the listing goes on after every deletion of
// that tag. The credential needs the repository's deleted_read action.
// Iteration stops after the first error, which is yielded.
func (c *Client) DeletedTags(ctx context.Context, repo string, opts *ListOptions) iter.Seq2[DeletedTag, error] {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(DeletedTag, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.DeletedTags", yield)
		defer endSpan()
		if err := checkRepo(repo); err != nil {
			yield(DeletedTag{}, err)
			return
		}
		q, err := c.pageQuery(o.PageSize, o.Last)
		if err != nil {
			yield(DeletedTag{}, err)
			return
		}
		r := request{method: http.MethodGet, path: deletedPath(repo, "_tags"), query: q, scope: scopeRepo(repo, "deleted_read")}
		listACR(ctx, c, r, o.ReadAhead, func(body []byte, _ http.Header) ([]DeletedTag, error) {
			var page struct {
				Registry string           `json:"registry"`
				Tags     []wireDeletedTag `json:"tags"`
			}
			if err := json.Unmarshal(body, &page); err != nil {
				return nil, err
			}
			out := make([]DeletedTag, len(page.Tags))
			for i, w := range page.Tags {
				if err := checkListed(listedTag, w.Tag); err != nil {
					return nil, err
				}
				if err := checkListedDigest(string(w.Digest)); err != nil {
					return nil, err
				}
				out[i] = DeletedTag{Registry: page.Registry, Repository: repo, Name: w.Tag, Digest: w.Digest,
					DeletedOn: w.DeletedAt, ExpiresOn: w.ExpiresAfter}
			}
			return out, nil
		}, "listing deleted tags", nil, yield)
	}
}

// RestoreOptions chooses what RestoreManifest brings back.
type RestoreOptions struct {
	// Tag, when set, is restored onto the manifest; "" restores the tags
	// the manifest had when it was deleted.
	Tag string
	// Force moves the tag (or the old tags) even when it now points at
	// another manifest; without it such a restore fails with ErrTagInUse.
	Force bool
}

// RestoreManifest restores the most recent soft deletion of the manifest
// with digest d in repo and returns the restored manifest's properties
// (ACR only). Without opts.Tag, the tags it had when deleted come back;
// with it, that tag is restored onto the manifest, which also restores a
// deleted tag of a manifest that was never deleted. The credential needs
// the repository's deleted_read and deleted_restore actions.
//
// A digest without a soft deletion in repo fails with an error matching
// ErrNotFound. A tag that now points at another manifest fails with an
// error matching ErrTagInUse unless opts.Force is set; nothing is restored
// then.
func (c *Client) RestoreManifest(ctx context.Context, repo string, d digest.Digest, opts *RestoreOptions) (_ ManifestProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.RestoreManifest")
	defer func() { endSpan(err) }()
	var o RestoreOptions
	if opts != nil {
		o = *opts
	}
	if err := checkRepo(repo); err != nil {
		return ManifestProperties{}, err
	}
	if err := checkDigest(d); err != nil {
		return ManifestProperties{}, err
	}
	var tag *string // JSON null: restore the tags the manifest had
	if o.Tag != "" {
		if err := checkTag(o.Tag); err != nil {
			return ManifestProperties{}, err
		}
		tag = &o.Tag
	}
	// force is spelt True or False, as az sends Python's booleans: the
	// only spelling known to work on ACR.
	force := "False"
	if o.Force {
		force = "True"
	}
	body, hdr := jsonBody(struct {
		Tag *string `json:"tag"`
	}{tag})
	r := request{method: http.MethodPost, path: deletedPath(repo, "_manifests", d.String()), query: url.Values{"force": {force}},
		body: body, header: hdr, scope: scopeRepo(repo, "deleted_read,deleted_restore")}
	var w struct {
		Registry string       `json:"registry"`
		Manifest wireManifest `json:"manifest"`
	}
	if err := c.acrJSON(ctx, "restoring a deleted manifest", r, &w); err != nil {
		return ManifestProperties{}, err
	}
	return w.Manifest.properties(w.Registry, repo), nil
}
