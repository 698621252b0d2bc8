package purge

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// ErrMaxDeletes is the Result.Stop of a run that Options.MaxDeletes
// stopped with work left.
var ErrMaxDeletes = errors.New("purge: the deletion budget (--max-deletes, Options.MaxDeletes) is used up")

// Action says what happened to an item.
type Action string

const (
	// ActionDeleted: the item was deleted (in a dry run: would be).
	ActionDeleted Action = "deleted"
	// ActionUnlocked: a locked item or repository was unlocked to delete
	// it or, in a dry run, would be.
	ActionUnlocked Action = "unlocked"
	// ActionRelocked: a repository unlocked for the purge was locked again.
	ActionRelocked Action = "relocked"
	// ActionSkipped: the item changed since planning or is already gone;
	// in Undo, it needed no restore.
	ActionSkipped Action = "skipped"
	// ActionFailed: the registry refused or the request failed.
	ActionFailed Action = "failed"
	// ActionRestored: Undo restored the item.
	ActionRestored Action = "restored"
)

// Event reports progress to Options.Progress and UndoOptions.Progress.
type Event struct {
	Action Action
	Item   Item
	DryRun bool
	// Detail explains a skip, a failure or an unlock.
	Detail string
	// Err is the error of a failure.
	Err error
}

// Outcome is an item that was skipped or failed, with the reason.
type Outcome struct {
	Item   Item   `json:"item"`
	Detail string `json:"detail"`
	// Err is the error of a failure; match it with errors.Is.
	Err error `json:"-"`
}

// Result reports what a Run or Apply did. Lists follow the plan's order.
type Result struct {
	DryRun bool `json:"dryRun"`
	// Deleted lists what was deleted, including the referrers deleted with
	// their subject; in a dry run, what a real run would delete.
	Deleted []Item `json:"deleted"`
	// Unlocked lists the locked objects unlocked before deletion (in a dry
	// run: that would be), and repositories unlocked for the purge.
	Unlocked []Item `json:"unlocked,omitempty"`
	// Skipped lists items left alone because they changed since planning
	// (moved, re-tagged, updated, newly locked, new referrers), or already
	// gone.
	Skipped []Outcome `json:"skipped,omitempty"`
	// Failed lists the deletions that failed.
	Failed []Outcome `json:"failed,omitempty"`
	// Remaining lists planned deletions not attempted because the run
	// stopped: MaxDeletes, or the context's deadline or cancellation. A
	// request the context interrupted is listed here too; whether it took
	// effect, the next run will see.
	Remaining []Item `json:"remaining,omitempty"`
	// NotExamined lists the repositories that a stopped Run did not plan.
	NotExamined []string `json:"notExamined,omitempty"`
	// Kept and Notes come from the plans; see Plan.
	Kept  []Item   `json:"kept,omitempty"`
	Notes []string `json:"notes,omitempty"`
	// Repositories lists the repositories examined.
	Repositories []string `json:"repositories"`
	// Missing lists the repositories that the filters name literally and
	// the registry does not hold; see Plan.
	Missing []string `json:"missing,omitempty"`
	// Stop is why the run stopped early: ErrMaxDeletes, the context's
	// error, or an error matching acr.ErrNotSupported when the registry
	// refuses to delete tags; nil when it ran to the end.
	Stop error `json:"-"`
	// Stopped is Stop's message, for JSON.
	Stopped string `json:"stopped,omitempty"`
	// Recovery says whether the registry can restore the deletions, and
	// until when; Undo restores them. It is nil in a dry run and when
	// nothing was deleted. See Recovery for how it is found out.
	Recovery *Recovery `json:"recovery,omitempty"`
}

// Complete reports whether the run did everything its plans asked for.
func (r *Result) Complete() bool {
	return r.Stop == nil && len(r.Failed) == 0 && len(r.Remaining) == 0 && len(r.NotExamined) == 0
}

