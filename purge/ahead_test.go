package purge_test

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
)

// inFlight counts the requests under way and remembers the most at once;
// each takes a few milliseconds, so that concurrent ones overlap.
type inFlight struct {
	now, most atomic.Int64
}

func (f *inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for m := f.most.Load(); n > m && !f.most.CompareAndSwap(m, n); m = f.most.Load() {
	}
	time.Sleep(2 * time.Millisecond)
	return http.DefaultTransport.RoundTrip(r)
}

// TestDryRunPlansAhead: a dry run over many repositories plans several at
// once, never with more requests in flight than Concurrency, and reports
// exactly what a run planning one repository at a time does, in the same
// order.
func TestDryRunPlansAhead(t *testing.T) {
	e := newEnv(t)
	for i := range 24 {
		repo := fmt.Sprintf("many/r%02d", i)
		e.at(i%5).image(repo, repo+"-a", "a")
		e.at(i%3).image(repo, repo+"-b", "b", "c")
	}
	e.clock.Set(day(40))
	opts := purge.Options{Filters: filters("many/.*:.*"), Ago: 10 * purge.Day, DryRun: true, Now: e.clock.Now}

	one := opts
	one.Concurrency = 1
	want, err := purge.Run(context.Background(), e.client, &one)
	if err != nil {
		t.Fatal(err)
	}
	if len(want.Deleted) != 72 || len(want.Repositories) != 24 {
		t.Fatalf("sequential dry run: %d items in %d repositories, want 72 in 24", len(want.Deleted), len(want.Repositories))
	}

	const conc = 4
	var f inFlight
	client, err := acr.NewClient(e.srv.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: &f}, PageSize: 7, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ahead := opts
	ahead.Concurrency = conc
	var events []string
	ahead.Progress = func(ev purge.Event) { events = append(events, ev.Item.Ref()) }
	got, err := purge.Run(context.Background(), client, &ahead)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "dry run planned ahead vs one at a time", got.Deleted, want.Deleted)
	diff(t, "repositories examined", got.Repositories, want.Repositories)
	var order []string
	for _, it := range want.Deleted {
		order = append(order, it.Ref())
	}
	diff(t, "progress events", events, order)
	if m := f.most.Load(); m > conc || m < 2 {
		t.Errorf("at most %d requests were in flight at once, want 2..%d", m, conc)
	}

	plan, err := purge.NewPlan(context.Background(), client, &ahead)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "NewPlan items vs dry run", plan.Items, want.Deleted)
}
