package spec

import (
	_ "crypto/sha256" // registers sha256 with go-digest
	_ "crypto/sha512" // registers sha512 with go-digest
	"errors"
	"fmt"
	"regexp"

	"github.com/opencontainers/go-digest"
)

// MaxNameLength bounds repository names. The distribution spec leaves the
// limit to registries; docker and ACR reject a reference over 255 bytes.
const MaxNameLength = 255

var (
	// nameRE is the repository name grammar of the OCI distribution spec,
	// section "Pulling manifests".
	nameRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// ErrInvalidName, ErrInvalidTag and ErrInvalidDigest report input that does
// not follow the distribution spec's grammar.
var (
	ErrInvalidName   = errors.New("invalid repository name")
	ErrInvalidTag    = errors.New("invalid tag")
	ErrInvalidDigest = errors.New("invalid digest")
)

// ValidateName checks a repository name against the OCI grammar and length
// limit.
func ValidateName(name string) error {
	if len(name) > MaxNameLength {
		return fmt.Errorf("%w: %d bytes is longer than the limit of %d", ErrInvalidName, len(name), MaxNameLength)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w %q: use lowercase letters, digits and separators (. _ __ -), with / between path components", ErrInvalidName, name)
	}
	return nil
}

// ValidateTag checks a tag against the OCI grammar.
func ValidateTag(tag string) error {
	if !tagRE.MatchString(tag) {
		return fmt.Errorf("%w %q: a tag is 1-128 characters of letters, digits, '_', '.' and '-', not starting with '.' or '-'", ErrInvalidTag, tag)
	}
	return nil
}

// ParseDigest parses and validates a digest. Only sha256 and sha512 are
// accepted: they are the algorithms the OCI image spec registers.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%w %q: want ALGORITHM:HEX, such as sha256 followed by 64 lowercase hex digits", ErrInvalidDigest, truncate(s))
	}
	switch d.Algorithm() {
	case digest.SHA256, digest.SHA512:
		return d, nil
	}
	return "", fmt.Errorf("%w %q: algorithm %q is not supported; use sha256 or sha512", ErrInvalidDigest, truncate(s), d.Algorithm())
}

// IsDigest reports whether a manifest reference is a digest rather than a tag.
// Tags cannot contain ':', digests always do.
func IsDigest(ref string) bool {
	for i := 0; i < len(ref); i++ {
		if ref[i] == ':' {
			return true
		}
	}
	return false
}

func truncate(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
