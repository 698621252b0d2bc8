package acr_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
)

func collect[T any](t *testing.T, seq func(func(T, error) bool)) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestRepositories(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	s := newSeeder(t, srv, "", "")
	for _, r := range []string{"b/two", "a/one", "c"} {
		s.image(r, "amd64", r, "v1")
	}
	client, err := acr.NewClient(srv.URL, nil, &acr.ClientOptions{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	got := collect(t, client.Repositories(t.Context(), nil))
	if want := []string{"a/one", "b/two", "c"}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Breaking out early stops fetching.
	for range client.Repositories(t.Context(), nil) {
		break
	}
}

func TestRepositoryProperties(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	s := newSeeder(t, srv, "", "")
	s.image("library/hello", "amd64", "one", "v1", "latest")
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	p, err := client.GetRepositoryProperties(ctx, "library/hello")
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "library/hello" || p.Registry != srv.Host || p.TagCount != 2 || p.ManifestCount != 1 ||
		!p.Permissions.CanDelete || time.Since(p.CreatedOn) > time.Minute || p.LastUpdatedOn.Before(p.CreatedOn) {
		t.Fatalf("got %+v", p)
	}
	if got := client.Endpoint(); got != srv.URL {
		t.Fatalf("Endpoint() = %q, want %q", got, srv.URL)
	}
	f := false
	p, err = client.UpdateRepositoryProperties(ctx, "library/hello", acr.PermissionsUpdate{CanDelete: &f})
	if err != nil || p.Permissions.CanDelete || !p.Permissions.CanWrite {
		t.Fatalf("update: %v %+v", err, p)
	}
	_, err = client.DeleteRepository(ctx, "library/hello")
	if !errors.Is(err, acr.ErrLocked) {
		t.Fatalf("deleting a locked repository: got %v, want ErrLocked", err)
	}
	tr := true
	if _, err := client.UpdateRepositoryProperties(ctx, "library/hello", acr.PermissionsUpdate{CanDelete: &tr}); err != nil {
		t.Fatal(err)
	}
	del, err := client.DeleteRepository(ctx, "library/hello")
	if err != nil || len(del.Manifests) != 1 || len(del.Tags) != 2 {
		t.Fatalf("delete: %v %+v", err, del)
	}
	_, err = client.GetRepositoryProperties(ctx, "library/hello")
	var re *acr.ResponseError
	if !errors.Is(err, acr.ErrNotFound) || !errors.As(err, &re) || !re.HasCode("NAME_UNKNOWN") || re.RequestID == "" {
		t.Fatalf("after delete: got %v, want a 404 NAME_UNKNOWN ResponseError with a request id", err)
	}
}

func TestInvalidReferencesFailBeforeAnyRequest(t *testing.T) {
	var requests atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { requests.Add(1) }))
	defer hs.Close()
	client, _ := acr.NewClient(hs.URL, nil, nil)
	ctx := t.Context()
	checks := []error{
		func() error { _, err := client.GetRepositoryProperties(ctx, "UPPER"); return err }(),
		func() error { _, err := client.GetTagProperties(ctx, "ok", "bad tag"); return err }(),
		func() error { _, err := client.DeleteManifest(ctx, "ok", "sha256:nothex"); return err }(),
		func() error { return client.DeleteTag(ctx, "a/../b", "v1") }(),
	}
	for i, err := range checks {
		if !errors.Is(err, acr.ErrInvalidReference) {
			t.Errorf("check %d: got %v, want ErrInvalidReference", i, err)
		}
	}
	if n := requests.Load(); n != 0 {
		t.Fatalf("%d requests were sent for invalid input", n)
	}
}

// withoutACR serves the emulator with its /acr/v1 API hidden: a plain OCI
// registry, for the fallback paths.
func withoutACR(t *testing.T) (*httptest.Server, *emulator.Server) {
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(acrtest.PlainOCI(reg))
	t.Cleanup(func() { hs.Close(); reg.Close() })
	return hs, reg
}

func TestFallbackToOCI(t *testing.T) {
	hs, _ := withoutACR(t)
	s := &seeder{t: t, base: hs.URL}
	d := s.image("x/app", "amd64", "one", "v1", "v2")
	client, _ := acr.NewClient(hs.URL, nil, &acr.ClientOptions{PageSize: 1})
	ctx := t.Context()
	if got := collect(t, client.Repositories(ctx, nil)); !slices.Equal(got, []string{"x/app"}) {
		t.Fatalf("repositories: got %v", got)
	}
	var names []string
	for tp, err := range client.Tags(ctx, "x/app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, tp.Name)
	}
	if !slices.Equal(names, []string{"v1", "v2"}) {
		t.Fatalf("tags: got %v", names)
	}
	for _, err := range client.Tags(ctx, "x/app", &acr.TagsOptions{Order: acr.OrderLastUpdatedDesc}) {
		if !errors.Is(err, acr.ErrNotSupported) {
			t.Fatalf("ordered tags on plain OCI: got %v, want ErrNotSupported", err)
		}
	}
	if _, err := client.GetRepositoryProperties(ctx, "x/app"); !errors.Is(err, acr.ErrNotSupported) || !strings.Contains(err.Error(), "/acr/v1") {
		t.Fatalf("properties on plain OCI: got %v", err)
	}
	if err := client.DeleteTag(ctx, "x/app", "v2"); err != nil {
		t.Fatalf("DeleteTag via OCI 1.1: %v", err)
	}
	if got, err := client.ResolveDigest(ctx, "x/app", "v1"); err != nil || got != d {
		t.Fatalf("ResolveDigest: %v %s", err, got)
	}
	if _, err := client.DeleteManifest(ctx, "x/app", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ResolveDigest(ctx, "x/app", "v1"); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("after delete: got %v", err)
	}
}

// TestHostileLinks checks that a listing refuses a next-page Link to
// another origin, stops on a repeated cursor, and ignores malformed Links.
func TestHostileLinks(t *testing.T) {
	var other atomic.Int32
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { other.Add(1) }))
	defer elsewhere.Close()
	for _, tc := range []struct {
		name, link, want string
	}{
		{"another origin", "<" + elsewhere.URL + "/v2/_catalog?last=a>; rel=\"next\"", "another origin"},
		{"repeated cursor", "</v2/_catalog?n=1>; rel=\"next\"", "repeated a page cursor"},
		{"malformed", "<<>>;;rel=", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasPrefix(r.URL.Path, "/acr/") {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Link", tc.link)
				w.Write([]byte(`{"repositories":["a"]}`))
			}))
			defer hs.Close()
			client, _ := acr.NewClient(hs.URL, nil, &acr.ClientOptions{PageSize: 1})
			var err error
			n := 0
			for _, e := range client.Repositories(t.Context(), nil) {
				if e != nil {
					err = e
					break
				}
				n++
			}
			if tc.want == "" {
				if err != nil || n != 1 {
					t.Fatalf("malformed Link: got %d items and %v, want 1 item and the listing ended", n, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if other.Load() != 0 {
		t.Fatalf("%d requests went to the other origin", other.Load())
	}
}
