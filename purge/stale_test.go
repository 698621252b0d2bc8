package purge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr/purge"
	"github.com/opencontainers/go-digest"
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

// TestIndexPushedDuringPlanning: an index pushed while the plan lists the
// manifests (by digest, in pages) can land on a page already read, and a
// later push on a page still to come: the plan sees neither the index nor
// that it missed something, and the newest update it saw is later than the
// index's. Its untagged child must still stay.
func TestIndexPushedDuringPlanning(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	var olds []ocispec.Descriptor
	for i := range 20 {
		olds = append(olds, e.platformImage("app", fmt.Sprint("old", i), "amd64"))
	}
	e.clock.Set(day(30))
	var once sync.Once
	var child ocispec.Descriptor
	during := func(r *http.Request) error {
		last := r.URL.Query().Get("last")
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/_manifests") || last == "" {
			return nil
		}
		once.Do(func() {
			for _, o := range olds {
				if o.Digest.String() < last { // on a page read already
					child = o
					break
				}
			}
			for n := 0; ; n++ { // an index whose digest sorts before the cursor too
				idx := ocispec.Index{Manifests: []ocispec.Descriptor{child}, Annotations: map[string]string{"n": fmt.Sprint(n)}}
				idx.SchemaVersion = 2
				b, err := json.Marshal(idx)
				if err != nil {
					t.Fatal(err)
				}
				if digest.FromBytes(b).String() < last {
					e.push("app", idx, "release")
					break
				}
			}
			e.clock.Set(day(30).Add(10 * time.Second))
			for i := range 6 { // some land on the pages still to come
				e.platformImage("app", fmt.Sprint("new", i), "amd64", fmt.Sprint("new", i))
			}
		})
		return nil
	}
	planner, _ := e.newClient(during)
	plan, err := purge.NewPlan(t.Context(), planner, &purge.Options{Filters: filters("app:.*"), Ago: purge.Day, UntaggedOnly: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if child.Digest == "" {
		t.Fatal("the plan's listing had a single page: nothing was pushed during it")
	}
	res, err := plan.Apply(t.Context(), e.client)
	if err != nil {
		t.Fatal(err)
	}
	if !e.has("app", child.Digest) {
		t.Errorf("%s was deleted; an index pushed while the plan listed the manifests references it", child.Digest)
	}
	if len(res.Deleted) == 0 {
		t.Error("nothing was deleted: the other old untagged images should go")
	}
}

// TestIndexChecksShared: the checks for new indexes before concurrent
// deletions share their listings (each delete waiting for its own listing
// ran them one at a time, whatever the concurrency).
func TestIndexChecksShared(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	const n = 40
	for i := range n {
		e.platformImage("app", fmt.Sprint("old", i), "amd64")
	}
	e.clock.Set(day(30))
	var listings atomic.Int32
	slow := func(r *http.Request) error {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/_manifests") && r.URL.Query().Get("orderby") == "timedesc" {
			listings.Add(1)
			time.Sleep(20 * time.Millisecond) // a registry some way off
		}
		return nil
	}
	c, _ := e.newClient(slow)
	res, err := purge.Run(t.Context(), c, &purge.Options{Filters: filters("app:.*"), Ago: purge.Day, UntaggedOnly: true, Now: e.clock.Now, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != n {
		t.Fatalf("deleted %d, want %d", len(res.Deleted), n)
	}
	if got := listings.Load(); got > n/2 {
		t.Errorf("%d listings for %d deletions at concurrency 8, want them shared (at most %d)", got, n, n/2)
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