// Apply carries out the plan with the options it was made with: at most
// MaxDeletes deletions (tags and manifests; referrers go with their
// subject), at most Concurrency requests in flight, stopping when ctx is
// done. Before deleting each object it reads it again and skips it if it
// changed since planning. With Options.DryRun it deletes nothing and
// reports what it would delete. When the registry refuses a deletion for
// want of rights (401, 403), the rest of that repository's plan is not
// sent and goes to Result.Failed as "not tried", with that refusal. The
// error is non-nil only for an unusable plan; failed deletions are in
// Result.Failed.
func (p *Plan) Apply(ctx context.Context, client *acr.Client) (_ *Result, err error) {
	ctx, endSpan := startSpan(ctx, client, "purge.Apply")
	defer func() { endSpan(err) }()
	if p == nil || p.cfg == nil {
		return nil, errors.New("purge: Apply needs a plan made by NewPlan")
	}
	a := newApplier(client, p.cfg)
	for _, rp := range p.repos {
		a.res.Repositories = append(a.res.Repositories, rp.name)
		a.res.Kept = append(a.res.Kept, rp.kept...)
		a.res.Notes = append(a.res.Notes, rp.notes...)
		if rp.missing {
			a.res.Missing = append(a.res.Missing, rp.name)
		}
		a.applyRepository(ctx, rp)
	}
	res := a.finish()
	checkRecovery(ctx, client, res)
	return res, nil
}

// Run purges as Options say, one repository at a time: it plans a
// repository, applies that plan, and moves on, so that deleting starts
// early and memory holds one repository's plan. It stops when MaxDeletes
// is used up or ctx is done, and lists what it did not examine. A
// repository the credential may not read (401, 403) or that a read lock
// hides is reported in Result.Failed and skipped. The error is non-nil
// when the options are invalid or planning fails otherwise, with the
// Result so far; failed deletions are in Result.Failed.
func Run(ctx context.Context, client *acr.Client, opts *Options) (_ *Result, err error) {
	ctx, endSpan := startSpan(ctx, client, "purge.Run")
	defer func() { endSpan(err) }()
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	repos, err := matchingRepositories(ctx, client, cfg)
	if err != nil {
		return nil, err
	}
	a := newApplier(client, cfg)
	for i, p := range plans(ctx, client, cfg, repos, cfg.DryRun) {
		repo := repos[i]
		if a.budget == 0 {
			a.stopWith(ErrMaxDeletes)
		} else if ctx.Err() != nil {
			a.stopWith(ctx.Err())
		}
		if a.stopped() {
			a.res.NotExamined = repos[i:]
			break
		}
		rp, err := p.rp, p.err
		if err != nil {
			if ctx.Err() != nil {
				a.res.NotExamined = repos[i:]
				a.stopWith(ctx.Err())
				break
			}
			if deniedRepository(err) {
				a.seq++
				a.markFailed(ctx, &group{head: entry{a.seq, &Item{Repository: repo, Kind: KindRepository}}}, "planning", err)
				continue
			}
			a.res.NotExamined = repos[i:]
			res := a.finish()
			checkRecovery(ctx, client, res)
			return res, err
		}
		a.res.Repositories = append(a.res.Repositories, rp.name)
		a.res.Kept = append(a.res.Kept, rp.kept...)
		a.res.Notes = append(a.res.Notes, rp.notes...)
		if rp.missing {
			a.res.Missing = append(a.res.Missing, rp.name)
		}
		a.applyRepository(ctx, rp)
	}
	res := a.finish()
	checkRecovery(ctx, client, res)
	return res, nil
}

// refusedCredential reports whether err is the registry refusing the
// credential's rights (401, 403, or a token without the scope), which
// every further deletion in the repository would meet too; a lock is not.
func refusedCredential(err error) bool {
	return errors.Is(err, acr.ErrUnauthorized) || errors.Is(err, acr.ErrForbidden) || errors.Is(err, acr.ErrInsufficientScope)
}

// refusal is the first deletion in a repository that the registry
// refused for want of rights: the item's Ref and the error.
type refusal struct {
	ref string
	err error
}

