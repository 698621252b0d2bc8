package store

import (
	"errors"
	"fmt"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds the functions of one group commit, so that a flood of
// writes still gets answers in bounded batches.
const maxGroup = 256

// groupCommit runs concurrent Updates of the disk store in shared bbolt
// transactions, so that one commit (two fdatasyncs) acknowledges many
// writes: under 32 clients each metadata write waited its turn behind
// every other's fsyncs (a manifest push's p99 was 150-320 ms).
//
// The first Update to arrive while none is committing leads: it takes every
// function queued so far, runs them one after another in one transaction
// and commits it; Updates arriving meanwhile queue, and when the commit is
// done the oldest of them leads the next group. Before running a group,
// the leader makes the names of the blobs stored so far durable (see
// blobNames), so that no commit names a blob a crash could lose. There is
// no timer: a lone write commits at once, as before. Each function runs
// exactly once. When one fails (or panics), its own writes are taken back
// from the undo log of its diskTx and the group's other writes stand; every
// Update returns only after the commit that holds its writes is durable. A
// group cut short by a panic inside bbolt or a runtime.Goexit commits
// nothing, and all its Updates return errGroupAbandoned.
type groupCommit struct {
	mu      sync.Mutex
	queue   []*commitReq
	leading bool
}

// commitReq is one Update waiting for a group commit.
type commitReq struct {
	fn       func(Tx) error
	fnErr    error // fn's own error
	err      error // the commit's error, for a fn that succeeded
	panicked bool
	panicVal any
	done     chan struct{} // closed once the result is in
	lead     chan struct{} // closed when this request is to lead the next group
}

// update queues fn and returns once its group is committed.
func (s *diskStore) update(fn func(Tx) error) error {
	req := &commitReq{fn: fn, done: make(chan struct{}), lead: make(chan struct{})}
	g := &s.commits
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.leading {
		g.mu.Unlock()
		select {
		case <-req.done:
		case <-req.lead:
			s.lead()
		}
	} else {
		g.leading = true
		g.mu.Unlock()
		s.lead()
	}
	<-req.done
	if req.panicked {
		panic(req.panicVal)
	}
	if req.fnErr != nil {
		return req.fnErr
	}
	return s.txError(req.err, nil)
}

// lead commits one group, which holds the caller's own request, and hands
// the lead to the oldest request left, if any.
func (s *diskStore) lead() {
	g := &s.commits
	g.mu.Lock()
	n := min(len(g.queue), maxGroup)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	finished := false
	defer func() {
		if !finished {
			// commitGroup did not return: a panic inside bbolt, or a
			// function that called runtime.Goexit (t.Fatal in a test) on
			// this goroutine. bbolt rolled the transaction back; answer
			// every request of the group, or their Updates, and every
			// later one, would wait for good.
			for _, r := range group {
				select {
				case <-r.done:
				default:
					r.err = errGroupAbandoned
					close(r.done)
				}
			}
		}
		g.mu.Lock()
		if len(g.queue) > 0 {
			close(g.queue[0].lead)
		} else {
			g.queue = nil
			g.leading = false
		}
		g.mu.Unlock()
	}()
	s.commitGroup(group)
	finished = true
}

// errGroupAbandoned answers the requests of a group whose commit was cut
// short by a panic or runtime.Goexit: nothing of the group was committed.
var errGroupAbandoned = errors.New("store: a write of the same group commit panicked or exited; nothing of the group was committed")

// errNoWrites rolls back a group whose functions wrote nothing (there is
// nothing to make durable, so no fsync is spent on it), or whose one
// function failed.
var errNoWrites = errors.New("store: no writes")

func (s *diskStore) commitGroup(group []*commitReq) {
	// Names of blobs installed before these Updates were queued become
	// durable before any metadata that may name them (see blobNames).
	if err := s.names.flush(); err != nil {
		for _, r := range group {
			r.err = fmt.Errorf("sync blob names: %w", err)
			close(r.done)
		}
		return
	}
	ran := 0 // requests run so far; the rest get the commit's error
	wrote := false
	solo := len(group) == 1
	err := s.db.Update(func(btx *bolt.Tx) error {
		for _, r := range group {
			t := &diskTx{tx: btx, writable: true, logUndo: !solo}
			ok := r.run(t)
			ran++
			if !ok {
				if solo {
					return errNoWrites // bbolt rolls back all it wrote
				}
				if err := t.rollback(); err != nil {
					return err
				}
				continue
			}
			wrote = wrote || t.wrote
		}
		if !wrote {
			return errNoWrites
		}
		return nil
	})
	if errors.Is(err, errNoWrites) {
		err = nil
	}
	for i, r := range group {
		if i >= ran || (r.fnErr == nil && !r.panicked) {
			r.err = err // nil, or why nothing of the group was committed
		}
		close(r.done)
	}
}

// run calls r.fn in t, catching a panic; it reports whether fn succeeded.
func (r *commitReq) run(t *diskTx) (ok bool) {
	defer func() {
		t.done = true
		if v := recover(); v != nil {
			r.panicked, r.panicVal, ok = true, v, false
		}
	}()
	r.fnErr = r.fn(t)
	return r.fnErr == nil
}
