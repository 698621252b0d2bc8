package purge_test

import (
	"context"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// lockedRegistry holds locked tags, a locked untagged manifest and a
// locked repository, all old enough to purge.
type lockedRegistry struct {
	untagged ocispec.Descriptor
	repoImg  ocispec.Descriptor
}

func newLockedRegistry(e *env) lockedRegistry {
	var r lockedRegistry
	e.at(1)
	e.image("app", "a", "noDelete")
	e.image("app", "b", "noWrite")
	e.image("app", "c", "open")
	e.lockTag("app", "noDelete", noDelete())
	e.lockTag("app", "noWrite", noWrite())
	r.untagged = e.image("app", "d")
	e.lockManifest("app", r.untagged.Digest, acr.Locked())
	r.repoImg = e.image("frozen", "e", "v1")
	if _, err := e.client.UpdateRepositoryProperties(context.Background(), "frozen", noDelete()); err != nil {
		e.t.Fatal(err)
	}
	return r
}

func TestLocks(t *testing.T) {
	opts := purge.Options{Filters: filters("app:.*", "frozen:.*"), Ago: 10 * purge.Day, Untagged: true}

	t.Run("without IncludeLocked", func(t *testing.T) {
		e := newEnv(t)
		r := newLockedRegistry(e)
		res := e.run(30, opts)
		// open's tag and its manifest go; everything locked stays.
		diff(t, "deleted", refs(res.Deleted)[:1], []string{"tag app:open"})
		if len(res.Deleted) != 2 || res.Deleted[1].Kind != purge.KindManifest {
			t.Errorf("deleted: got %v, want open's tag and manifest", refs(res.Deleted))
		}
		diff(t, "kept", sorted(refs(res.Kept)), sorted([]string{"tag app:noDelete", "tag app:noWrite",
			manifestRef(purge.KindManifest, "app", r.untagged), "repository frozen"}))
		for _, it := range res.Kept {
			if !it.Locked {
				t.Errorf("%s: kept but not marked locked", it.Ref())
			}
		}
		if !e.hasTag("app", "noDelete") || !e.hasTag("app", "noWrite") || !e.has("app", r.untagged.Digest) || !e.hasTag("frozen", "v1") {
			t.Error("deleted something locked")
		}
		diff(t, "unlocked", refs(res.Unlocked), []string{})
	})

	t.Run("with IncludeLocked", func(t *testing.T) {
		e := newEnv(t)
		r := newLockedRegistry(e)
		o := opts
		o.IncludeLocked = true
		dry := o
		dry.DryRun = true
		planned := e.run(30, dry)
		res := e.run(30, o)
		diff(t, "dry run = real run", refs(res.Deleted), refs(planned.Deleted))
		diff(t, "dry run unlocks = real run unlocks", refs(res.Unlocked), refs(planned.Unlocked))
		if len(res.Kept) != 0 {
			t.Errorf("kept: %v, want nothing", refs(res.Kept))
		}
		diff(t, "unlocked", sorted(refs(res.Unlocked)), sorted([]string{"tag app:noDelete", "tag app:noWrite",
			manifestRef(purge.KindManifest, "app", r.untagged), "repository frozen"}))
		for _, ref := range []string{"app:noDelete", "app:noWrite", "app:open", "frozen:v1"} {
			if hasRef(res.Deleted, ref) != true {
				t.Errorf("%s not deleted", ref)
			}
		}
		if e.has("app", r.untagged.Digest) || e.has("frozen", r.repoImg.Digest) {
			t.Error("a locked manifest is still there")
		}
		// The repository is locked again.
		p, err := e.client.GetRepositoryProperties(context.Background(), "frozen")
		if err != nil || p.Permissions.CanDelete || !p.Permissions.CanWrite {
			t.Errorf("frozen after the purge: %v %+v, want deleteEnabled=false again", err, p.Permissions)
		}
	})
}

// TestLockedSincePlanning: a lock set between planning and applying is
// honoured: the item is skipped, not unlocked.
func TestLockedSincePlanning(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("app", "a", "v1", "v2")
	e.clock.Set(day(30))
	plan, err := purge.NewPlan(context.Background(), e.client, &purge.Options{Filters: filters("app:.*"), Ago: purge.Day, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.lockTag("app", "v1", noDelete())
	res, err := plan.Apply(context.Background(), e.client)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("app", "v2"))
	if len(res.Skipped) != 1 || res.Skipped[0].Item.Tag != "v1" || res.Skipped[0].Detail != "locked since planning (deleteEnabled=false)" {
		t.Errorf("skipped: %+v", res.Skipped)
	}
	if !e.hasTag("app", "v1") {
		t.Error("deleted a tag locked after planning")
	}
}

func hasRef(items []purge.Item, ref string) bool {
	for _, it := range items {
		if it.Ref() == ref {
			return true
		}
	}
	return false
}
