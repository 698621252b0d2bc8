package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// newParents finds the indexes pushed to a repository while a purge of it
// runs, so that a manifest that one of them references is not deleted as
// untagged. buildx and `docker manifest push` push each platform's manifest
// by digest and the index that lists them last: a manifest planned as
// untagged may gain an index between planning and its deletion.
//
// A check lists the repository's manifests newest first. The first lists
// them all (the plan's listing, by digest, cannot say what came after it:
// an index pushed onto a page it had read already is in neither); the
// next stop at the newest update the previous one saw, less a margin.
type newParents struct {
	// turn holds a token while a listing runs: listings of one
	// repository take turns (a channel, not a mutex: waiting on it can be
	// cancelled, and it does not hold a synctest bubble's clock still).
	turn chan struct{}

	// mu guards the rest, never held across a request.
	mu sync.Mutex
	// since is the newest update time the last listing saw; zero before
	// the first.
	since    time.Time
	read     map[digest.Digest]bool          // indexes planned for or already read
	children map[digest.Digest]digest.Digest // a child -> an index of it
	// started counts the listings begun, and covered is the number of
	// the last one that completed: a check asked while listing k ran
	// waits for k+1, and the checks asked meanwhile share that one.
	started, covered int
	// unreadable is an index pushed since planning that cannot be read:
	// any manifest could be its child.
	unreadable digest.Digest
}

// parentsMargin is how far before since a check reads again: manifests
// updated at the same moment as the newest one seen, or recorded a little
// out of order, are not missed.
const parentsMargin = 2 * time.Second

// parentsPage is the page size of the checks after the first, which read
// only what was updated since the one before.
const parentsPage = 100

// newNewParents watches for indexes other than the planned ones, which the
// plan accounts for (a kept index's children stay; a deleted index goes
// before its children).
func newNewParents(planned []digest.Digest) *newParents {
	p := &newParents{turn: make(chan struct{}, 1), read: map[digest.Digest]bool{}, children: map[digest.Digest]digest.Digest{}}
	for _, d := range planned {
		p.read[d] = true
	}
	return p
}

// errParentUnreadable is the refusal of a deletion when an index pushed
// since planning cannot be read (readEnabled=false): it may reference the
// manifest.
var errParentUnreadable = errors.New("purge: an index pushed since planning cannot be read")

// parentOf returns an index of repo pushed or changed since planning that
// references d, or "" when none does, after a listing that began after it
// was asked.
func (p *newParents) parentOf(ctx context.Context, client *acr.Client, repo string, d digest.Digest) (digest.Digest, error) {
	p.mu.Lock()
	ticket := p.started
	p.mu.Unlock()
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-p.turn }()
	p.mu.Lock()
	if p.covered <= ticket {
		// No listing that began after this check was asked has ended:
		// list now.
		p.started++
		n := p.started
		p.mu.Unlock()
		var err error
		for attempt := 0; ; attempt++ {
			if err = p.list(ctx, client, repo); !cursorGone(err) || attempt == 2 {
				break
			}
		}
		if err != nil {
			return "", err
		}
		p.mu.Lock()
		p.covered = n
	}
	defer p.mu.Unlock()
	if p.unreadable != "" {
		return p.unreadable, fmt.Errorf("%w: %s@%s (readEnabled=false)", errParentUnreadable, repo, p.unreadable)
	}
	return p.children[d], nil
}

// cursorGone reports whether a time-ordered listing failed because the
// manifest its next page starts after was deleted meanwhile (by this
// purge, likely): the registry refuses such a cursor with 400.
func cursorGone(err error) bool {
	var re *acr.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusBadRequest
}

// list reads the manifests updated since the last listing, newest first,
// and the new indexes among them.
func (p *newParents) list(ctx context.Context, client *acr.Client, repo string) error {
	p.mu.Lock()
	since := p.since
	p.mu.Unlock()
	opts := &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc, PageSize: 1000}
	if !since.IsZero() {
		opts.PageSize = parentsPage
	}
	newest := since
	for m, err := range client.Manifests(ctx, repo, opts) {
		if errors.Is(err, acr.ErrNotFound) {
			break // the repository is gone: nothing left to reference it
		}
		if err != nil {
			return err
		}
		if !since.IsZero() && m.LastUpdatedOn.Before(since.Add(-parentsMargin)) {
			break
		}
		newest = later(newest, m.LastUpdatedOn)
		p.mu.Lock()
		known := p.read[m.Digest]
		p.mu.Unlock()
		if !spec.IsIndex(m.MediaType) || known {
			continue
		}
		children := make([]digest.Digest, 0, len(m.RelatedArtifacts))
		for _, c := range m.RelatedArtifacts {
			children = append(children, c.Digest)
		}
		if len(children) == 0 {
			var err error
			if children, err = readChildren(ctx, client, repo, m.Digest); errors.Is(err, acr.ErrNotFound) {
				continue
			} else if errors.Is(err, acr.ErrLocked) {
				p.mu.Lock()
				p.unreadable = m.Digest
				p.mu.Unlock()
				continue
			} else if err != nil {
				return err
			}
		}
		p.mu.Lock()
		p.read[m.Digest] = true
		for _, c := range children {
			p.children[c] = m.Digest
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	p.since = newest
	p.mu.Unlock()
	return nil
}

// readChildren reads the manifests an index lists.
func readChildren(ctx context.Context, client *acr.Client, repo string, d digest.Digest) ([]digest.Digest, error) {
	m, err := client.GetManifest(ctx, repo, d.String(), nil)
	if err != nil {
		return nil, err
	}
	var l manifestLinks
	if err := json.Unmarshal(m.Bytes, &l); err != nil {
		return nil, fmt.Errorf("purge: manifest %s@%s is not JSON: %w", repo, d, err)
	}
	out := make([]digest.Digest, len(l.Manifests))
	for i, c := range l.Manifests {
		out[i] = c.Digest
	}
	return out, nil
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