// refusedIn returns the refusal that stops deletions in repo, if any.
func (a *applier) refusedIn(repo string) (refusal, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.refused[repo]
	return r, ok
}

// markNotTried records groups left unsent after a refusal of the
// credential in their repository as failed with its error.
func (a *applier) markNotTried(gs []*group, r refusal) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range gs {
		a.failOutcomes(g, "not tried: the registry refused the credential the deletion of "+r.ref+" (above), for want of rights", r.err)
	}
}

// unlockRefusedIn returns the refusal to lift a lock in repo, if any.
func (a *applier) unlockRefusedIn(repo string) (refusal, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.refusedUnlock[repo]
	return r, ok
}

// lockedTagOf returns a locked tag on d that the plan deletes, or "".
func lockedTagOf(rp *repoPlan, d digest.Digest) string {
	for _, it := range rp.items {
		if it.Kind == KindTag && it.Locked && it.Digest == d {
			return it.Tag
		}
	}
	return ""
}

// needsUnlock reports whether deleting g lifts a lock first, as planned.
func needsUnlock(g *group) bool {
	return g.head.it.Locked || slices.ContainsFunc(g.refs, func(e entry) bool { return e.it.Locked })
}

// markUnlockFailed is markFailed for a lock that could not be lifted: a
// refusal for want of rights stops the repository's other unlocks, not
// its deletions that need none.
func (a *applier) markUnlockFailed(ctx context.Context, g *group, what string, err error) {
	if ctx.Err() == nil && refusedCredential(err) {
		a.mu.Lock()
		if a.refusedUnlock == nil {
			a.refusedUnlock = map[string]refusal{}
		}
		if _, ok := a.refusedUnlock[g.head.it.Repository]; !ok {
			a.refusedUnlock[g.head.it.Repository] = refusal{ref: g.head.it.Ref(), err: err}
		}
		a.mu.Unlock()
		a.failDetail(g, what+": "+err.Error(), err)
		return
	}
	a.markFailed(ctx, g, what, err)
}

// failDetail records the group's items as failed.
func (a *applier) failDetail(g *group, detail string, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.failOutcomes(g, detail, err)
}

// deniedRepository reports whether planning a repository failed because
// the credential may not read it or a lock hides it: Run moves on to the
// next repository, reporting it in Result.Failed.
func deniedRepository(err error) bool {
	return errors.Is(err, acr.ErrUnauthorized) || errors.Is(err, acr.ErrForbidden) || errors.Is(err, acr.ErrLocked)
}

// entry is a planned item and its place in the plan's order.
type entry struct {
	seq int
	it  *Item
}

type outEntry struct {
	seq int
	out Outcome
}

// group is one delete request: a tag, or a manifest with the referrers
// the registry deletes with it.
type group struct {
	head    entry
	refs    []entry
	parents []digest.Digest
}

type applier struct {
	client *acr.Client
	cfg    *config
	budget int // deletes left; negative: no bound
	seq    int

	mu        sync.Mutex
	res       *Result
	stop      error
	deleted   []entry
	unlocked  []entry
	skipped   []outEntry
	failed    []outEntry
	remaining []entry
	// refused holds, by repository, the first deletion the registry
	// refused for want of rights: the rest of that repository's plan is
	// not sent, since the same credential would be refused again.
	refused map[string]refusal
	// refusedUnlock holds, by repository, the first lock the registry
	// refused to lift for want of rights (metadata_write): the rest of
	// that repository's deletions that need a lock lifted are not sent,
	// the others are.
	refusedUnlock map[string]refusal
	// pending, resolved and next order the events; see emit.
	pending  map[int][]Event
	resolved map[int]bool
	next     int
}

func newApplier(client *acr.Client, cfg *config) *applier {
	a := &applier{client: client, cfg: cfg, budget: -1, res: &Result{DryRun: cfg.DryRun, Repositories: []string{}},
		pending: map[int][]Event{}, resolved: map[int]bool{}, next: 1}
	if cfg.MaxDeletes > 0 {
		a.budget = cfg.MaxDeletes
	}
	return a
}

