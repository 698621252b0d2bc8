package purge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestStalePlan: a plan is a snapshot; Apply re-reads each object and
// leaves alone what changed since: a tag moved to a new image, an untagged
// manifest tagged again, a manifest that gained a referrer, and what is
// already gone.
func TestStalePlan(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	e.image("app", "a", "moves")
	e.image("app", "b", "gone")
	retagged := e.image("app", "c")
	signed := e.image("app", "d")
	e.image("app", "e", "stays")
	idx, children := e.multiArch("app", "m", "multi")
	e.clock.Set(day(30))
	ctx := context.Background()
	plan, err := purge.NewPlan(ctx, e.client, &purge.Options{Filters: filters("app:(moves|gone|stays|multi)"), Ago: purge.Day, Untagged: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Deletes() != 12 { // 4 tags, 8 manifests
		t.Fatalf("plan: %v", refs(plan.Items))
	}
	// Meanwhile:
	e.image("app", "a2", "moves")
	if err := e.client.DeleteTag(ctx, "app", "gone"); err != nil {
		t.Fatal(err)
	}
	e.push("app", mustManifest(t, e, retagged.Digest), "v9")
	e.referrer("app", signed, signature, "late")
	e.push("app", mustIndex(t, e, idx.Digest), "back")

	res, err := plan.Apply(ctx, e.client)
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, o := range res.Skipped {
		skipped[o.Item.Ref()] = o.Detail
	}
	want := map[string]string{
		"app:moves":                          "moved to ",
		"app:gone":                           "already gone",
		"app@" + retagged.Digest.String():    "tagged v9 since planning",
		"app@" + signed.Digest.String():      "gained the referrer ",
		"app@" + idx.Digest.String():         "tagged back since planning",
		"app@" + children[0].Digest.String(): "an index that references it stays",
		"app@" + children[1].Digest.String(): "an index that references it stays",
	}
	for ref, prefix := range want {
		if got, ok := skipped[ref]; !ok || len(got) < len(prefix) || got[:len(prefix)] != prefix {
			t.Errorf("%s: skipped with %q, want %q...", ref, got, prefix)
		}
	}
	if !e.has("app", retagged.Digest) || !e.has("app", signed.Digest) || !e.hasTag("app", "moves") || !e.has("app", children[0].Digest) {
		t.Error("deleted something that changed since planning")
	}
	if e.hasTag("app", "stays") {
		t.Error("app:stays was not deleted")
	}
	if len(res.Failed) != 0 {
		t.Errorf("failed: %+v", res.Failed)
	}
}

// TestIndexPushedDuringPurge: platform images pushed by digest (as buildx
// and docker manifest push do) are untagged until their index comes; a
// purge planned in between must not delete them once the index is there.
// Untagged images that no new index references still go.
func TestIndexPushedDuringPurge(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	amd := e.platformImage("app", "new-amd64", "amd64")
	arm := e.platformImage("app", "new-arm64", "arm64")
	nested := e.platformImage("app", "nested-amd64", "amd64")
	lone := e.platformImage("app", "lone", "amd64")
	e.clock.Set(day(30))
	ctx := context.Background()
	plan, err := purge.NewPlan(ctx, e.client, &purge.Options{Filters: filters("app:.*"), Ago: purge.Day, UntaggedOnly: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if plan.Deletes() != 4 {
		t.Fatalf("plan: %v", refs(plan.Items))
	}
	// Meanwhile, the build finishes: an index of amd and arm, and an
	// untagged index of nested under a tagged one.
	e.at(31)
	e.index("app", []ocispec.Descriptor{amd, arm}, "release")
	inner := e.index("app", []ocispec.Descriptor{nested})
	e.index("app", []ocispec.Descriptor{inner}, "outer")

	res, err := plan.Apply(ctx, e.client)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []ocispec.Descriptor{amd, arm, nested} {
		if !e.has("app", d.Digest) {
			t.Errorf("%s was deleted; an index pushed during the purge references it", d.Digest)
		}
	}
	if e.has("app", lone.Digest) {
		t.Errorf("%s, which no index references, was not deleted", lone.Digest)
	}
	skipped := map[string]string{}
	for _, o := range res.Skipped {
		skipped[o.Item.Ref()] = o.Detail
	}
	for _, d := range []ocispec.Descriptor{amd, arm, nested} {
		if got := skipped["app@"+d.Digest.String()]; !strings.Contains(got, "pushed since planning, references it") {
			t.Errorf("%s: skipped with %q, want the index pushed since planning named", d.Digest, got)
		}
	}
	if len(res.Failed) != 0 {
		t.Errorf("failed: %+v", res.Failed)
	}
}

// mustManifest returns the bytes of a manifest, to push it again.
func mustManifest(t *testing.T, e *env, d interface{ String() string }) any {
	t.Helper()
	m, err := e.client.GetManifest(context.Background(), "app", d.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	im, err := m.Image()
	if err != nil {
		t.Fatal(err)
	}
	return im
}

func mustIndex(t *testing.T, e *env, d interface{ String() string }) any {
	t.Helper()
	m, err := e.client.GetManifest(context.Background(), "app", d.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := m.Index()
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
