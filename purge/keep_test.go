package purge_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/acrgo/acr/purge"
)

// TestKeepAndAgo: a tag goes when it is older than Ago and not among the
// Keep newest of the matching tags that old, as acr purge's --keep keeps
// "the latest to-be-deleted tags": tags younger than Ago stay by age and do
// not use up Keep, so a purge ported from acr purge deletes no more.
func TestKeepAndAgo(t *testing.T) {
	tests := []struct {
		ago  time.Duration
		keep int
		want []string
	}{
		// v1..v10 were pushed on days 1..10; the purge runs on day 30, so
		// --ago 25d cuts at day 5 (v5 is not older than that).
		{ago: 25 * purge.Day, keep: 0, want: tagRefs("app", "v1", "v2", "v3", "v4")},
		{ago: 25 * purge.Day, keep: 3, want: tagRefs("app", "v1")},
		{ago: 25 * purge.Day, keep: 4, want: []string{}},
		{ago: 25 * purge.Day, keep: 8, want: []string{}},
		{ago: 0, keep: 3, want: tagRefs("app", "v1", "v2", "v3", "v4", "v5", "v6", "v7")},
		{ago: 0, keep: 10, want: []string{}},
		{ago: 0, keep: 0, want: tagRefs("app", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10")},
		{ago: 40 * purge.Day, keep: 0, want: []string{}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("ago=%s,keep=%d", purge.FormatDuration(tt.ago), tt.keep), func(t *testing.T) {
			e := newEnv(t)
			for i := 1; i <= 10; i++ {
				e.at(i).image("app", fmt.Sprint(i), fmt.Sprintf("v%d", i))
			}
			// Tags that the filter does not match neither go nor count
			// towards --keep, however new.
			e.at(12).image("app", "latest", "latest")
			e.at(1).image("other", "x", "v1") // another repository, not named
			before := e.state()

			res := e.run(30, purge.Options{Filters: filters("app:v.*"), Ago: tt.ago, Keep: tt.keep})
			diff(t, "deleted", refs(res.Deleted), tt.want)
			for _, it := range res.Deleted {
				if !e.hasTag("app", it.Tag) {
					continue
				}
				t.Errorf("%s: reported deleted, still there", it.Ref())
			}
			// Tags only: the manifests stay.
			if got, want := len(e.state()), len(before)-len(tt.want); got != want {
				t.Errorf("registry holds %d entries, want %d", got, want)
			}
			if !e.hasTag("app", "latest") || !e.hasTag("other", "v1") {
				t.Error("deleted a tag that no filter matches")
			}
		})
	}
}

// TestKeepOrdersByUpdate: --keep counts tags by last update, not by name or
// push order of their manifests: a re-pointed old tag is new again.
func TestKeepOrdersByUpdate(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("app", "a", "build-1")
	e.at(2).image("app", "b", "build-2")
	e.at(3).image("app", "c", "build-3")
	e.at(20).image("app", "d", "build-1") // build-1 moved on day 20
	res := e.run(30, purge.Options{Filters: filters("app:build-.*"), Ago: 5 * purge.Day, Keep: 1})
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "build-2", "build-3"))
	if !hasReason(res.Deleted, "app:build-2", "3rd newest matching tag old enough to go (keep 1)") {
		t.Errorf("reason: got %q", res.Deleted[0].Reason)
	}
}

// TestKeepSkipsLocked: a locked tag is never deleted, so it does not use up
// Keep, as acr purge counts only the tags it could delete; with
// IncludeLocked it can go, so it counts.
func TestKeepSkipsLocked(t *testing.T) {
	for _, tc := range []struct {
		includeLocked bool
		want          []string
	}{
		{false, tagRefs("app", "v1", "v2")},
		{true, tagRefs("app", "v1", "v2", "v3")},
	} {
		t.Run(fmt.Sprintf("includeLocked=%t", tc.includeLocked), func(t *testing.T) {
			e := newEnv(t)
			for i := 1; i <= 5; i++ {
				e.at(i).image("app", fmt.Sprint(i), fmt.Sprintf("v%d", i))
			}
			e.lockTag("app", "v5", noDelete())
			res := e.run(30, purge.Options{Filters: filters("app:v.*"), Ago: 10 * purge.Day, Keep: 2, IncludeLocked: tc.includeLocked})
			diff(t, "deleted", refs(res.Deleted), tc.want)
			if !tc.includeLocked && !hasReason(res.Kept, "app:v5", "locked (deleteEnabled=false), so not counted towards keep 2") {
				t.Errorf("the locked v5 is not reported kept: %v", refs(res.Kept))
			}
		})
	}
}
