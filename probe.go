package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/acrgo/acr/internal/spec"
)

// acrLoginServerSuffixes are the login-server domains of ACR in the public
// and national clouds; registries under them serve /acr/v1 without asking.
var acrLoginServerSuffixes = []string{".azurecr.io", ".azurecr.cn", ".azurecr.us"}

// isACRLoginServer reports whether host (with an optional port) is an ACR
// login server or data endpoint.
func isACRLoginServer(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	for _, s := range acrLoginServerSuffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}

// acrAPI values: whether the registry serves ACR's /acr/v1 API.
const (
	acrAPIUnknown int32 = iota
	acrAPIYes
	acrAPINo
	// acrAPICatalog is a yes learnt from the catalog alone, which
	// go-containerregistry's registry serves under any prefix: a
	// METHOD_UNKNOWN from another /acr/v1 path still turns it into no.
	// knownACRAPI reports it as acrAPIYes.
	acrAPICatalog
)

// knownACRAPI returns what is known, without a request, of whether the
// registry serves /acr/v1: yes for ACR's own domains, else what an earlier
// call found out.
func (c *Client) knownACRAPI() int32 {
	if isACRLoginServer(c.host) {
		return acrAPIYes
	}
	if v := c.acrAPI.Load(); v != acrAPICatalog {
		return v
	}
	return acrAPIYes
}

// hasACRAPI reports whether the registry serves /acr/v1: known for ACR's
// own domains, otherwise probed once (GET /acr/v1/_catalog?n=1; any answer
// but 404, 400 or 405, a 401 included, means the API is there). Calls do
// not probe first: they send their /acr/v1 request straight away and learn
// from its answer (acrAnswered), which probes only when that answer leaves
// it open.
func (c *Client) hasACRAPI(ctx context.Context) (bool, error) {
	switch c.knownACRAPI() {
	case acrAPIYes:
		return true, nil
	case acrAPINo:
		return false, nil
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/acr/v1/_catalog", query: url.Values{"n": {"1"}},
		scope: scopeCatalog, ok: []int{200, 401, 403, 404, 400, 405}})
	if err != nil {
		return false, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, maxJSONBody))
	resp.Body.Close()
	has := resp.StatusCode == 200 || resp.StatusCode == 401 || resp.StatusCode == 403
	c.setACRAPI(has, catalogPath)
	return has, nil
}

// catalogPath is the /acr/v1 path of the catalog, which some registries
// that have no /acr/v1 serve (see acrAPICatalog).
const catalogPath = "/acr/v1/_catalog"

// setACRAPI records whether the registry serves /acr/v1, as an answer to
// a request for path told: a yes from the catalog alone stays revisable.
func (c *Client) setACRAPI(has bool, path string) {
	switch {
	case !has:
		c.acrAPI.Store(acrAPINo)
	case path == catalogPath:
		c.acrAPI.CompareAndSwap(acrAPIUnknown, acrAPICatalog)
	default:
		c.acrAPI.Store(acrAPIYes)
	}
}

// mustLearn reports whether the answer of an /acr/v1 call, err (nil on
// success), is to go through acrAnswered: when it was unknown before the
// call (known) whether the registry serves that API, and when the registry
// said it has no such endpoint although an earlier answer suggested the API
// (go-containerregistry's registry serves any path that ends in /_catalog,
// /acr/v1/_catalog included, and answers METHOD_UNKNOWN to the rest of
// /acr/v1). ACR's own domains never unlearn it.
func (c *Client) mustLearn(known int32, path string, err error) bool {
	if known == acrAPIUnknown {
		return true
	}
	if isACRLoginServer(c.host) || c.acrAPI.Load() != acrAPICatalog {
		return false
	}
	// Yes from the catalog alone: another path's answer settles it.
	return path != catalogPath && (err == nil || unknownEndpoint(err))
}

// unknownEndpoint reports whether err is a registry's answer that it has no
// endpoint for the request's method and path (METHOD_UNKNOWN), which ACR
// does not answer on /acr/v1.
func unknownEndpoint(err error) bool {
	var re *ResponseError
	if !errors.As(err, &re) || (re.StatusCode != http.StatusNotFound && re.StatusCode != http.StatusMethodNotAllowed) {
		return false
	}
	for _, e := range re.Errors {
		if spec.ErrorCode(e.Code) == spec.ErrorCodeMethodUnknown {
			return true
		}
	}
	return false
}

// acrAnswered learns from the answer of an /acr/v1 call sent while it was
// unknown whether the registry serves that API (see mustLearn), and reports
// whether it does; err is the call's error, nil when it succeeded. Success,
// a 401 or a 403 mean yes (as for the probe), and so does a 404 saying that
// the repository, tag or manifest does not exist (NAME_UNKNOWN,
// TAG_UNKNOWN, MANIFEST_UNKNOWN: only an API that parsed the path answers
// so); a 400, 404 or 405 that is not an OCI error document (a plain "404
// page not found") or that says METHOD_UNKNOWN means no. Other OCI errors
// could be either (ACR refusing a request, another registry's catch-all),
// so only then is the registry probed.
func (c *Client) acrAnswered(ctx context.Context, path string, err error) (bool, error) {
	if err == nil {
		c.setACRAPI(true, path)
		return true, nil
	}
	var re *ResponseError
	if !errors.As(err, &re) {
		return false, err // no answer: nothing learnt
	}
	if unknownEndpoint(err) {
		c.setACRAPI(false, path)
		return false, nil
	}
	switch re.StatusCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
		for _, e := range re.Errors {
			switch spec.ErrorCode(e.Code) {
			case spec.ErrorCodeNameUnknown, spec.ErrorCodeTagUnknown, spec.ErrorCodeManifestUnknown:
				if re.StatusCode == http.StatusNotFound {
					c.setACRAPI(true, path)
					return true, nil
				}
			}
		}
		if len(re.Errors) == 0 {
			c.setACRAPI(false, path)
			return false, nil
		}
		return c.hasACRAPI(ctx)
	case http.StatusUnauthorized, http.StatusForbidden:
		c.setACRAPI(true, path)
	}
	return true, nil // an error of the listing, not of the API's absence
}

// notSupported is the error of a call that needs /acr/v1 on a registry
// without it.
func (c *Client) notSupported(what string) error {
	return fmt.Errorf("%w: %s needs Azure Container Registry's /acr/v1 metadata API, which %s does not serve", ErrNotSupported, what, c.host)
}

// acrJSON sends an /acr/v1 request and decodes its JSON answer into out.
// While it is unknown whether the registry serves /acr/v1, the answer
// tells (acrAnswered) instead of a probe; on a registry without the API
// the call fails with ErrNotSupported naming what.
func (c *Client) acrJSON(ctx context.Context, what string, r request, out any) error {
	known := c.knownACRAPI()
	if known == acrAPINo {
		return c.notSupported(what)
	}
	_, err := c.doJSON(ctx, r, out)
	if c.mustLearn(known, r.path, err) {
		has, perr := c.acrAnswered(ctx, r.path, err)
		if perr != nil {
			return perr
		}
		if !has {
			return c.notSupported(what)
		}
	}
	return err
}