func (a *applier) stopWith(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stop == nil {
		a.stop = err
	}
}

// unsupported reports whether the registry refused a kind of request
// that every further delete would need.
func (a *applier) unsupported() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return errors.Is(a.stop, acr.ErrNotSupported)
}

func (a *applier) stopped() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stop != nil
}

func (a *applier) finish() *Result {
	a.mu.Lock()
	for len(a.pending) > 0 { // cannot happen: every item is resolved
		a.resolved[a.next] = true
		a.emit(a.next, nil, false)
	}
	a.mu.Unlock()
	r := a.res
	bySeq := func(x, y entry) int { return cmp.Compare(x.seq, y.seq) }
	byOutSeq := func(x, y outEntry) int { return cmp.Compare(x.seq, y.seq) }
	slices.SortFunc(a.deleted, bySeq)
	slices.SortFunc(a.unlocked, bySeq)
	slices.SortFunc(a.remaining, bySeq)
	slices.SortFunc(a.skipped, byOutSeq)
	slices.SortFunc(a.failed, byOutSeq)
	r.Deleted = make([]Item, 0, len(a.deleted))
	for _, e := range a.deleted {
		r.Deleted = append(r.Deleted, *e.it)
	}
	for _, e := range a.unlocked {
		r.Unlocked = append(r.Unlocked, *e.it)
	}
	for _, e := range a.remaining {
		r.Remaining = append(r.Remaining, *e.it)
	}
	for _, e := range a.skipped {
		r.Skipped = append(r.Skipped, e.out)
	}
	for _, e := range a.failed {
		r.Failed = append(r.Failed, e.out)
	}
	r.Stop = a.stop
	if a.stop != nil {
		r.Stopped = a.stop.Error()
	}
	return r
}

// groups splits a repository's items into delete requests, numbering the
// items in plan order.
func (a *applier) groups(rp *repoPlan) []*group {
	var gs []*group
	for i := range rp.items {
		it := &rp.items[i]
		a.seq++
		e := entry{a.seq, it}
		if it.Kind == KindReferrer && len(gs) > 0 {
			gs[len(gs)-1].refs = append(gs[len(gs)-1].refs, e)
			continue
		}
		g := &group{head: e}
		if it.Kind == KindManifest {
			g.parents = rp.parents[it.Digest]
		}
		gs = append(gs, g)
	}
	return gs
}

// emit passes ev, if any, to Options.Progress in plan order: events of an
// item wait until every earlier item is resolved (deleted, skipped, failed
// or left remaining), so that a real run reports in the order a dry run
// does whatever order concurrent requests finish in. resolve marks the
// item seq resolved. The caller holds a.mu.
func (a *applier) emit(seq int, ev *Event, resolve bool) {
	if a.cfg.Progress == nil {
		return
	}
	if ev != nil {
		ev.DryRun = a.cfg.DryRun
		if seq < a.next {
			a.cfg.Progress(*ev)
		} else {
			a.pending[seq] = append(a.pending[seq], *ev)
		}
	}
	if resolve {
		a.resolved[seq] = true
	}
	for a.resolved[a.next] {
		for _, e := range a.pending[a.next] {
			a.cfg.Progress(e)
		}
		delete(a.pending, a.next)
		delete(a.resolved, a.next)
		a.next++
	}
}

func (a *applier) markDeleted(g *group) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range append([]entry{g.head}, g.refs...) {
		a.deleted = append(a.deleted, e)
		a.emit(e.seq, &Event{Action: ActionDeleted, Item: *e.it}, true)
	}
}

func (a *applier) markUnlocked(seq int, it Item, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.unlocked = append(a.unlocked, entry{seq, &it})
	a.emit(seq, &Event{Action: ActionUnlocked, Item: it, Detail: detail}, false)
}

