package purge_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/spec"
	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// ociOnly serves the registry without its /acr/v1 API, as a plain OCI
// registry would.
func ociOnly(e *env) *acr.Client {
	e.t.Helper()
	hs := httptest.NewServer(acrtest.PlainOCI(e.srv.Registry))
	e.t.Cleanup(hs.Close)
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestOCIRegistry: without /acr/v1 there are no ages, order or manifest
// listings: options that need them are refused before anything is deleted,
// and --ago 0 deletes matching tags by name.
func TestOCIRegistry(t *testing.T) {
	e := newEnv(t)
	v1 := e.at(1).image("app", "a", "v1", "keep")
	e.at(2).image("app", "b", "v2")
	e.at(3).image("app", "c", "latest")
	client := ociOnly(e)
	ctx := context.Background()

	for name, o := range map[string]purge.Options{
		"ago":           {Filters: filters("app:.*"), Ago: purge.Day},
		"keep":          {Filters: filters("app:.*"), Keep: 1},
		"untagged":      {Filters: filters("app:.*"), Untagged: true},
		"untagged-only": {Filters: filters("app:.*"), UntaggedOnly: true},
	} {
		before := e.state()
		_, err := purge.Run(ctx, client, &o)
		if !errors.Is(err, purge.ErrAgesUnknown) {
			t.Errorf("%s: got %v, want ErrAgesUnknown", name, err)
		}
		diff(t, name+": state", e.state(), before)
	}

	opts := purge.Options{Filters: filters("app:v.*"), DryRun: true}
	dry, err := purge.Run(ctx, client, &opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.DryRun = false
	res, err := purge.Run(ctx, client, &opts)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "real run vs dry run", res.Deleted, dry.Deleted)
	diff(t, "deleted", sorted(refs(res.Deleted)), tagRefs("app", "v1", "v2"))
	for _, it := range res.Deleted {
		if it.Tag == "v1" && it.Digest != v1.Digest {
			t.Errorf("v1: digest %s, want %s", it.Digest, v1.Digest)
		}
	}
	if e.hasTag("app", "v1") || e.hasTag("app", "v2") || !e.hasTag("app", "keep") || !e.has("app", v1.Digest) {
		t.Errorf("state after the purge: %v", e.state())
	}
}

// TestOCIRegistryWithoutTagDelete: a registry that refuses the OCI 1.1
// DELETE by tag stops the run at the first refusal instead of failing
// every tag.
func TestOCIRegistryWithoutTagDelete(t *testing.T) {
	e := newEnv(t)
	for i := range 5 {
		e.at(1).image("app", fmt.Sprint(i), fmt.Sprintf("v%d", i))
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/acr/") {
			http.NotFound(w, r)
			return
		}
		if r.Method == http.MethodDelete && !strings.Contains(r.URL.Path, "sha256:") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusMethodNotAllowed)
			w.Write([]byte(`{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}`))
			return
		}
		e.srv.Registry.ServeHTTP(w, r)
	}))
	defer hs.Close()
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters("app:.*"), Concurrency: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(res.Stop, acr.ErrNotSupported) || len(res.Failed) != 1 || len(res.Remaining) != 4 || len(res.Deleted) != 0 {
		t.Errorf("stop %v, %d failed, %d remaining, %d deleted; want ErrNotSupported, 1, 4, 0", res.Stop, len(res.Failed), len(res.Remaining), len(res.Deleted))
	}
}

// TestOCIReferrersTag: on a registry without the referrers API, a
// subject's signatures are listed in an index tagged sha256-HEX (the
// referrers tag schema), which oras, regctl and acrctl attach push there.
// A filter that matches every tag must not delete it as an ordinary tag:
// the image it belongs to would stay and lose its signatures. It is kept
// and reported, and does not count towards Keep.
func TestOCIReferrersTag(t *testing.T) {
	e := newEnv(t)
	v1 := e.at(1).image("app", "a", "v1")
	e.at(2).image("app", "b", "v2")
	sig := e.referrer("app", v1, signature, "sig")
	refTag := spec.ReferrersTag(v1.Digest.String())
	e.index("app", []ocispec.Descriptor{sig}, refTag)
	client := ociOnly(e)

	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters("app:.*"), Excludes: filters("app:v1")})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", sorted(refs(res.Deleted)), tagRefs("app", "v2"))
	if !e.hasTag("app", refTag) {
		t.Errorf("the referrers tag of v1 was deleted; state: %v", e.state())
	}
	if !hasReason(res.Kept, "app:"+refTag, "referrers") {
		t.Errorf("kept %v: want %s kept as the referrers tag of v1", refs(res.Kept), refTag)
	}
}
