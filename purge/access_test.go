package purge_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestDeniedRepository: a repository the credential may not read is
// reported and skipped; the others are purged (acr-cli#523).
func TestDeniedRepository(t *testing.T) {
	e := newEnv(t)
	e.at(1).image("open", "a", "v1")
	e.at(1).image("secret", "b", "v1")
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/secret") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
			return
		}
		e.srv.Registry.ServeHTTP(w, r)
	}))
	defer hs.Close()
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(day(30))
	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters(".*:.*"), Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("open", "v1"))
	if len(res.Failed) != 1 || res.Failed[0].Item.Ref() != "secret" || !errors.Is(res.Failed[0].Err, acr.ErrForbidden) {
		t.Errorf("failed: %+v", res.Failed)
	}
	if res.Complete() {
		t.Error("Complete() with a repository failed")
	}
	if !e.hasTag("secret", "v1") {
		t.Error("secret:v1 is gone")
	}
}

// TestRefusedDeletionsStop: when the registry refuses a deletion for want
// of rights (a scope-map token without content/delete), the rest of that
// repository's plan is reported failed without being sent, since the same
// credential would be refused for each; other repositories go on.
func TestRefusedDeletionsStop(t *testing.T) {
	e := newScopedEnv(t)
	srv, clk := e.srv, e.clock
	var tags []string
	for i := range 20 {
		tags = append(tags, fmt.Sprintf("v%d", i))
	}
	e.at(1).image("app", "a", tags...)
	e.at(1).image("web", "b", "v1")
	var appDeletes atomic.Int64
	c := &counter{next: http.DefaultTransport, before: func(r *http.Request) error {
		if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/app/") && r.Header.Get("Authorization") != "" {
			appDeletes.Add(1)
		}
		return nil
	}}
	ci, err := acr.NewClient(srv.URL, acr.BasicCredential("ci", "ci-pw"), &acr.ClientOptions{HTTPClient: &http.Client{Transport: c}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(day(30))
	res, err := purge.Run(t.Context(), ci, &purge.Options{Filters: filters("app:.*", "web:.*"), Now: clk.Now, Concurrency: 2})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("web", "v1"))
	if len(res.Failed) != 20 {
		t.Fatalf("%d failed, want the 20 tags of app: %+v", len(res.Failed), res.Failed)
	}
	notTried := 0
	for _, f := range res.Failed {
		if !errors.Is(f.Err, acr.ErrInsufficientScope) && !errors.Is(f.Err, acr.ErrUnauthorized) {
			t.Errorf("%s failed with %v, want the registry's refusal of the credential", f.Item.Ref(), f.Err)
		}
		if strings.HasPrefix(f.Detail, "not tried: ") {
			notTried++
		}
	}
	// At most the Concurrency deletions in flight when the first refusal
	// came back were sent.
	if notTried < 18 {
		t.Errorf("%d of 20 refused deletions were reported not tried, want at least 18: the others were sent anyway", notTried)
	}
	// Each refused deletion is sent twice: with the token in hand, then
	// with one asked for the delete scope that the challenge names.
	if n := appDeletes.Load(); n > 2*2 {
		t.Errorf("%d DELETE requests with a token in app, want at most 4: the 2 deletions in flight when the first refusal came", n)
	}
	for _, tag := range tags {
		if !e.hasTag("app", tag) {
			t.Errorf("app:%s is gone", tag)
		}
	}
}

