package transport

import (
	"context"
	"errors"
	"sync"
	"time"
)

// flight is a cache whose entries are renewed at a given time, with at most
// one fetch per key in flight: callers that miss while a fetch runs wait for
// its result instead of starting their own.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	vals  map[K]flightEntry[V]
	calls map[K]*flightCall[V]
}

type flightEntry[V any] struct {
	v       V
	renewAt time.Time
}

type flightCall[V any] struct {
	done chan struct{}
	flightEntry[V]
	err error
}

// pruneAbove is the cache size beyond which stale entries are swept on put.
const pruneAbove = 1024

// get returns the value for k if it is not due for renewal at now.
func (f *flight[K, V]) get(k K, now time.Time) (V, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.vals[k]
	if !ok || !now.Before(e.renewAt) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// put stores v under k until renewAt.
func (f *flight[K, V]) put(k K, v V, renewAt, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.putLocked(k, v, renewAt, now)
}

func (f *flight[K, V]) putLocked(k K, v V, renewAt, now time.Time) {
	if f.vals == nil {
		f.vals = make(map[K]flightEntry[V])
	}
	if len(f.vals) >= pruneAbove {
		for key, e := range f.vals {
			if !now.Before(e.renewAt) {
				delete(f.vals, key)
			}
		}
	}
	f.vals[k] = flightEntry[V]{v, renewAt}
}

// drop removes every entry for which match is true.
func (f *flight[K, V]) drop(match func(K, V) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for k, e := range f.vals {
		if match(k, e.v) {
			delete(f.vals, k)
		}
	}
}

// do returns the cached value for k, or fetches it. Concurrent callers for
// the same key share one fetch, run with the context of the caller that
// started it; if that caller's context ends, the others try again with
// their own. The fetched value is returned to its callers even when it is
// already due for renewal, so a short-lived token is still used once.
func (f *flight[K, V]) do(ctx context.Context, k K, now func() time.Time, fetch func(context.Context) (V, time.Time, error)) (V, time.Time, error) {
	for {
		f.mu.Lock()
		if e, ok := f.vals[k]; ok && now().Before(e.renewAt) {
			f.mu.Unlock()
			return e.v, e.renewAt, nil
		}
		if call, ok := f.calls[k]; ok {
			f.mu.Unlock()
			select {
			case <-call.done:
			case <-ctx.Done():
				var zero V
				return zero, time.Time{}, ctx.Err()
			}
			if call.err != nil && isContextError(call.err) && ctx.Err() == nil {
				continue // the leader gave up, not the fetch
			}
			return call.v, call.renewAt, call.err
		}
		call := &flightCall[V]{done: make(chan struct{})}
		if f.calls == nil {
			f.calls = make(map[K]*flightCall[V])
		}
		f.calls[k] = call
		f.mu.Unlock()
		f.lead(ctx, k, call, now, fetch)
		return call.v, call.renewAt, call.err
	}
}

// lead runs the fetch for call and publishes its result, even if fetch
// panics, so that no waiter blocks forever.
func (f *flight[K, V]) lead(ctx context.Context, k K, call *flightCall[V], now func() time.Time, fetch func(context.Context) (V, time.Time, error)) {
	call.err = errors.New("transport: token fetch panicked")
	defer func() {
		f.mu.Lock()
		if call.err == nil {
			f.putLocked(k, call.v, call.renewAt, now())
		}
		delete(f.calls, k)
		f.mu.Unlock()
		close(call.done)
	}()
	call.v, call.renewAt, call.err = fetch(ctx)
}

func isContextError(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
