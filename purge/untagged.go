package purge

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// maxReferrerDepth bounds chains of referrers of referrers, as the
// registry bounds its cascading delete.
const maxReferrerDepth = 16

// mnode is a manifest the untagged purge reasons about: a candidate
// (untagged and old enough) or a referrer of one.
type mnode struct {
	d            digest.Digest
	mediaType    string
	artifactType string
	updated      time.Time
	lock         string // the lock flags that refuse deleting it, or ""
	cand         bool   // untagged and old enough
	byPlan       bool   // untagged because the plan deletes its tags
	tags         []string
	children     []digest.Digest
	subject      digest.Digest
	unreadable   string // why its manifest could not be read
	referrers    []digest.Digest
	refsKnown    bool
	missing      bool // gone since it was listed
	kept         bool
	blocker      string // why its deletion would take something that must stay
}

// graph plans the untagged purge of one repository.
type graph struct {
	rp      *repoPlan
	cfg     *config
	client  *acr.Client
	deleted map[string]bool // tags the plan deletes

	mu    sync.Mutex
	nodes map[digest.Digest]*mnode
	// anchors maps each manifest that a kept index references to one such
	// index.
	anchors map[digest.Digest]digest.Digest
	// blind names a kept index whose children could not be read; then no
	// manifest is deleted as untagged, since any could be its child.
	blind string
}

// planUntagged plans the deletion of the manifests that are untagged once
// the planned tag deletions are done, and older than Ago, except those a
// kept index references, referrers of kept subjects, subjects whose
// referrers must stay, and locked ones.
func (rp *repoPlan) planUntagged(ctx context.Context, client *acr.Client, cfg *config, deleted map[string]bool) error {
	g := &graph{rp: rp, cfg: cfg, client: client, deleted: deleted,
		nodes: map[digest.Digest]*mnode{}, anchors: map[digest.Digest]digest.Digest{}}
	var indexes []digest.Digest // kept indexes whose metadata lists no children
	var planned []digest.Digest // every index listed: the plan accounts for them
	for m, err := range client.Manifests(ctx, rp.name, nil) {
		if errors.Is(err, acr.ErrNotFound) {
			break
		}
		if err != nil {
			return fmt.Errorf("purge: listing the manifests of %s: %w", rp.name, err)
		}
		if spec.IsIndex(m.MediaType) {
			planned = append(planned, m.Digest)
		}
		var tags []string
		for _, t := range m.Tags {
			if !deleted[t] {
				tags = append(tags, t)
			}
		}
		if len(tags) > 0 || !cfg.old(m.LastUpdatedOn) {
			if spec.IsIndex(m.MediaType) {
				if len(m.RelatedArtifacts) == 0 {
					indexes = append(indexes, m.Digest)
				}
				for _, c := range m.RelatedArtifacts {
					if _, ok := g.anchors[c.Digest]; !ok {
						g.anchors[c.Digest] = m.Digest
					}
				}
			}
			continue
		}
		n := &mnode{d: m.Digest, mediaType: m.MediaType, artifactType: m.ArtifactType, updated: m.LastUpdatedOn,
			lock: locked(m.Permissions), cand: true, byPlan: len(m.Tags) > 0}
		for _, c := range m.RelatedArtifacts {
			n.children = append(n.children, c.Digest)
		}
		g.nodes[m.Digest] = n
	}
	if len(g.nodes) == 0 {
		return nil
	}
	rp.pushed = newNewParents(planned)
	if err := g.readManifests(ctx, indexes); err != nil {
		return err
	}
	if err := g.settle(ctx); err != nil {
		return err
	}
	g.emit()
	return nil
}

// needsGet reports whether a candidate's manifest must be read: to learn
// its subject (OCI manifests and indexes, and types unknown to the client,
// can have one; Docker v2 types cannot) or the children of an index whose
// metadata lists none.
func needsGet(n *mnode) bool {
	switch n.mediaType {
	case spec.MediaTypeDockerManifest:
		return false
	case spec.MediaTypeDockerList:
		return len(n.children) == 0
	}
	return true
}

