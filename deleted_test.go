package acr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// deletedStub answers the soft-delete endpoints as the spec of issue 18
// (and az's code) describes them, with tokens, and records what the client
// asked for: the scopes of its token requests and the restore requests.
type deletedStub struct {
	mu       sync.Mutex
	scopes   []string // scope parameters of token requests, in order
	restores []string // "PATH?QUERY BODY" of each restore
}

func (s *deletedStub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	host := r.Host
	if r.URL.Path == "/oauth2/token" {
		s.scopes = append(s.scopes, r.URL.Query()["scope"]...)
		fmt.Fprint(w, `{"access_token":"stub-token"}`)
		return
	}
	if r.Header.Get("Authorization") != "Bearer stub-token" {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="http://%s/oauth2/token",service="%s"`, host, host))
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	switch {
	case r.URL.Path == "/acr/v1/_catalog":
		fmt.Fprint(w, `{"repositories":["lib/x"]}`)
	case r.URL.Path == "/acr/v1/_deleted/_catalog" && r.URL.Query().Get("last") == "":
		// A cursor as ACR's /acr/v1 listings send it, which the client
		// must follow without interpreting it.
		w.Header().Set("Link", `</acr/v1/_deleted/_catalog?last=a&n=1&orderby=>; rel="next"`)
		fmt.Fprint(w, `{"repositories":["a"]}`)
	case r.URL.Path == "/acr/v1/_deleted/_catalog" && r.URL.Query().Get("last") == "a":
		fmt.Fprint(w, `{"repositories":["lib/x"]}`)
	case r.URL.Path == "/acr/v1/_deleted/lib/x/_manifests":
		// ACR sends no expiresAfter; the local registry does.
		fmt.Fprintf(w, `{"registry":%q,"imageName":"lib/x","manifests":[
 {"digest":%q,"imageSize":12,"createdTime":"2026-01-01T00:00:00Z","lastUpdateTime":"2026-01-02T00:00:00Z","mediaType":"application/vnd.oci.image.manifest.v1+json","tags":["v1","latest"],"deletedAt":"2026-12-06T00:00:00.1234567Z"},
 {"digest":%q,"imageSize":34,"createdTime":"2026-01-03T00:00:00Z","lastUpdateTime":"2026-01-04T00:00:00Z","mediaType":"application/vnd.oci.image.index.v1+json","deletedAt":"2026-12-07T00:00:00Z","expiresAfter":"2026-12-14T00:00:00Z"}]}`,
			host, d1, d2)
	case r.URL.Path == "/acr/v1/_deleted/lib/x/_tags":
		fmt.Fprintf(w, `{"registry":%q,"imageName":"lib/x","tags":[
 {"tag":"v1","digest":%q,"deletedAt":"2026-12-05T00:00:00Z","expiresAfter":"2026-12-12T00:00:00Z"},
 {"tag":"v1","digest":%q,"deletedAt":"2026-12-06T00:00:00Z"}]}`, host, d2, d1)
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/acr/v1/_deleted/lib/x/_manifests/"):
		body, _ := io.ReadAll(r.Body)
		s.restores = append(s.restores, r.URL.Path+"?"+r.URL.RawQuery+" "+string(body))
		d := strings.TrimPrefix(r.URL.Path, "/acr/v1/_deleted/lib/x/_manifests/")
		switch {
		case d != d1.String():
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`)
		case r.URL.Query().Get("force") != "True":
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"errors":[{"code":"TAG_IN_USE","message":"tag v1 points at another manifest"}]}`)
		default:
			fmt.Fprintf(w, `{"registry":%q,"imageName":"lib/x","manifest":{"digest":%q,"imageSize":12,"tags":["v1"],"mediaType":"application/vnd.oci.image.manifest.v1+json","changeableAttributes":{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}}}`, host, d)
		}
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"stub: no route for %s %s"}]}`, r.Method, r.URL.Path)
	}
}

