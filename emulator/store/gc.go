package store

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"
)

// GCOptions configures [GC]. The zero value, or nil, collects for real.
type GCOptions struct {
	// DryRun reports what would be removed and changes nothing.
	DryRun bool
	// Now is the time soft-deleted records are expired against; nil means
	// time.Now.
	Now func() time.Time
}

// GCResult reports what [GC] removed or, in a dry run, would remove.
type GCResult struct {
	// Removed lists the removed blobs in digest order.
	Removed []digest.Digest
	// BytesFreed is the total size of the removed blobs.
	BytesFreed int64
	// LinksRemoved counts the blob links deleted because they named a
	// removed blob.
	LinksRemoved int
	// DeletedExpired counts the soft-deleted manifests and tags whose
	// retention ran out: they were removed, and their blobs with them when
	// nothing else references them.
	DeletedExpired int
}

// repoLister is implemented by the transactions of this package's stores:
// it yields every repository holding data, with a record or not, so that
// garbage collection cannot miss content whose repository has no record.
type repoLister interface {
	allRepos() iter.Seq2[string, error]
}

// GC removes the blobs that no manifest references and the blob links that
// name them. A blob is referenced when it is a manifest's own digest, one of
// its Blobs (config and layers), or one of its Children, in any repository,
// or belongs so to a soft-deleted manifest whose retention has not run out;
// expired soft-deleted records are removed first.
//
// GC is offline: run it while nothing else writes to s, since a blob pushed
// for a manifest that is not stored yet looks like garbage. It is safe to
// interrupt: links are deleted, durably, before the blobs they name, so an
// interrupted run leaves at worst unreferenced blobs that the next run
// removes.
func GC(ctx context.Context, s Store, opts *GCOptions) (GCResult, error) {
	var o GCOptions
	if opts != nil {
		o = *opts
	}
	var res GCResult

	// Blobs stored after this listing are never candidates, whatever
	// happens while marking.
	stored := make(map[digest.Digest]struct{})
	for d, err := range s.Blobs(ctx) {
		if err != nil {
			return res, fmt.Errorf("store: gc: %w", err)
		}
		stored[d] = struct{}{}
	}

	var garbage map[digest.Digest]struct{}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	sweep := func(tx Tx) error {
		var err error
		if res.DeletedExpired, err = expire(tx, now(), o.DryRun); err != nil {
			return err
		}
		referenced, err := mark(tx, now())
		if err != nil {
			return err
		}
		garbage = make(map[digest.Digest]struct{})
		for d := range stored {
			if _, ok := referenced[d]; !ok {
				garbage[d] = struct{}{}
			}
		}
		res.LinksRemoved, err = unlink(tx, garbage, o.DryRun)
		return err
	}
	var err error
	if o.DryRun {
		err = s.View(ctx, sweep)
	} else {
		err = s.Update(ctx, sweep)
	}
	if err != nil {
		return GCResult{}, fmt.Errorf("store: gc: %w", err)
	}

	res.Removed = slices.Sorted(maps.Keys(garbage))
	removed := res.Removed[:0]
	for _, d := range res.Removed {
		size, err := s.StatBlob(ctx, d)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err == nil && !o.DryRun {
			err = s.DeleteBlob(ctx, d)
			if errors.Is(err, ErrNotFound) {
				continue
			}
		}
		if err != nil {
			res.Removed = removed
			return res, fmt.Errorf("store: gc: %w", err)
		}
		removed = append(removed, d)
		res.BytesFreed += size
	}
	res.Removed = removed
	return res, nil
}

// repos yields the repositories to collect in: all of them when tx can
// list them, else those with records.
func repos(tx Tx) iter.Seq2[string, error] {
	if l, ok := tx.(repoLister); ok {
		return l.allRepos()
	}
	return func(yield func(string, error) bool) {
		for r, err := range tx.Repos("") {
			if !yield(r.Name, err) || err != nil {
				return
			}
		}
	}
}

// mark returns the set of blobs that manifests reference.
func mark(tx Tx, now time.Time) (map[digest.Digest]struct{}, error) {
	referenced := make(map[digest.Digest]struct{})
	for repo, err := range tx.DeletedRepos("") {
		if err != nil {
			return nil, err
		}
		for d, err := range tx.Deleted(repo, DeletedManifestKind+"/", "") {
			if err != nil {
				return nil, err
			}
			if m := d.Manifest; m != nil && now.Before(d.ExpiresAt) {
				referenced[m.Digest] = struct{}{}
				for _, b := range m.Blobs {
					referenced[b] = struct{}{}
				}
				for _, c := range m.Children {
					referenced[c.Digest] = struct{}{}
				}
			}
		}
	}
	for repo, err := range repos(tx) {
		if err != nil {
			return nil, err
		}
		for m, err := range tx.ManifestSummaries(repo, "") {
			if err != nil {
				return nil, err
			}
			referenced[m.Digest] = struct{}{}
			for _, d := range m.Blobs {
				referenced[d] = struct{}{}
			}
			for _, c := range m.Children {
				referenced[c.Digest] = struct{}{}
			}
		}
	}
	return referenced, nil
}

// expire removes, unless dryRun is set, the soft-deleted records whose
// retention ran out before now, and returns how many there are.
func expire(tx Tx, now time.Time, dryRun bool) (int, error) {
	n := 0
	var names []string
	for repo, err := range tx.DeletedRepos("") {
		if err != nil {
			return 0, err
		}
		names = append(names, repo)
	}
	for _, repo := range names {
		for d, err := range tx.Deleted(repo, "", "") {
			if err != nil {
				return n, err
			}
			if now.Before(d.ExpiresAt) {
				continue
			}
			n++
			if !dryRun {
				if err := tx.DeleteDeleted(repo, d.Key); err != nil {
					return n, err
				}
			}
		}
	}
	return n, nil
}

// unlink deletes, unless dryRun is set, the blob links that name garbage,
// and returns how many there are.
func unlink(tx Tx, garbage map[digest.Digest]struct{}, dryRun bool) (int, error) {
	n := 0
	for repo, err := range repos(tx) {
		if err != nil {
			return n, err
		}
		for l, err := range tx.BlobLinks(repo, "") {
			if err != nil {
				return n, err
			}
			if _, ok := garbage[l.Digest]; !ok {
				continue
			}
			if !dryRun {
				if err := tx.DeleteBlobLink(repo, l.Digest); err != nil {
					return n, err
				}
			}
			n++
		}
	}
	return n, nil
}
