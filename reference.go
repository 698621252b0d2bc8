package acr

import (
	"fmt"
	"net"
	"strings"

	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// Reference names a repository, and optionally a tag and a digest, in a
// registry: HOST[:PORT]/REPO[:TAG][@DIGEST].
type Reference struct {
	// Registry is the host and optional port, such as myregistry.azurecr.io.
	Registry string
	// Repository is the repository name, such as library/hello-world.
	Repository string
	// Tag is the tag, or empty.
	Tag string
	// Digest is the digest, or empty.
	Digest digest.Digest
}

// ParseReference parses HOST[:PORT]/REPO[:TAG][@DIGEST]. The host is
// required and must contain a '.' or ':' or be localhost, as docker
// decides; names, tags and digests are validated against the distribution
// spec. Errors wrap ErrInvalidReference.
func ParseReference(s string) (Reference, error) {
	var r Reference
	bad := func(why string) (Reference, error) {
		return Reference{}, fmt.Errorf("%w %q: %s; want HOST[:PORT]/REPOSITORY[:TAG][@DIGEST]", ErrInvalidReference, s, why)
	}
	host, rest, ok := strings.Cut(s, "/")
	switch {
	case host == "":
		return bad("no registry host")
	case rest == "" && (strings.ContainsAny(host, ".:") || host == "localhost"):
		return bad("no repository after the host")
	case !ok || rest == "":
		return bad("no registry host")
	}
	if !strings.ContainsAny(host, ".:") && host != "localhost" {
		return bad("the first component is not a registry host (it has no '.' or ':' and is not localhost)")
	}
	if !validHost(host) {
		return bad("the host is not HOST[:PORT] (DNS labels, an IPv4 address or a bracketed IPv6 address, and a numeric port)")
	}
	r.Registry = host
	if name, d, ok := strings.Cut(rest, "@"); ok {
		dd, err := spec.ParseDigest(d)
		if err != nil {
			return Reference{}, fmt.Errorf("%w: %v", ErrInvalidReference, err)
		}
		r.Digest = dd
		rest = name
	}
	// A tag follows the last ':' after the last '/'.
	if i := strings.LastIndexByte(rest, ':'); i > strings.LastIndexByte(rest, '/') {
		r.Tag = rest[i+1:]
		rest = rest[:i]
		if err := spec.ValidateTag(r.Tag); err != nil {
			return Reference{}, fmt.Errorf("%w: %v", ErrInvalidReference, err)
		}
	}
	if err := spec.ValidateName(rest); err != nil {
		return Reference{}, fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	r.Repository = rest
	return r, nil
}

// validHost reports whether host is HOST[:PORT] as docker's reference
// grammar has it: dot-separated labels of letters, digits and inner
// hyphens (which covers IPv4 addresses), or an IPv6 address in brackets,
// then an optional numeric port. Anything else would fail later as a URL,
// or name another host than the user sees.
func validHost(host string) bool {
	h := host
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		port := host[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
		h = host[:i]
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		ip := net.ParseIP(h[1 : len(h)-1])
		return ip != nil && ip.To4() == nil
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// String formats the reference as ParseReference reads it; the zero
// Reference is "".
func (r Reference) String() string {
	if r == (Reference{}) {
		return "" // what ParseReference returns with an error
	}
	s := r.Registry + "/" + r.Repository
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest.String()
	}
	return s
}

// TagOrDigest returns the digest when set, else the tag.
func (r Reference) TagOrDigest() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}

// checkRepo validates a repository name before any request.
func checkRepo(repo string) error {
	if err := spec.ValidateName(repo); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	return nil
}

// checkDigest validates a digest argument before any request; the error
// quotes it and says the form wanted.
func checkDigest(d digest.Digest) error {
	if _, err := spec.ParseDigest(string(d)); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	return nil
}

// checkTag validates a tag before any request.
func checkTag(tag string) error {
	if err := spec.ValidateTag(tag); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidReference, err)
	}
	return nil
}

// checkTagOrDigest validates a reference that is a tag or a digest.
func checkTagOrDigest(ref string) error {
	if spec.IsDigest(ref) {
		if _, err := spec.ParseDigest(ref); err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidReference, err)
		}
		return nil
	}
	return checkTag(ref)
}
