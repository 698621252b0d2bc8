package acr_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// TestParseReference checks the references the .NET library's
// RegistryArtifact.FullyQualifiedReference produces ("{host}/{repo}:{tag}",
// "{host}/{repo}@{digest}") and the others users type: each parses into its
// parts and prints back as it was written.
func TestParseReference(t *testing.T) {
	d := digest.Digest("sha256:" + strings.Repeat("ab", 32))
	for _, tc := range []struct {
		in   string
		want acr.Reference
	}{
		{"myregistry.azurecr.io/hello-world:latest", acr.Reference{Registry: "myregistry.azurecr.io", Repository: "hello-world", Tag: "latest"}},
		{"myregistry.azurecr.io/library/hello-world@" + string(d), acr.Reference{Registry: "myregistry.azurecr.io", Repository: "library/hello-world", Digest: d}},
		{"localhost:5000/a/b:v1@" + string(d), acr.Reference{Registry: "localhost:5000", Repository: "a/b", Tag: "v1", Digest: d}},
		{"[::1]:5000/repo", acr.Reference{Registry: "[::1]:5000", Repository: "repo"}},
		{"127.0.0.1:5000/team/app:1.2.3", acr.Reference{Registry: "127.0.0.1:5000", Repository: "team/app", Tag: "1.2.3"}},
	} {
		got, err := acr.ParseReference(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseReference(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String(); s != tc.in {
			t.Errorf("ParseReference(%q).String() = %q", tc.in, s)
		}
	}
	for _, in := range []string{"hello-world:latest", "myregistry.azurecr.io/", "myregistry.azurecr.io/Hello", "host.io/a@sha256:short"} {
		if _, err := acr.ParseReference(in); !errors.Is(err, acr.ErrInvalidReference) {
			t.Errorf("ParseReference(%q) = %v; want ErrInvalidReference", in, err)
		}
	}
}

// TestZeroReferenceString: what ParseReference returns with an error
// prints as nothing, not as a "/".
func TestZeroReferenceString(t *testing.T) {
	r, err := acr.ParseReference("not a reference")
	if err == nil || r.String() != "" {
		t.Fatalf("ParseReference of garbage: %q, %v; want \"\" and an error", r.String(), err)
	}
}

// TestDigestArgumentsRefused: a malformed digest given to a blob method is
// refused before any request (the client points at a closed port, so a
// request would fail otherwise), with ErrInvalidReference and a message
// that quotes it and says the form wanted.
func TestDigestArgumentsRefused(t *testing.T) {
	client, err := acr.NewClient("http://127.0.0.1:1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, d := range []digest.Digest{"sha256:zz", "", "md5:" + digest.Digest(strings.Repeat("a", 32))} {
		calls := map[string]error{}
		_, calls["DownloadBlob"] = client.DownloadBlob(ctx, "app", d, nil)
		_, calls["DownloadBlobTo"] = client.DownloadBlobTo(ctx, "app", d, io.Discard, nil)
		_, _, calls["BlobExists"] = client.BlobExists(ctx, "app", d)
		calls["DeleteBlob"] = client.DeleteBlob(ctx, "app", d)
		for name, err := range calls {
			if !errors.Is(err, acr.ErrInvalidReference) || !strings.Contains(err.Error(), fmt.Sprintf("%q", d)) ||
				!(strings.Contains(err.Error(), "want ALGORITHM:HEX") || strings.Contains(err.Error(), "use sha256 or sha512")) {
				t.Errorf("%s(%q): %v; want ErrInvalidReference quoting it and the form wanted", name, d, err)
			}
		}
	}
}
