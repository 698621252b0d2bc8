package emulator

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
)

// maxPageSize caps the n parameter of /v2 listings, and is their page size
// when n is absent: larger requests, and requests without n, get this many
// and a Link to the rest, as the OCI distribution spec lets a registry do.
// An answer is built whole in memory, so this bounds what one request can
// cost. A variable so that tests can lower it.
var maxPageSize = 10000

// defaultACRPageSize is the page size of /acr/v1 listings without n.
const defaultACRPageSize = 100

// maxACRPageSize caps the n parameter of /acr/v1 listings, as ACR does: it
// answers at most 1,000 items a page whatever n asks (Azure/acr#749).
const maxACRPageSize = 1000

// page is a parsed paging request: n, last and orderby.
type page struct {
	n       int
	last    string
	orderby string // "", "timedesc" or "timeasc"
}

// parsePage reads n, last and orderby. def is the page size when n is absent
// and maxN the largest page served.
func parsePage(q url.Values, def, maxN int) (page, error) {
	p := page{n: def, last: q.Get("last"), orderby: q.Get("orderby")}
	if ns := q.Get("n"); ns != "" {
		n, err := strconv.Atoi(ns)
		if err != nil || n < 0 {
			return p, newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "n=%q is not a page size: use a whole number >= 0", ns)
		}
		p.n = n
	}
	if p.n > maxN {
		p.n = maxN
	}
	switch p.orderby {
	case "none":
		// The Go SDK's "no order" value, which it sends as is; the
		// other SDKs leave orderby out for it.
		p.orderby = ""
	case "", "timedesc", "timeasc":
	default:
		return p, newError(http.StatusBadRequest, spec.ErrorCodeUnsupported, "orderby=%q is not supported: use timedesc, timeasc or none", p.orderby)
	}
	return p, nil
}

// setNextLink writes the Link header to the next page, in ACR's form: a
// relative URL without api-version that always carries orderby (empty
// when the request had none) and an escaped last; /acr/v1 paths keep a
// repository's '/' escaped as %2F (G TestClient_NewListTagsPager, J
// …list_registry_manifests_by_pages, P …list_repository_names_by_page).
func setNextLink(w http.ResponseWriter, path string, p page, last string, extra url.Values) {
	q := url.Values{}
	for k, v := range extra {
		q[k] = v
	}
	q.Set("last", last)
	q.Set("n", strconv.Itoa(p.n))
	q.Set("orderby", p.orderby)
	w.Header().Set("Link", "<"+path+"?"+q.Encode()+`>; rel="next"`)
}

// timed is a listed item with a name (the cursor) and an update time.
type timed interface {
	key() string
	updated() time.Time
}

type tagItem struct{ store.Tag }

func (t tagItem) key() string        { return t.Name }
func (t tagItem) updated() time.Time { return t.UpdatedAt }

type manifestItem struct{ store.Manifest }

func (m manifestItem) key() string        { return m.Digest.String() }
func (m manifestItem) updated() time.Time { return m.UpdatedAt }

// sortItems sorts items in place by name, or by time when orderby asks.
func sortItems[T timed](items []T, orderby string) {
	switch orderby {
	case "timedesc":
		slices.SortStableFunc(items, func(a, b T) int {
			return cmp.Or(b.updated().Compare(a.updated()), cmp.Compare(a.key(), b.key()))
		})
	case "timeasc":
		slices.SortStableFunc(items, func(a, b T) int {
			return cmp.Or(a.updated().Compare(b.updated()), cmp.Compare(a.key(), b.key()))
		})
	default:
		slices.SortFunc(items, func(a, b T) int { return cmp.Compare(a.key(), b.key()) })
	}
}

// pageOf cuts a page out of items, which sortItems has sorted in p's order,
// without changing items. It returns the page and whether more items
// follow. In time order the cursor is an item's name; when that item is
// gone (deleted between pages) the position is lost, and the listing fails
// loudly rather than ending early.
func pageOf[T timed](items []T, p page) ([]T, bool, error) {
	if p.last != "" {
		if p.orderby == "" {
			i, _ := slices.BinarySearchFunc(items, p.last, func(a T, k string) int { return cmp.Compare(a.key(), k) })
			for i < len(items) && items[i].key() <= p.last {
				i++
			}
			items = items[i:]
		} else {
			i := slices.IndexFunc(items, func(a T) bool { return a.key() == p.last })
			if i < 0 {
				return nil, false, newError(http.StatusBadRequest, spec.ErrorCodeUnsupported,
					"the listing's cursor %q no longer exists (deleted since the previous page); start the listing again", p.last)
			}
			items = items[i+1:]
		}
	}
	if len(items) > p.n {
		return items[:p.n], true, nil
	}
	return items, false, nil
}