func (a *applier) markSkipped(g *group, detail string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, e := range append([]entry{g.head}, g.refs...) {
		a.skipped = append(a.skipped, outEntry{e.seq, Outcome{Item: *e.it, Detail: detail}})
		a.emit(e.seq, &Event{Action: ActionSkipped, Item: *e.it, Detail: detail}, true)
	}
}

func (a *applier) markRemaining(gs ...*group) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range gs {
		for _, e := range append([]entry{g.head}, g.refs...) {
			a.remaining = append(a.remaining, e)
			a.emit(e.seq, nil, true)
		}
	}
}

// markFailed records a failure, or, when ctx interrupted the request,
// returns the group to the remaining work.
func (a *applier) markFailed(ctx context.Context, g *group, what string, err error) {
	if ctx.Err() != nil {
		a.stopWith(ctx.Err())
		a.markRemaining(g)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	detail := what + ": " + err.Error()
	if refusedCredential(err) {
		if a.refused == nil {
			a.refused = map[string]refusal{}
		}
		if _, ok := a.refused[g.head.it.Repository]; !ok {
			a.refused[g.head.it.Repository] = refusal{ref: g.head.it.Ref(), err: err}
		}
	}
	a.failOutcomes(g, detail, err)
}

// failOutcomes records the group's items as failed; a.mu is held.
func (a *applier) failOutcomes(g *group, detail string, err error) {
	for _, e := range append([]entry{g.head}, g.refs...) {
		a.failed = append(a.failed, outEntry{e.seq, Outcome{Item: *e.it, Detail: detail, Err: err}})
		a.emit(e.seq, &Event{Action: ActionFailed, Item: *e.it, Detail: detail, Err: err}, true)
	}
}

// applyRepository deletes one repository's plan: tags, then manifests in
// waves, parents before children.
func (a *applier) applyRepository(ctx context.Context, rp *repoPlan) {
	all := a.groups(rp)
	if len(all) == 0 {
		return
	}
	var run, rest []*group
	stopped := a.stopped()
	for _, g := range all {
		if a.budget == 0 || stopped {
			rest = append(rest, g)
			continue
		}
		if a.budget > 0 {
			a.budget--
		}
		run = append(run, g)
	}
	defer a.markRemaining(rest...)
	if len(rest) > 0 && a.budget == 0 {
		a.stopWith(ErrMaxDeletes)
	}
	if len(run) == 0 {
		return
	}
	if ctx.Err() != nil {
		a.stopWith(ctx.Err())
		a.markRemaining(run...)
		return
	}
	if relock, ok := a.openRepository(ctx, rp, run); !ok {
		return
	} else if relock != nil {
		defer relock()
	}

	var tags []*group
	pending := map[digest.Digest]*group{}
	var order []*group
	for _, g := range run {
		if g.head.it.Kind == KindTag {
			tags = append(tags, g)
		} else {
			pending[g.head.it.Digest] = g
			order = append(order, g)
		}
	}
	a.phase(ctx, rp, tags)

	// Manifests in waves: a manifest waits for every deleted index that
	// references it, and is skipped when one of them was not deleted, since
	// deleting it would break that index.
	done := map[digest.Digest]bool{} // deleted or already gone
	var outcome sync.Map             // digest -> bool (deleted or gone)
	for len(order) > 0 {
		if ctx.Err() != nil || a.unsupported() {
			a.stopWith(ctx.Err())
			a.markRemaining(order...)
			return
		}
		var wave, later []*group
		for _, g := range order {
			ready, blocked := true, digest.Digest("")
			for _, p := range g.parents {
				if _, waiting := pending[p]; waiting {
					ready = false
				} else if !done[p] && blocked == "" {
					blocked = p
				}
			}
			switch {
			case !ready:
				later = append(later, g)
			case blocked != "":
				delete(pending, g.head.it.Digest)
				a.markSkipped(g, "an index that references it stays: the delete of "+blocked.String()+" did not happen")
			default:
				wave = append(wave, g)
			}
		}
		if len(wave) == 0 && len(later) > 0 {
			// Cannot happen with a plan from NewPlan; do not loop.
			for _, g := range later {
				a.markSkipped(g, "its indexes were never deleted")
			}
			return
		}
		a.phase(ctx, rp, wave, func(g *group, ok bool) { outcome.Store(g.head.it.Digest, ok) })
		for _, g := range wave {
			delete(pending, g.head.it.Digest)
			if v, ok := outcome.Load(g.head.it.Digest); ok && v.(bool) {
				done[g.head.it.Digest] = true
			}
		}
		order = later
	}
}

// openRepository checks the repository before its deletions and unlocks
// it when it is locked and IncludeLocked allows. It returns a function
// that locks it again, and false when the repository's groups must be
// skipped.
func (a *applier) openRepository(ctx context.Context, rp *repoPlan, run []*group) (func(), bool) {
	repoItem := Item{Repository: rp.name, Kind: KindRepository}
	if a.cfg.DryRun {
		if rp.refused != nil {
			for _, g := range run {
				a.markFailed(ctx, g, "the registry would refuse it", rp.refused)
			}
			return nil, false
		}
		if rp.unlock != nil {
			repoItem.Locked = true
			a.markUnlocked(run[0].head.seq, repoItem, "the repository is locked ("+locked(*rp.unlock)+"); it would be unlocked for the purge and locked again")
		}
		return nil, true
	}
	if rp.oci {
		return nil, true
	}
	props, err := a.client.GetRepositoryProperties(ctx, rp.name)
	if errors.Is(err, acr.ErrNotFound) {
		for _, g := range run {
			a.markSkipped(g, "the repository is gone")
		}
		return nil, false
	}
	if err != nil {
		for _, g := range run {
			a.markFailed(ctx, g, "reading the repository's properties", err)
		}
		return nil, false
	}
	l := locked(props.Permissions)
	if l == "" {
		return nil, true
	}
	if !a.cfg.IncludeLocked {
		for _, g := range run {
			a.markSkipped(g, "the repository was locked since planning ("+l+")")
		}
		return nil, false
	}
	if _, err := a.client.UpdateRepositoryProperties(ctx, rp.name, unlockUpdate()); err != nil {
		for _, g := range run {
			a.markFailed(ctx, g, "unlocking the repository", err)
		}
		return nil, false
	}
	repoItem.Locked = true
	a.markUnlocked(run[0].head.seq, repoItem, "unlocked the repository ("+l+") for the purge")
	before := props.Permissions
	last := run[len(run)-1].head.seq
	if refs := run[len(run)-1].refs; len(refs) > 0 {
		last = refs[len(refs)-1].seq
	}
	return func() {
		// Lock it again even when ctx is done: leaving it unlocked is the
		// one change the purge must not make.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		_, err := a.client.UpdateRepositoryProperties(rctx, rp.name, acr.PermissionsUpdate{CanDelete: &before.CanDelete, CanWrite: &before.CanWrite})
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil && !errors.Is(err, acr.ErrNotFound) {
			detail := "locking the repository again failed: " + err.Error() + "; restore it by hand"
			a.failed = append(a.failed, outEntry{last, Outcome{Item: repoItem, Detail: detail, Err: err}})
			a.emit(last, &Event{Action: ActionFailed, Item: repoItem, Detail: detail, Err: err}, false)
			return
		}
		a.emit(last, &Event{Action: ActionRelocked, Item: repoItem, Detail: "locked the repository again (" + l + ")"}, false)
	}, true
}

// phase runs the groups with at most Concurrency in flight; done, if
// given, learns whether each group's object is gone.
func (a *applier) phase(ctx context.Context, rp *repoPlan, gs []*group, done ...func(*group, bool)) {
	sem := make(chan struct{}, a.cfg.Concurrency)
	var wg sync.WaitGroup
	for i, g := range gs {
		if ctx.Err() == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			a.stopWith(ctx.Err())
			a.markRemaining(gs[i:]...)
			break
		}
		if a.unsupported() {
			<-sem
			a.markRemaining(gs[i:]...)
			break
		}
		if r, ok := a.refusedIn(rp.name); ok {
			<-sem
			a.markNotTried(gs[i:], r)
			break
		}
		if needsUnlock(g) {
			if r, ok := a.unlockRefusedIn(rp.name); ok {
				<-sem
				a.failDetail(g, "not tried: the registry refused the credential lifting the lock of "+r.ref+" (above), for want of rights", r.err)
				continue
			}
			if a.cfg.DryRun && rp.refusedUnlock != nil {
				<-sem
				a.failDetail(g, "the registry would refuse lifting its lock", rp.refusedUnlock)
				continue
			}
		}
		if a.cfg.DryRun && rp.refusedUnlock != nil && g.head.it.Kind != KindTag {
			if tag := lockedTagOf(rp, g.head.it.Digest); tag != "" {
				// The real run fails to delete that tag, then finds the
				// manifest still tagged and leaves it.
				<-sem
				a.markSkipped(g, "its tag "+tag+" would stay: the registry would refuse lifting that tag's lock")
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var gone bool
			switch g.head.it.Kind {
			case KindTag:
				gone = a.deleteTag(ctx, rp, g)
			default:
				gone = a.deleteManifest(ctx, rp, g)
			}
			for _, f := range done {
				f(g, gone)
			}
		}()
	}
	wg.Wait()
}

// deleteTag re-checks and deletes a tag, and reports whether it is gone.
func (a *applier) deleteTag(ctx context.Context, rp *repoPlan, g *group) bool {
	it := g.head.it
	if a.cfg.DryRun {
		if it.Locked {
			a.markUnlocked(g.head.seq, *it, "locked; it would be unlocked first")
		}
		a.markDeleted(g)
		return true
	}
	var unlocked *acr.Permissions
	if rp.oci {
		d, err := a.client.ResolveDigest(ctx, rp.name, it.Tag)
		switch {
		case errors.Is(err, acr.ErrNotFound):
			a.markSkipped(g, "already gone")
			return true
		case err != nil:
			a.markFailed(ctx, g, "checking the tag", err)
			return false
		case d != it.Digest:
			a.markSkipped(g, "moved to "+d.String()+" since planning")
			return false
		}
	} else {
		tp, err := a.client.GetTagProperties(ctx, rp.name, it.Tag)
		switch {
		case errors.Is(err, acr.ErrNotFound):
			a.markSkipped(g, "already gone")
			return true
		case err != nil:
			a.markFailed(ctx, g, "checking the tag", err)
			return false
		case tp.Digest != it.Digest:
			a.markSkipped(g, "moved to "+tp.Digest.String()+" since planning")
			return false
		case !tp.LastUpdatedOn.Equal(it.LastUpdated):
			a.markSkipped(g, "updated at "+tp.LastUpdatedOn.UTC().Format(time.RFC3339)+" since planning")
			return false
		}
		if l := locked(tp.Permissions); l != "" {
			if !a.cfg.IncludeLocked {
				a.markSkipped(g, "locked since planning ("+l+")")
				return false
			}
			if _, err := a.client.UpdateTagProperties(ctx, rp.name, it.Tag, unlockUpdate()); err != nil {
				a.markUnlockFailed(ctx, g, "unlocking the tag", err)
				return false
			}
			before := tp.Permissions
			unlocked = &before
			u := *it
			u.Locked = true
			a.markUnlocked(g.head.seq, u, "unlocked ("+l+") to delete it")
		}
	}
	err := a.client.DeleteTag(ctx, rp.name, it.Tag)
	switch {
	case errors.Is(err, acr.ErrNotFound):
		a.markSkipped(g, "already gone")
		return true
	case errors.Is(err, acr.ErrNotSupported):
		// The registry deletes no tag: stop rather than fail every one.
		a.stopWith(err)
		a.markFailed(ctx, g, "deleting the tag", err)
		return false
	case err != nil:
		if unlocked != nil {
			a.restoreTag(ctx, rp.name, it.Tag, *unlocked)
		}
		a.markFailed(ctx, g, "deleting the tag", err)
		return false
	}
	a.markDeleted(g)
	return true
}

// restoreTag puts back the lock flags of a tag whose deletion failed
// after it was unlocked, as best it can.
func (a *applier) restoreTag(ctx context.Context, repo, tag string, p acr.Permissions) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	_, _ = a.client.UpdateTagProperties(rctx, repo, tag, acr.PermissionsUpdate{CanDelete: &p.CanDelete, CanWrite: &p.CanWrite})
}

