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
