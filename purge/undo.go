package purge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
)

// UndoOptions says how Undo restores. Nil or zero fields mean the defaults
// noted; Undo copies UndoOptions and never keeps or changes the caller's.
type UndoOptions struct {
	// Force moves a tag back onto the manifest the run deleted it from
	// even when the tag now points at another manifest. Without it, such a
	// tag stays where it is and is reported in UndoResult.Failed with an
	// error matching acr.ErrTagInUse.
	Force bool
	// Concurrency bounds the requests in flight; 0 means
	// DefaultConcurrency.
	Concurrency int
	// Progress, when set, is called as items are restored (ActionRestored),
	// need no restore (ActionSkipped) or fail (ActionFailed), one call at a
	// time, in the order the restores finish.
	Progress func(Event)
}

// UndoResult reports what Undo did. Lists follow the order of restoring:
// untagged manifests and referrers first, each index after the manifests
// it may reference, then tags.
type UndoResult struct {
	// Restored lists the deletions restored: the manifest, or the tag onto
	// the digest it pointed at when the run deleted it.
	Restored []Item `json:"restored"`
	// Skipped lists the deletions that needed no restore: the manifest is
	// in the registry, or the tag points at the run's digest again.
	Skipped []Outcome `json:"skipped,omitempty"`
	// Failed lists the deletions that could not be restored, with why: a
	// tag that now points at another manifest (errors.Is(Err,
	// acr.ErrTagInUse); see UndoOptions.Force), a deletion the registry no
	// longer keeps (acr.ErrNotFound: its retention ran out, or soft delete
	// is off), a refusal or a failed request.
	Failed []Outcome `json:"failed,omitempty"`
	// Remaining lists the deletions not attempted because ctx was done.
	// A request that ctx interrupted is listed here too: whether it took
	// effect, the next Undo will see (it skips what is back).
	Remaining []Item `json:"remaining,omitempty"`
	// Notes are human-readable remarks, such as locks the purge lifted.
	Notes []string `json:"notes,omitempty"`
	// Stop is ctx's error when ctx stopped the undo, else nil.
	Stop error `json:"-"`
	// Stopped is Stop's message, for JSON.
	Stopped string `json:"stopped,omitempty"`
}

// Complete reports whether every deletion of the run is back.
func (r *UndoResult) Complete() bool {
	return r.Stop == nil && len(r.Failed) == 0 && len(r.Remaining) == 0
}

// Undo restores what a run deleted, from its Result (or the Result's
// JSON, decoded): each untagged manifest and referrer as it was when
// deleted, and each tag onto the digest it pointed at then, so that the
// repository reads back as before the run, byte for byte. Only a registry
// with soft delete can restore (see Recovery), and only until the
// deletions expire. Skipped, failed and remaining items of the run are
// left alone: they were not deleted.
//
// Manifests are restored first, indexes one at a time after the other
// manifests and in the reverse of the order the run deleted them, so that
// a restored index finds the manifests it references; then the tags, with
// POST /acr/v1/_deleted/{repo}/_manifests/{digest} (acr.Client's
// RestoreManifest) naming each. What is back already is skipped, which
// makes Undo safe to run again after a partial undo.
//
// Locks that the run lifted (Options.IncludeLocked) are not put back:
// UndoResult.Notes lists such items. The error is non-nil only for an
// unusable result or options; restores that failed are in
// UndoResult.Failed.
func Undo(ctx context.Context, client *acr.Client, res *Result, opts *UndoOptions) (_ *UndoResult, err error) {
	ctx, endSpan := startSpan(ctx, client, "purge.Undo")
	defer func() { endSpan(err) }()
	var o UndoOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case res == nil:
		return nil, errors.New("purge: Undo needs the Result of a run")
	case res.DryRun:
		return nil, errors.New("purge: the Result is a dry run's, which deleted nothing: there is nothing to undo")
	case o.Concurrency < 0 || o.Concurrency > MaxConcurrency:
		return nil, fmt.Errorf("purge: Concurrency %d is out of range 1..%d", o.Concurrency, MaxConcurrency)
	case o.Concurrency == 0:
		o.Concurrency = DefaultConcurrency
	}
	u := &undoer{client: client, opts: o}
	var manifests, indexes, tags []entry
	for i := len(res.Deleted) - 1; i >= 0; i-- {
		it := &res.Deleted[i]
		switch {
		case it.Kind == KindTag:
		case spec.IsIndex(it.MediaType) || it.MediaType == "":
			// An index, or a type the run did not learn: one at a time.
			indexes = append(indexes, entry{it: it})
		default:
			manifests = append(manifests, entry{it: it})
		}
	}
	for i := range res.Deleted {
		if it := &res.Deleted[i]; it.Kind == KindTag {
			tags = append(tags, entry{it: it})
		}
	}
	for _, es := range [][]entry{manifests, indexes, tags} {
		for i := range es {
			u.seq++
			es[i].seq = u.seq
		}
	}
	u.phase(ctx, manifests, o.Concurrency)
	u.phase(ctx, indexes, 1)
	u.phase(ctx, tags, o.Concurrency)
	return u.finish(res), nil
}

type undoer struct {
	client *acr.Client
	opts   UndoOptions
	seq    int

	mu        sync.Mutex
	stop      error
	restored  []entry
	skipped   []outEntry
	failed    []outEntry
	remaining []entry
}

