package acr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"runtime"
	"strconv"

	"github.com/acrgo/acr/internal/jsonread"
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
// first error, which is yielded. page decodes a page's items from its body;
// it also gets the page's response header.
//
// With ahead, the next page is requested as soon as a page's Link names
// it, before the page is decoded and its items yielded, so that the
// registry builds the next page while the caller handles this one. The
// pages requested and their order are the same; a caller that stops early
// leaves one request sent for nothing, which is cancelled and its answer
// discarded.
func paginate[T any](ctx context.Context, c *Client, first request, ahead bool, page func(body []byte, h http.Header) ([]T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		u, err := c.url(first.path, first.query)
		if err != nil {
			yield(zero, err)
			return
		}
		seen := map[string]bool{}
		// The first page is read here; with ahead, the pages after it are
		// read by a pageChain, into the buffer of the page before the one
		// the caller handles (page decoders copy what they keep).
		var chain *pageChain
		defer func() {
			if chain != nil {
				chain.stop()
			}
		}()
		p := c.fetchFollow(ctx, u, first, 0, seen, nil)
		for {
			if p.err != nil {
				yield(zero, p.err)
				return
			}
			if ahead && chain == nil && p.next != nil {
				chain = c.startChain(ctx, p, first, seen)
				// Let the chain send its request now, before this page is
				// decoded: a new goroutine otherwise waits for the other
				// processor, which on a busy machine comes only when this
				// goroutine blocks, after the decoding.
				runtime.Gosched()
			}
			items, err := page(p.body, p.header)
			if err != nil {
				yield(zero, pageError(p.u, err))
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			if !p.more || len(items) == 0 {
				return
			}
			if p.linkErr != nil {
				yield(zero, p.linkErr)
				return
			}
			if chain == nil {
				p = c.fetchFollow(ctx, p.next, first, p.n+1, seen, p.body)
				continue
			}
			next := p.next
			var ok bool
			if p, ok = chain.next(p.body); !ok {
				yield(zero, fmt.Errorf("acr: listing %s: %w", redactURL(next), context.Cause(ctx)))
				return
			}
		}
	}
}

// fetchedPage is a listing page read and its Link followed.
type fetchedPage struct {
	u      *url.URL // where the page was read
	n      int      // its index in the listing, from 0
	header http.Header
	body   []byte // also on error: the buffer to reuse
	err    error
	// more says whether the page links to a next one: next, when the
	// link is valid, or linkErr, why it is not.
	more    bool
	next    *url.URL
	linkErr error
}

// fetchFollow reads the n-th page of a listing, at u, into buf's storage,
// and resolves its next-page link. seen holds the pages read before; u is
// added.
func (c *Client) fetchFollow(ctx context.Context, u *url.URL, r request, n int, seen map[string]bool, buf []byte) fetchedPage {
	seen[u.String()] = true
	p := fetchedPage{u: u, n: n}
	p.header, p.body, p.err = c.fetchPage(ctx, u, r, buf[:0])
	if p.err != nil {
		return p
	}
	var link string
	if link, p.more = spec.NextLink(p.header.Get("Link")); p.more {
		if n+1 == maxPages {
			p.linkErr = fmt.Errorf("acr: listing %s: more than %d pages; giving up", redactURL(u), maxPages)
		} else {
			p.next, p.linkErr = c.nextPage(u, link, seen)
		}
	}
	return p
}

// pageChain reads the pages of a listing after a first one, each as soon
// as the one before it has arrived and the caller has handed back the
// buffer of the page before that (next). The goroutine that reads a page
// follows its link itself: a page handed to the caller, woken, to request
// the next took a quarter of the time of each 1,000-tag page on loopback.
type pageChain struct {
	pages  chan fetchedPage
	free   chan []byte
	cancel context.CancelFunc
	done   chan struct{}
}

// startChain starts reading the pages after p, the first into a new
// buffer. seen passes to the chain.
func (c *Client) startChain(ctx context.Context, p fetchedPage, r request, seen map[string]bool) *pageChain {
	ctx, cancel := context.WithCancel(ctx)
	ch := &pageChain{pages: make(chan fetchedPage, 1), free: make(chan []byte, 1), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(ch.done)
		var buf []byte
		for {
			p = c.fetchFollow(ctx, p.next, r, p.n+1, seen, buf)
			// Never blocks for long: the caller takes the page before
			// it, if still there, right after handing back a buffer.
			ch.pages <- p
			if p.err != nil || p.next == nil {
				return
			}
			select {
			case buf = <-ch.free:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// next hands back the buffer of the page the caller is done with and
// returns the next page; ok is false when the listing's context ended
// first.
func (ch *pageChain) next(done []byte) (p fetchedPage, ok bool) {
	select {
	case ch.free <- done:
	case <-ch.done:
	}
	select {
	case p = <-ch.pages:
		return p, true
	case <-ch.done:
		// The chain ends without sending the page only when the context
		// ends while it waits for a buffer.
		select {
		case p = <-ch.pages:
			return p, true
		default:
			return p, false
		}
	}
}

// stop cancels the page being read, if any, and waits for the chain.
func (ch *pageChain) stop() {
	ch.cancel()
	<-ch.done
}

// pageError describes the failure to read the listing page at u: a body
// that does not decode, or a value the registry listed outside the
// grammar.
func pageError(u *url.URL, err error) error {
	var ie *invalidListedError
	if errors.As(err, &ie) {
		return fmt.Errorf("acr: listing %s: %w", redactURL(u), err)
	}
	return fmt.Errorf("acr: listing %s: the registry's JSON response does not decode: %w", redactURL(u), err)
}

// nextPage resolves a page's next-page link against the page's URL u. The
// link must stay on the registry's origin and must not name a page seen
// before.
func (c *Client) nextPage(u *url.URL, link string, seen map[string]bool) (*url.URL, error) {
	next, err := u.Parse(link)
	if err != nil {
		return nil, fmt.Errorf("acr: listing %s: the next-page Link %q does not parse", redactURL(u), link)
	}
	if next.Scheme != c.endpoint.Scheme || next.Host != c.endpoint.Host {
		return nil, fmt.Errorf("acr: listing %s: the next-page Link points to another origin (%s://%s); refusing to follow it", redactURL(u), next.Scheme, next.Host)
	}
	if seen[next.String()] {
		return nil, fmt.Errorf("acr: listing %s: the registry repeated a page cursor; stopping to avoid a loop", redactURL(u))
	}
	return next, nil
}

// fetchPage gets the listing page at u and reads its body into buf's
// storage. A body that breaks off after the headers, past the transport's
// retries, is fetched again, as downloads resume, rather than blamed on the
// registry's JSON. The body returned, also on error, is the buffer to reuse.
func (c *Client) fetchPage(ctx context.Context, u *url.URL, r request, buf []byte) (http.Header, []byte, error) {
	for broken := 0; ; broken++ {
		resp, err := c.doURL(ctx, u, r)
		if err != nil {
			return nil, buf, err
		}
		body, err := readBody(resp, buf[:0])
		if body != nil {
			buf = body
		}
		if err == nil {
			return resp.Header, body, nil
		}
		if ctx.Err() != nil || broken == maxResumes {
			return nil, buf, fmt.Errorf("acr: listing %s: reading the page failed (%d attempts): %w", redactURL(u), broken+1, err)
		}
	}
}

// ListOptions pages a listing: Repositories, DeletedRepositories,
// TagNames, DeletedTags and DeletedManifests take it as is; Tags and
// Manifests carry the same fields in their own options.
type ListOptions struct {
	// PageSize is the number of items asked per page; 0 means the client's
	// ClientOptions.PageSize. Registries may answer fewer (ACR at most
	// 1,000) and link to the next page, which the listing follows. When
	// neither chooses one, TagNames on a registry not known to be ACR
	// asks for the whole list at once (see TagNames).
	PageSize int
	// Last resumes a listing after the item it names: the listing starts
	// with the item that follows it in the listing's order. To stop a
	// listing and continue it later, keep the name, tag or digest of the
	// last item received (each listing's documentation says which) and
	// pass it here.
	Last string
	// ReadAhead requests the next page while the caller handles the
	// current one, so that the registry builds it meanwhile: for callers
	// that read the whole listing. A caller that stops early leaves one
	// page request sent for nothing; without ReadAhead a page is requested
	// only when the caller asks for its first item.
	ReadAhead bool
}

// pageQuery starts a listing query with the page size (the client's when
// pageSize is 0) and the cursor last.
func (c *Client) pageQuery(pageSize int, last string) (url.Values, error) {
	if pageSize < 0 {
		return nil, fmt.Errorf("acr: page size %d: want 0 (the client's default, %d) or more", pageSize, c.pageSize)
	}
	if pageSize == 0 {
		pageSize = c.pageSize
	}
	q := url.Values{"n": {strconv.Itoa(pageSize)}}
	if last != "" {
		q.Set("last", last)
	}
	return q, nil
}

// listACR yields an /acr/v1 listing. While it is unknown whether the
// registry serves that API, the listing's first answer tells (acrAnswered)
// instead of a probe; on a registry without the API, fallback lists instead,
// or, when fallback is nil, the listing fails with ErrNotSupported naming
// what. Iteration stops after the first error, which is yielded.
func listACR[T any](ctx context.Context, c *Client, r request, ahead bool, page func(body []byte, h http.Header) ([]T, error),
	what string, fallback func(yield func(T, error) bool), yield func(T, error) bool) {
	var zero T
	noAPI := func() {
		if fallback != nil {
			fallback(yield)
			return
		}
		yield(zero, fmt.Errorf("%w: %s needs Azure Container Registry's /acr/v1 metadata API, which %s does not serve", ErrNotSupported, what, c.host))
	}
	known := c.knownACRAPI()
	if known == acrAPINo {
		noAPI()
		return
	}
	first := true
	for it, err := range paginate(ctx, c, r, ahead, page) {
		if first {
			first = false
			if c.mustLearn(known, r.path, err) {
				has, perr := c.acrAnswered(ctx, r.path, err)
				if perr != nil {
					yield(zero, perr)
					return
				}
				if !has {
					noAPI()
					return
				}
			}
		}
		if !yield(it, err) {
			return
		}
	}
}

// decodeNames decodes a page that lists names under key, such as
// {"repositories":[...]} or {"name":..., "tags":[...]}.
func decodeNames(body []byte, key string) ([]string, error) {
	r := jsonread.New(body)
	var names []string
	err := r.Object(func(k []byte) error {
		if !jsonread.Match(k, key) {
			return r.Skip()
		}
		names = names[:0]
		if null, err := r.Null(); null || err != nil {
			names = nil
			return err
		}
		return r.Array(func() error {
			var s string
			err := r.ReadString(&s)
			names = append(names, s)
			return err
		})
	})
	if err == nil {
		err = r.End()
	}
	if err != nil {
		return nil, err
	}
	kind := namesKind(key)
	for _, s := range names {
		if err := checkListed(kind, s); err != nil {
			return nil, err
		}
	}
	return names, nil
}

// readBody reads and closes a listing page's body, up to maxJSONBody, into
// buf's storage when it is large enough: in one allocation at most when
// the registry sent the body's length.
func readBody(resp *http.Response, buf []byte) ([]byte, error) {
	defer resp.Body.Close()
	if n := resp.ContentLength; n >= 0 && n <= maxJSONBody {
		// net/http holds the body to its Content-Length: a body cut
		// short fails here with io.ErrUnexpectedEOF.
		if int64(cap(buf)) < n {
			// With room to spare: the pages of a listing differ by a few
			// bytes, and each new buffer is memory to fault in.
			buf = make([]byte, n, n+n/8)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(resp.Body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	w := bytes.NewBuffer(buf)
	_, err := w.ReadFrom(io.LimitReader(resp.Body, maxJSONBody))
	return w.Bytes(), err
}

// maxNameToken bounds one string of a streamed name listing (a name, or a
// value skipped beside the names), so that memory stays bounded however
// the registry writes its body.
const maxNameToken = 1 << 20

// errStopped ends a streamed decode when the caller stops the listing.
var errStopped = errors.New("acr: listing stopped by the caller")

// streamNames yields the names of an OCI listing asked without a page size
// (n), such as {"name":..., "tags":[...]} under key "tags": a registry
// then answers as many names as it likes in one body, all of them on
// distribution, so each body is decoded as it arrives and never held
// whole. Link headers are followed as paginate follows them (registries
// such as Docker Hub page even without n). A body that breaks off is asked
// for again from after the last name yielded (the OCI "last" parameter),
// up to maxResumes times in a row without a new name. With raise above 0, a
// link that asks for fewer than raise names per page asks for raise
// instead. Iteration stops after the first error, which is yielded.
func streamNames(ctx context.Context, c *Client, first request, key string, raise int, yield func(string, error) bool) {
	u, err := c.url(first.path, first.query)
	if err != nil {
		yield("", err)
		return
	}
	seen := map[string]bool{}
	broken := 0
	for n := 0; ; n++ {
		if n == maxPages {
			yield("", fmt.Errorf("acr: listing %s: more than %d pages; giving up", redactURL(u), maxPages))
			return
		}
		seen[u.String()] = true
		resp, err := c.doURL(ctx, u, first)
		if err != nil {
			yield("", err)
			return
		}
		link, more := spec.NextLink(resp.Header.Get("Link"))
		count, last, err := decodeNameStream(resp.Body, key, yield)
		resp.Body.Close()
		if err == errStopped {
			return
		}
		var re *jsonread.ReadError
		if errors.As(err, &re) {
			if count > 0 {
				broken = 0
			}
			if ctx.Err() != nil || broken == maxResumes {
				yield("", fmt.Errorf("acr: listing %s: reading the list failed (%d attempts): %w", redactURL(u), broken+1, re.Err))
				return
			}
			broken++
			if last != "" {
				// Resume after the last name received; a break before
				// any name asks for the same body again.
				q := u.Query()
				q.Set("last", last)
				resumed := *u
				resumed.RawQuery = q.Encode()
				u = &resumed
			}
			n--
			continue
		}
		if err != nil {
			yield("", pageError(u, err))
			return
		}
		broken = 0
		if !more || count == 0 {
			return
		}
		next, err := c.nextPage(u, link, seen)
		if err != nil {
			yield("", err)
			return
		}
		if raise > 0 {
			// The link as sent counts as seen, so that a registry
			// repeating it is caught although the page asked differs.
			seen[next.String()] = true
			next = raisePageSize(next, raise)
		}
		u = next
	}
}

// raisePageSize returns u asking for n names per page when its n parameter
// asks for fewer; otherwise u.
func raisePageSize(u *url.URL, n int) *url.URL {
	q := u.Query()
	if had, err := strconv.Atoi(q.Get("n")); err != nil || had >= n {
		return u
	}
	q.Set("n", strconv.Itoa(n))
	raised := *u
	raised.RawQuery = q.Encode()
	return &raised
}

// decodeNameStream yields the names listed under key in the JSON object
// body reads, as decodeNames decodes them, one at a time as they arrive. It
// returns how many it yielded and the last one; err is errStopped when
// yield asked to stop, a *jsonread.ReadError when the body broke off. A
// document that names key twice is refused: the names of the first are
// yielded already.
func decodeNameStream(body io.Reader, key string, yield func(string, error) bool) (count int, last string, err error) {
	s := jsonread.NewStream(body, maxNameToken)
	listed := false
	kind := namesKind(key)
	var buf []byte
	err = s.Object(func(k []byte) error {
		if !jsonread.Match(k, key) {
			return s.Skip()
		}
		if listed {
			return fmt.Errorf("the object lists %q twice", key)
		}
		listed = true
		if null, err := s.Null(); null || err != nil {
			return err
		}
		return s.Array(func() error {
			b, set, err := s.AppendString(buf[:0])
			if err != nil {
				return err
			}
			// A null among the names is "", as encoding/json and
			// decodeNames decode it, and no cursor to resume from.
			name := ""
			if set {
				buf = b
				name = string(b)
				last = name
			}
			if err := checkListed(kind, name); err != nil {
				return err
			}
			count++
			if !yield(name, nil) {
				return errStopped
			}
			return nil
		})
	})
	if err == nil {
		err = s.End()
	}
	return count, last, err
}
