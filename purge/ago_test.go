package purge_test

import (
	"testing"
	"time"

	"github.com/acrgo/acr/purge"
)

// TestHugeAgo: an --ago too large to represent deletes nothing, where
// acr-cli's overflowed into deleting everything (acr-cli#560, #83).
func TestHugeAgo(t *testing.T) {
	for _, s := range []string{"100000000d", "999999d", "106751d23h47m16.854775807s", "9223372036854775807ns", "200000h"} {
		t.Run(s, func(t *testing.T) {
			ago, err := purge.ParseDuration(s)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t)
			e.at(0).image("app", "ancient", "v1")
			e.image("app", "ancient-untagged")
			before := e.state()
			res := e.run(3650, purge.Options{Filters: filters(".*:.*"), Ago: ago, Untagged: true})
			diff(t, "deleted", refs(res.Deleted), []string{})
			diff(t, "state", e.state(), before)
		})
	}
}

// TestAgoZeroMeansAnyAge: Ago 0 takes tags of any age, even one updated
// this instant.
func TestAgoZeroMeansAnyAge(t *testing.T) {
	e := newEnv(t)
	e.at(30).image("app", "now", "v1")
	res := e.run(30, purge.Options{Filters: filters("app:.*"), Ago: 0})
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "v1"))
}

func TestInvalidOptions(t *testing.T) {
	e := newEnv(t)
	for name, o := range map[string]purge.Options{
		"no filter":   {},
		"negative":    {Filters: filters("a:b"), Ago: -time.Hour},
		"keep":        {Filters: filters("a:b"), Keep: -1},
		"concurrency": {Filters: filters("a:b"), Concurrency: purge.MaxConcurrency + 1},
		"nil regexp":  {Filters: []purge.Filter{{}}},
	} {
		if _, err := purge.Run(t.Context(), e.client, &o); err == nil {
			t.Errorf("%s: Run accepted %+v", name, o)
		}
		if _, err := purge.NewPlan(t.Context(), e.client, &o); err == nil {
			t.Errorf("%s: NewPlan accepted %+v", name, o)
		}
	}
}