// TestDeletedWire checks the requests the soft-delete calls send (paths,
// token scopes, the restore's body and force parameter, as az sends them)
// and how they read the answers, against a stub that answers as the spec
// says; TestDeletedAndRestore runs the same calls against the local
// registry.
func TestDeletedWire(t *testing.T) {
	stub := &deletedStub{}
	hs := httptest.NewServer(http.HandlerFunc(stub.serve))
	defer hs.Close()
	host := strings.TrimPrefix(hs.URL, "http://")
	client, err := acr.NewClient(hs.URL, acr.BasicCredential("u", "p"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	var repos []string
	for name, err := range client.DeletedRepositories(ctx, nil) {
		if err != nil {
			t.Fatal(err)
		}
		repos = append(repos, name)
	}
	if !slices.Equal(repos, []string{"a", "lib/x"}) {
		t.Errorf("DeletedRepositories across two pages: got %q, want [a lib/x]", repos)
	}

	var ms []acr.DeletedManifest
	for m, err := range client.DeletedManifests(ctx, "lib/x", nil) {
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	day := func(d int) time.Time { return time.Date(2026, 1, d, 0, 0, 0, 0, time.UTC) }
	wantMs := []acr.DeletedManifest{
		{Registry: host, Repository: "lib/x", Digest: d1, Size: 12, MediaType: "application/vnd.oci.image.manifest.v1+json",
			Tags: []string{"v1", "latest"}, CreatedOn: day(1), LastUpdatedOn: day(2),
			DeletedOn: time.Date(2026, 12, 6, 0, 0, 0, 123456700, time.UTC)},
		{Registry: host, Repository: "lib/x", Digest: d2, Size: 34, MediaType: "application/vnd.oci.image.index.v1+json",
			CreatedOn: day(3), LastUpdatedOn: day(4), DeletedOn: time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC),
			ExpiresOn: time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)},
	}
	if len(ms) != len(wantMs) {
		t.Fatalf("DeletedManifests: got %d entries, want %d: %+v", len(ms), len(wantMs), ms)
	}
	for i := range ms {
		g, w := ms[i], wantMs[i]
		if g.Registry != w.Registry || g.Repository != w.Repository || g.Digest != w.Digest || g.Size != w.Size ||
			g.MediaType != w.MediaType || !slices.Equal(g.Tags, w.Tags) || !g.CreatedOn.Equal(w.CreatedOn) ||
			!g.LastUpdatedOn.Equal(w.LastUpdatedOn) || !g.DeletedOn.Equal(w.DeletedOn) || !g.ExpiresOn.Equal(w.ExpiresOn) {
			t.Errorf("DeletedManifests[%d]:\n got  %+v\n want %+v", i, g, w)
		}
	}

	var ts []acr.DeletedTag
	for tg, err := range client.DeletedTags(ctx, "lib/x", nil) {
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tg)
	}
	if len(ts) != 2 || ts[0].Name != "v1" || ts[0].Digest != d2 || ts[0].Registry != host || ts[0].Repository != "lib/x" ||
		!ts[0].DeletedOn.Equal(time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)) || !ts[0].ExpiresOn.Equal(time.Date(2026, 12, 12, 0, 0, 0, 0, time.UTC)) ||
		ts[1].Name != "v1" || ts[1].Digest != d1 || !ts[1].ExpiresOn.IsZero() {
		t.Errorf("DeletedTags: got %+v", ts)
	}

	// Restoring the old tags onto d1 conflicts without force, and moves
	// them with it.
	if _, err := client.RestoreManifest(ctx, "lib/x", d1, nil); !errors.Is(err, acr.ErrTagInUse) {
		t.Errorf("restore without force: got %v, want ErrTagInUse", err)
	}
	m, err := client.RestoreManifest(ctx, "lib/x", d1, &acr.RestoreOptions{Tag: "v1", Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if m.Digest != d1 || m.Registry != host || m.Repository != "lib/x" || m.Size != 12 || !slices.Equal(m.Tags, []string{"v1"}) || !m.Permissions.CanWrite {
		t.Errorf("restored manifest: got %+v", m)
	}
	if _, err := client.RestoreManifest(ctx, "lib/x", d2, &acr.RestoreOptions{Force: true}); !errors.Is(err, acr.ErrNotFound) || errors.Is(err, acr.ErrTagInUse) {
		t.Errorf("restore of an unknown digest: got %v, want ErrNotFound", err)
	}
	// Invalid arguments fail before any request.
	for _, tc := range []struct {
		repo string
		d    digest.Digest
		tag  string
	}{{"Bad", d1, ""}, {"lib/x", "sha256:abc", ""}, {"lib/x", d1, "bad tag"}} {
		if _, err := client.RestoreManifest(ctx, tc.repo, tc.d, &acr.RestoreOptions{Tag: tc.tag}); !errors.Is(err, acr.ErrInvalidReference) {
			t.Errorf("RestoreManifest(%q, %q, tag %q): got %v, want ErrInvalidReference", tc.repo, tc.d, tc.tag, err)
		}
	}
	for _, err := range client.DeletedTags(ctx, "Bad", nil) {
		if !errors.Is(err, acr.ErrInvalidReference) {
			t.Errorf("DeletedTags(Bad): got %v, want ErrInvalidReference", err)
		}
	}
	for _, err := range client.DeletedManifests(ctx, "Bad", nil) {
		if !errors.Is(err, acr.ErrInvalidReference) {
			t.Errorf("DeletedManifests(Bad): got %v, want ErrInvalidReference", err)
		}
	}

	stub.mu.Lock()
	defer stub.mu.Unlock()
	// The restore body and force parameter are az's: {"tag": null} for the
	// old tags, True/False as Python spells them.
	wantRestores := []string{
		"/acr/v1/_deleted/lib/x/_manifests/" + d1.String() + "?force=False " + `{"tag":null}`,
		"/acr/v1/_deleted/lib/x/_manifests/" + d1.String() + "?force=True " + `{"tag":"v1"}`,
		"/acr/v1/_deleted/lib/x/_manifests/" + d2.String() + "?force=True " + `{"tag":null}`,
	}
	if !slices.Equal(stub.restores, wantRestores) {
		t.Errorf("restore requests:\n got  %q\n want %q", stub.restores, wantRestores)
	}
	for _, want := range []string{"registry:deleted_catalog:*", "repository:lib/x:deleted_read", "repository:lib/x:deleted_read,deleted_restore"} {
		if !slices.Contains(stub.scopes, want) {
			t.Errorf("no token was asked for scope %q; scopes asked: %q", want, stub.scopes)
		}
	}
}

// TestDeletedAndRestore deletes tags and manifests on a local registry
// with soft delete, lists them with their deletion times and tags, and
// restores them: refused while a tag points elsewhere, moved with Force,
// and byte-identical afterwards.
func TestDeletedAndRestore(t *testing.T) {
	const retention = 7 * 24 * time.Hour
	srv := acrtest.NewServer(t, &emulator.Options{SoftDeleteRetention: retention, Now: steppingClock()})
	s := newSeeder(t, srv, "", "")
	a := s.image("app", "amd64", "a", "v1", "latest")
	b := s.image("app", "amd64", "b", "v2")
	c := s.image("lib/x", "arm64", "c", "t")
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	if got := collect(t, client.DeletedRepositories(ctx, nil)); len(got) != 0 {
		t.Fatalf("before any deletion, deleted repositories: %q", got)
	}
	original, err := client.GetManifest(ctx, "app", a.String(), nil)
	if err != nil {
		t.Fatal(err)
	}

	// Delete the tag v1, then the manifest a (which takes latest with it),
	// then c in lib/x.
	if err := client.DeleteTag(ctx, "app", "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteManifest(ctx, "app", a.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteManifest(ctx, "lib/x", c.String()); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, client.DeletedRepositories(ctx, nil)); !slices.Equal(got, []string{"app", "lib/x"}) {
		t.Errorf("deleted repositories: got %q, want [app lib/x]", got)
	}
	ms := collect(t, client.DeletedManifests(ctx, "app", nil))
	if len(ms) != 1 {
		t.Fatalf("deleted manifests of app: got %+v, want a alone", ms)
	}
	m := ms[0]
	if m.Digest != a || m.Registry != srv.Host || m.Repository != "app" || !slices.Equal(m.Tags, []string{"latest"}) ||
		m.Size <= 0 || m.MediaType != "application/vnd.oci.image.manifest.v1+json" || m.CreatedOn.IsZero() ||
		!m.DeletedOn.After(m.LastUpdatedOn) || m.ExpiresOn.Sub(m.DeletedOn) != retention {
		t.Errorf("deleted manifest a: got %+v", m)
	}
	ts := collect(t, client.DeletedTags(ctx, "app", nil))
	if len(ts) != 2 || ts[0].Name != "latest" || ts[1].Name != "v1" || ts[0].Digest != a || ts[1].Digest != a ||
		ts[0].Registry != srv.Host || ts[0].Repository != "app" {
		t.Fatalf("deleted tags of app: got %+v, want latest and v1, both on a", ts)
	}
	// v1 was deleted before latest (with the manifest).
	if !ts[1].DeletedOn.Before(ts[0].DeletedOn) || !ts[0].DeletedOn.Equal(m.DeletedOn) || ts[1].ExpiresOn.Sub(ts[1].DeletedOn) != retention {
		t.Errorf("deletion times: v1 %v (expires %v), latest %v, manifest %v; want v1 first, latest with the manifest",
			ts[1].DeletedOn, ts[1].ExpiresOn, ts[0].DeletedOn, m.DeletedOn)
	}
	// Deleted content is invisible to the other APIs.
	if _, err := client.GetManifest(ctx, "app", a.String(), nil); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("GetManifest of a deleted manifest: got %v, want ErrNotFound", err)
	}
	var live []string
	for tp := range client.Tags(ctx, "app", nil) {
		live = append(live, tp.Name)
	}
	if !slices.Equal(live, []string{"v2"}) {
		t.Errorf("live tags of app: got %q, want [v2]", live)
	}

	// latest now names b: restoring a's old tags is refused, and changes
	// nothing.
	s.image("app", "amd64", "b", "latest")
	if _, err := client.RestoreManifest(ctx, "app", a, nil); !errors.Is(err, acr.ErrTagInUse) {
		t.Fatalf("restore while latest names b: got %v, want ErrTagInUse", err)
	}
	if _, err := client.GetManifest(ctx, "app", a.String(), nil); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("after the refused restore, a: got %v, want still deleted", err)
	}
	if d, err := client.ResolveDigest(ctx, "app", "latest"); err != nil || d != b {
		t.Errorf("after the refused restore, latest names %s (%v), want b %s", d, err, b)
	}
	// With Force, latest moves back to a, and a reads back byte-identical.
	p, err := client.RestoreManifest(ctx, "app", a, &acr.RestoreOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Digest != a || p.Registry != srv.Host || p.Repository != "app" || !slices.Equal(p.Tags, []string{"latest"}) || p.Size != m.Size {
		t.Errorf("restored properties: got %+v", p)
	}
	got, err := client.GetManifest(ctx, "app", "latest", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != a || !bytes.Equal(got.Bytes, original.Bytes) || got.MediaType != original.MediaType {
		t.Errorf("after restore, latest reads %s (%d bytes), want a %s (%d bytes)", got.Digest, len(got.Bytes), a, len(original.Bytes))
	}
	if ms := collect(t, client.DeletedManifests(ctx, "app", nil)); len(ms) != 0 {
		t.Errorf("a is restored but still listed as deleted: %+v", ms)
	}
	// The deleted tag v1 goes back onto a, which is live again.
	if _, err := client.RestoreManifest(ctx, "app", a, &acr.RestoreOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	if d, err := client.ResolveDigest(ctx, "app", "v1"); err != nil || d != a {
		t.Errorf("restored v1 names %s (%v), want a %s", d, err, a)
	}
	// This digest is nowhere.
	if _, err := client.RestoreManifest(ctx, "app", digest.FromString("never pushed"), &acr.RestoreOptions{Force: true}); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("restore of a digest never pushed: got %v, want ErrNotFound", err)
	}

	// A digest deleted twice is listed twice, oldest first; a restore
	// brings back the most recent deletion, with the tag it had then.
	s.image("lib/x", "arm64", "c", "u")
	if _, err := client.DeleteManifest(ctx, "lib/x", c.String()); err != nil {
		t.Fatal(err)
	}
	xs := collect(t, client.DeletedManifests(ctx, "lib/x", nil))
	if len(xs) != 2 || xs[0].Digest != c || xs[1].Digest != c || !xs[0].DeletedOn.Before(xs[1].DeletedOn) ||
		!slices.Equal(xs[0].Tags, []string{"t"}) || !slices.Equal(xs[1].Tags, []string{"u"}) {
		t.Fatalf("c deleted twice: got %+v, want two entries, tags [t] then [u]", xs)
	}
	if p, err := client.RestoreManifest(ctx, "lib/x", c, nil); err != nil || !slices.Equal(p.Tags, []string{"u"}) {
		t.Fatalf("restore of c: %v, tags %q, want [u]", err, p.Tags)
	}
	if ok, err := client.ManifestExists(ctx, "lib/x", "t"); err != nil || ok {
		t.Errorf("the older deletion's tag t came back too (%v, %v)", ok, err)
	}
}

// TestRestoreNothingDeleted restores a live manifest of which nothing was
// deleted: there is nothing to restore (the spec: "Unknown digest in the
// deleted set -> 404 MANIFEST_UNKNOWN"; "if the manifest is not deleted but
// exists, only the tag is restored from the deleted tags"), so the answer
// is not found, and restore does not create tags that were never deleted,
// which would let a token with deleted_restore but without push tag
// images.
func TestRestoreNothingDeleted(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{SoftDeleteRetention: time.Hour, Now: steppingClock()})
	s := newSeeder(t, srv, "", "")
	b := s.image("app", "amd64", "b", "v2")
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	if _, err := client.RestoreManifest(ctx, "app", b, nil); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("restore of live %s, never deleted: got %v, want ErrNotFound", b, err)
	}
	if _, err := client.RestoreManifest(ctx, "app", b, &acr.RestoreOptions{Tag: "brandnew"}); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("restore of the never-deleted tag brandnew onto live %s: got %v, want ErrNotFound", b, err)
	}
	if ok, err := client.ManifestExists(ctx, "app", "brandnew"); err != nil || ok {
		t.Errorf("restore created the tag brandnew, which was never deleted (%v, %v)", ok, err)
	}
}

