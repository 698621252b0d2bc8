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
