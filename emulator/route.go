package emulator

import (
	"net/url"
	"strings"
)

// routeKind names the endpoint a request path addresses.
type routeKind int

const (
	routeUnknown          routeKind = iota
	routeBase                       // /v2/
	routeCatalog                    // /v2/_catalog
	routeTagsList                   // /v2/{name}/tags/list
	routeManifest                   // /v2/{name}/manifests/{reference}
	routeBlob                       // /v2/{name}/blobs/{digest}
	routeUploadStart                // /v2/{name}/blobs/uploads/
	routeUpload                     // /v2/{name}/blobs/uploads/{id}
	routeReferrers                  // /v2/{name}/referrers/{digest}
	routeACRCatalog                 // /acr/v1/_catalog
	routeACRRepo                    // /acr/v1/{name}
	routeACRTags                    // /acr/v1/{name}/_tags
	routeACRTag                     // /acr/v1/{name}/_tags/{reference}
	routeACRManifests               // /acr/v1/{name}/_manifests
	routeACRManifest                // /acr/v1/{name}/_manifests/{reference}
	routeDeletedCatalog             // /acr/v1/_deleted/_catalog
	routeDeletedManifests           // /acr/v1/_deleted/{name}/_manifests
	routeDeletedTags                // /acr/v1/_deleted/{name}/_tags
	routeDeletedManifest            // /acr/v1/_deleted/{name}/_manifests/{digest}
	routeOAuthExchange              // /oauth2/exchange
	routeOAuthToken                 // /oauth2/token
)

// route is a parsed request path. Repo and Ref are unescaped.
type route struct {
	kind routeKind
	repo string
	ref  string
}

// parseRoute parses an escaped request path. Repository names contain '/',
// so the path is matched from the right; SDKs escape '/' in names as %2F
// and docker-style clients send it raw, and both are accepted. A path
// that matches nothing, or holds a segment that does not unescape, yields
// routeUnknown.
func parseRoute(escapedPath string) route {
	switch escapedPath {
	case "/v2", "/v2/":
		return route{kind: routeBase}
	case "/v2/_catalog":
		return route{kind: routeCatalog}
	case "/acr/v1/_catalog":
		return route{kind: routeACRCatalog}
	case "/acr/v1/_deleted/_catalog":
		return route{kind: routeDeletedCatalog}
	case "/oauth2/exchange":
		return route{kind: routeOAuthExchange}
	case "/oauth2/token":
		return route{kind: routeOAuthToken}
	}
	if rest, ok := strings.CutPrefix(escapedPath, "/v2/"); ok {
		return parseV2(rest)
	}
	if rest, ok := strings.CutPrefix(escapedPath, "/acr/v1/_deleted/"); ok {
		// Repository names never start with "_", so _deleted is no name.
		return parseDeleted(rest)
	}
	if rest, ok := strings.CutPrefix(escapedPath, "/acr/v1/"); ok {
		return parseACR(rest)
	}
	return route{}
}

func parseV2(rest string) route {
	segs := strings.Split(rest, "/")
	n := len(segs)
	if n < 3 {
		return route{}
	}
	last, prev := segs[n-1], segs[n-2]
	// /blobs/uploads/ and /blobs/uploads/{id} come first: "uploads" is
	// never a digest, so there is no ambiguity with /blobs/{digest}.
	if n >= 4 && segs[n-3] == "blobs" && prev == "uploads" {
		return mkRoute(routeUploadStartOr(last), segs[:n-3], last)
	}
	if n >= 3 && prev == "blobs" && last == "uploads" {
		return mkRoute(routeUploadStart, segs[:n-2], "")
	}
	switch prev {
	case "manifests":
		return mkRoute(routeManifest, segs[:n-2], last)
	case "blobs":
		return mkRoute(routeBlob, segs[:n-2], last)
	case "referrers":
		return mkRoute(routeReferrers, segs[:n-2], last)
	case "tags":
		if last == "list" {
			return mkRoute(routeTagsList, segs[:n-2], "")
		}
	}
	return route{}
}

func routeUploadStartOr(id string) routeKind {
	if id == "" {
		return routeUploadStart
	}
	return routeUpload
}

func parseACR(rest string) route {
	segs := strings.Split(rest, "/")
	n := len(segs)
	if n >= 2 {
		switch segs[n-1] {
		case "_tags":
			return mkRoute(routeACRTags, segs[:n-1], "")
		case "_manifests":
			return mkRoute(routeACRManifests, segs[:n-1], "")
		}
	}
	if n >= 3 {
		switch segs[n-2] {
		case "_tags":
			return mkRoute(routeACRTag, segs[:n-2], segs[n-1])
		case "_manifests":
			return mkRoute(routeACRManifest, segs[:n-2], segs[n-1])
		}
	}
	return mkRoute(routeACRRepo, segs, "")
}

func parseDeleted(rest string) route {
	segs := strings.Split(rest, "/")
	n := len(segs)
	switch {
	case n >= 2 && segs[n-1] == "_manifests":
		return mkRoute(routeDeletedManifests, segs[:n-1], "")
	case n >= 2 && segs[n-1] == "_tags":
		return mkRoute(routeDeletedTags, segs[:n-1], "")
	case n >= 3 && segs[n-2] == "_manifests":
		return mkRoute(routeDeletedManifest, segs[:n-2], segs[n-1])
	}
	return route{}
}

// mkRoute unescapes the name segments and the reference. An empty name, an
// empty segment or an undecodable escape yields routeUnknown.
func mkRoute(kind routeKind, nameSegs []string, ref string) route {
	if len(nameSegs) == 0 {
		return route{}
	}
	parts := make([]string, 0, len(nameSegs))
	for _, s := range nameSegs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return route{}
		}
		parts = append(parts, u)
	}
	r, err := url.PathUnescape(ref)
	if err != nil {
		return route{}
	}
	return route{kind: kind, repo: strings.Join(parts, "/"), ref: r}
}
