package acrtest

import (
	"os"
	"strings"
	"testing"
)

// Reference names the reference registry (distribution v3.1.2) that
// .ci/reference.sh starts for the tests named TestReferenceRegistry*.
type Reference struct {
	// URL is the registry's base URL, without a trailing slash.
	URL string
	// User and Password are its Basic credentials; empty when the registry
	// runs open.
	User, Password string
}

// ReferenceRegistry returns the reference registry that .ci/reference.sh
// names in ACRGO_REFERENCE_URL (and ACRGO_REFERENCE_USER and
// ACRGO_REFERENCE_PASSWORD), and skips the test when it is not set: plain
// `go test` needs no external server.
func ReferenceRegistry(t testing.TB) Reference {
	t.Helper()
	u := os.Getenv("ACRGO_REFERENCE_URL")
	if u == "" {
		t.Skip("ACRGO_REFERENCE_URL is not set; .ci/reference.sh starts the reference registry (distribution v3.1.2) and sets it")
	}
	return Reference{URL: strings.TrimSuffix(u, "/"), User: os.Getenv("ACRGO_REFERENCE_USER"), Password: os.Getenv("ACRGO_REFERENCE_PASSWORD")}
}
