package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr/emulator/store"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

func repo(name string, sec int) store.Repository {
	return store.Repository{Name: name, CreatedAt: at(sec), UpdatedAt: at(sec + 1), Attrs: store.DefaultAttributes()}
}

// manifest returns a manifest with every field set.
func manifest(name string, sec int) store.Manifest {
	return store.Manifest{
		Digest:          fakeDigest("manifest " + name),
		MediaType:       "application/vnd.oci.image.manifest.v1+json",
		Size:            int64(100 + sec),
		ArtifactType:    "application/vnd.example+type",
		ConfigMediaType: "application/vnd.oci.image.config.v1+json",
		Subject:         fakeDigest("subject " + name),
		Architecture:    "amd64",
		OS:              "linux",
		ImageSize:       int64(1000 + sec),
		Annotations:     map[string]string{"org.opencontainers.image.title": name, "k": "v"},
		Blobs:           []digest.Digest{fakeDigest("config " + name), fakeDigest("layer " + name)},
		Children:        []store.Platform{{Digest: fakeDigest("child " + name), Architecture: "arm64", OS: "linux"}},
		CreatedAt:       at(sec),
		UpdatedAt:       at(sec + 2),
		Attrs:           store.Attributes{DeleteEnabled: true, ReadEnabled: true},
	}
}

func tag(name string, d digest.Digest, sec int) store.Tag {
	return store.Tag{Name: name, Digest: d, CreatedAt: at(sec), UpdatedAt: at(sec + 3), Attrs: store.DefaultAttributes()}
}

func link(d digest.Digest, size int64) store.BlobLink {
	return store.BlobLink{Digest: d, Size: size, CreatedAt: at(int(size))}
}

func names[T any](items []T, name func(T) string) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = name(it)
	}
	return out
}

func repoName(r store.Repository) string { return r.Name }
func tagName(t store.Tag) string         { return t.Name }

