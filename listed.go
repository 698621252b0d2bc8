package acr

import (
	"fmt"

	"github.com/acrgo/acr/internal/spec"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// What a registry lists is checked against the distribution spec's grammar
// before it is yielded: repository names, tags and digests come from the
// registry, and a caller prints them, passes them to a shell or makes
// paths of them. A name holding a terminal escape, a newline or "../" is
// refused with the listing, not passed on. The checks are hand-written
// byte loops (internal/spec), cheap beside decoding the item.

// listedKind is the kind of value a listing carries.
type listedKind int

const (
	listedRepository listedKind = iota
	listedTag
	listedDigest
)

// invalidListedError reports a value a registry listed that breaks the
// distribution spec's grammar.
type invalidListedError struct {
	kind  listedKind
	value string
}

func (e *invalidListedError) Error() string {
	v := e.value
	if len(v) > 100 {
		v = v[:100]
	}
	more := ""
	if len(v) < len(e.value) {
		more = fmt.Sprintf(" (%d bytes in all)", len(e.value))
	}
	var what string
	switch e.kind {
	case listedRepository:
		what = "repository name"
	case listedTag:
		what = "tag"
	default:
		what = "digest"
	}
	return fmt.Sprintf("the registry listed the %s %q%s, which the distribution spec's grammar does not allow; refusing the listing rather than passing it on", what, v, more)
}

// checkListed checks one listed value of kind k.
func checkListed(k listedKind, s string) error {
	var ok bool
	switch k {
	case listedRepository:
		ok = spec.IsName(s)
	case listedTag:
		ok = spec.IsTag(s)
	default:
		ok = spec.IsDigestSyntax(s)
	}
	if ok {
		return nil
	}
	return &invalidListedError{kind: k, value: s}
}

// checkListedDigest checks a listed digest, which may be absent.
func checkListedDigest(s string) error {
	if s == "" {
		return nil
	}
	return checkListed(listedDigest, s)
}

// checkListedTags checks listed tags.
func checkListedTags(tags []string) error {
	for _, t := range tags {
		if err := checkListed(listedTag, t); err != nil {
			return err
		}
	}
	return nil
}

// checkManifests checks the digests and tags of a decoded page of
// manifests; it passes decoding errors through.
func checkManifests(ms []ManifestProperties, err error) ([]ManifestProperties, error) {
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if err := checkListed(listedDigest, string(m.Digest)); err != nil {
			return nil, err
		}
		if err := checkListedTags(m.Tags); err != nil {
			return nil, err
		}
		for _, a := range m.RelatedArtifacts {
			if err := checkListedDigest(string(a.Digest)); err != nil {
				return nil, err
			}
		}
	}
	return ms, nil
}

// checkListedDescriptors checks the digests of listed descriptors, such
// as referrers.
func checkListedDescriptors(ds []ocispec.Descriptor) error {
	for _, d := range ds {
		if err := checkListed(listedDigest, string(d.Digest)); err != nil {
			return err
		}
	}
	return nil
}

// namesKind is the kind of names a name listing carries under key.
func namesKind(key string) listedKind {
	if key == "repositories" {
		return listedRepository
	}
	return listedTag
}
