package console

import (
	"os"
	"testing"

	"github.com/acrgo/acr"
)

// TestReferenceRegistryConsole walks the console against the reference
// registry (distribution v3.1.2, OCI only) that .ci/reference.sh starts and
// names in ACRGO_REFERENCE_URL, open and with Basic auth. Without it, the
// test is skipped.
func TestReferenceRegistryConsole(t *testing.T) {
	u := os.Getenv("ACRGO_REFERENCE_URL")
	if u == "" {
		t.Skip("ACRGO_REFERENCE_URL is not set; .ci/reference.sh runs this against distribution v3.1.2")
	}
	var cred acr.Credential
	if user := os.Getenv("ACRGO_REFERENCE_USER"); user != "" {
		cred = acr.BasicCredential(user, os.Getenv("ACRGO_REFERENCE_PASSWORD"))
	}
	seed := newSeeder(t, u, cred)
	f := seed.fixture()
	cs, cu := consoleFor(t, u, cred)
	ociOnly(t, cs, cu, seed, f)
}
