package purge_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
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
			// flight and those after it are interrupted. The registry
			// finishes the requests it received, as a real one does, and
			// the second run starts once it has: a deletion landing in
			// the middle of its listing would lose the listing's place.
			sent := &detached{next: http.DefaultTransport}
			client, err := acr.NewClient(e.srv.URL, nil, &acr.ClientOptions{PageSize: 7, MaxRetries: -1, HTTPClient: &http.Client{Transport: &counter{next: sent,
				before: func(r *http.Request) error {
					if r.Method == http.MethodDelete && deletes.Add(1) == after {
						cancel()
					}
					return nil
				}}}})
			if err != nil {
				t.Fatal(err)
			}
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
			sent.wg.Wait()
			res = e.run(40, mixedOptions)
			if !res.Complete() {
				t.Errorf("the second run did not complete: stop %v, %d failed", res.Stop, len(res.Failed))
			}
			diff(t, "final state", e.state(), wantState)
		})
	}
}

// detached sends each request on a context that the caller's cancellation
// does not reach, as a registry goes on with a request whose client has
// gone: a cancelled caller gets its context's error at once while the
// request completes, and wg counts the requests not yet answered.
type detached struct {
	next http.RoundTripper
	wg   sync.WaitGroup
}

func (d *detached) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	type answer struct {
		resp *http.Response
		err  error
	}
	answered, abandoned := make(chan answer), make(chan struct{})
	d.wg.Go(func() {
		resp, err := d.next.RoundTrip(r.WithContext(context.WithoutCancel(r.Context())))
		select {
		case answered <- answer{resp, err}:
		case <-abandoned:
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	})
	select {
	case a := <-answered:
		return a.resp, a.err
	case <-r.Context().Done():
		close(abandoned)
		return nil, r.Context().Err()
	}
}
