package spec

import (
	"slices"
	"strings"
)

// scopeMapActions maps token scope actions to the ACR scope-map actions
// that grant them (ACR's repository-scoped tokens).
var scopeMapActions = map[string]string{"pull": "content/read", "push": "content/write", "delete": "content/delete",
	"metadata_read": "metadata/read", "metadata_write": "metadata/write"}

// ScopeMapActions returns the ACR scope-map actions (content/read,
// content/delete, ...) that grant the repository actions of a token scope
// such as "repository:app:pull,delete", without repeats, in the scope's
// order; nil when it names none (a catalog scope, say).
func ScopeMapActions(scope string) []string {
	var acts []string
	for _, sc := range strings.Fields(scope) {
		i := strings.LastIndexByte(sc, ':')
		if !strings.HasPrefix(sc, "repository:") || i < 0 {
			continue
		}
		for _, a := range strings.Split(sc[i+1:], ",") {
			if n, ok := scopeMapActions[a]; ok && !slices.Contains(acts, n) {
				acts = append(acts, n)
			}
		}
	}
	return acts
}
