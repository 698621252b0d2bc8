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
)

// knownACRAPI returns what is known, without a request, of whether the
// registry serves /acr/v1: yes for ACR's own domains, else what an earlier
// call found out.
func (c *Client) knownACRAPI() int32 {
	if isACRLoginServer(c.host) {
		return acrAPIYes
	}
	return c.acrAPI.Load()
}

// hasACRAPI reports whether the registry serves /acr/v1: known for ACR's
// own domains, otherwise probed once (GET /acr/v1/_catalog?n=1; any answer
// but 404, 400 or 405, a 401 included, means the API is there). Listings do
// not probe: they call /acr/v1 straight away and learn from its answer (see
// acrAnswered).
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
	c.setACRAPI(has)
	return has, nil
}

func (c *Client) setACRAPI(has bool) {
	if has {
		c.acrAPI.Store(acrAPIYes)
	} else {
		c.acrAPI.Store(acrAPINo)
	}
}

// acrAnswered learns from the first answer of an /acr/v1 listing sent while
// it was unknown whether the registry serves that API, and reports whether
// it does; err is the listing's first error, nil when a page arrived. A
// page, a 401 or a 403 mean yes (as for the probe); a 400, 404 or 405 that
// is not an OCI error document (a plain "404 page not found") means no. An
// OCI error could be ACR's own answer (a repository that does not exist, a
// soft-delete policy that is off), so only then is the registry probed.
func (c *Client) acrAnswered(ctx context.Context, err error) (bool, error) {
	if err == nil {
		c.setACRAPI(true)
		return true, nil
	}
	var re *ResponseError
	if !errors.As(err, &re) {
		return false, err // no answer: nothing learnt
	}
	switch re.StatusCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed:
		if len(re.Errors) == 0 {
			c.setACRAPI(false)
			return false, nil
		}
		return c.hasACRAPI(ctx)
	case http.StatusUnauthorized, http.StatusForbidden:
		c.setACRAPI(true)
	}
	return true, nil // an error of the listing, not of the API's absence
}

// needACR returns ErrNotSupported when the registry lacks /acr/v1.
func (c *Client) needACR(ctx context.Context, what string) error {
	ok, err := c.hasACRAPI(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s needs Azure Container Registry's /acr/v1 metadata API, which %s does not serve", ErrNotSupported, what, c.host)
	}
	return nil
}
