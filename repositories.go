package acr

import (
	"context"
	"iter"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
)

// RepositoryProperties describes a repository.
type RepositoryProperties struct {
	// Registry is the login server, such as myregistry.azurecr.io.
	Registry string
	// Name is the repository name, such as library/hello-world.
	Name          string
	CreatedOn     time.Time
	LastUpdatedOn time.Time
	ManifestCount int
	TagCount      int
	Permissions   Permissions
}

type wireRepository struct {
	Registry       string          `json:"registry"`
	ImageName      string          `json:"imageName"`
	CreatedTime    time.Time       `json:"createdTime"`
	LastUpdateTime time.Time       `json:"lastUpdateTime"`
	ManifestCount  int             `json:"manifestCount"`
	TagCount       int             `json:"tagCount"`
	Attributes     *wireAttributes `json:"changeableAttributes"`
}

func (w wireRepository) properties() RepositoryProperties {
	return RepositoryProperties{Registry: w.Registry, Name: w.ImageName, CreatedOn: w.CreatedTime, LastUpdatedOn: w.LastUpdateTime,
		ManifestCount: w.ManifestCount, TagCount: w.TagCount, Permissions: w.Attributes.permissions()}
}

// Repositories yields the names of the registry's repositories in name
// order, page by page. It uses ACR's /acr/v1/_catalog, or the OCI
// /v2/_catalog on other registries. Resume a stopped listing with
// opts.Last set to the last name received. Iteration stops after the first
// error, which is yielded. The sequence can be ranged over more than once;
// each range lists afresh.
func (c *Client) Repositories(ctx context.Context, opts *ListOptions) iter.Seq2[string, error] {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(string, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.Repositories", yield)
		defer endSpan()
		q, err := c.pageQuery(o.PageSize, o.Last)
		if err != nil {
			yield("", err)
			return
		}
		page := func(body []byte, _ http.Header) ([]string, error) { return decodeNames(body, "repositories") }
		oci := func(yield func(string, error) bool) {
			// The catalog keeps n, unlike the tag list of a registry
			// without /acr/v1 (TagNames): distribution answers 100
			// repositories without it and at most 1,000 (its
			// maxentries) with it, so asking without n would take ten
			// times the requests.
			r := request{method: http.MethodGet, path: "/v2/_catalog", query: q, scope: scopeCatalog}
			for name, err := range paginate(ctx, c, r, o.ReadAhead, page) {
				if !yield(name, err) {
					return
				}
			}
		}
		r := request{method: http.MethodGet, path: "/acr/v1/_catalog", query: q, scope: scopeCatalog}
		listACR(ctx, c, r, o.ReadAhead, page, "", oci, yield)
	}
}

// GetRepositoryProperties returns a repository's properties (ACR only:
// elsewhere the error matches ErrNotSupported; a repository the registry
// does not hold, ErrNotFound).
func (c *Client) GetRepositoryProperties(ctx context.Context, repo string) (_ RepositoryProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.GetRepositoryProperties")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return RepositoryProperties{}, err
	}
	var w wireRepository
	err = c.acrJSON(ctx, "repository properties", request{method: http.MethodGet, path: acrPath(repo), scope: scopeRepo(repo, "metadata_read")}, &w)
	return w.properties(), err
}

// UpdateRepositoryProperties changes a repository's lock flags and returns
// its new properties (ACR only).
func (c *Client) UpdateRepositoryProperties(ctx context.Context, repo string, update PermissionsUpdate) (_ RepositoryProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.UpdateRepositoryProperties")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return RepositoryProperties{}, err
	}
	body, hdr := jsonBody(update.wire())
	var w wireRepository
	err = c.acrJSON(ctx, "updating repository properties", request{method: http.MethodPatch, path: acrPath(repo), body: body, header: hdr,
		scope: scopeRepo(repo, "metadata_write")}, &w)
	return w.properties(), err
}

// DeletedRepository lists what deleting a repository removed.
type DeletedRepository struct {
	Manifests []digest.Digest
	Tags      []string
}

// DeleteRepository deletes a repository with all its tags and manifests
// (ACR only). The registry refuses it when any lock protects something
// inside; the error then matches ErrLocked.
func (c *Client) DeleteRepository(ctx context.Context, repo string) (_ DeletedRepository, err error) {
	ctx, endSpan := c.span(ctx, "Client.DeleteRepository")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return DeletedRepository{}, err
	}
	var w struct {
		Manifests []digest.Digest `json:"manifestsDeleted"`
		Tags      []string        `json:"tagsDeleted"`
	}
	err = c.acrJSON(ctx, "deleting a repository", request{method: http.MethodDelete, path: acrPath(repo), scope: scopeRepo(repo, "delete")}, &w)
	return DeletedRepository{Manifests: w.Manifests, Tags: w.Tags}, err
}
