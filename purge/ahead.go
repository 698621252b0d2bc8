package purge

import (
	"context"
	"iter"
	"sync"

	"github.com/acrgo/acr"
)

// planned is one repository's plan, or why it could not be made.
type planned struct {
	rp  *repoPlan
	err error
}

// plans yields the plan of each repository of repos, in order, with its
// index. When ahead is true (plans that delete nothing while they run: a
// dry run, NewPlan), up to cfg.Concurrency repositories are planned at
// once ahead of the one yielded, each with one request in flight, so that
// the bound on requests in flight holds; a dry-run purge over 10,000
// repositories made its 20,000 requests one after another. Otherwise
// each repository is planned when it is reached, with cfg.Concurrency
// requests of its own. Stopping the iteration cancels the plans ahead.
func plans(ctx context.Context, client *acr.Client, cfg *config, repos []string, ahead bool) iter.Seq2[int, planned] {
	return func(yield func(int, planned) bool) {
		if !ahead || cfg.Concurrency <= 1 || len(repos) <= 1 {
			for i, repo := range repos {
				rp, err := planRepository(ctx, client, cfg, repo)
				if !yield(i, planned{rp, err}) {
					return
				}
			}
			return
		}
		one := *cfg
		one.Concurrency = 1
		inner, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		defer func() {
			cancel()
			wg.Wait()
		}()
		// slots bounds the plans under way or done but not yet yielded.
		slots := make(chan struct{}, cfg.Concurrency)
		results := make([]chan planned, len(repos))
		for i := range results {
			results[i] = make(chan planned, 1)
		}
		wg.Go(func() {
			for i, repo := range repos {
				select {
				case slots <- struct{}{}:
				case <-inner.Done():
					return
				}
				wg.Go(func() {
					rp, err := planRepository(inner, client, &one, repo)
					results[i] <- planned{rp, err}
				})
			}
		})
		for i := range repos {
			select {
			case p := <-results[i]:
				<-slots
				if !yield(i, p) {
					return
				}
			case <-ctx.Done():
				yield(i, planned{err: ctx.Err()})
				return
			}
		}
	}
}
