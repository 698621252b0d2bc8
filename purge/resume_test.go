package purge_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr/purge"
)

// finalState is the registry after one uninterrupted purge of the mixed
// registry.
func finalState(t *testing.T) (state []string, deleted []string) {
	e := newEnv(t)
	populateMixed(e)
	res := e.run(40, mixedOptions)
	if !res.Complete() {
		t.Fatalf("the full run did not complete: %+v", res)
	}
	return e.state(), sorted(refs(res.Deleted))
}

// TestResumeAfterMaxDeletes: runs bounded by MaxDeletes, repeated, end
// where one unbounded run ends, and each reports what remains.
func TestResumeAfterMaxDeletes(t *testing.T) {
	wantState, wantDeleted := finalState(t)
	e := newEnv(t)
	populateMixed(e)
	var deleted []string
	opts := mixedOptions
	opts.MaxDeletes = 4
	for run := 1; ; run++ {
		if run > 50 {
			t.Fatal("no end after 50 runs")
		}
		res := e.run(40, opts)
		deleted = append(deleted, refs(res.Deleted)...)
		if res.Complete() {
			break
		}
		if !errors.Is(res.Stop, purge.ErrMaxDeletes) {
			t.Fatalf("run %d stopped: %v", run, res.Stop)
		}
		if len(res.Remaining) == 0 && len(res.NotExamined) == 0 {
			t.Fatalf("run %d stopped with nothing remaining", run)
		}
	}
	diff(t, "final state", e.state(), wantState)
	diff(t, "deleted over all runs", sorted(deleted), wantDeleted)
}

// TestResumeAfterCancel: a run whose context is cancelled in the middle of
// its deletes leaves a registry that the next run finishes cleanly.
func TestResumeAfterCancel(t *testing.T) {
	wantState, _ := finalState(t)
	for _, after := range []int64{1, 7, 15, 30} {
		t.Run("", func(t *testing.T) {
			e := newEnv(t)
			populateMixed(e)
			e.clock.Set(day(40))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var deletes atomic.Int64
			// Cancel once `after` deletes have been sent: the request in
			// flight and those after it are interrupted.
			client, _ := e.newClient(func(r *http.Request) error {
				if r.Method == http.MethodDelete && deletes.Add(1) == after {
					cancel()
				}
				return nil
			})
			opts := mixedOptions
			opts.Now = e.clock.Now
			opts.Concurrency = 3
			res, err := purge.Run(ctx, client, &opts)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if res.Complete() || !errors.Is(res.Stop, context.Canceled) {
				t.Fatalf("stop: %v, complete %v; want a cancelled, incomplete run", res.Stop, res.Complete())
			}
			if len(res.Failed) != 0 {
				t.Errorf("failed: %+v; interrupted requests belong in Remaining", res.Failed)
			}
			res = e.run(40, mixedOptions)
			if !res.Complete() {
				t.Errorf("the second run did not complete: stop %v, %d failed", res.Stop, len(res.Failed))
			}
			diff(t, "final state", e.state(), wantState)
		})
	}
}
