package purge_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/purge"
	"github.com/opencontainers/go-digest"
)

// retention is the soft-delete retention of the registries of these tests.
const retention = 7 * purge.Day

// newSoftDeleteEnv is newEnv with soft delete on.
func newSoftDeleteEnv(t *testing.T) *env {
	t.Helper()
	clk := &clock{t: day(0)}
	srv := acrtest.NewServer(t, &emulator.Options{Now: clk.Now, SoftDeleteRetention: retention})
	e := &env{t: t, srv: srv, clock: clk}
	e.client, e.reqs = e.newClient(nil)
	return e
}

// snapshot is what the registry serves: "repo:tag" -> the digest and bytes
// a GET by tag returns, "repo@digest" -> the bytes a GET by digest
// returns, for every tag and manifest the listings show.
func (e *env) snapshot() map[string]string {
	e.t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for repo, err := range e.client.Repositories(ctx, nil) {
		if err != nil {
			e.t.Fatal(err)
		}
		for tp, err := range e.client.Tags(ctx, repo, nil) {
			if err != nil {
				e.t.Fatal(err)
			}
			m, err := e.client.GetManifest(ctx, repo, tp.Name, nil)
			if err != nil {
				e.t.Fatal(err)
			}
			if m.Digest != tp.Digest || digest.FromBytes(m.Bytes) != tp.Digest {
				e.t.Errorf("%s:%s: listed at %s, GET says %s, bytes hash to %s", repo, tp.Name, tp.Digest, m.Digest, digest.FromBytes(m.Bytes))
			}
			out[repo+":"+tp.Name] = tp.Digest.String() + " " + string(m.Bytes)
		}
		for mp, err := range e.client.Manifests(ctx, repo, nil) {
			if err != nil {
				e.t.Fatal(err)
			}
			m, err := e.client.GetManifest(ctx, repo, mp.Digest.String(), nil)
			if err != nil {
				e.t.Fatal(err)
			}
			out[repo+"@"+mp.Digest.String()] = string(m.Bytes)
		}
	}
	return out
}

// deletedSet lists what the registry keeps soft-deleted in repos, as
// purge items render: "tag repo:tag digest" and "manifest repo@digest".
func (e *env) deletedSet(repos ...string) []string {
	e.t.Helper()
	ctx := context.Background()
	out := []string{}
	for _, repo := range repos {
		for dt, err := range e.client.DeletedTags(ctx, repo, nil) {
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, "tag "+repo+":"+dt.Name+" "+dt.Digest.String())
		}
		for dm, err := range e.client.DeletedManifests(ctx, repo, nil) {
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, "manifest "+repo+"@"+dm.Digest.String())
		}
	}
	slices.Sort(out)
	return out
}

// deletedItems renders a run's deletions as deletedSet does.
func deletedItems(items []purge.Item) []string {
	out := []string{}
	for _, it := range items {
		if it.Kind == purge.KindTag {
			out = append(out, "tag "+it.Ref()+" "+it.Digest.String())
		} else {
			out = append(out, "manifest "+it.Repository+"@"+it.Digest.String())
		}
	}
	slices.Sort(out)
	return out
}

// populateUndo pushes, over days 1..5, what a purge at day 30 deletes a
// bit of everything from: tagged images, a multi-arch index and its
// children, a signed image whose signature goes with it, untagged
// leftovers, and what stays.
func populateUndo(e *env) {
	e.at(1).image("app", "1", "v1", "v1-alias")
	e.at(1).image("app", "2", "v2")
	idx, _ := e.at(2).multiArch("app", "multi", "multi-1")
	e.at(2).referrer("app", idx, sbom, "sbom of multi")
	signed := e.at(3).image("app", "signed", "signed-1")
	e.referrer("app", signed, signature, "sig")
	e.at(3).image("app", "leftover")
	e.at(4).image("app", "kept", "latest")
	e.at(5).image("web", "w1", "v1")
	e.at(5).image("web", "w2")
}