// handleCatalog serves /v2/_catalog and /acr/v1/_catalog: repositories in
// name order, without those whose listEnabled is false.
func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request, id identity, acr bool) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	def, maxN := maxPageSize, maxPageSize
	path := "/v2/_catalog"
	if acr {
		def, maxN, path = defaultACRPageSize, maxACRPageSize, "/acr/v1/_catalog"
	}
	p, err := parsePage(r.URL.Query(), def, maxN)
	if err != nil {
		return err
	}
	names := []string{}
	more := false
	err = s.store.View(r.Context(), func(tx store.Tx) error {
		for repo, err := range tx.Repos(p.last) {
			if err != nil {
				return err
			}
			if !repo.Attrs.ListEnabled || repo.BlobsOnly {
				continue
			}
			if len(names) == p.n {
				more = true
				break
			}
			names = append(names, repo.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if more && len(names) > 0 {
		setNextLink(w, path, p, names[len(names)-1], nil)
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Repositories []string `json:"repositories"`
	}{names})
}

// handleTagsList serves /v2/{name}/tags/list (OCI distribution spec:
// "Listing Tags"), in lexical order, hiding tags whose listEnabled is false.
func (s *Server) handleTagsList(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	p, err := parsePage(r.URL.Query(), maxPageSize, maxPageSize)
	if err != nil {
		return err
	}
	p.orderby = ""
	tags := []string{}
	more := false
	err = s.store.View(r.Context(), func(tx store.Tx) error {
		if _, err := getRepo(tx, rt.repo); err != nil {
			return err
		}
		for t, err := range tx.Tags(rt.repo, p.last) {
			if err != nil {
				return err
			}
			if !t.Attrs.ListEnabled {
				continue
			}
			if len(tags) == p.n {
				more = true
				break
			}
			tags = append(tags, t.Name)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if more && len(tags) > 0 {
		setNextLink(w, "/v2/"+rt.repo+"/tags/list", p, tags[len(tags)-1], nil)
	}
	return writeJSON(w, r, http.StatusOK, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.repo, tags})
}

// referrerDescriptor is one entry of a referrers response.
type referrerDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// handleReferrers serves /v2/{name}/referrers/{digest} (OCI distribution
// spec: "Listing Referrers"), filtered by artifactType when asked. A subject
// without referrers, or one that does not exist, yields an empty index.
func (s *Server) handleReferrers(w http.ResponseWriter, r *http.Request, rt route) error {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return methodNotAllowed(r)
	}
	d, err := spec.ParseDigest(rt.ref)
	if err != nil {
		return newError(http.StatusBadRequest, spec.ErrorCodeDigestInvalid, "%v", err)
	}
	filter := r.URL.Query().Get("artifactType")
	list := []referrerDescriptor{}
	err = s.store.View(r.Context(), func(tx store.Tx) error {
		repo, ok, err := tx.Repo(rt.repo)
		if err != nil || !ok {
			return err
		}
		if err := checkRead(repo.Attrs, "repository "+rt.repo); err != nil {
			return err
		}
		for rd, err := range tx.Referrers(rt.repo, d) {
			if err != nil {
				return err
			}
			m, ok, err := tx.Manifest(rt.repo, rd)
			if err != nil {
				return err
			}
			// The spec's artifactType of a referrer: its own, or else its
			// config's media type.
			at := cmp.Or(m.ArtifactType, m.ConfigMediaType)
			if !ok || (filter != "" && at != filter) {
				continue
			}
			list = append(list, referrerDescriptor{MediaType: m.MediaType, Digest: m.Digest.String(), Size: m.Size,
				ArtifactType: at, Annotations: m.Annotations})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if filter != "" {
		w.Header().Set(spec.HeaderFiltersApplied, "artifactType")
	}
	body := struct {
		SchemaVersion int                  `json:"schemaVersion"`
		MediaType     string               `json:"mediaType"`
		Manifests     []referrerDescriptor `json:"manifests"`
	}{2, spec.MediaTypeOCIIndex, list}
	return writeJSONAs(w, r, http.StatusOK, spec.MediaTypeOCIIndex, body)
}