// deleteManifest re-checks and deletes an untagged manifest with its
// referrers, and reports whether it is gone.
func (a *applier) deleteManifest(ctx context.Context, rp *repoPlan, g *group) bool {
	it := g.head.it
	if a.cfg.DryRun {
		for _, e := range append([]entry{g.head}, g.refs...) {
			if e.it.Locked {
				a.markUnlocked(e.seq, *e.it, "locked; it would be unlocked first")
			}
		}
		a.markDeleted(g)
		return true
	}
	mp, err := a.client.GetManifestProperties(ctx, rp.name, it.Digest.String())
	switch {
	case errors.Is(err, acr.ErrNotFound):
		a.markSkipped(g, "already gone")
		return true
	case err != nil:
		a.markFailed(ctx, g, "checking the manifest", err)
		return false
	case len(mp.Tags) > 0:
		a.markSkipped(g, fmt.Sprintf("tagged %s since planning", mp.Tags[0]))
		return false
	}
	// Its update time is not compared: deleting its tags may change it.
	l := locked(mp.Permissions)
	if l != "" && !a.cfg.IncludeLocked {
		a.markSkipped(g, "locked since planning ("+l+")")
		return false
	}
	planned := map[digest.Digest]bool{}
	for _, r := range g.refs {
		if r.it.Subject == it.Digest {
			planned[r.it.Digest] = true
		}
	}
	for desc, err := range a.client.Referrers(ctx, rp.name, it.Digest, "") {
		if err != nil {
			a.markFailed(ctx, g, "listing its referrers", err)
			return false
		}
		if !planned[desc.Digest] {
			a.markSkipped(g, "gained the referrer "+desc.Digest.String()+" since planning")
			return false
		}
	}
	if rp.pushed != nil {
		parent, err := rp.pushed.parentOf(ctx, a.client, rp.name, it.Digest)
		switch {
		case errors.Is(err, errParentUnreadable):
			a.markSkipped(g, "the index "+parent.String()+", pushed since planning, cannot be read (readEnabled=false) and may reference it")
			return false
		case err != nil:
			a.markFailed(ctx, g, "looking for indexes pushed since planning", err)
			return false
		case parent != "":
			a.markSkipped(g, "the index "+parent.String()+", pushed since planning, references it")
			return false
		}
	}
	for _, r := range g.refs {
		if !r.it.Locked {
			continue
		}
		if _, err := a.client.UpdateManifestProperties(ctx, rp.name, r.it.Digest.String(), unlockUpdate()); err != nil && !errors.Is(err, acr.ErrNotFound) {
			a.markUnlockFailed(ctx, g, "unlocking the referrer "+r.it.Digest.String(), err)
			return false
		}
		a.markUnlocked(r.seq, *r.it, "unlocked to delete it with its subject")
	}
	if l != "" {
		if _, err := a.client.UpdateManifestProperties(ctx, rp.name, it.Digest.String(), unlockUpdate()); err != nil {
			a.markUnlockFailed(ctx, g, "unlocking the manifest", err)
			return false
		}
		u := *it
		u.Locked = true
		a.markUnlocked(g.head.seq, u, "unlocked ("+l+") to delete it")
	}
	_, err = a.client.DeleteManifest(ctx, rp.name, it.Digest.String())
	switch {
	case errors.Is(err, acr.ErrNotFound):
		a.markSkipped(g, "already gone")
		return true
	case err != nil:
		a.markFailed(ctx, g, "deleting the manifest", err)
		return false
	}
	a.markDeleted(g)
	return true
}
