package spec

import (
	"slices"
	"testing"
)

func TestScopeMapActions(t *testing.T) {
	for _, tc := range []struct {
		scope string
		want  []string
	}{
		{"repository:app:delete", []string{"content/delete"}},
		{"repository:team/app:pull,push", []string{"content/read", "content/write"}},
		{"repository:a:pull repository:b:pull,metadata_read", []string{"content/read", "metadata/read"}},
		{"repository:app:metadata_write", []string{"metadata/write"}},
		{"registry:catalog:*", nil},
		{"repository:app:*", nil},
		{"", nil},
	} {
		if got := ScopeMapActions(tc.scope); !slices.Equal(got, tc.want) {
			t.Errorf("ScopeMapActions(%q) = %q, want %q", tc.scope, got, tc.want)
		}
	}
}
