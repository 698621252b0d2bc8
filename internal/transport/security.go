package transport

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// ErrInsecure is wrapped by the errors of requests that would send
// credentials in clear text: over plain http to a host that is not
// loopback, without Options.AllowInsecure.
var ErrInsecure = errors.New("transport: refusing to send credentials over plain http")

// SameOrigin reports whether a and b have the same origin (RFC 6454):
// scheme, host and port, with default ports made explicit and host names
// compared without regard to case. Use it before sending Authorization to
// an upload Location or a Link. Nil URLs have no origin.
func SameOrigin(a, b *url.URL) bool {
	if a == nil || b == nil || a.Host == "" || b.Host == "" {
		return false
	}
	return origin(a) == origin(b)
}

// origin returns u's scheme://host:port in canonical form.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// IsLoopbackHost reports whether hostport, a host with an optional port
// ("localhost:5000", "127.0.0.1", "[::1]:443"), names this machine: the one
// place the client, the CLI and the transport decide it.
func IsLoopbackHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	return isLoopback(strings.Trim(h, "[]"))
}

// isLoopback reports whether host (without port) is "localhost" or a
// loopback IP address: traffic to it never leaves the machine.
func isLoopback(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(stripZone(host))
	return ip != nil && ip.IsLoopback()
}

func stripZone(host string) string {
	if i := strings.IndexByte(host, '%'); i >= 0 {
		return host[:i]
	}
	return host
}

// requireSecure refuses to send rc's secrets (or tokens bought with them)
// to u in clear text. what names the destination in the error.
func (c *Client) requireSecure(u *url.URL, rc resolvedCredential, what string) error {
	if u.Scheme == "https" || c.allowInsecure || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("%w: the %s credential for %s would go to %s in clear text; use https, or set AllowInsecure in the client options if the network is trusted",
		ErrInsecure, rc.label(), what, u.Scheme+"://"+u.Host)
}

// checkRealm validates a Bearer challenge's realm against the registry URL
// reg it came from (see "Security rules" in the package documentation) and
// returns it parsed.
func checkRealm(reg *url.URL, realm string) (*url.URL, error) {
	if realm == "" {
		return nil, errors.New("the challenge has no realm")
	}
	ru, err := url.Parse(realm)
	if err != nil {
		return nil, errors.New("the realm is not a URL")
	}
	switch {
	case ru.Scheme != "http" && ru.Scheme != "https":
		return nil, fmt.Errorf("refusing realm with scheme %q: only http and https are allowed", ru.Scheme)
	case ru.User != nil:
		return nil, errors.New("refusing realm with user info")
	case ru.Opaque != "" || ru.Hostname() == "":
		return nil, errors.New("refusing realm without a host")
	}
	sameHost := strings.EqualFold(strings.TrimSuffix(ru.Hostname(), "."), strings.TrimSuffix(reg.Hostname(), "."))
	switch {
	case !sameHost && ru.Scheme != "https":
		return nil, fmt.Errorf("refusing realm %s: a realm on another host than the registry must use https", ru.Scheme+"://"+ru.Host)
	case reg.Scheme == "https" && ru.Scheme != "https":
		return nil, fmt.Errorf("refusing realm %s: the registry is served over https, its realm may not downgrade to http", ru.Scheme+"://"+ru.Host)
	}
	if !sameHost {
		if ip := net.ParseIP(stripZone(ru.Hostname())); ip != nil &&
			(ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified()) {
			return nil, fmt.Errorf("refusing realm on %s: link-local, multicast and unspecified addresses are not token services", ru.Host)
		}
		if isLoopback(ru.Hostname()) && !isLoopback(reg.Hostname()) {
			return nil, fmt.Errorf("refusing realm on loopback %s for the remote registry %s", ru.Host, reg.Host)
		}
	}
	ru.Fragment, ru.RawFragment = "", ""
	return ru, nil
}

// checkRedirect applies the redirect rules: no https to http, no
// Authorization beyond the original origin, and token requests stay on
// their origin.
func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	first, prev := via[0], via[len(via)-1]
	if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("transport: refusing redirect from https to %s://%s", req.URL.Scheme, req.URL.Host)
	}
	left := !SameOrigin(req.URL, first.URL)
	for _, v := range via[1:] {
		left = left || !SameOrigin(v.URL, first.URL)
	}
	if left {
		if isTokenRequest(req.Context()) {
			return fmt.Errorf("transport: refusing to follow a token endpoint's redirect to another origin (%s)", req.URL.Scheme+"://"+req.URL.Host)
		}
		// Go strips Authorization only when the host name changes; the
		// origin also includes scheme and port.
		req.Header.Del("Authorization")
	}
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	c.logRedirect(req, prev, status, left)
	return nil
}
