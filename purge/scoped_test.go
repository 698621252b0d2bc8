package purge_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/purge"
)

// TestRepositoryScopedUser runs a retention job as a user limited to one
// repository, as an ACR repository-scoped token with a scope map is: it
// cannot list the catalog, so only literal repository filters work, and
// it purges within its repository and nowhere else.
func TestRepositoryScopedUser(t *testing.T) {
	clk := &clock{t: day(0)}
	srv := acrtest.NewServer(t, &emulator.Options{Now: clk.Now,
		Users: map[string]string{"admin": "a", "ci": "c"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {
			{Repository: "app", Actions: []string{"content/read", "content/delete", "metadata/read"}},
		}}})
	admin, err := acr.NewClient(srv.URL, acr.BasicCredential("admin", "a"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, clock: clk, client: admin}
	e.at(1).image("app", "a", "v1")
	e.at(2).image("app", "b", "v2")
	e.at(3).image("app", "c", "v3")
	e.at(1).image("other", "d", "v1")
	clk.Set(day(30))

	ci, err := acr.NewClient(srv.URL, acr.BasicCredential("ci", "c"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for _, err := range ci.Repositories(ctx, nil) {
		if !errors.Is(err, acr.ErrInsufficientScope) || !errors.Is(err, acr.ErrUnauthorized) {
			t.Errorf("listing the catalog as the scoped user: got %v, want ErrInsufficientScope", err)
		}
		break
	}

	// A repository pattern needs the catalog: the purge fails before
	// deleting anything.
	_, err = purge.Run(ctx, ci, &purge.Options{Filters: filters("ap.*:.*"), Ago: 10 * purge.Day, Now: clk.Now})
	if !errors.Is(err, acr.ErrInsufficientScope) || !strings.Contains(err.Error(), "literally") {
		t.Errorf("purge with a repository pattern: got %v, want ErrInsufficientScope with the fix", err)
	}
	// A literal repository filter does not.
	res, err := purge.Run(ctx, ci, &purge.Options{Filters: filters("app:.*", "other:.*"), Ago: 10 * purge.Day, Keep: 1, Now: clk.Now})
	if err == nil && res.Complete() {
		t.Error("the purge reports success although it may not touch other")
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "v1", "v2"))
	if !e.hasTag("app", "v3") || !e.hasTag("other", "v1") {
		t.Error("a kept tag is gone")
	}
	for _, f := range res.Failed {
		if f.Item.Ref() != "other" || !errors.Is(f.Err, acr.ErrInsufficientScope) {
			t.Errorf("failed: %s: %v", f.Item.Ref(), f.Err)
		}
	}
	if len(res.Failed) != 1 {
		t.Errorf("want other reported as failed, got %+v", res.Failed)
	}

	// The library's listings work inside the repository.
	var tags []string
	for tag, err := range ci.Tags(ctx, "app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag.Name)
	}
	diff(t, "tags left", tags, []string{"v3"})
}
