package console

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBuiltOnTheClientOnly: the console reaches registries through the
// client library alone, never the local registry's internals, so it
// browses whatever the library can reach.
func TestBuiltOnTheClientOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/acrgo/acr/console").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, d := range strings.Fields(string(out)) {
		if strings.HasPrefix(d, "github.com/acrgo/acr/emulator") || strings.HasPrefix(d, "github.com/acrgo/acr/acrtest") {
			t.Errorf("the console depends on %s: use the client library (package acr) instead", d)
		}
	}
}
