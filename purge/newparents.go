package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
type newParents struct {
	// turn holds a token while a check runs: checks of one repository
	// take turns (a channel, not a mutex: waiting on it can be cancelled,
	// and it does not hold a synctest bubble's clock still).
	turn chan struct{}
	// since is the newest update time the registry has reported for the
	// repository's manifests: the plan's listing saw everything older.
	since    time.Time
	read     map[digest.Digest]bool          // indexes planned for or already read
	children map[digest.Digest]digest.Digest // a child -> an index of it
}

// parentsMargin is how far before since a check reads again: manifests
// updated at the same moment as the newest one seen, or recorded a little
// out of order, are not missed.
const parentsMargin = 2 * time.Second

// newNewParents watches for indexes updated after since other than the
// planned ones, which the plan accounts for (a kept index's children stay;
// a deleted index goes before its children).
func newNewParents(since time.Time, planned []digest.Digest) *newParents {
	p := &newParents{turn: make(chan struct{}, 1), since: since, read: map[digest.Digest]bool{}, children: map[digest.Digest]digest.Digest{}}
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
// references d, or "" when none does. It lists the repository's manifests
// newest first down to the last update it has seen (one request, as a rule)
// and reads the new indexes whose children the listing does not give.
// Checks of one repository take turns, each starting where the previous
// one stopped.
func (p *newParents) parentOf(ctx context.Context, client *acr.Client, repo string, d digest.Digest) (digest.Digest, error) {
	select {
	case p.turn <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-p.turn }()
	newest := p.since
	opts := &acr.ManifestsOptions{Order: acr.OrderLastUpdatedDesc, PageSize: 1000}
	for m, err := range client.Manifests(ctx, repo, opts) {
		if errors.Is(err, acr.ErrNotFound) {
			break // the repository is gone: nothing left to reference it
		}
		if err != nil {
			return "", err
		}
		if m.LastUpdatedOn.Before(p.since.Add(-parentsMargin)) {
			break
		}
		newest = later(newest, m.LastUpdatedOn)
		if !spec.IsIndex(m.MediaType) || p.read[m.Digest] {
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
				return m.Digest, fmt.Errorf("%w: %s@%s (readEnabled=false)", errParentUnreadable, repo, m.Digest)
			} else if err != nil {
				return "", err
			}
		}
		p.read[m.Digest] = true
		for _, c := range children {
			p.children[c] = m.Digest
		}
	}
	p.since = newest
	return p.children[d], nil
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