// phase restores es with at most n requests in flight.
func (u *undoer) phase(ctx context.Context, es []entry, n int) {
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, e := range es {
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			u.stopped(ctx, es[i:]...)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			u.restore(ctx, e)
		}()
	}
	wg.Wait()
}

// restore restores one deletion and records the outcome. What is back
// already is skipped without a restore: registries answer a restore of
// something present in their own ways (the local registry with a 200 that
// changes nothing).
func (u *undoer) restore(ctx context.Context, e entry) {
	it := e.it
	if detail, back, err := u.present(ctx, it); err != nil {
		if ctx.Err() != nil {
			u.stopped(ctx, e)
			return
		}
		u.fail(e, "checking whether it is back: "+err.Error(), err)
		return
	} else if back {
		u.skip(e, detail)
		return
	}
	ro := &acr.RestoreOptions{Force: u.opts.Force}
	if it.Kind == KindTag {
		ro.Tag = it.Tag
	}
	props, err := u.client.RestoreManifest(ctx, it.Repository, it.Digest, ro)
	switch {
	case err == nil && props.Digest != it.Digest:
		// Cannot happen on a sound registry; say so rather than trust it.
		u.fail(e, "the registry restored "+props.Digest.String()+" instead", fmt.Errorf("purge: restored %s, want %s", props.Digest, it.Digest))
	case err == nil:
		u.done(e)
	case ctx.Err() != nil:
		u.stopped(ctx, e)
	case errors.Is(err, acr.ErrTagInUse):
		where := "points at another manifest"
		if tp, terr := u.client.GetTagProperties(ctx, it.Repository, it.Tag); terr == nil {
			where = "points at " + tp.Digest.String()
		}
		u.fail(e, "in use: the tag now "+where, err)
	case errors.Is(err, acr.ErrNotFound):
		u.fail(e, "the registry keeps no deletion of it: its retention ran out, or it was deleted without soft delete", err)
	case softDeleteOff(err):
		u.fail(e, "the registry keeps no deleted content (it has no soft delete, or it is off)", err)
	default:
		u.fail(e, "restoring: "+err.Error(), err)
	}
}

// present reports whether what it names is in the registry as the run
// found it: the manifest, or the tag on the run's digest.
func (u *undoer) present(ctx context.Context, it *Item) (string, bool, error) {
	if it.Kind == KindTag {
		tp, err := u.client.GetTagProperties(ctx, it.Repository, it.Tag)
		switch {
		case errors.Is(err, acr.ErrNotFound):
			return "", false, nil
		case err != nil:
			return "", false, err
		case tp.Digest == it.Digest:
			return "already points at " + it.Digest.String(), true, nil
		}
		return "", false, nil // in use: the restore says so, or moves it
	}
	_, err := u.client.GetManifestProperties(ctx, it.Repository, it.Digest.String())
	switch {
	case errors.Is(err, acr.ErrNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return "already in the registry", true, nil
}

func (u *undoer) event(ev Event) {
	if u.opts.Progress != nil {
		u.opts.Progress(ev)
	}
}

func (u *undoer) done(e entry) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.restored = append(u.restored, e)
	u.event(Event{Action: ActionRestored, Item: *e.it})
}

func (u *undoer) skip(e entry, detail string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.skipped = append(u.skipped, outEntry{e.seq, Outcome{Item: *e.it, Detail: detail}})
	u.event(Event{Action: ActionSkipped, Item: *e.it, Detail: detail})
}

func (u *undoer) fail(e entry, detail string, err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failed = append(u.failed, outEntry{e.seq, Outcome{Item: *e.it, Detail: detail, Err: err}})
	u.event(Event{Action: ActionFailed, Item: *e.it, Detail: detail, Err: err})
}

func (u *undoer) stopped(ctx context.Context, es ...entry) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.stop == nil {
		u.stop = ctx.Err()
	}
	u.remaining = append(u.remaining, es...)
}

func (u *undoer) finish(res *Result) *UndoResult {
	bySeq := func(x, y entry) int { return cmp.Compare(x.seq, y.seq) }
	byOutSeq := func(x, y outEntry) int { return cmp.Compare(x.seq, y.seq) }
	slices.SortFunc(u.restored, bySeq)
	slices.SortFunc(u.remaining, bySeq)
	slices.SortFunc(u.skipped, byOutSeq)
	slices.SortFunc(u.failed, byOutSeq)
	r := &UndoResult{Restored: make([]Item, 0, len(u.restored)), Stop: u.stop}
	for _, e := range u.restored {
		r.Restored = append(r.Restored, *e.it)
	}
	for _, e := range u.remaining {
		r.Remaining = append(r.Remaining, *e.it)
	}
	for _, e := range u.skipped {
		r.Skipped = append(r.Skipped, e.out)
	}
	for _, e := range u.failed {
		r.Failed = append(r.Failed, e.out)
	}
	if u.stop != nil {
		r.Stopped = u.stop.Error()
	}
	// Items the run unlocked to delete them come back as they were when
	// deleted: unlocked.
	n := 0
	for _, it := range res.Unlocked {
		if it.Kind != KindRepository {
			n++
		}
	}
	if n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("the purge unlocked %s to delete them (see its unlocked list); they come back unlocked: lock them again if they should be", plural(n, "item")))
	}
	return r
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