// TestDryRunFindsRefusal: a dry run asks the registry's token service
// whether the credential may delete (ACR scope maps without content/delete
// are the common case) and reports the deletions the real run would have
// refused as failed, as the real run then does; it deletes nothing.
func TestDryRunFindsRefusal(t *testing.T) {
	e := newScopedEnv(t)
	srv, clk, admin := e.srv, e.clock, e.client
	e.at(1).image("app", "a", "v1", "v2")
	e.at(1).image("web", "b", "v1")
	ci, err := acr.NewClient(srv.URL, acr.BasicCredential("ci", "ci-pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	clk.Set(day(30))
	opts := &purge.Options{Filters: filters("app:.*", "web:.*"), Now: clk.Now, DryRun: true}
	failedRefs := func(res *purge.Result) []string {
		var out []string
		for _, f := range res.Failed {
			if !errors.Is(f.Err, acr.ErrInsufficientScope) {
				t.Errorf("%s failed with %v, want ErrInsufficientScope", f.Item.Ref(), f.Err)
			}
			out = append(out, string(f.Item.Kind)+" "+f.Item.Ref())
		}
		slices.Sort(out)
		return out
	}
	dry, err := purge.Run(t.Context(), ci, opts)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Complete() {
		t.Error("the dry run reports a complete purge, although the registry would refuse app's deletions")
	}
	diff(t, "would delete", refs(dry.Deleted), tagRefs("web", "v1"))
	diff(t, "would fail", failedRefs(dry), tagRefs("app", "v1", "v2"))
	if len(dry.Failed) > 0 && !strings.Contains(dry.Failed[0].Err.Error(), "content/delete") {
		t.Errorf("the refusal does not name the fix: %v", dry.Failed[0].Err)
	}
	for _, ref := range []string{"app:v1", "app:v2", "web:v1"} {
		repo, tag, _ := strings.Cut(ref, ":")
		if !e.hasTag(repo, tag) {
			t.Errorf("the dry run deleted %s", ref)
		}
	}

	// The real run fails where the dry run said it would.
	opts.DryRun = false
	res, err := purge.Run(t.Context(), ci, opts)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "deleted", refs(res.Deleted), tagRefs("web", "v1"))
	diff(t, "failed", failedRefs(res), failedRefs(dry))

	// With the right, the dry run predicts a complete purge.
	opts.DryRun = true
	opts.Filters = filters("app:.*")
	dry, err = purge.Run(t.Context(), admin, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !dry.Complete() || len(dry.Failed) > 0 {
		t.Errorf("admin's dry run: complete %v, failed %+v", dry.Complete(), dry.Failed)
	}
	diff(t, "admin would delete", sorted(refs(dry.Deleted)), tagRefs("app", "v1", "v2"))

	// Without ACR's API the actions a delete needs vary by registry: the
	// dry run does not guess, and leaves the refusal to the real run.
	hs := httptest.NewServer(acrtest.PlainOCI(srv.Registry))
	defer hs.Close()
	ciOCI, err := acr.NewClient(hs.URL, acr.BasicCredential("ci", "ci-pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	dry, err = purge.Run(t.Context(), ciOCI, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(dry.Failed) > 0 {
		t.Errorf("a dry run on a registry without ACR's API reported refusals: %+v", dry.Failed)
	}
	diff(t, "would delete without ACR's API", sorted(refs(dry.Deleted)), tagRefs("app", "v1", "v2"))
}

// lockedWeb seeds web:locked (day 1, its tag locked) and web:free (day 2)
// and returns their manifests and a client for "ci", who may delete in web
// but not lift locks (no metadata_write), with the clock at day 30.
func lockedWeb(t *testing.T) (e *env, locked, free ocispec.Descriptor, ci *acr.Client) {
	t.Helper()
	e = newScopedEnv(t)
	locked = e.at(1).image("web", "old", "locked")
	free = e.at(2).image("web", "new", "free")
	if _, err := e.client.UpdateTagProperties(t.Context(), "web", "locked", acr.PermissionsUpdate{CanWrite: new(false), CanDelete: new(false)}); err != nil {
		t.Fatal(err)
	}
	ci, err := acr.NewClient(e.srv.URL, acr.BasicCredential("ci", "ci-pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(day(30))
	return e, locked, free, ci
}

// dryThenReal runs opts as a dry run, then for real.
func dryThenReal(t *testing.T, c *acr.Client, opts purge.Options) (dry, real *purge.Result) {
	t.Helper()
	var res [2]*purge.Result
	for i, d := range []bool{true, false} {
		opts.DryRun = d
		r, err := purge.Run(t.Context(), c, &opts)
		if err != nil {
			t.Fatal(err)
		}
		res[i] = r
	}
	return res[0], res[1]
}

// refusedRefs returns the refs of res's failures, checking that each is a
// refusal of the credential's rights.
func refusedRefs(t *testing.T, res *purge.Result) []string {
	t.Helper()
	var out []string
	for _, f := range res.Failed {
		if !errors.Is(f.Err, acr.ErrInsufficientScope) {
			t.Errorf("%s failed with %v, want ErrInsufficientScope", f.Item.Ref(), f.Err)
		}
		out = append(out, f.Item.Ref())
	}
	return out
}

// TestLockedWithoutMetadataWrite: with IncludeLocked, a credential that
// may delete but not lift locks (no metadata_write) deletes the unlocked
// tags and fails on the locked ones, whatever their order, and the dry run
// says exactly that (it said every deletion in the repository would fail).
func TestLockedWithoutMetadataWrite(t *testing.T) {
	e, _, _, ci := lockedWeb(t)
	dry, real := dryThenReal(t, ci, purge.Options{Filters: filters("web:.*"), Now: e.clock.Now, IncludeLocked: true})
	diff(t, "would delete", refs(dry.Deleted), tagRefs("web", "free"))
	diff(t, "deleted", refs(real.Deleted), refs(dry.Deleted))
	diff(t, "would fail", refusedRefs(t, dry), []string{"web:locked"})
	diff(t, "failed", refusedRefs(t, real), refusedRefs(t, dry))
	if !e.hasTag("web", "locked") || e.hasTag("web", "free") {
		t.Errorf("after the run: web:locked there %v, web:free there %v; want true, false", e.hasTag("web", "locked"), e.hasTag("web", "free"))
	}
}

// TestLockedTagOfUntagged: with Untagged, a manifest that the plan leaves
// untagged by deleting a locked tag stays when the credential may not lift
// that lock (the real run fails the tag and finds the manifest still
// tagged), and the dry run says the same.
func TestLockedTagOfUntagged(t *testing.T) {
	e, locked, free, ci := lockedWeb(t)
	dry, real := dryThenReal(t, ci, purge.Options{Filters: filters("web:.*"), Now: e.clock.Now, IncludeLocked: true, Untagged: true})
	diff(t, "would delete", refs(dry.Deleted), []string{"tag web:free", manifestRef(purge.KindManifest, "web", free)})
	diff(t, "deleted", refs(real.Deleted), refs(dry.Deleted))
	if !e.has("web", locked.Digest) {
		t.Error("the manifest of the locked tag was deleted")
	}
}

// newScopedEnv starts a registry with an admin user ("admin", "admin-pw",
// the env's client) and a user "ci" ("ci-pw") whose scope map allows
// reading app and web but deleting only in web, as an ACR
// repository-scoped token without content/delete in app.
func newScopedEnv(t *testing.T) *env {
	t.Helper()
	clk := &clock{t: day(0)}
	srv := acrtest.NewServer(t, &emulator.Options{Now: clk.Now, Users: map[string]string{"admin": "admin-pw", "ci": "ci-pw"},
		ScopeMaps: map[string][]emulator.RepositoryPermission{"ci": {
			{Repository: "app", Actions: []string{"content/read", "metadata/read"}},
			{Repository: "web", Actions: []string{"content/read", "metadata/read", "content/delete"}},
		}}})
	admin, err := acr.NewClient(srv.URL, acr.BasicCredential("admin", "admin-pw"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, srv: srv, clock: clk, client: admin}
}
