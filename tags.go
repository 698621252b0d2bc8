package acr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"time"

	"github.com/acrgo/acr/internal/jsonread"
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

// check returns an error for an Order other than the three above.
func (o Order) check() error {
	if o < OrderNone || o > OrderLastUpdatedAsc {
		return fmt.Errorf("acr: Order %d is not one of OrderNone, OrderLastUpdatedDesc and OrderLastUpdatedAsc", int(o))
	}
	return nil
}

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

// TagsOptions selects, orders and pages the tags listed.
type TagsOptions struct {
	// Order sorts the tags; OrderNone lists them by name.
	Order Order
	// Digest, when set, lists only the tags that point at this manifest.
	Digest digest.Digest
	// PageSize is the number of tags asked per page; 0 means the client's
	// ClientOptions.PageSize. When neither chooses one, the OCI tag list
	// of a registry without ACR's API is asked for whole (see TagNames).
	PageSize int
	// Last resumes the listing after the tag of this name, in the
	// listing's order: pass the Name of the last tag received to continue
	// a listing that was stopped. In a time order the registry places the
	// cursor by that tag's time, so the tag must still exist: the local
	// registry refuses a deleted one (400 UNSUPPORTED, "start the listing
	// again"); in name order any name works.
	Last string
	// ReadAhead requests the next page while the caller handles the
	// current one, so that the registry builds it meanwhile: for callers
	// that read the whole listing. A caller that stops early leaves one
	// page request sent for nothing; without ReadAhead a page is requested
	// only when the caller asks for its first item.
	ReadAhead bool
}

// Tags yields the tags of a repository with their properties, page by page.
// On registries without ACR's API it lists /v2/{repo}/tags/list, in name
// order, with names only; Order and Digest then return ErrNotSupported.
// Callers that need only names list them faster with TagNames. Iteration
// stops after the first error, which is yielded. The sequence can be
// ranged over more than once; each range lists afresh.
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
		if err := o.Order.check(); err != nil {
			yield(TagProperties{}, err)
			return
		}
		q, err := c.pageQuery(o.PageSize, o.Last)
		if err != nil {
			yield(TagProperties{}, err)
			return
		}
		names := func(yield func(TagProperties, error) bool) {
			if o.Order != OrderNone || o.Digest != "" {
				yield(TagProperties{}, fmt.Errorf("%w: ordering and filtering tags need ACR's /acr/v1 API, which %s does not serve", ErrNotSupported, c.host))
				return
			}
			c.ociTags(ctx, repo, o.PageSize, o.Last, yield)
		}
		if s := o.Order.query(); s != "" {
			q.Set("orderby", s)
		}
		if o.Digest != "" {
			q.Set("digest", o.Digest.String())
		}
		r := request{method: http.MethodGet, path: acrPath(repo, "_tags"), query: q, scope: scopeRepo(repo, "metadata_read")}
		listed := false
		fellBack := false
		var page []TagProperties // reused: paginate yields a page's items before it decodes the next
		listACR(ctx, c, r, o.ReadAhead, func(body []byte, _ http.Header) (_ []TagProperties, err error) {
			page, err = decodeTagPage(page[:0], body, repo)
			return page, err
		}, "listing tags", names, func(tp TagProperties, err error) bool {
			if err != nil && !listed && !fellBack && o.Order == OrderNone && o.Digest == "" && errors.Is(err, ErrInsufficientScope) {
				// A credential that may pull but not read metadata (an ACR
				// token whose scope map has content/read only) still gets
				// the names, from the OCI tag list.
				fellBack = true
				c.ociTags(ctx, repo, o.PageSize, o.Last, yield)
				return false
			}
			listed = true
			return yield(tp, err)
		})
	}
}

// tagFields are the fields of a listed tag that decodeTagPage reads.
var tagFields = []string{"name", "digest", "createdTime", "lastUpdateTime", "changeableAttributes"}