// TestDeletedPaging lists more deleted repositories, manifests and tags
// than a page holds: each listing follows the registry's Link across pages
// and yields every entry once, in order.
func TestDeletedPaging(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{SoftDeleteRetention: time.Hour, Now: steppingClock()})
	s := newSeeder(t, srv, "", "")
	var digests []digest.Digest
	for i := range 5 {
		digests = append(digests, s.image("app", "amd64", fmt.Sprint(i), fmt.Sprintf("v%d", i), fmt.Sprintf("w%d", i)))
		s.image(fmt.Sprintf("r%d", i), "amd64", fmt.Sprint(i), "x")
	}
	setup, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	for i, d := range digests {
		if _, err := setup.DeleteManifest(ctx, "app", d.String()); err != nil {
			t.Fatal(err)
		}
		if err := setup.DeleteTag(ctx, fmt.Sprintf("r%d", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	ct := &countingTransport{suffix: ""}
	client, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{PageSize: 2, HTTPClient: &http.Client{Transport: ct}})

	repos := collect(t, client.DeletedRepositories(ctx, nil))
	if want := []string{"app", "r0", "r1", "r2", "r3", "r4"}; !slices.Equal(repos, want) {
		t.Errorf("deleted repositories in pages of 2: got %q, want %q", repos, want)
	}
	ms := collect(t, client.DeletedManifests(ctx, "app", nil))
	var gotDigests []digest.Digest
	for _, m := range ms {
		gotDigests = append(gotDigests, m.Digest)
	}
	wantDigests := slices.Clone(digests)
	slices.Sort(wantDigests)
	if !slices.Equal(gotDigests, wantDigests) {
		t.Errorf("deleted manifests in pages of 2: got %v, want %v (digest order)", gotDigests, wantDigests)
	}
	ts := collect(t, client.DeletedTags(ctx, "app", nil))
	var names []string
	for _, tg := range ts {
		names = append(names, tg.Name)
		if want := digests[tg.Name[1]-'0']; tg.Digest != want {
			t.Errorf("deleted tag %s: digest %s, want %s", tg.Name, tg.Digest, want)
		}
	}
	if want := []string{"v0", "v1", "v2", "v3", "v4", "w0", "w1", "w2", "w3", "w4"}; !slices.Equal(names, want) {
		t.Errorf("deleted tags in pages of 2: got %q, want %q", names, want)
	}
	// 6 repositories, 5 manifests and 10 tags in pages of 2 take at least
	// 3 + 3 + 5 requests, besides the probe of the /acr/v1 API.
	if n := ct.n.Load(); n < 11 {
		t.Errorf("the listings took %d requests; pages of 2 need at least 11", n)
	}
}

func ExampleClient_RestoreManifest() {
	registry := exampleRegistryWithSoftDelete()
	defer registry.Close()
	ctx := context.Background()

	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	// A cleanup deletes the image tagged v1 by mistake.
	if _, err := client.DeleteManifest(ctx, "library/hello-world", "v1"); err != nil {
		log.Fatal(err)
	}
	// The registry keeps it: find the most recent deletion of the tag
	// (the last in the listing) and restore its manifest with its tags.
	var last acr.DeletedTag
	for t, err := range client.DeletedTags(ctx, "library/hello-world", nil) {
		if err != nil {
			log.Fatal(err)
		}
		if t.Name == "v1" {
			last = t
		}
	}
	fmt.Printf("v1 was deleted; it can be restored for %.0f days\n", last.ExpiresOn.Sub(last.DeletedOn).Hours()/24)
	m, err := client.RestoreManifest(ctx, "library/hello-world", last.Digest, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("restored with tags", m.Tags, "same digest:", m.Digest == last.Digest)
	// Output:
	// v1 was deleted; it can be restored for 7 days
	// restored with tags [v1] same digest: true
}

// exampleRegistryWithSoftDelete is exampleRegistry's library/hello-world
// (v1 to v5 and latest) on a registry that keeps deletions for 7 days.
func exampleRegistryWithSoftDelete() *httptest.Server {
	reg, err := emulator.New(&emulator.Options{AADTokens: []string{"example-entra-token"}, Users: map[string]string{"seed": "seed"},
		SoftDeleteRetention: 7 * 24 * time.Hour})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(reg)
	s := &seeder{t: fatalTB{}, base: hs.URL, user: "seed", pass: "seed"}
	for i := 1; i <= 5; i++ {
		tags := []string{fmt.Sprintf("v%d", i)}
		if i == 5 {
			tags = append(tags, "latest")
		}
		s.image("library/hello-world", "amd64", fmt.Sprint(i), tags...)
	}
	return hs
}