// TestUndo: a purge on a registry with soft delete says its deletions can
// be restored and until when; the registry lists exactly what it deleted;
// Undo restores all of it, and the registry serves the same bytes under
// the same tags and digests as before the purge. A second Undo finds
// everything back.
func TestUndo(t *testing.T) {
	e := newSoftDeleteEnv(t)
	populateUndo(e)
	before := e.snapshot()

	res := e.run(30, purge.Options{Filters: filters("app:.*", "web:v.*"), Excludes: filters("app:latest"), Ago: 10 * purge.Day, Untagged: true})
	kinds := map[purge.Kind]int{}
	for _, it := range res.Deleted {
		kinds[it.Kind]++
	}
	// app: v1, v1-alias, v2, multi-1, signed-1; web: v1. Untagged: the
	// images of v1, v2, signed-1, web:v1, the index and its two children,
	// leftover; referrers: the SBOM and the signature.
	if kinds[purge.KindTag] != 6 || kinds[purge.KindManifest] != 9 || kinds[purge.KindReferrer] != 2 {
		t.Fatalf("deleted %v, want 6 tags, 9 manifests, 2 referrers:\n%s", kinds, strings.Join(refs(res.Deleted), "\n"))
	}
	if !res.Complete() {
		t.Fatalf("run incomplete: %+v", res)
	}

	rc := res.Recovery
	if rc == nil {
		t.Fatal("Recovery is nil after a real run that deleted")
	}
	if rc.Restorable != len(res.Deleted) || rc.Deleted != len(res.Deleted) || rc.Err != nil {
		t.Errorf("Recovery: %d of %d restorable, err %v; want all %d", rc.Restorable, rc.Deleted, rc.Err, len(res.Deleted))
	}
	if want := day(30).Add(retention); !rc.Until.Equal(want) {
		t.Errorf("Recovery.Until = %v, want %v (deleted at day 30, kept %v)", rc.Until, want, retention)
	}
	if want := "can be restored until " + day(37).Format(time.RFC3339); !strings.Contains(rc.Detail, want) {
		t.Errorf("Recovery.Detail = %q, want it to contain %q", rc.Detail, want)
	}

	// The registry lists exactly the run's deletions.
	diff(t, "deleted content listed", e.deletedSet("app", "web"), deletedItems(res.Deleted))
	if got := e.snapshot(); len(got) >= len(before) {
		t.Fatalf("the purge deleted nothing visible: %d entries before, %d after", len(before), len(got))
	}

	// Undo from the JSON report, as acrctl purge --undo reads it.
	raw, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var report purge.Result
	if err := json.Unmarshal(raw, &report); err != nil {
		t.Fatal(err)
	}
	var events []string
	e.clock.Set(day(31))
	ur, err := purge.Undo(context.Background(), e.client, &report, &purge.UndoOptions{
		Progress: func(ev purge.Event) { events = append(events, string(ev.Action)+" "+ev.Item.Ref()) },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ur.Failed {
		t.Errorf("not restored: %s %s: %s", f.Item.Kind, f.Item.Ref(), f.Detail)
	}
	diff(t, "restored", sorted(refs(ur.Restored)), sorted(refs(res.Deleted)))
	if len(ur.Skipped) != 0 || !ur.Complete() || len(events) != len(res.Deleted) {
		t.Errorf("skipped %v, complete %v, %d events for %d items", ur.Skipped, ur.Complete(), len(events), len(res.Deleted))
	}
	// Manifests come back before tags, indexes after the other manifests.
	lastManifest, firstTag, firstIndex, lastLeaf := -1, len(ur.Restored), len(ur.Restored), -1
	for i, it := range ur.Restored {
		switch {
		case it.Kind == purge.KindTag:
			firstTag = min(firstTag, i)
		case strings.Contains(it.MediaType, "index"):
			firstIndex = min(firstIndex, i)
			lastManifest = i
		default:
			lastLeaf, lastManifest = i, i
		}
	}
	if lastManifest > firstTag || lastLeaf > firstIndex {
		t.Errorf("restore order: %v", refs(ur.Restored))
	}

	after := e.snapshot()
	if len(after) != len(before) {
		t.Errorf("%d tags and manifests before the purge, %d after the undo", len(before), len(after))
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: before the purge %.80q, after the undo %.80q", k, v, after[k])
		}
	}
	diff(t, "deleted content left after the undo", e.deletedSet("app", "web"), []string{})

	// Again: everything is back, nothing to do, nothing fails.
	ur, err = purge.Undo(context.Background(), e.client, &report, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ur.Restored) != 0 || len(ur.Failed) != 0 || len(ur.Skipped) != len(res.Deleted) {
		t.Errorf("second undo: restored %v, failed %v, %d skipped of %d", refs(ur.Restored), ur.Failed, len(ur.Skipped), len(res.Deleted))
	}
}

// TestUndoTagInUse: a tag pushed again onto another manifest since the
// purge is not moved back, and says where it points, unless Force.
func TestUndoTagInUse(t *testing.T) {
	e := newSoftDeleteEnv(t)
	old := e.at(1).image("app", "old", "v1")
	e.at(1).image("app", "other", "v2")
	res := e.run(30, purge.Options{Filters: filters("app:.*"), Ago: 10 * purge.Day})
	diff(t, "deleted", sorted(refs(res.Deleted)), tagRefs("app", "v1", "v2"))
	now := e.at(31).image("app", "new", "v1")

	ur, err := purge.Undo(context.Background(), e.client, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "restored", refs(ur.Restored), tagRefs("app", "v2"))
	if len(ur.Failed) != 1 || ur.Failed[0].Item.Tag != "v1" || !errors.Is(ur.Failed[0].Err, acr.ErrTagInUse) ||
		!strings.Contains(ur.Failed[0].Detail, "now points at "+now.Digest.String()) {
		t.Fatalf("failed: %+v; want v1 in use, pointing at %s", ur.Failed, now.Digest)
	}
	if tp, err := e.client.GetTagProperties(context.Background(), "app", "v1"); err != nil || tp.Digest != now.Digest {
		t.Fatalf("v1 -> %v (%v), want it left at %s", tp.Digest, err, now.Digest)
	}

	ur, err = purge.Undo(context.Background(), e.client, res, &purge.UndoOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "restored with Force", refs(ur.Restored), tagRefs("app", "v1"))
	if len(ur.Failed) != 0 || len(ur.Skipped) != 1 || ur.Skipped[0].Item.Tag != "v2" {
		t.Errorf("failed %+v, skipped %+v; want v2 skipped as back already", ur.Failed, ur.Skipped)
	}
	if tp, err := e.client.GetTagProperties(context.Background(), "app", "v1"); err != nil || tp.Digest != old.Digest {
		t.Errorf("v1 -> %v (%v), want it moved back to %s", tp.Digest, err, old.Digest)
	}
}

// TestUndoWithoutSoftDelete: without soft delete the report says the
// deletions are final, and Undo restores nothing, saying why.
func TestUndoWithoutSoftDelete(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("app", "a", "v1")
	e.at(1).image("app", "b")
	res := e.run(30, purge.Options{Filters: filters("app:.*"), Ago: 10 * purge.Day, Untagged: true})
	if len(res.Deleted) != 3 {
		t.Fatalf("deleted %v, want v1 and two manifests", refs(res.Deleted))
	}
	if rc := res.Recovery; rc == nil || rc.Restorable != 0 || !rc.Until.IsZero() || !strings.Contains(rc.Detail, "final") {
		t.Errorf("Recovery %+v, want none restorable and final", rc)
	}
	ur, err := purge.Undo(context.Background(), e.client, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ur.Restored) != 0 || len(ur.Failed) != 3 || ur.Complete() {
		t.Fatalf("restored %v, failed %+v; want all 3 failed", refs(ur.Restored), ur.Failed)
	}
	for _, f := range ur.Failed {
		if f.Err == nil || !strings.Contains(f.Detail, "soft delete") {
			t.Errorf("%s: %s (%v)", f.Item.Ref(), f.Detail, f.Err)
		}
	}
}

// TestUndoRefuses: no Result, a dry run's or bad options are errors;
// a dry run has no Recovery.
func TestUndoRefuses(t *testing.T) {
	e := newSoftDeleteEnv(t)
	e.at(1).image("app", "a", "v1")
	dry := e.run(30, purge.Options{Filters: filters("app:.*"), DryRun: true})
	if len(dry.Deleted) != 1 || dry.Recovery != nil {
		t.Fatalf("dry run: deleted %v, recovery %+v", refs(dry.Deleted), dry.Recovery)
	}
	ctx := context.Background()
	for name, call := range map[string]func() error{
		"nil":     func() error { _, err := purge.Undo(ctx, e.client, nil, nil); return err },
		"dry run": func() error { _, err := purge.Undo(ctx, e.client, dry, nil); return err },
		"concurrency": func() error {
			_, err := purge.Undo(ctx, e.client, &purge.Result{}, &purge.UndoOptions{Concurrency: -1})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if !e.hasTag("app", "v1") {
		t.Error("the dry run deleted v1")
	}
}

// TestUndoStopped: a done context leaves everything in Remaining.
func TestUndoStopped(t *testing.T) {
	e := newSoftDeleteEnv(t)
	e.at(1).image("app", "a", "v1")
	res := e.run(30, purge.Options{Filters: filters("app:.*"), Untagged: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ur, err := purge.Undo(ctx, e.client, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ur.Remaining) != len(res.Deleted) || !errors.Is(ur.Stop, context.Canceled) || ur.Complete() {
		t.Errorf("remaining %v, stop %v", refs(ur.Remaining), ur.Stop)
	}
}

// TestUndoExpired: once the retention has run out, nothing comes back and
// Undo says why.
func TestUndoExpired(t *testing.T) {
	e := newSoftDeleteEnv(t)
	e.at(1).image("app", "a", "v1")
	res := e.run(30, purge.Options{Filters: filters("app:.*"), Untagged: true})
	if len(res.Deleted) != 2 || res.Recovery == nil || res.Recovery.Restorable != 2 {
		t.Fatalf("deleted %v, recovery %+v", refs(res.Deleted), res.Recovery)
	}
	e.clock.Set(day(30).Add(retention + time.Second))
	ur, err := purge.Undo(context.Background(), e.client, res, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ur.Restored) != 0 || len(ur.Failed) != 2 {
		t.Fatalf("restored %v, failed %+v; want both failed", refs(ur.Restored), ur.Failed)
	}
	for _, f := range ur.Failed {
		if !errors.Is(f.Err, acr.ErrNotFound) || !strings.Contains(f.Detail, "retention ran out") {
			t.Errorf("%s: %s (%v)", f.Item.Ref(), f.Detail, f.Err)
		}
	}
	if e.hasTag("app", "v1") {
		t.Error("v1 is back after its retention ran out")
	}
}
