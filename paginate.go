package acr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"

	"github.com/acrgo/acr/internal/spec"
)

// maxPages bounds a listing, so that a registry that keeps sending new
// cursors cannot keep a caller looping forever (100 million items at the
// default page size).
const maxPages = 1_000_000

// paginate yields the items of a paged listing, following rel="next" Link
// headers. A link must stay on the registry's origin and must not repeat;
// either violation ends the listing with an error. A page whose body breaks
// off is fetched again, up to maxResumes times. Iteration stops after the
// first error, which is yielded. page decodes a page's items; it also gets
// the page's response header.
func paginate[T any](ctx context.Context, c *Client, first request, page func(dec *json.Decoder, h http.Header) ([]T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		u, err := c.url(first.path, first.query)
		if err != nil {
			yield(zero, err)
			return
		}
		seen := map[string]bool{}
		broken := 0 // attempts at the current page whose body broke off
		for n := 0; ; n++ {
			if n == maxPages {
				yield(zero, fmt.Errorf("acr: listing %s: more than %d pages; giving up", redactURL(u), maxPages))
				return
			}
			seen[u.String()] = true
			resp, err := c.doURL(ctx, u, first)
			if err != nil {
				yield(zero, err)
				return
			}
			body, err := io.ReadAll(io.LimitReader(resp.Body, maxJSONBody))
			resp.Body.Close()
			if err != nil {
				// The connection broke after the headers, past the
				// transport's retries: fetch the page again, as downloads
				// resume, rather than blame the registry's JSON.
				if ctx.Err() == nil && broken < maxResumes {
					broken++
					continue
				}
				yield(zero, fmt.Errorf("acr: listing %s: reading the page failed (%d attempts): %w", redactURL(u), broken+1, err))
				return
			}
			broken = 0
			items, err := page(json.NewDecoder(bytes.NewReader(body)), resp.Header)
			if err != nil {
				yield(zero, fmt.Errorf("acr: listing %s: the registry's JSON response does not decode: %w", redactURL(u), err))
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			link, ok := spec.NextLink(resp.Header.Get("Link"))
			if !ok || len(items) == 0 {
				return
			}
			next, err := u.Parse(link)
			if err != nil {
				yield(zero, fmt.Errorf("acr: listing %s: the next-page Link %q does not parse", redactURL(u), link))
				return
			}
			if next.Scheme != c.endpoint.Scheme || next.Host != c.endpoint.Host {
				yield(zero, fmt.Errorf("acr: listing %s: the next-page Link points to another origin (%s://%s); refusing to follow it", redactURL(u), next.Scheme, next.Host))
				return
			}
			if seen[next.String()] {
				yield(zero, fmt.Errorf("acr: listing %s: the registry repeated a page cursor; stopping to avoid a loop", redactURL(u)))
				return
			}
			u = next
		}
	}
}

// pageQuery starts a listing query with the page size.
func (c *Client) pageQuery() url.Values { return url.Values{"n": {itoa(c.pageSize)}} }
