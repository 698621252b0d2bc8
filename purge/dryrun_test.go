package purge_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/acrgo/acr/purge"
)

// populateMixed fills a registry with a bit of everything, the same way
// every time: versions over 40 days, multi-arch images, signatures, SBOMs,
// untagged leftovers, locks, and a repository no filter names.
func populateMixed(e *env) {
	for i := 1; i <= 12; i++ {
		e.at(i)
		img := e.image("app", fmt.Sprint("app", i), fmt.Sprintf("v%d", i))
		if i%3 == 0 {
			e.referrer("app", img, signature, fmt.Sprint("sig", i))
		}
		if i%4 == 0 {
			s := e.referrer("app", img, sbom, fmt.Sprint("sbom", i))
			e.referrer("app", s, signature, fmt.Sprint("sbomsig", i))
		}
		if i%5 == 0 {
			e.image("app", fmt.Sprint("leftover", i)) // untagged
		}
	}
	e.at(13).image("app", "latest", "latest")
	for i := 1; i <= 6; i++ {
		e.at(i * 5)
		idx, _ := e.multiArch("team/multi", fmt.Sprint("m", i), fmt.Sprintf("r%d", i))
		if i%2 == 0 {
			e.referrer("team/multi", idx, signature, fmt.Sprint("msig", i))
		}
	}
	e.at(2).image("team/locked", "l1", "old-1", "old-2")
	e.lockTag("team/locked", "old-1", noDelete())
	e.at(2).image("untouched", "u", "v1")
}

var mixedOptions = purge.Options{
	Filters:  filters("app:v.*", "team/.*:.*"),
	Excludes: filters("team/multi:r1"),
	Ago:      10 * purge.Day,
	Keep:     2,
	Untagged: true,
}

// TestDryRunEqualsRealRun: a dry run changes nothing and reports exactly
// what the real run then deletes, with or without a budget.
func TestDryRunEqualsRealRun(t *testing.T) {
	for _, maxDeletes := range []int{0, 1, 5, 17} {
		t.Run(fmt.Sprint("max-deletes=", maxDeletes), func(t *testing.T) {
			e := newEnv(t)
			populateMixed(e)
			before := e.state()
			opts := mixedOptions
			opts.MaxDeletes = maxDeletes
			dryOpts := opts
			dryOpts.DryRun = true

			// Progress reports deletions in plan order in both runs,
			// whatever order concurrent requests finish in.
			var dryEvents, realEvents []string
			dryOpts.Progress = func(ev purge.Event) { dryEvents = append(dryEvents, string(ev.Action)+" "+ev.Item.Ref()) }
			opts.Progress = func(ev purge.Event) { realEvents = append(realEvents, string(ev.Action)+" "+ev.Item.Ref()) }
			opts.Concurrency = 8

			dry := e.run(40, dryOpts)
			diff(t, "state after the dry run", e.state(), before)
			if !dry.DryRun || len(dry.Deleted) == 0 {
				t.Fatalf("dry run: %+v", dry)
			}

			// NewPlan + Apply(DryRun) agrees with Run(DryRun).
			dryOpts.Progress = nil
			e.clock.Set(day(40))
			dryOpts.Now = e.clock.Now
			plan, err := purge.NewPlan(context.Background(), e.client, &dryOpts)
			if err != nil {
				t.Fatal(err)
			}
			applied, err := plan.Apply(context.Background(), e.client)
			if err != nil {
				t.Fatal(err)
			}
			diff(t, "NewPlan+Apply dry run vs Run dry run", applied.Deleted, dry.Deleted)
			if maxDeletes == 0 {
				diff(t, "plan items vs dry run", plan.Items, dry.Deleted)
			}

			real := e.run(40, opts)
			diff(t, "progress events", realEvents, dryEvents)
			diff(t, "real run vs dry run", real.Deleted, dry.Deleted)
			diff(t, "remaining", real.Remaining, dry.Remaining)
			diff(t, "not examined", real.NotExamined, dry.NotExamined)
			if len(real.Skipped) != 0 {
				t.Errorf("skipped: %+v", real.Skipped)
			}
			if maxDeletes > 0 {
				n := 0
				for _, it := range real.Deleted {
					if it.Kind != purge.KindReferrer {
						n++
					}
				}
				if n != min(maxDeletes, plan.Deletes()) {
					t.Errorf("deleted %d tags and manifests, want %d", n, min(maxDeletes, plan.Deletes()))
				}
				if real.Stop != purge.ErrMaxDeletes {
					t.Errorf("stop: got %v, want ErrMaxDeletes", real.Stop)
				}
			}
			// What the runs report deleted is gone.
			for _, it := range real.Deleted {
				if it.Tag != "" && e.hasTag(it.Repository, it.Tag) || it.Tag == "" && e.has(it.Repository, it.Digest) {
					t.Errorf("%s: reported deleted, still there", it.Ref())
				}
			}
		})
	}
}