// decodeTagPage decodes a page of ACR's tag listing, appending its tags to
// tags[:0]:
// {"registry":..., "imageName":..., "tags":[{"name":..., "digest":...,
// "createdTime":..., "lastUpdateTime":..., "changeableAttributes":{...}}]}.
func decodeTagPage(tags []TagProperties, body []byte, repo string) ([]TagProperties, error) {
	r := jsonread.New(body)
	var registry string
	if tags == nil {
		// A tag and its changeableAttributes are two objects: half the
		// braces is about the page's length (counting a byte is cheap).
		tags = make([]TagProperties, 0, bytes.Count(body, []byte{'{'})/2)
	}
	tags = tags[:0]
	var d tagDecoder
	err := r.Object(func(key []byte) error {
		switch {
		case jsonread.Match(key, "registry"):
			return r.ReadString(&registry)
		case jsonread.Match(key, "tags"):
			tags = tags[:0]
			if null, err := r.Null(); null || err != nil {
				tags = nil
				return err
			}
			return r.Array(func() error {
				t, err := d.tag(r, body, repo)
				tags = append(tags, t)
				return err
			})
		}
		return r.Skip()
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return nil, err
	}
	for i := range tags {
		tags[i].Registry = registry
		if err := checkListed(listedTag, tags[i].Name); err != nil {
			return nil, err
		}
		if err := checkListedDigest(string(tags[i].Digest)); err != nil {
			return nil, err
		}
	}
	return tags, nil
}

// tagDecoder decodes the tags of a page, with scratch space for each tag's
// name and digest, which share one allocation.
type tagDecoder struct {
	name, digest, both []byte
}

// tag decodes one tag of a page.
func (d *tagDecoder) tag(r *jsonread.Reader, body []byte, repo string) (TagProperties, error) {
	t := TagProperties{Repository: repo}
	var a attributes
	d.name, d.digest = d.name[:0], d.digest[:0]
	var err error
	if mark := r.Mark(); !d.acrTag(r, body, &t, &a) {
		// Written another way: start again, key by key.
		r.Reset(mark)
		t, a = TagProperties{Repository: repo}, attributes{}
		d.name, d.digest = d.name[:0], d.digest[:0]
		err = r.Object(func(key []byte) error {
			switch jsonread.Field(key, tagFields) {
			case "name":
				return d.readString(r, &d.name)
			case "digest":
				return d.readString(r, &d.digest)
			case "createdTime":
				return r.ReadTime(&t.CreatedOn)
			case "lastUpdateTime":
				return r.ReadTime(&t.LastUpdatedOn)
			case "changeableAttributes":
				return a.read(r)
			}
			return r.Skip()
		})
	}
	t.Permissions = a.permissions()
	d.both = append(append(d.both[:0], d.name...), d.digest...)
	s := string(d.both)
	t.Name, t.Digest = s[:len(d.name)], digest.Digest(s[len(d.name):])
	return t, err
}

// readString reads a string into *dst; null leaves it as it is.
func (d *tagDecoder) readString(r *jsonread.Reader, dst *[]byte) error {
	b, set, err := r.AppendString((*dst)[:0])
	if set {
		*dst = b
	}
	return err
}

// acrTag decodes a tag written as ACR (and our registry) writes it: its
// fields in ACR's order, without whitespace, a lastUpdateTime equal to the
// createdTime copied rather than parsed again. Twice as fast as reading key
// by key, it reports false for a tag written any other way, leaving r
// anywhere in it.
func (d *tagDecoder) acrTag(r *jsonread.Reader, body []byte, t *TagProperties, a *attributes) bool {
	if !r.Literal(`{"name":`) || d.readString(r, &d.name) != nil ||
		!r.Literal(`,"digest":`) || d.readString(r, &d.digest) != nil ||
		!r.Literal(`,"createdTime":`) {
		return false
	}
	created := r.Mark()
	if r.ReadTime(&t.CreatedOn) != nil {
		return false
	}
	createdEnd := r.Mark()
	if !r.Literal(`,"lastUpdateTime":`) {
		return false
	}
	if r.LiteralBytes(body[created:createdEnd]) {
		t.LastUpdatedOn = t.CreatedOn
	} else if r.ReadTime(&t.LastUpdatedOn) != nil {
		return false
	}
	// Most tags have every lock flag on: one comparison for the rest.
	const unlocked = `,"signed":false,"changeableAttributes":{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}}`
	if r.Literal(unlocked) {
		*a = attributes{deleteEnabled: 1, writeEnabled: 1, readEnabled: 1, listEnabled: 1}
		return true
	}
	if !r.Literal(`,"signed":`) {
		return false
	}
	if _, _, err := r.Bool(); err != nil {
		return false
	}
	return r.Literal(`,"changeableAttributes":{"deleteEnabled":`) && a.deleteEnabled.read(r) == nil &&
		r.Literal(`,"writeEnabled":`) && a.writeEnabled.read(r) == nil &&
		r.Literal(`,"readEnabled":`) && a.readEnabled.read(r) == nil &&
		r.Literal(`,"listEnabled":`) && a.listEnabled.read(r) == nil &&
		r.Literal(`}}`)
}

// TagNames yields the names of a repository's tags in name order, page by
// page, from the OCI tag list (/v2/{repo}/tags/list): the fastest listing,
// for callers that need no digests, times or locks. When neither opts nor
// ClientOptions chose a page size, on any registry but ACR (known by its
// domain or from an earlier call), the list is asked for without a page
// size and decoded as it arrives, in bounded memory whatever its length, as
// oras and regctl ask for it; ReadAhead then has no effect. A registry that
// pages anyway is followed through its links, which ask for the client's
// page size where they name a smaller one, unless the registry is known
// not to be ACR. On ACR the list is asked for in pages. Resume a stopped
// listing with opts.Last set to the last name received. Iteration stops
// after the first error, which is yielded.
//
// OCI distribution spec: "Listing Tags".
func (c *Client) TagNames(ctx context.Context, repo string, opts *ListOptions) iter.Seq2[string, error] {
	var o ListOptions
	if opts != nil {
		o = *opts
	}
	return func(yield func(string, error) bool) {
		ctx, yield, endSpan := iterSpan(c, ctx, "Client.TagNames", yield)
		defer endSpan()
		if err := checkRepo(repo); err != nil {
			yield("", err)
			return
		}
		q, err := c.pageQuery(o.PageSize, o.Last)
		if err != nil {
			yield("", err)
			return
		}
		r := request{method: http.MethodGet, path: v2Path(repo, "tags", "list"), query: q, scope: scopeRepo(repo, "pull")}
		if known := c.knownACRAPI(); o.PageSize == 0 && !c.pageSizeSet && known != acrAPIYes {
			// Not known to be ACR, and no page size chosen: ask without
			// n, as oras and regctl do. Registries such as distribution
			// then send every tag in one body (walking all of them for
			// each page asked with n), which is decoded as it arrives;
			// those that page anyway link to the next page. While it is
			// unknown whether this is ACR, whose pages may be smaller
			// without n, the links followed ask for the client's page
			// size when they name a smaller one.
			r.query.Del("n")
			raise := 0
			if known == acrAPIUnknown {
				raise = c.pageSize
			}
			streamNames(ctx, c, r, "tags", raise, yield)
			return
		}
		for name, err := range paginate(ctx, c, r, o.ReadAhead, func(body []byte, _ http.Header) ([]string, error) {
			return decodeNames(body, "tags")
		}) {
			if !yield(name, err) {
				return
			}
		}
	}
}

// ociTags yields repo's tags from the OCI tag list: names only, with the
// lock flags unknown and reported enabled.
func (c *Client) ociTags(ctx context.Context, repo string, pageSize int, last string, yield func(TagProperties, error) bool) {
	for name, err := range c.TagNames(ctx, repo, &ListOptions{PageSize: pageSize, Last: last}) {
		tp := TagProperties{Registry: c.host, Repository: repo, Name: name, Permissions: Permissions{true, true, true, true}}
		if !yield(tp, err) {
			return
		}
	}
}

// GetTagProperties returns a tag's properties (ACR only: elsewhere the
// error matches ErrNotSupported; a tag or repository the registry does not
// hold, ErrNotFound).
func (c *Client) GetTagProperties(ctx context.Context, repo, tag string) (_ TagProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.GetTagProperties")
	defer func() { endSpan(err) }()
	return c.tagRequest(ctx, http.MethodGet, repo, tag, nil, "tag properties")
}

// UpdateTagProperties changes a tag's lock flags and returns its new
// properties (ACR only: elsewhere the error matches ErrNotSupported; a tag
// or repository the registry does not hold, ErrNotFound; a credential
// without metadata/write, ErrInsufficientScope or ErrForbidden).
func (c *Client) UpdateTagProperties(ctx context.Context, repo, tag string, update PermissionsUpdate) (_ TagProperties, err error) {
	ctx, endSpan := c.span(ctx, "Client.UpdateTagProperties")
	defer func() { endSpan(err) }()
	return c.tagRequest(ctx, http.MethodPatch, repo, tag, &update, "updating tag properties")
}

// tagRequest gets or updates a tag's properties; what names the operation
// in an ErrNotSupported.
func (c *Client) tagRequest(ctx context.Context, method, repo, tag string, update *PermissionsUpdate, what string) (TagProperties, error) {
	if err := checkRepo(repo); err != nil {
		return TagProperties{}, err
	}
	if err := checkTag(tag); err != nil {
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
	if err := c.acrJSON(ctx, what, r, &w); err != nil {
		return TagProperties{}, err
	}
	return w.Tag.properties(w.Registry, repo), nil
}

// DeleteTag deletes a tag; the manifest it points at stays. On registries
// without ACR's API it uses the OCI 1.1 DELETE of a manifest by tag, and
// returns ErrNotSupported when the registry refuses that. A tag whose
// deleteEnabled or writeEnabled flag is off (or in a repository so locked)
// fails with an error matching ErrLocked; a tag the registry does not hold,
// ErrNotFound.
func (c *Client) DeleteTag(ctx context.Context, repo, tag string) (err error) {
	ctx, endSpan := c.span(ctx, "Client.DeleteTag")
	defer func() { endSpan(err) }()
	if err := checkRepo(repo); err != nil {
		return err
	}
	if err := checkTag(tag); err != nil {
		return err
	}
	if known := c.knownACRAPI(); known != acrAPINo {
		// ACR's own delete, which also serves to find out whether the
		// registry has /acr/v1 when that is not known yet.
		err := c.acrJSON(ctx, "", request{method: http.MethodDelete, path: acrPath(repo, "_tags", tag), scope: scopeRepo(repo, "delete")}, nil)
		if c.knownACRAPI() != acrAPINo {
			return err
		}
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
