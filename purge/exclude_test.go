package purge_test

import (
	"testing"

	"github.com/acrgo/acr/purge"
)

// TestExclude: excluded tags are never deleted and do not count towards
// --keep; excludes name repositories too.
func TestExclude(t *testing.T) {
	e := newEnv(t)
	for i, tag := range []string{"v1", "v2", "stable", "v3", "release-1", "latest"} {
		e.at(i+1).image("team/app", tag, tag)
	}
	e.at(1).image("team/web", "w1", "v1", "release-9")
	e.at(1).image("prod/app", "p1", "v1")

	res := e.run(30, purge.Options{
		Filters:  filters("team/.*:.*", "prod/.*:.*"),
		Excludes: filters("team/app:(latest|stable)", ".*:release-.*", "prod/.*:.*"),
		Keep:     1,
	})
	// team/app: matching tags newest first are v3, v2, v1 (stable, release-1
	// and latest are excluded); keep 1 keeps v3. team/web: v1 is the only
	// matching tag and is kept. prod/app: excluded entirely.
	diff(t, "deleted", refs(res.Deleted), tagRefs("team/app", "v1", "v2"))
	for _, tag := range []string{"stable", "v3", "release-1", "latest"} {
		if !e.hasTag("team/app", tag) {
			t.Errorf("team/app:%s was deleted", tag)
		}
	}
	if !e.hasTag("team/web", "release-9") || !e.hasTag("prod/app", "v1") {
		t.Error("an excluded tag was deleted")
	}
}

// TestFilterAnchoring: filters match whole names, as acr purge's do.
func TestFilterAnchoring(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("app", "a", "v1", "v10", "xv1")
	e.at(1).image("myapp", "b", "v1")
	res := e.run(30, purge.Options{Filters: filters("app:v1")})
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "v1"))
	diff(t, "repositories", res.Repositories, []string{"app"})
}
