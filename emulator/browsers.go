package emulator

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/acrgo/acr/internal/spec"
)

// Web pages are clients too: a page the user visits can send requests to
// a registry on this machine. Registry clients (docker, oras, crane,
// regctl, the Azure SDKs, this module's client) send neither Origin nor
// Sec-Fetch-Site, and name the registry in Host as they reach it; a page
// gives itself away by its Origin and Sec-Fetch-Site, and a page whose
// name an attacker points at 127.0.0.1 (DNS rebinding) by its Host.

// hostPolicy is Options.CheckHost and AllowedHosts, validated.
type hostPolicy struct {
	on      bool
	allowed map[string]bool // lower case, without brackets or final dot
	names   []string        // AllowedHosts as given, for messages
}

// newHostPolicy validates Options.AllowedHosts.
func newHostPolicy(o Options) (hostPolicy, error) {
	p := hostPolicy{on: o.CheckHost, names: o.AllowedHosts}
	for _, h := range o.AllowedHosts {
		n := normalHost(h)
		if n == "" || strings.ContainsAny(n, "/@?#% ") || strings.Contains(n, ":") && net.ParseIP(n) == nil {
			return p, fmt.Errorf("emulator: AllowedHosts has %q: want a host name or IP address without scheme or port, such as registry.example or 192.0.2.10", h)
		}
		if p.allowed == nil {
			p.allowed = map[string]bool{}
		}
		p.allowed[n] = true
	}
	return p, nil
}

// normalHost is host (without port) in the form hosts are compared in.
func normalHost(host string) string {
	return strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
}

// isLoopbackName reports whether host (without port) names the loopback
// interface: localhost or a loopback IP address.
func isLoopbackName(host string) bool {
	if host == "localhost" {
		return true
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i] // an IPv6 zone
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// check refuses a request whose Host is neither a loopback name nor
// allowed, when the policy is on: 421 Misdirected Request.
func (p hostPolicy) check(r *http.Request) error {
	if !p.on {
		return nil
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = normalHost(host)
	if isLoopbackName(host) || p.allowed[host] {
		return nil
	}
	names := "localhost and loopback addresses"
	if len(p.names) > 0 {
		names += ", " + strings.Join(p.names, ", ")
	}
	return &apiError{status: http.StatusMisdirectedRequest, code: spec.ErrorCodeDenied, detail: r.Host,
		message: fmt.Sprintf("this registry answers only to %s, not to the host %q (a web page may be trying to reach it through DNS rebinding): "+
			"connect to it as localhost or 127.0.0.1, or, to serve it under that name, allow it (acrctl serve --allow-host NAME, Options.AllowedHosts)", names, r.Host)}
}

// checkCrossSite refuses a state-changing request that a browser sent from
// another site's page: with Sec-Fetch-Site other than same-origin or none
// (typed by the user), or an Origin that is not this registry. Browsers
// send Origin "null" from sandboxed frames and data: URLs, so null passes
// only where Sec-Fetch-Site vouches for the request. The console applies
// the same rule to its forms.
func checkCrossSite(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	site := r.Header.Get("Sec-Fetch-Site")
	origin := r.Header.Get("Origin")
	ok := site == "" || site == "same-origin" || site == "none"
	switch origin {
	case "":
	case "null":
		ok = ok && site == "same-origin"
	default:
		u, err := url.Parse(origin)
		ok = ok && err == nil && strings.EqualFold(u.Host, r.Host)
	}
	if ok {
		return nil
	}
	return &apiError{status: http.StatusForbidden, code: spec.ErrorCodeDenied,
		detail: map[string]string{"Origin": origin, "Sec-Fetch-Site": site},
		message: "a web page of another site may not change this registry (the request came with Origin " + strconv.Quote(origin) +
			" and Sec-Fetch-Site " + strconv.Quote(site) + "): registry clients send neither header; push and delete with one"}
}
