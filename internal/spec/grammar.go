package spec

import (
	_ "crypto/sha256" // registers sha256 with go-digest
	_ "crypto/sha512" // registers sha512 with go-digest
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// MaxNameLength bounds repository names. The distribution spec leaves the
// limit to registries; docker and ACR reject a reference over 255 bytes.
const MaxNameLength = 255

// The grammars below are matched by hand rather than with the regular
// expressions of the distribution spec (kept in grammar_test.go, which holds
// the matchers to them): compiling those at every start of acrctl took a
// tenth of the CPU time of acrctl --version.

// isName reports whether s follows the repository name grammar of the OCI
// distribution spec, section "Pulling manifests":
// [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*.
func isName(s string) bool {
	alnum := func(i int) bool { return i < len(s) && ('a' <= s[i] && s[i] <= 'z' || '0' <= s[i] && s[i] <= '9') }
	i := 0
	for {
		// A path component: runs of letters and digits, one separator
		// between two runs.
		if !alnum(i) {
			return false
		}
		for alnum(i) {
			i++
		}
		for i < len(s) && s[i] != '/' {
			switch s[i] {
			case '.':
				i++
			case '_':
				i++
				if i < len(s) && s[i] == '_' {
					i++
				}
			case '-':
				for i < len(s) && s[i] == '-' {
					i++
				}
			default:
				return false
			}
			if !alnum(i) {
				return false
			}
			for alnum(i) {
				i++
			}
		}
		if i == len(s) {
			return true
		}
		i++ // the '/'
	}
}

// isTag reports whether s follows the OCI tag grammar:
// [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}.
func isTag(s string) bool {
	if len(s) == 0 || len(s) > 128 || tagByte[s[0]]&tagFirst == 0 {
		return false
	}
	all := uint8(tagRest)
	for _, c := range []byte(s[1:]) {
		all &= tagByte[c]
	}
	return all != 0
}

// IsTag reports whether s follows the OCI tag grammar, as ValidateTag
// checks it, for callers that check many and need no message.
func IsTag(s string) bool { return isTag(s) }

// IsName reports whether s is a repository name, as ValidateName checks
// it, for callers that check many and need no message.
func IsName(s string) bool { return len(s) <= MaxNameLength && isName(s) }

// tagByte classifies bytes for isTag.
var tagByte = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_':
			t[c] = tagFirst | tagRest
		case c == '.', c == '-':
			t[c] = tagRest
		}
	}
	return t
}()

const (
	tagFirst = 1 << iota // may start a tag
	tagRest              // may follow
)

// IsDigestSyntax reports whether s follows the digest grammar of the OCI
// image spec, section "Digests": algorithm ":" encoded, with algorithm
// [a-z0-9]+([+._-][a-z0-9]+)* and encoded [a-zA-Z0-9=_-]+, whether or not
// the algorithm is one this module can compute. Such a string holds no
// '/', no ".." and no control character, so it is safe in a path and on a
// terminal. (go-digest checks the same with a regular expression.)
func IsDigestSyntax(s string) bool {
	i := 0
	for {
		// An algorithm component, then a separator or the ':'.
		start := i
		for i < len(s) && digestByte[s[i]]&algorithmByte != 0 {
			i++
		}
		if i == start || i == len(s) {
			return false
		}
		c := s[i]
		i++
		if c == ':' {
			break
		}
		if c != '+' && c != '.' && c != '_' && c != '-' {
			return false
		}
	}
	if i == len(s) {
		return false
	}
	// The encoded part is most of a digest (64 or 128 bytes): one table
	// lookup a byte, without a branch.
	all := uint8(encodedByte)
	for _, c := range []byte(s[i:]) {
		all &= digestByte[c]
	}
	return all != 0
}

// digestByte classifies bytes for IsDigestSyntax.
var digestByte = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			t[c] = algorithmByte | encodedByte
		case 'A' <= c && c <= 'Z', c == '=', c == '_', c == '-':
			t[c] = encodedByte
		}
	}
	return t
}()

const (
	algorithmByte = 1 << iota // [a-z0-9]
	encodedByte               // [a-zA-Z0-9=_-]
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
	if !isName(name) {
		return fmt.Errorf("%w %q: use lowercase letters, digits and separators (. _ __ -), with / between path components", ErrInvalidName, name)
	}
	return nil
}

// ValidateTag checks a tag against the OCI grammar.
func ValidateTag(tag string) error {
	if !isTag(tag) {
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
