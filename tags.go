package acr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"
)

// Order sorts listings of tags and manifests.
type Order int

const (
	// OrderNone lists in name (tag) or digest (manifest) order.
	OrderNone Order = iota
	// OrderLastUpdatedDesc lists the most recently updated first.
	OrderLastUpdatedDesc
	// OrderLastUpdatedAsc lists the least recently updated first.
	OrderLastUpdatedAsc
)

func (o Order) query() string {
	switch o {
	case OrderLastUpdatedDesc:
		return "timedesc"
	case OrderLastUpdatedAsc:
		return "timeasc"
	}
	return ""
}

// TagProperties describes a tag.
type TagProperties struct {
	Registry   string
	Repository string
	Name       string
	// Digest is the manifest the tag points at. On registries without
	// ACR's API, Tags leaves it empty.
	Digest        digest.Digest
	CreatedOn     time.Time
	LastUpdatedOn time.Time
	Permissions   Permissions
}

type wireTag struct {
	Name           string          `json:"name"`
	Digest         digest.Digest   `json:"digest"`
	CreatedTime    time.Time       `json:"createdTime"`
	LastUpdateTime time.Time       `json:"lastUpdateTime"`
	Attributes     *wireAttributes `json:"changeableAttributes"`
}

func (w wireTag) properties(registry, repo string) TagProperties {
	return TagProperties{Registry: registry, Repository: repo, Name: w.Name, Digest: w.Digest, CreatedOn: w.CreatedTime,
		LastUpdatedOn: w.LastUpdateTime, Permissions: w.Attributes.permissions()}
}

// TagsOptions selects and orders the tags listed.
type TagsOptions struct {
	// Order sorts the tags; OrderNone lists them by name.
	Order Order
	// Digest, when set, lists only the tags that point at this manifest.
	Digest digest.Digest
}

// Tags yields the tags of a repository with their properties, page by page.
// On registries without ACR's API it lists /v2/{repo}/tags/list, in name
// order, with names only; Order and Digest then return ErrNotSupported.
// Iteration stops after the first error, which is yielded.
func (c *Client) Tags(ctx context.Context, repo string, opts *TagsOptions) iter.Seq2[TagProperties, error] {
	var o TagsOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(TagProperties, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.Tags", yield)
		defer endSpan()
		if err := checkRepo(repo); err != nil {
			yield(TagProperties{}, err)
			return
		}
		if o.Digest != "" {
			if err := o.Digest.Validate(); err != nil {
				yield(TagProperties{}, fmt.Errorf("%w: digest filter: %v", ErrInvalidReference, err))
				return
			}
		}
		acr, err := c.hasACRAPI(ctx)
		if err != nil {
			yield(TagProperties{}, err)
			return
		}
		q := c.pageQuery()
		if !acr {
			if o.Order != OrderNone || o.Digest != "" {
				yield(TagProperties{}, fmt.Errorf("%w: ordering and filtering tags need ACR's /acr/v1 API, which %s does not serve", ErrNotSupported, c.host))
				return
			}
			c.ociTags(ctx, repo, yield)
			return
		}
		if s := o.Order.query(); s != "" {
			q.Set("orderby", s)
		}
		if o.Digest != "" {
			q.Set("digest", o.Digest.String())
		}
		r := request{method: http.MethodGet, path: acrPath(repo, "_tags"), query: q, scope: scopeRepo(repo, "metadata_read")}
		listed := false
		for tp, err := range paginate(ctx, c, r, func(dec *json.Decoder, _ http.Header) ([]TagProperties, error) {
			var page struct {
				Registry string    `json:"registry"`
				Tags     []wireTag `json:"tags"`
			}
			if err := dec.Decode(&page); err != nil {
				return nil, err
			}
			out := make([]TagProperties, len(page.Tags))
			for i, t := range page.Tags {
				out[i] = t.properties(page.Registry, repo)
			}
			return out, nil
		}) {
			if err != nil && !listed && o.Order == OrderNone && o.Digest == "" && errors.Is(err, ErrInsufficientScope) {
				// A credential that may pull but not read metadata (an ACR
				// token whose scope map has content/read only) still gets
				// the names, from the OCI tag list.
				c.ociTags(ctx, repo, yield)
				return
			}
			listed = true
			if !yield(tp, err) {
				return
			}
		}
	}
}