func testRepos(t *testing.T, s store.Store) {
	view(t, s, func(tx store.Tx) error {
		if _, ok, err := tx.Repo("a"); ok || err != nil {
			t.Errorf("Repo of an empty store: got ok=%v, err=%v, want false, nil", ok, err)
		}
		if got := collect(t, tx.Repos("")); len(got) != 0 {
			t.Errorf("Repos of an empty store: got %v, want none", got)
		}
		return nil
	})
	all := []string{"b", "a/x", "a", "a-b", "c/d/e", "a/x/y", "z"}
	update(t, s, func(tx store.Tx) error {
		for i, name := range all {
			if err := tx.PutRepo(repo(name, i)); err != nil {
				return err
			}
		}
		// Content without a record does not make a repository.
		return tx.PutTag("norecord", tag("t", fakeDigest("x"), 0))
	})
	sorted := slices.Sorted(slices.Values(all))
	view(t, s, func(tx store.Tx) error {
		for i, name := range all {
			got, ok, err := tx.Repo(name)
			if err != nil || !ok {
				t.Fatalf("Repo(%q): got ok=%v, err=%v", name, ok, err)
			}
			if diff := cmp.Diff(repo(name, i), got, opts); diff != "" {
				t.Errorf("Repo(%q) mismatch (-want +got):\n%s", name, diff)
			}
		}
		if _, ok, _ := tx.Repo("norecord"); ok {
			t.Errorf("Repo(norecord): got ok, want missing")
		}
		for _, tc := range []struct {
			after string
			want  []string
		}{
			{"", sorted},
			{"a", sorted[1:]},
			{"a/", []string{"a/x", "a/x/y", "b", "c/d/e", "z"}},
			{"b", []string{"c/d/e", "z"}},
			{"z", nil},
			{"zz", nil},
		} {
			got := names(collect(t, tx.Repos(tc.after)), repoName)
			if diff := cmp.Diff(tc.want, got, opts); diff != "" {
				t.Errorf("Repos(%q) mismatch (-want +got):\n%s", tc.after, diff)
			}
		}
		return nil
	})

	// Overwrite.
	changed := repo("b", 50)
	changed.Attrs = store.Attributes{ReadEnabled: true}
	changed.BlobsOnly = true
	update(t, s, func(tx store.Tx) error { return tx.PutRepo(changed) })
	view(t, s, func(tx store.Tx) error {
		got, _, err := tx.Repo("b")
		must(t, err)
		if diff := cmp.Diff(changed, got, opts); diff != "" {
			t.Errorf("Repo after overwrite mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
}

// fill gives repository name a record and one of every kind of content.
func fillRepo(t *testing.T, tx store.Tx, name string) {
	t.Helper()
	m := manifest(name, 1)
	must(t, tx.PutRepo(repo(name, 0)))
	must(t, tx.PutManifest(name, m))
	must(t, tx.PutTag(name, tag("latest", m.Digest, 2)))
	must(t, tx.PutBlobLink(name, link(m.Blobs[0], 10)))
	must(t, tx.PutReferrer(name, m.Subject, m.Digest))
}

// repoContent is everything the suite can see of a repository.
type repoContent struct {
	Repo      *store.Repository
	Manifests []store.Manifest
	Tags      []store.Tag
	Links     []store.BlobLink
	Referrers map[digest.Digest][]digest.Digest
}

// dump reads a repository, with the referrers of the given subjects.
func dump(t *testing.T, tx store.Tx, name string, subjects ...digest.Digest) repoContent {
	t.Helper()
	var c repoContent
	r, ok, err := tx.Repo(name)
	must(t, err)
	if ok {
		c.Repo = &r
	}
	c.Manifests = collect(t, tx.Manifests(name, ""))
	c.Tags = collect(t, tx.Tags(name, ""))
	c.Links = collect(t, tx.BlobLinks(name, ""))
	c.Referrers = make(map[digest.Digest][]digest.Digest)
	for _, sub := range subjects {
		if refs := collect(t, tx.Referrers(name, sub)); len(refs) > 0 {
			c.Referrers[sub] = refs
		}
	}
	return c
}

func testDeleteRepo(t *testing.T, s store.Store) {
	repos := []string{"r", "r2", "r/sub", "q"}
	update(t, s, func(tx store.Tx) error {
		for _, n := range repos {
			fillRepo(t, tx, n)
		}
		return nil
	})
	var before map[string]repoContent
	view(t, s, func(tx store.Tx) error {
		before = make(map[string]repoContent)
		for _, n := range repos {
			before[n] = dump(t, tx, n, manifest(n, 1).Subject)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error { return tx.DeleteRepo("r") })
	update(t, s, func(tx store.Tx) error { return tx.DeleteRepo("missing") })
	view(t, s, func(tx store.Tx) error {
		if got := dump(t, tx, "r", manifest("r", 1).Subject); !cmp.Equal(repoContent{}, got, opts) {
			t.Errorf("deleted repository still holds %+v", got)
		}
		if _, ok, _ := tx.Manifest("r", manifest("r", 1).Digest); ok {
			t.Errorf("Manifest of a deleted repository: got ok")
		}
		if _, ok, _ := tx.Tag("r", "latest"); ok {
			t.Errorf("Tag of a deleted repository: got ok")
		}
		if _, ok, _ := tx.BlobLink("r", manifest("r", 1).Blobs[0]); ok {
			t.Errorf("BlobLink of a deleted repository: got ok")
		}
		for _, n := range repos[1:] {
			if diff := cmp.Diff(before[n], dump(t, tx, n, manifest(n, 1).Subject), opts); diff != "" {
				t.Errorf("repository %q changed when r was deleted (-want +got):\n%s", n, diff)
			}
		}
		if got := names(collect(t, tx.Repos("")), repoName); !cmp.Equal([]string{"q", "r/sub", "r2"}, got) {
			t.Errorf("Repos after DeleteRepo: got %v", got)
		}
		return nil
	})
	// A repository created again under the name starts empty.
	update(t, s, func(tx store.Tx) error { return tx.PutRepo(repo("r", 9)) })
	view(t, s, func(tx store.Tx) error {
		got := dump(t, tx, "r", manifest("r", 1).Subject)
		r := repo("r", 9)
		if diff := cmp.Diff(repoContent{Repo: &r}, got, opts); diff != "" {
			t.Errorf("recreated repository mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testManifests(t *testing.T, s store.Store) {
	ms := []store.Manifest{manifest("one", 1), manifest("two", 2), manifest("three", 3)}
	bare := store.Manifest{Digest: fakeDigest("bare"), MediaType: "application/vnd.oci.image.index.v1+json", CreatedAt: at(4), UpdatedAt: at(4)}
	ms = append(ms, bare)
	update(t, s, func(tx store.Tx) error {
		for _, m := range ms {
			if err := tx.PutManifest("repo", m); err != nil {
				return err
			}
		}
		return tx.PutManifest("other", manifest("elsewhere", 5))
	})
	byDigest := slices.Clone(ms)
	slices.SortFunc(byDigest, func(a, b store.Manifest) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	view(t, s, func(tx store.Tx) error {
		for _, m := range ms {
			got, ok, err := tx.Manifest("repo", m.Digest)
			if err != nil || !ok {
				t.Fatalf("Manifest(%s): got ok=%v, err=%v", m.Digest, ok, err)
			}
			if diff := cmp.Diff(m, got, opts); diff != "" {
				t.Errorf("Manifest(%s) mismatch (-want +got):\n%s", m.Digest, diff)
			}
		}
		if _, ok, _ := tx.Manifest("repo", manifest("elsewhere", 5).Digest); ok {
			t.Errorf("Manifest from another repository: got ok")
		}
		if _, ok, _ := tx.Manifest("nope", ms[0].Digest); ok {
			t.Errorf("Manifest of an unknown repository: got ok")
		}
		for repo, want := range map[string]int{"repo": len(ms), "other": 1, "nope": 0} {
			if n, err := tx.ManifestCount(repo); err != nil || n != want {
				t.Errorf("ManifestCount(%s) = %d, %v; want %d", repo, n, err, want)
			}
		}
		var summaries []store.Manifest
		for _, m := range byDigest {
			m.Annotations = nil
			summaries = append(summaries, m)
		}
		if diff := cmp.Diff(summaries, collect(t, tx.ManifestSummaries("repo", "")), opts); diff != "" {
			t.Errorf("ManifestSummaries mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(byDigest, collect(t, tx.Manifests("repo", "")), opts); diff != "" {
			t.Errorf("Manifests mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(byDigest[2:], collect(t, tx.Manifests("repo", byDigest[1].Digest)), opts); diff != "" {
			t.Errorf("Manifests after the second mismatch (-want +got):\n%s", diff)
		}
		if got := collect(t, tx.Manifests("nope", "")); len(got) != 0 {
			t.Errorf("Manifests of an unknown repository: got %d", len(got))
		}
		return nil
	})

	// Values are copies: changing them changes nothing stored.
	m := manifest("alias", 6)
	update(t, s, func(tx store.Tx) error {
		must(t, tx.PutManifest("repo", m))
		m.Annotations["k"] = "changed"
		m.Blobs[0] = "changed"
		got, _, err := tx.Manifest("repo", m.Digest)
		got.Annotations["k"] = "changed too"
		got.Children[0].OS = "changed"
		return err
	})
	view(t, s, func(tx store.Tx) error {
		got, _, err := tx.Manifest("repo", m.Digest)
		must(t, err)
		if diff := cmp.Diff(manifest("alias", 6), got, opts); diff != "" {
			t.Errorf("stored manifest changed through a value (-want +got):\n%s", diff)
		}
		return nil
	})

	update(t, s, func(tx store.Tx) error {
		must(t, tx.DeleteManifest("repo", ms[0].Digest))
		must(t, tx.DeleteManifest("repo", fakeDigest("never stored")))
		return tx.DeleteManifest("nope", ms[0].Digest)
	})
	view(t, s, func(tx store.Tx) error {
		if _, ok, _ := tx.Manifest("repo", ms[0].Digest); ok {
			t.Errorf("Manifest after DeleteManifest: got ok")
		}
		if got := len(collect(t, tx.Manifests("repo", ""))); got != len(ms) {
			t.Errorf("Manifests after one delete and one put: got %d, want %d", got, len(ms))
		}
		return nil
	})
}

func testTags(t *testing.T, s store.Store) {
	all := []string{"latest", "v1.9", "v1.10", "v1.0", "A", "a", "a.b", "a-b", "a_b", "a0", "Z9"}
	update(t, s, func(tx store.Tx) error {
		for i, n := range all {
			if err := tx.PutTag("repo", tag(n, fakeDigest(n), i)); err != nil {
				return err
			}
		}
		return tx.PutTag("other", tag("elsewhere", fakeDigest("x"), 0))
	})
	sorted := slices.Sorted(slices.Values(all))
	view(t, s, func(tx store.Tx) error {
		for i, n := range all {
			got, ok, err := tx.Tag("repo", n)
			if err != nil || !ok {
				t.Fatalf("Tag(%q): got ok=%v, err=%v", n, ok, err)
			}
			if diff := cmp.Diff(tag(n, fakeDigest(n), i), got, opts); diff != "" {
				t.Errorf("Tag(%q) mismatch (-want +got):\n%s", n, diff)
			}
		}
		for repo, want := range map[string]int{"repo": len(all), "other": 1, "nope": 0} {
			if n, err := tx.TagCount(repo); err != nil || n != want {
				t.Errorf("TagCount(%s) = %d, %v; want %d", repo, n, err, want)
			}
		}
		if _, ok, _ := tx.Tag("repo", "elsewhere"); ok {
			t.Errorf("Tag from another repository: got ok")
		}
		for _, after := range []string{"", "A", "a", "a.", "latest", "v1.9", "zzz"} {
			var want []string
			for _, n := range sorted {
				if n > after {
					want = append(want, n)
				}
			}
			if diff := cmp.Diff(want, names(collect(t, tx.Tags("repo", after)), tagName), opts); diff != "" {
				t.Errorf("Tags(%q) mismatch (-want +got):\n%s", after, diff)
			}
		}
		return nil
	})
	moved := tag("latest", fakeDigest("moved"), 40)
	update(t, s, func(tx store.Tx) error {
		must(t, tx.PutTag("repo", moved))
		must(t, tx.DeleteTag("repo", "a"))
		must(t, tx.DeleteTag("repo", "never"))
		return tx.DeleteTag("nope", "a")
	})
	view(t, s, func(tx store.Tx) error {
		got, _, err := tx.Tag("repo", "latest")
		must(t, err)
		if diff := cmp.Diff(moved, got, opts); diff != "" {
			t.Errorf("Tag after overwrite mismatch (-want +got):\n%s", diff)
		}
		if _, ok, _ := tx.Tag("repo", "a"); ok {
			t.Errorf("Tag after DeleteTag: got ok")
		}
		want := slices.DeleteFunc(slices.Clone(sorted), func(n string) bool { return n == "a" })
		if diff := cmp.Diff(want, names(collect(t, tx.Tags("repo", "")), tagName)); diff != "" {
			t.Errorf("Tags after delete mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
}

// testTagsPaging pages through 20,000 tags the way the tag list endpoint
// does: one short transaction per page, resuming after the last tag seen.
func testTagsPaging(t *testing.T, s store.Store) {
	const n, page = 20000, 100
	all := make([]string, n)
	for i := range all {
		all[i] = fmt.Sprintf("tag-%05d", i)
	}
	shuffled := slices.Clone(all)
	rand.New(rand.NewPCG(1, 2)).Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	d := fakeDigest("m")
	update(t, s, func(tx store.Tx) error {
		for _, name := range shuffled {
			if err := tx.PutTag("repo", tag(name, d, 0)); err != nil {
				return err
			}
		}
		return nil
	})
	var got []string
	last := ""
	for {
		var pageNames []string
		view(t, s, func(tx store.Tx) error {
			for tg, err := range tx.Tags("repo", last) {
				if err != nil {
					return err
				}
				pageNames = append(pageNames, tg.Name)
				if len(pageNames) == page {
					break
				}
			}
			return nil
		})
		if len(pageNames) == 0 {
			break
		}
		got = append(got, pageNames...)
		last = pageNames[len(pageNames)-1]
	}
	if !slices.Equal(all, got) {
		t.Fatalf("paging through %d tags: got %d tags, first mismatch at %d", n, len(got), firstDiff(all, got))
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func testBlobLinks(t *testing.T, s store.Store) {
	var ls []store.BlobLink
	update(t, s, func(tx store.Tx) error {
		for i := range 10 {
			l := link(fakeDigest(fmt.Sprint("blob", i)), int64(i))
			ls = append(ls, l)
			if err := tx.PutBlobLink("repo", l); err != nil {
				return err
			}
		}
		return tx.PutBlobLink("other", link(fakeDigest("elsewhere"), 1))
	})
	slices.SortFunc(ls, func(a, b store.BlobLink) int { return strings.Compare(string(a.Digest), string(b.Digest)) })
	view(t, s, func(tx store.Tx) error {
		for _, l := range ls {
			got, ok, err := tx.BlobLink("repo", l.Digest)
			if err != nil || !ok {
				t.Fatalf("BlobLink(%s): got ok=%v, err=%v", l.Digest, ok, err)
			}
			if diff := cmp.Diff(l, got, opts); diff != "" {
				t.Errorf("BlobLink mismatch (-want +got):\n%s", diff)
			}
		}
		if _, ok, _ := tx.BlobLink("repo", fakeDigest("elsewhere")); ok {
			t.Errorf("BlobLink from another repository: got ok")
		}
		if diff := cmp.Diff(ls, collect(t, tx.BlobLinks("repo", "")), opts); diff != "" {
			t.Errorf("BlobLinks mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(ls[5:], collect(t, tx.BlobLinks("repo", ls[4].Digest)), opts); diff != "" {
			t.Errorf("BlobLinks after the fifth mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		must(t, tx.DeleteBlobLink("repo", ls[0].Digest))
		return tx.DeleteBlobLink("repo", fakeDigest("never"))
	})
	view(t, s, func(tx store.Tx) error {
		if _, ok, _ := tx.BlobLink("repo", ls[0].Digest); ok {
			t.Errorf("BlobLink after DeleteBlobLink: got ok")
		}
		if diff := cmp.Diff(ls[1:], collect(t, tx.BlobLinks("repo", "")), opts); diff != "" {
			t.Errorf("BlobLinks after delete mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
}

func testReferrers(t *testing.T, s store.Store) {
	s1, s2 := fakeDigest("subject 1"), fakeDigest("subject 2")
	var refs []digest.Digest
	for i := range 5 {
		refs = append(refs, fakeDigest(fmt.Sprint("referrer", i)))
	}
	sha512Ref := digest.SHA512.FromString("referrer 512")
	update(t, s, func(tx store.Tx) error {
		for _, r := range refs {
			must(t, tx.PutReferrer("repo", s1, r))
		}
		must(t, tx.PutReferrer("repo", s1, refs[0])) // again: no duplicate
		must(t, tx.PutReferrer("repo", s1, sha512Ref))
		must(t, tx.PutReferrer("repo", s2, refs[0]))
		return tx.PutReferrer("other", s1, fakeDigest("elsewhere"))
	})
	want := slices.Sorted(slices.Values(append(slices.Clone(refs), sha512Ref)))
	view(t, s, func(tx store.Tx) error {
		if diff := cmp.Diff(want, collect(t, tx.Referrers("repo", s1))); diff != "" {
			t.Errorf("Referrers(s1) mismatch (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]digest.Digest{refs[0]}, collect(t, tx.Referrers("repo", s2))); diff != "" {
			t.Errorf("Referrers(s2) mismatch (-want +got):\n%s", diff)
		}
		if got := collect(t, tx.Referrers("repo", fakeDigest("no referrers"))); len(got) != 0 {
			t.Errorf("Referrers of a subject without any: got %v", got)
		}
		if got := collect(t, tx.Referrers("nope", s1)); len(got) != 0 {
			t.Errorf("Referrers in an unknown repository: got %v", got)
		}
		return nil
	})
	update(t, s, func(tx store.Tx) error {
		must(t, tx.DeleteReferrer("repo", s1, want[1]))
		must(t, tx.DeleteReferrer("repo", s2, refs[0]))
		must(t, tx.DeleteReferrer("repo", s2, refs[0]))
		return tx.DeleteReferrer("nope", s1, refs[0])
	})
	view(t, s, func(tx store.Tx) error {
		if diff := cmp.Diff(slices.Delete(slices.Clone(want), 1, 2), collect(t, tx.Referrers("repo", s1))); diff != "" {
			t.Errorf("Referrers(s1) after delete mismatch (-want +got):\n%s", diff)
		}
		if got := collect(t, tx.Referrers("repo", s2)); len(got) != 0 {
			t.Errorf("Referrers(s2) after deleting its only referrer: got %v", got)
		}
		return nil
	})
}

func testEmptyKeys(t *testing.T, s store.Store) {
	d := fakeDigest("x")
	for name, fn := range map[string]func(tx store.Tx) error{
		"PutRepo":               func(tx store.Tx) error { return tx.PutRepo(store.Repository{}) },
		"PutManifest no repo":   func(tx store.Tx) error { return tx.PutManifest("", manifest("m", 0)) },
		"PutManifest no digest": func(tx store.Tx) error { return tx.PutManifest("r", store.Manifest{}) },
		"PutTag":                func(tx store.Tx) error { return tx.PutTag("r", store.Tag{Digest: d}) },
		"PutBlobLink":           func(tx store.Tx) error { return tx.PutBlobLink("r", store.BlobLink{}) },
		"PutReferrer":           func(tx store.Tx) error { return tx.PutReferrer("r", "", d) },
	} {
		if err := s.Update(t.Context(), fn); err == nil {
			t.Errorf("%s with an empty key: got no error", name)
		}
	}
	view(t, s, func(tx store.Tx) error {
		if _, ok, err := tx.Repo(""); ok || err != nil {
			t.Errorf(`Repo(""): got ok=%v, err=%v`, ok, err)
		}
		if _, ok, err := tx.Tag("r", ""); ok || err != nil {
			t.Errorf(`Tag("r", ""): got ok=%v, err=%v`, ok, err)
		}
		if got := collect(t, tx.Referrers("r", "")); len(got) != 0 {
			t.Errorf(`Referrers("r", ""): got %v`, got)
		}
		return nil
	})
}

// snapshot is everything the rollback tests can change.
type snapshot struct {
	Repos   []string
	Content map[string]repoContent
}

// everything dumps the repositories the rollback tests touch.
func everything(t *testing.T, s store.Store) snapshot {
	t.Helper()
	snap := snapshot{Content: make(map[string]repoContent)}
	view(t, s, func(tx store.Tx) error {
		for _, n := range []string{"keep", "gone", "new"} {
			snap.Content[n] = dump(t, tx, n, manifest(n, 1).Subject, fakeDigest("new subject"))
		}
		snap.Repos = names(collect(t, tx.Repos("")), repoName)
		return nil
	})
	return snap
}

// mutate changes every kind of metadata, reading its own writes as it goes.
func mutate(t *testing.T, tx store.Tx) {
	t.Helper()
	must(t, tx.PutRepo(repo("new", 20)))
	must(t, tx.PutRepo(repo("keep", 21)))
	must(t, tx.PutManifest("keep", manifest("keep extra", 22)))
	must(t, tx.DeleteManifest("keep", manifest("keep", 1).Digest))
	moved := tag("latest", fakeDigest("moved"), 23)
	must(t, tx.PutTag("keep", moved))
	if got, _, _ := tx.Tag("keep", "latest"); got.Digest != moved.Digest {
		t.Errorf("a transaction does not read its own write: got %s, want %s", got.Digest, moved.Digest)
	}
	must(t, tx.PutTag("keep", tag("added", fakeDigest("a"), 24)))
	must(t, tx.DeleteBlobLink("keep", manifest("keep", 1).Blobs[0]))
	must(t, tx.PutBlobLink("keep", link(fakeDigest("new link"), 5)))
	must(t, tx.PutReferrer("keep", fakeDigest("new subject"), fakeDigest("r")))
	must(t, tx.DeleteReferrer("keep", manifest("keep", 1).Subject, manifest("keep", 1).Digest))
	must(t, tx.DeleteRepo("gone"))
	if _, ok, _ := tx.Repo("gone"); ok {
		t.Errorf("a transaction does not see its own DeleteRepo")
	}
	must(t, tx.PutTag("gone", tag("reborn", fakeDigest("b"), 25)))
	must(t, tx.PutManifest("new", manifest("new", 1)))
}

func testRollback(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		fillRepo(t, tx, "keep")
		fillRepo(t, tx, "gone")
		return nil
	})
	before := everything(t, s)
	err := s.Update(t.Context(), func(tx store.Tx) error {
		mutate(t, tx)
		return fmt.Errorf("wrapped: %w", errBoom)
	})
	wantErr(t, "Update whose function fails", err, errBoom)
	if diff := cmp.Diff(before, everything(t, s), opts); diff != "" {
		t.Fatalf("a failed Update changed the store (-before +after):\n%s", diff)
	}
	// The same changes commit when the function succeeds.
	update(t, s, func(tx store.Tx) error { mutate(t, tx); return nil })
	if cmp.Equal(before, everything(t, s), opts) {
		t.Fatalf("a successful Update changed nothing")
	}
}

func testRollbackPanic(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error {
		fillRepo(t, tx, "keep")
		fillRepo(t, tx, "gone")
		return nil
	})
	before := everything(t, s)
	func() {
		defer func() {
			if r := recover(); r != errBoom {
				t.Fatalf("recovered %v, want the function's panic", r)
			}
		}()
		s.Update(t.Context(), func(tx store.Tx) error {
			mutate(t, tx)
			panic(errBoom)
		})
	}()
	if diff := cmp.Diff(before, everything(t, s), opts); diff != "" {
		t.Fatalf("a panicking Update changed the store (-before +after):\n%s", diff)
	}
	update(t, s, func(tx store.Tx) error { return tx.PutRepo(repo("after", 0)) }) // not deadlocked
}

func testReadOnlyTx(t *testing.T, s store.Store) {
	d := fakeDigest("x")
	view(t, s, func(tx store.Tx) error {
		for name, err := range map[string]error{
			"PutRepo":        tx.PutRepo(repo("r", 0)),
			"DeleteRepo":     tx.DeleteRepo("r"),
			"PutManifest":    tx.PutManifest("r", manifest("m", 0)),
			"DeleteManifest": tx.DeleteManifest("r", d),
			"PutTag":         tx.PutTag("r", tag("t", d, 0)),
			"DeleteTag":      tx.DeleteTag("r", "t"),
			"PutBlobLink":    tx.PutBlobLink("r", link(d, 1)),
			"DeleteBlobLink": tx.DeleteBlobLink("r", d),
			"PutReferrer":    tx.PutReferrer("r", d, d),
			"DeleteReferrer": tx.DeleteReferrer("r", d, d),
		} {
			if !errors.Is(err, store.ErrReadOnly) {
				t.Errorf("%s in View: got error %v, want ErrReadOnly", name, err)
			}
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		if got := collect(t, tx.Repos("")); len(got) != 0 {
			t.Errorf("writes in a View changed the store: %v", got)
		}
		return nil
	})
	// A View returns its function's error.
	if err := s.View(t.Context(), func(store.Tx) error { return errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("View: got error %v, want the function's", err)
	}
}

func testTxAfterReturn(t *testing.T, s store.Store) {
	update(t, s, func(tx store.Tx) error { fillRepo(t, tx, "r"); return nil })
	for _, run := range []func(func(store.Tx) error) error{
		func(fn func(store.Tx) error) error { return s.View(t.Context(), fn) },
		func(fn func(store.Tx) error) error { return s.Update(t.Context(), fn) },
	} {
		var leaked store.Tx
		must(t, run(func(tx store.Tx) error { leaked = tx; return nil }))
		if _, _, err := leaked.Repo("r"); err == nil {
			t.Errorf("Repo on a finished transaction: got no error")
		}
		if err := leaked.PutTag("r", tag("t", fakeDigest("x"), 0)); err == nil {
			t.Errorf("PutTag on a finished transaction: got no error")
		}
		var iterErr error
		for _, err := range leaked.Tags("r", "") {
			iterErr = err
			break
		}
		if iterErr == nil {
			t.Errorf("Tags on a finished transaction: got no error")
		}
	}
}

func testIterateAndWrite(t *testing.T, s store.Store) {
	const n = 300 // several of the disk store's batches
	update(t, s, func(tx store.Tx) error {
		for i := range n {
			must(t, tx.PutTag("repo", tag(fmt.Sprintf("t%03d", i), fakeDigest("m"), i)))
			must(t, tx.PutRepo(repo(fmt.Sprintf("r%03d", i), i)))
		}
		return nil
	})
	// Breaking out of an iterator leaves the transaction usable.
	view(t, s, func(tx store.Tx) error {
		for range tx.Tags("repo", "") {
			break
		}
		for range tx.Repos("") {
			break
		}
		if got := len(collect(t, tx.Tags("repo", "t100"))); got != n-101 {
			t.Errorf("Tags after t100: got %d, want %d", got, n-101)
		}
		return nil
	})
	// Deleting what an iterator yields visits each entry once.
	update(t, s, func(tx store.Tx) error {
		seen := 0
		for tg, err := range tx.Tags("repo", "") {
			if err != nil {
				return err
			}
			if want := fmt.Sprintf("t%03d", seen); tg.Name != want {
				t.Fatalf("deleting while iterating: got %s, want %s", tg.Name, want)
			}
			seen++
			must(t, tx.DeleteTag("repo", tg.Name))
		}
		if seen != n {
			t.Errorf("deleting while iterating: saw %d tags, want %d", seen, n)
		}
		seen = 0
		for r, err := range tx.Repos("") {
			if err != nil {
				return err
			}
			seen++
			must(t, tx.DeleteRepo(r.Name))
		}
		if seen != n {
			t.Errorf("deleting repositories while iterating: saw %d, want %d", seen, n)
		}
		return nil
	})
	view(t, s, func(tx store.Tx) error {
		if got := collect(t, tx.Tags("repo", "")); len(got) != 0 {
			t.Errorf("tags left after deleting all: %d", len(got))
		}
		if got := collect(t, tx.Repos("")); len(got) != 0 {
			t.Errorf("repositories left after deleting all: %d", len(got))
		}
		return nil
	})
}

// testConcurrentUpdates increments a counter from many goroutines: updates
// must be serializable, and views must never see a torn state.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	const workers, rounds = 8, 15
	d := fakeDigest("counter")
	update(t, s, func(tx store.Tx) error {
		return tx.PutManifest("repo", store.Manifest{Digest: d, ImageSize: 0})
	})
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range workers {
		wg.Go(func() {
			for i := range rounds {
				err := s.Update(t.Context(), func(tx store.Tx) error {
					m, _, err := tx.Manifest("repo", d)
					if err != nil {
						return err
					}
					m.ImageSize++
					m.Size = m.ImageSize // Size mirrors ImageSize in every committed state
					if err := tx.PutManifest("repo", m); err != nil {
						return err
					}
					return tx.PutTag("repo", tag(fmt.Sprintf("w%d-%d", w, i), d, 0))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
		wg.Go(func() {
			for range rounds {
				err := s.View(t.Context(), func(tx store.Tx) error {
					m, _, err := tx.Manifest("repo", d)
					if err != nil {
						return err
					}
					if m.Size != m.ImageSize {
						return fmt.Errorf("torn read: Size %d, ImageSize %d", m.Size, m.ImageSize)
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	view(t, s, func(tx store.Tx) error {
		m, _, err := tx.Manifest("repo", d)
		must(t, err)
		if m.ImageSize != workers*rounds {
			t.Errorf("counter: got %d, want %d", m.ImageSize, workers*rounds)
		}
		if got := len(collect(t, tx.Tags("repo", ""))); got != workers*rounds {
			t.Errorf("tags: got %d, want %d", got, workers*rounds)
		}
		return nil
	})
}
