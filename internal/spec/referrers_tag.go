package spec

import "strings"

// ReferrersTag returns the tag of the referrers tag schema for digest d:
// the algorithm truncated to 32 characters, "-", the encoded part truncated
// to 64 characters, with every character a tag may not hold replaced by
// "-" (distribution spec v1.1, "Referrers Tag Schema"). d is not validated:
// the spec's own examples include digests of unregistered algorithms.
func ReferrersTag(d string) string {
	alg, enc, _ := strings.Cut(d, ":")
	if len(alg) > 32 {
		alg = alg[:32]
	}
	if len(enc) > 64 {
		enc = enc[:64]
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '-'
	}, alg+"-"+enc)
}

// IsReferrersTag reports whether tag has the form ReferrersTag gives a
// digest of a registered algorithm (sha256, sha384, sha512): the algorithm,
// "-", and 64 lowercase hex digits. Such a tag holds the referrers index of
// that digest on registries without the referrers API, so that deleting it
// as an ordinary tag hides the signatures and SBOMs it lists.
func IsReferrersTag(tag string) bool {
	alg, enc, ok := strings.Cut(tag, "-")
	if !ok || len(enc) != 64 {
		return false
	}
	switch alg {
	case "sha256", "sha384", "sha512":
	default:
		return false
	}
	for _, r := range enc {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}