// ociTags yields repo's tags from the OCI tag list: names only, with the
// lock flags unknown and reported enabled.
func (c *Client) ociTags(ctx context.Context, repo string, yield func(TagProperties, error) bool) {
	r := request{method: http.MethodGet, path: v2Path(repo, "tags", "list"), query: c.pageQuery(), scope: scopeRepo(repo, "pull")}
	for name, err := range paginate(ctx, c, r, func(dec *json.Decoder, _ http.Header) ([]string, error) {
		var page struct {
			Tags []string `json:"tags"`
		}
		err := dec.Decode(&page)
		return page.Tags, err
	}) {
		tp := TagProperties{Registry: c.host, Repository: repo, Name: name, Permissions: Permissions{true, true, true, true}}
		if !yield(tp, err) {
			return
		}
	}
}

// GetTagProperties returns a tag's properties (ACR only).
func (c *Client) GetTagProperties(ctx context.Context, repo, tag string) (_ TagProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.GetTagProperties")
	defer func() { endSpan(err) }()
	return c.tagRequest(ctx, http.MethodGet, repo, tag, nil)
}

// UpdateTagProperties changes a tag's lock flags and returns its new
// properties (ACR only).
func (c *Client) UpdateTagProperties(ctx context.Context, repo, tag string, update PermissionsUpdate) (_ TagProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.UpdateTagProperties")
	defer func() { endSpan(err) }()
	return c.tagRequest(ctx, http.MethodPatch, repo, tag, &update)
}

func (c *Client) tagRequest(ctx context.Context, method, repo, tag string, update *PermissionsUpdate) (TagProperties, error) {
	if err := checkRepo(repo); err != nil {
		return TagProperties{}, err
	}
	if err := checkTag(tag); err != nil {
		return TagProperties{}, err
	}
	if err := c.needACR(ctx, "tag properties"); err != nil {
		return TagProperties{}, err
	}
	r := request{method: method, path: acrPath(repo, "_tags", tag), scope: scopeRepo(repo, "metadata_read")}
	if update != nil {
		r.body, r.header = jsonBody(update.wire())
		r.scope = scopeRepo(repo, "metadata_write")
	}
	var w struct {
		Registry string  `json:"registry"`
		Tag      wireTag `json:"tag"`
	}
	if _, err := c.doJSON(ctx, r, &w); err != nil {
		return TagProperties{}, err
	}
	return w.Tag.properties(w.Registry, repo), nil
}

// DeleteTag deletes a tag; the manifest it points at stays. On registries
// without ACR's API it uses the OCI 1.1 DELETE of a manifest by tag, and
// returns ErrNotSupported when the registry refuses that.
func (c *Client) DeleteTag(ctx context.Context, repo, tag string) (err error) {
	ctx, endSpan := c.span(ctx, "Client.DeleteTag")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkTag(tag); err != nil {
		return err
	}
	acr, err := c.hasACRAPI(ctx)
	if err != nil {
		return err
	}
	if acr {
		resp, err := c.do(ctx, request{method: http.MethodDelete, path: acrPath(repo, "_tags", tag), scope: scopeRepo(repo, "delete")})
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	resp, err := c.do(ctx, request{method: http.MethodDelete, path: v2Path(repo, "manifests", tag), scope: scopeRepo(repo, "delete")})
	if err != nil {
		var re *ResponseError
		if errors.As(err, &re) && (re.StatusCode == http.StatusBadRequest || re.StatusCode == http.StatusMethodNotAllowed) {
			return fmt.Errorf("%w: %s does not delete tags (OCI 1.1 DELETE by tag answered %d); delete the manifest by digest instead: %w", ErrNotSupported, c.host, re.StatusCode, err)
		}
		return err
	}
	resp.Body.Close()
	return nil
}
