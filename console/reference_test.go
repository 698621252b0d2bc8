package console

import (
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
)

// TestReferenceRegistryConsole walks the console against the reference
// registry (distribution v3.1.2, OCI only) that .ci/reference.sh starts and
// names in ACRGO_REFERENCE_URL, open and with Basic auth. Without it, the
// test is skipped.
func TestReferenceRegistryConsole(t *testing.T) {
	ref := acrtest.ReferenceRegistry(t)
	u := ref.URL
	var cred acr.Credential
	if ref.User != "" {
		cred = acr.BasicCredential(ref.User, ref.Password)
	}
	seed := newSeeder(t, u, cred)
	f := seed.fixture()
	cs, cu := consoleFor(t, u, cred)
	ociOnly(t, cs, cu, seed, f)
}