// maybeIndex reports whether a manifest of mediaType can list children.
func maybeIndex(mediaType string) bool {
	return !spec.IsImageManifest(mediaType)
}

// manifestLinks is the part of a manifest that links it to others.
type manifestLinks struct {
	Subject *struct {
		Digest digest.Digest `json:"digest"`
	} `json:"subject"`
	Manifests []struct {
		Digest digest.Digest `json:"digest"`
	} `json:"manifests"`
}

func (g *graph) getLinks(ctx context.Context, d digest.Digest) (manifestLinks, error) {
	var l manifestLinks
	m, err := g.client.GetManifest(ctx, g.rp.name, d.String(), nil)
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(m.Bytes, &l); err != nil {
		return l, fmt.Errorf("purge: manifest %s@%s is not JSON: %w", g.rp.name, d, err)
	}
	return l, nil
}

// readManifests reads the children of kept indexes whose metadata lists
// none, then the subjects and children of the candidates that need it.
func (g *graph) readManifests(ctx context.Context, indexes []digest.Digest) error {
	err := forEach(ctx, g.cfg.Concurrency, indexes, func(ctx context.Context, d digest.Digest) error {
		l, err := g.getLinks(ctx, d)
		switch {
		case errors.Is(err, acr.ErrNotFound):
			return nil
		case errors.Is(err, acr.ErrLocked):
			g.mu.Lock()
			g.blind = d.String()
			g.mu.Unlock()
			return nil
		case err != nil:
			return fmt.Errorf("purge: reading index %s@%s: %w", g.rp.name, d, err)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		for _, c := range l.Manifests {
			if _, ok := g.anchors[c.Digest]; !ok {
				g.anchors[c.Digest] = d
			}
		}
		return nil
	})
	if err != nil || g.blind != "" {
		return err
	}
	var cands []*mnode
	for _, n := range g.sortedNodes() {
		// A candidate that a kept index references stays whatever its
		// subject; only its own children matter, if it is an index.
		_, anchored := g.anchors[n.d]
		if needsGet(n) && !(anchored && (len(n.children) > 0 || !maybeIndex(n.mediaType))) {
			cands = append(cands, n)
		}
	}
	return forEach(ctx, g.cfg.Concurrency, cands, func(ctx context.Context, n *mnode) error {
		l, err := g.getLinks(ctx, n.d)
		switch {
		case errors.Is(err, acr.ErrNotFound):
			n.missing = true
			return nil
		case errors.Is(err, acr.ErrLocked):
			n.unreadable = "its manifest cannot be read (readEnabled=false), so its subject is unknown"
			return nil
		case err != nil:
			return fmt.Errorf("purge: reading %s@%s: %w", g.rp.name, n.d, err)
		}
		if l.Subject != nil {
			n.subject = l.Subject.Digest
		}
		if len(l.Manifests) > 0 {
			n.children = n.children[:0]
			for _, c := range l.Manifests {
				n.children = append(n.children, c.Digest)
			}
		}
		return nil
	})
}

// live reports whether d is a candidate that is not kept (so far).
func (g *graph) live(d digest.Digest) bool {
	n := g.nodes[d]
	return n != nil && n.cand && !n.kept && !n.missing
}

// keep marks a candidate kept; the children of a kept index are then
// protected too.
func (g *graph) keep(n *mnode) {
	n.kept = true
	for _, c := range n.children {
		if _, ok := g.anchors[c]; !ok {
			g.anchors[c] = n.d
		}
	}
}

// settle finds which candidates are kept: a fixpoint, since keeping an
// index protects its children, keeping a subject protects its referrers,
// and a referrer that must stay keeps its subject.
func (g *graph) settle(ctx context.Context) error {
	for {
		changed := false
		for _, n := range g.sortedNodes() {
			if !g.live(n.d) {
				continue
			}
			_, anchored := g.anchors[n.d]
			switch {
			case anchored, g.blind != "", n.unreadable != "",
				n.subject != "" && !g.live(n.subject),
				n.lock != "" && !g.cfg.IncludeLocked:
				g.keep(n)
				changed = true
			}
		}
		if changed {
			continue
		}
		fetched, err := g.fetchReferrers(ctx)
		if err != nil {
			return err
		}
		for _, n := range g.sortedNodes() {
			if !g.live(n.d) {
				continue
			}
			if b := g.findBlocker(n, 0); b != "" {
				n.blocker = b
				g.keep(n)
				changed = true
			}
		}
		if !changed && !fetched {
			return nil
		}
	}
}

// fetchReferrers lists the referrers of the live candidates and,
// transitively, of their referrers, and looks up the properties of
// referrers that are not candidates. It reports whether it learned
// anything.
func (g *graph) fetchReferrers(ctx context.Context) (bool, error) {
	learned := false
	for {
		var todo []*mnode
		for _, n := range g.sortedNodes() {
			if !n.refsKnown && !n.missing && g.reachable(n) {
				todo = append(todo, n)
			}
		}
		if len(todo) == 0 {
			return learned, nil
		}
		learned = true
		err := forEach(ctx, g.cfg.Concurrency, todo, func(ctx context.Context, n *mnode) error {
			var refs []digest.Digest
			var descs []refDesc
			for desc, err := range g.client.Referrers(ctx, g.rp.name, n.d, "") {
				if err != nil {
					return fmt.Errorf("purge: listing the referrers of %s@%s: %w", g.rp.name, n.d, err)
				}
				refs = append(refs, desc.Digest)
				descs = append(descs, refDesc{desc.Digest, desc.MediaType, desc.ArtifactType})
			}
			g.mu.Lock()
			n.referrers, n.refsKnown = refs, true
			var unknown []refDesc
			for _, r := range descs {
				if rn := g.nodes[r.d]; rn != nil {
					if rn.subject == "" {
						rn.subject = n.d
					}
				} else {
					unknown = append(unknown, r)
				}
			}
			g.mu.Unlock()
			for _, r := range unknown {
				rn, err := g.lookup(ctx, r, n.d)
				if err != nil {
					return err
				}
				g.mu.Lock()
				if g.nodes[r.d] == nil {
					g.nodes[r.d] = rn
				}
				g.mu.Unlock()
			}
			return nil
		})
		if err != nil {
			return learned, err
		}
	}
}

type refDesc struct {
	d                       digest.Digest
	mediaType, artifactType string
}

// lookup reads the properties of a referrer that is not a candidate: it
// is tagged, too young, or locked.
func (g *graph) lookup(ctx context.Context, r refDesc, subject digest.Digest) (*mnode, error) {
	n := &mnode{d: r.d, mediaType: r.mediaType, artifactType: r.artifactType, subject: subject}
	p, err := g.client.GetManifestProperties(ctx, g.rp.name, r.d.String())
	if errors.Is(err, acr.ErrNotFound) {
		n.missing = true
		return n, nil
	}
	if err != nil {
		return nil, fmt.Errorf("purge: reading the properties of %s@%s: %w", g.rp.name, r.d, err)
	}
	for _, t := range p.Tags {
		if !g.deleted[t] {
			n.tags = append(n.tags, t)
		}
	}
	n.updated, n.lock = p.LastUpdatedOn, locked(p.Permissions)
	n.mediaType = cmp.Or(p.MediaType, n.mediaType)
	n.artifactType = cmp.Or(n.artifactType, p.ArtifactType)
	return n, nil
}

// reachable reports whether n is a live candidate or a referrer, at any
// depth, of one: those are the manifests whose referrers matter.
func (g *graph) reachable(n *mnode) bool {
	for depth := 0; depth <= maxReferrerDepth; depth++ {
		if g.live(n.d) {
			return true
		}
		if n.subject == "" {
			return false
		}
		if n = g.nodes[n.subject]; n == nil || n.missing {
			return false
		}
	}
	return false
}

// findBlocker returns why deleting n would take with it a referrer that
// must stay, or "".
func (g *graph) findBlocker(n *mnode, depth int) string {
	if depth > maxReferrerDepth {
		return fmt.Sprintf("its referrers nest deeper than %d levels", maxReferrerDepth)
	}
	for _, r := range n.referrers {
		rn := g.nodes[r]
		if rn == nil || rn.missing {
			continue
		}
		if depth == 0 && g.cfg.UnreferencedOnly {
			return "it has the referrer " + r.String() + ", and only manifests without referrers are purged (UnreferencedOnly)"
		}
		if why := g.mustStay(rn); why != "" {
			return "its referrer " + r.String() + " " + why + ", and deleting it would delete the referrer"
		}
		if b := g.findBlocker(rn, depth+1); b != "" {
			return b
		}
	}
	return ""
}

// mustStay says why a referrer must not be deleted with its subject, or "".
func (g *graph) mustStay(n *mnode) string {
	if len(n.tags) > 0 {
		return fmt.Sprintf("keeps the tag %s", n.tags[0])
	}
	if n.lock != "" && !g.cfg.IncludeLocked {
		return "is locked (" + n.lock + ")"
	}
	if p, ok := g.anchors[n.d]; ok {
		return "is referenced by the kept index " + p.String()
	}
	return ""
}

func (g *graph) sortedNodes() []*mnode {
	g.mu.Lock()
	defer g.mu.Unlock()
	ns := make([]*mnode, 0, len(g.nodes))
	for _, n := range g.nodes {
		ns = append(ns, n)
	}
	slices.SortFunc(ns, func(a, b *mnode) int { return cmp.Or(a.updated.Compare(b.updated), cmp.Compare(a.d, b.d)) })
	return ns
}

// emit turns the settled graph into plan items: the live candidates
// without a subject, parents before children, each followed by the
// referrers deleted with it.
func (g *graph) emit() {
	rp, cfg := g.rp, g.cfg
	var del []*mnode
	for _, n := range g.sortedNodes() {
		if g.live(n.d) && n.subject == "" {
			del = append(del, n)
		}
	}
	// Parents: a deleted manifest waits for the delete requests that
	// remove the indexes referencing it: the index itself, or the subject
	// it is a referrer of (an attestation bundle goes with its subject).
	rp.parents = map[digest.Digest][]digest.Digest{}
	inDel := map[digest.Digest]bool{}
	headOf := map[digest.Digest]digest.Digest{} // deleted manifest -> the request that deletes it
	var walk func(n *mnode, head digest.Digest, depth int)
	walk = func(n *mnode, head digest.Digest, depth int) {
		headOf[n.d] = head
		if depth >= maxReferrerDepth {
			return
		}
		for _, r := range n.referrers {
			if rn := g.nodes[r]; rn != nil && !rn.missing {
				if _, seen := headOf[r]; !seen {
					walk(rn, head, depth+1)
				}
			}
		}
	}
	for _, n := range del {
		inDel[n.d] = true
		walk(n, n.d, 0)
	}
	index := map[digest.Digest]digest.Digest{} // deleted manifest -> a deleted index referencing it
	for _, d := range slices.Sorted(maps.Keys(headOf)) {
		x := g.nodes[d]
		for _, c := range x.children {
			if h := headOf[d]; inDel[c] && h != c && !slices.Contains(rp.parents[c], h) {
				rp.parents[c] = append(rp.parents[c], h)
				index[c] = d
			}
		}
	}
	depth := map[digest.Digest]int{}
	var depthOf func(d digest.Digest, guard int) int
	depthOf = func(d digest.Digest, guard int) int {
		if v, ok := depth[d]; ok {
			return v
		}
		v := 0
		if guard < maxReferrerDepth {
			for _, p := range rp.parents[d] {
				v = max(v, depthOf(p, guard+1)+1)
			}
		}
		depth[d] = v
		return v
	}
	for _, n := range del {
		depthOf(n.d, 0)
	}
	slices.SortStableFunc(del, func(a, b *mnode) int { return cmp.Compare(depth[a.d], depth[b.d]) })

	gone := map[digest.Digest]bool{}
	for _, n := range del {
		it := Item{Repository: rp.name, Kind: KindManifest, Digest: n.d, MediaType: n.mediaType, ArtifactType: n.artifactType,
			LastUpdated: n.updated}
		what := "untagged"
		if n.byPlan {
			what = "untagged once its tags are deleted"
		}
		it.Reason = what + ", " + cfg.age(n.updated)
		if ps := rp.parents[n.d]; len(ps) > 0 {
			it.Index = index[n.d]
			it.Reason += "; referenced only by indexes this purge deletes, such as " + it.Index.String() + ", and deleted after them"
		}
		if n.lock != "" {
			it.Locked = true
			it.Reason += "; locked (" + n.lock + "): unlocked first"
		}
		gone[n.d] = true
		rp.items = append(rp.items, it)
		g.emitReferrers(n, 0, gone)
	}

	// What stays, and why.
	var children, referrers int
	for _, n := range g.sortedNodes() {
		if !n.cand || n.missing || !n.kept || gone[n.d] {
			continue
		}
		_, anchored := g.anchors[n.d]
		it := Item{Repository: rp.name, Kind: KindManifest, Digest: n.d, MediaType: n.mediaType, ArtifactType: n.artifactType,
			LastUpdated: n.updated}
		switch {
		case anchored:
			children++
		case n.subject != "":
			referrers++
		case g.blind != "":
		case n.unreadable != "":
			it.Reason = "untagged and old, kept: " + n.unreadable
			rp.kept = append(rp.kept, it)
		case n.blocker != "":
			it.Reason = "untagged and old, kept: " + n.blocker
			rp.kept = append(rp.kept, it)
		case n.lock != "":
			it.Locked = true
			it.Reason = "locked (" + n.lock + "), otherwise deleted as untagged: " + cfg.age(n.updated) + "; --include-locked deletes it"
			rp.kept = append(rp.kept, it)
		}
	}
	if children > 0 {
		rp.notes = append(rp.notes, fmt.Sprintf("%s: kept %s that a kept index references", rp.name, plural(children, "untagged manifest")))
	}
	if referrers > 0 {
		rp.notes = append(rp.notes, fmt.Sprintf("%s: kept %s of a kept subject", rp.name, plural(referrers, "untagged referrer")))
	}
	if g.blind != "" {
		rp.notes = append(rp.notes, fmt.Sprintf("%s: deleted no untagged manifest: the kept index %s cannot be read (readEnabled=false), so its children are unknown", rp.name, g.blind))
	}
}

// emitReferrers appends the referrers deleted with n, depth first.
func (g *graph) emitReferrers(n *mnode, depth int, gone map[digest.Digest]bool) {
	if depth >= maxReferrerDepth {
		return
	}
	for _, r := range n.referrers {
		rn := g.nodes[r]
		if rn == nil || rn.missing || gone[r] {
			continue
		}
		gone[r] = true
		it := Item{Repository: g.rp.name, Kind: KindReferrer, Digest: r, MediaType: rn.mediaType, ArtifactType: rn.artifactType,
			Subject: n.d, LastUpdated: rn.updated}
		what := "referrer"
		if rn.artifactType != "" {
			what += " (" + rn.artifactType + ")"
		}
		it.Reason = what + " of " + n.d.String() + ": the registry deletes it with its subject"
		if rn.lock != "" {
			it.Locked = true
			it.Reason += "; locked (" + rn.lock + "): unlocked first"
		}
		g.rp.items = append(g.rp.items, it)
		g.emitReferrers(rn, depth+1, gone)
	}
}

// forEach calls fn on every element with at most n calls in flight. It
// stops starting calls after the first error or when ctx is done, and
// returns that error once the calls in flight have returned.
func forEach[T any](ctx context.Context, n int, elems []T, fn func(context.Context, T) error) error {
	if len(elems) == 0 {
		return nil
	}
	inner, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, max(n, 1))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, e := range elems {
		select {
		case sem <- struct{}{}:
		case <-inner.Done():
		}
		if inner.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := fn(inner, e); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}
