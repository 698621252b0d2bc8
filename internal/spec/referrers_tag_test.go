package spec

import (
	"strings"
	"testing"
)

// TestReferrersTag maps digests to tags as the distribution spec's table
// in "Referrers Tag Schema" does.
func TestReferrersTag(t *testing.T) {
	for _, tc := range []struct{ digest, want string }{
		{"sha256:" + strings.Repeat("a", 64), "sha256-" + strings.Repeat("a", 64)},
		{"sha512:" + strings.Repeat("a", 128), "sha512-" + strings.Repeat("a", 64)},
		{"test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharactersToExcerciseEncodedTruncation",
			"test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot"},
	} {
		got := ReferrersTag(tc.digest)
		if got != tc.want {
			t.Errorf("ReferrersTag(%q) = %q, want %q", tc.digest, got, tc.want)
		}
		if err := ValidateTag(got); err != nil {
			t.Errorf("ReferrersTag(%q) = %q, not a valid tag: %v", tc.digest, got, err)
		}
	}
}

// TestIsReferrersTag recognises the tags ReferrersTag makes of registered
// algorithms, and nothing else.
func TestIsReferrersTag(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for _, tc := range []struct {
		tag  string
		want bool
	}{
		{ReferrersTag("sha256:" + hex), true},
		{ReferrersTag("sha512:" + hex + hex), true},
		{ReferrersTag("sha384:" + hex + hex[:32]), true},
		{"sha256-" + hex[:63], false},
		{"sha256-" + hex + "0", false},
		{"sha256-" + strings.ToUpper(hex), false},
		{"sha256-" + hex + ".sig", false}, // cosign's signature tag is an ordinary tag
		{"md5-" + hex, false},
		{"v1", false},
		{"sha256" + hex, false},
	} {
		if got := IsReferrersTag(tc.tag); got != tc.want {
			t.Errorf("IsReferrersTag(%q) = %v, want %v", tc.tag, got, tc.want)
		}
	}
}
