// Package deps holds the test that enforces the module's dependency
// direction: cmd -> acr, transfer, purge, emulator -> internal, and never
// emulator <-> acr.
package deps

import (
	"os/exec"
	"strings"
	"testing"
)

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

func TestEmulatorDoesNotImportClient(t *testing.T) {
	for _, pkg := range []string{"github.com/acrgo/acr/emulator/...", "github.com/acrgo/acr/acrtest"} {
		for _, d := range deps(t, pkg) {
			if d == "github.com/acrgo/acr" || strings.HasPrefix(d, "github.com/acrgo/acr/transfer") || strings.HasPrefix(d, "github.com/acrgo/acr/purge") {
				t.Errorf("%s depends on %s: the emulator must be written independently of the client", pkg, d)
			}
		}
	}
}
