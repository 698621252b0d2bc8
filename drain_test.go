package acr_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
)

// blockingReader hands out a few bytes, then, asked for more, calls
// interrupt (the user presses Ctrl-C while the upload is under way) and
// blocks until ctx ends, as a pipe from a stalled producer does.
type blockingReader struct {
	sent      bool
	ctx       context.Context
	interrupt func()
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		return copy(p, "partial"), nil
	}
	r.interrupt()
	<-r.ctx.Done()
	return 0, r.ctx.Err()
}

// TestDrainWaitsForCancels: an upload interrupted by its context returns at
// once while the DELETE of its session goes on; Drain returns once every
// such DELETE has reached the registry, also while other uploads fail and
// start theirs during the wait, and at once when there is nothing to wait
// for.
func TestDrainWaitsForCancels(t *testing.T) {
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	var deletes, done atomic.Int32
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			deletes.Add(1)
			time.Sleep(200 * time.Millisecond) // a slow registry
			defer done.Add(1)
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Drain(t.Context()); err != nil {
		t.Fatalf("Drain with nothing running: %v", err)
	}

	const uploads = 6
	var wg sync.WaitGroup
	for i := range uploads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i >= uploads/2 {
				time.Sleep(150 * time.Millisecond) // fail while the first Drain waits
			}
			// Interrupted once its session exists, however long opening
			// it took: a fixed timeout could end the upload before,
			// leaving no session to cancel.
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if _, err := c.UploadBlob(ctx, "app", &blockingReader{ctx: ctx, interrupt: cancel}, nil); err == nil {
				t.Error("an interrupted upload succeeded")
			}
		}()
	}
	time.Sleep(120 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var drains sync.WaitGroup
	for range 3 {
		drains.Add(1)
		go func() {
			defer drains.Done()
			if err := c.Drain(ctx); err != nil {
				t.Errorf("Drain: %v", err)
			}
		}()
	}
	drains.Wait()
	wg.Wait()
	if err := c.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if d, n := deletes.Load(), done.Load(); d != uploads || n != uploads {
		t.Errorf("after Drain: %d session DELETEs sent, %d answered; want %d", d, n, uploads)
	}
	short, cancel2 := context.WithCancel(t.Context())
	cancel2()
	if err := c.Drain(short); err != nil {
		t.Errorf("Drain with nothing running and an ended context: %v", err)
	}
}
