package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// softDeleteRetention is how long the tests' registries keep deletions.
const softDeleteRetention = 7 * 24 * time.Hour

// newSoftDeleteFixture is newFixture on a registry that keeps deletions
// for softDeleteRetention, with a clock that advances a second per
// reading, so that deletion times order.
func newSoftDeleteFixture(t *testing.T, auth bool) *fixture {
	t.Helper()
	f := &fixture{t: t, auth: auth, config: t.TempDir()}
	t.Setenv("DOCKER_CONFIG", f.config)
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var n atomic.Int64
	opts := &emulator.Options{SoftDeleteRetention: softDeleteRetention,
		Now: func() time.Time { return t0.Add(time.Duration(n.Add(1)) * time.Second) }}
	var cred acr.Credential
	if auth {
		opts.Users = map[string]string{testUser: testPassword}
		cred = acr.BasicCredential(testUser, testPassword)
	}
	f.srv = acrtest.NewServer(t, opts)
	c, err := acr.NewClient(f.srv.Host, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	if auth {
		acrctl(t, testPassword+"\n", "login", f.srv.Host, "-u", testUser, "--password-stdin").ok(t)
	}
	return f
}

// seedDeletions pushes hello (one:v1, two:v2 and latest) and lib/x
// (three:t), then deletes with acrctl: the tag hello:v2, the manifest
// hello:v1 (by tag), and the repository lib/x.
func seedDeletions(t *testing.T, f *fixture) map[string]testImage {
	imgs := map[string]testImage{
		"one":   f.pushImage("hello", "one", "v1"),
		"two":   f.pushImage("hello", "two", "v2", "latest"),
		"three": f.pushImage("lib/x", "three", "t"),
	}
	f.run("", "tag", "delete", f.ref("hello:v2")).ok(t)
	f.run("", "manifest", "delete", f.ref("hello:v1"), "--yes").ok(t)
	f.run("", "repo", "delete", f.ref("lib/x"), "--yes").ok(t)
	return imgs
}

// resolves checks that repo:tag names want.
func (f *fixture) resolves(repo, tag string, want digest.Digest) {
	f.t.Helper()
	if d, err := f.client.ResolveDigest(f.t.Context(), repo, tag); err != nil || d != want {
		f.t.Errorf("%s:%s names %s (%v), want %s", repo, tag, d, err, want)
	}
}

// readsBack checks that the manifest of img reads back byte-identical.
func (f *fixture) readsBack(repo string, img testImage) {
	f.t.Helper()
	m, err := f.client.GetManifest(f.t.Context(), repo, img.digest.String(), nil)
	if err != nil {
		f.t.Errorf("%s@%s: %v", repo, img.digest, err)
		return
	}
	if m.Digest != img.digest || !bytes.Equal(m.Bytes, img.bytes) {
		f.t.Errorf("%s@%s reads back %s, %d bytes; want the pushed %d bytes", repo, img.digest, m.Digest, len(m.Bytes), len(img.bytes))
	}
}

func TestDeletedLists(t *testing.T) {
	for _, mode := range []string{"open", "auth"} {
		t.Run(mode, func(t *testing.T) {
			f := newSoftDeleteFixture(t, mode == "auth")
			imgs := seedDeletions(t, f)
			r := f.run("", "repo", "list-deleted", f.srv.Host).ok(t)
			golden(t, "repo-list-deleted.txt", r.stdout, f.srv.Host)
			r = f.run("", "repo", "list-deleted", f.srv.Host, "--output", "json").ok(t)
			golden(t, "repo-list-deleted.json", r.stdout, f.srv.Host)
			r = f.run("", "manifest", "list-deleted", f.ref("hello")).ok(t)
			golden(t, "manifest-list-deleted.txt", r.stdout, f.srv.Host)
			r = f.run("", "manifest", "list-deleted", f.ref("lib/x"), "--output", "json").ok(t)
			golden(t, "manifest-list-deleted.json", r.stdout, f.srv.Host)
			r = f.run("", "tag", "list-deleted", f.ref("hello")).ok(t)
			golden(t, "tag-list-deleted.txt", r.stdout, f.srv.Host)
			r = f.run("", "tag", "list-deleted", f.ref("hello:v1"), "--output", "json").ok(t)
			golden(t, "tag-list-deleted-v1.json", r.stdout, f.srv.Host)

			// The JSON carries the values: digests, tags, and deletion
			// times that order and expire after the retention.
			r = f.run("", "manifest", "list-deleted", f.ref("hello"), "--output", "json").ok(t)
			var ms struct {
				Manifests []struct {
					Digest    string    `json:"digest"`
					Tags      []string  `json:"tags"`
					DeletedOn time.Time `json:"deletedAt"`
					ExpiresOn time.Time `json:"expiresAfter"`
				} `json:"manifests"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil {
				t.Fatal(err)
			}
			if len(ms.Manifests) != 1 || ms.Manifests[0].Digest != imgs["one"].digest.String() || strings.Join(ms.Manifests[0].Tags, ",") != "v1" ||
				ms.Manifests[0].ExpiresOn.Sub(ms.Manifests[0].DeletedOn) != softDeleteRetention {
				t.Errorf("manifest list-deleted: got %+v", ms)
			}
			r = f.run("", "tag", "list-deleted", f.ref("hello"), "--output", "json").ok(t)
			var ts struct {
				Tags []struct {
					Name      string    `json:"tag"`
					Digest    string    `json:"digest"`
					DeletedOn time.Time `json:"deletedAt"`
				} `json:"tags"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &ts); err != nil {
				t.Fatal(err)
			}
			if len(ts.Tags) != 2 || ts.Tags[0].Name != "v1" || ts.Tags[0].Digest != imgs["one"].digest.String() ||
				ts.Tags[1].Name != "v2" || ts.Tags[1].Digest != imgs["two"].digest.String() ||
				!ts.Tags[1].DeletedOn.Before(ts.Tags[0].DeletedOn) {
				t.Errorf("tag list-deleted: got %+v; want v1 on one, v2 on two, v2 deleted first", ts)
			}

			// Nothing deleted: an empty table says so on stderr, JSON
			// lists nothing.
			f.pushImage("clean", "four", "v1")
			r = f.run("", "manifest", "list-deleted", f.ref("clean")).ok(t)
			if r.stdout != "" || !strings.Contains(r.stderr, f.ref("clean")+" has no deleted manifests") {
				t.Errorf("no deleted manifests: stdout %q, stderr %q", r.stdout, r.stderr)
			}
			r = f.run("", "tag", "list-deleted", f.ref("hello:nope"), "--output", "json").ok(t)
			if !strings.Contains(r.stdout, `"tags": []`) {
				t.Errorf("no deletions of hello:nope: got %s", r.stdout)
			}
		})
	}
}

func TestRestoreByTagAndDigest(t *testing.T) {
	for _, mode := range []string{"open", "auth"} {
		t.Run(mode, func(t *testing.T) {
			f := newSoftDeleteFixture(t, mode == "auth")
			imgs := seedDeletions(t, f)
			// hello:v1 is pushed again, on three, and deleted again: two
			// deletions of v1, the most recent on three.
			imgs["hello-three"] = f.pushImage("hello", "three", "v1")
			f.run("", "tag", "delete", f.ref("hello:v1")).ok(t)
			r := f.run("", "tag", "list-deleted", f.ref("hello:v1")).ok(t)
			golden(t, "tag-list-deleted-v1.txt", r.stdout, f.srv.Host)

			// By tag, the most recent deletion comes back.
			r = f.run("", "manifest", "restore", f.ref("hello:v1")).ok(t)
			golden(t, "manifest-restore-tag.txt", r.stdout, f.srv.Host)
			if !strings.Contains(r.stderr, "deleted 2 times; restoring its most recent deletion") {
				t.Errorf("stderr does not say which deletion was restored: %q", r.stderr)
			}
			f.resolves("hello", "v1", imgs["hello-three"].digest)

			// By digest, one comes back with its old tag v1, which now
			// names three: refused without --force, with the fix.
			one := f.ref("hello@" + imgs["one"].digest.String())
			f.run("", "manifest", "restore", one).fails(t, 1, "cannot restore "+one, "a tag it had when deleted (v1) now points at another manifest", "TAG_IN_USE",
				"fix: pass --force", "--tag OTHER")
			f.resolves("hello", "v1", imgs["hello-three"].digest)
			if _, err := f.client.GetManifest(t.Context(), "hello", imgs["one"].digest.String(), nil); err == nil {
				t.Errorf("the refused restore restored %s", imgs["one"].digest)
			}
			r = f.run("", "manifest", "restore", one, "--force", "--output", "json").ok(t)
			golden(t, "manifest-restore.json", r.stdout, f.srv.Host)
			var m struct {
				Digest string   `json:"digest"`
				Tags   []string `json:"tags"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
				t.Fatal(err)
			}
			if m.Digest != imgs["one"].digest.String() || strings.Join(m.Tags, ",") != "v1" {
				t.Errorf("restored: got %+v, want one with v1", m)
			}
			f.resolves("hello", "v1", imgs["one"].digest)
			f.readsBack("hello", imgs["one"])

			// A deleted tag goes back onto a live manifest by digest with
			// --tag; a whole repository comes back manifest by manifest.
			r = f.run("", "manifest", "restore", f.ref("hello@"+imgs["two"].digest.String()), "--tag", "v2").ok(t)
			golden(t, "manifest-restore-digest.txt", r.stdout, f.srv.Host)
			f.resolves("hello", "v2", imgs["two"].digest)
			f.run("", "manifest", "restore", f.ref("lib/x@"+imgs["three"].digest.String())).ok(t)
			f.resolves("lib/x", "t", imgs["three"].digest)
			f.readsBack("lib/x", imgs["three"])

			// Nothing left to restore.
			r = f.run("", "manifest", "list-deleted", f.ref("hello"), "--output", "json").ok(t)
			if !strings.Contains(r.stdout, `"manifests": []`) {
				t.Errorf("after the restores, hello still lists deleted manifests: %s", r.stdout)
			}
			never := digest.FromString("never pushed").String()
			f.run("", "manifest", "restore", f.ref("hello@"+never)).fails(t, 1, f.ref("hello@"+never)+" has no deletion to restore",
				"MANIFEST_UNKNOWN", "fix: acrctl manifest list-deleted "+f.ref("hello"))
			f.run("", "manifest", "restore", f.ref("hello:nope")).fails(t, 1, f.ref("hello")+" has no deleted tag nope",
				"acrctl tag list-deleted "+f.ref("hello"))
		})
	}
}

func TestDeletedErrors(t *testing.T) {
	f := newSoftDeleteFixture(t, false)
	d := "sha256:" + strings.Repeat("a", 64)
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"restore without tag or digest", []string{"manifest", "restore", f.ref("hello")}, 2, []string{"names no tag or digest"}},
		{"restore by tag with --tag", []string{"manifest", "restore", f.ref("hello:v1"), "--tag", "v2"}, 2, []string{"--tag goes with HOST/REPO@DIGEST"}},
		{"restore with a bad --tag", []string{"manifest", "restore", f.ref("hello@" + d), "--tag", "no good"}, 2, []string{`--tag "no good" is not a valid tag`}},
		{"list-deleted manifests of a tag", []string{"manifest", "list-deleted", f.ref("hello:v1")}, 2, []string{"takes a repository"}},
		{"list-deleted tags by digest", []string{"tag", "list-deleted", f.ref("hello@" + d)}, 2, []string{"names a digest", f.ref("hello") + "[:TAG]"}},
		{"list-deleted repositories of a repository", []string{"repo", "list-deleted", f.ref("hello")}, 2, []string{"not a registry host"}},
	} {
		t.Run(tc.name, func(t *testing.T) { acrctl(t, "", tc.args...).fails(t, tc.code, tc.want...) })
	}

	// A registry without soft delete: the fix says how to turn it on.
	off := newFixture(t, false)
	off.pushImage("hello", "one", "v1")
	for _, args := range [][]string{
		{"repo", "list-deleted", off.srv.Host},
		{"manifest", "list-deleted", off.ref("hello")},
		{"tag", "list-deleted", off.ref("hello")},
		{"manifest", "restore", off.ref("hello:v1")},
	} {
		acrctl(t, "", args...).fails(t, 1, "refused to list", "fix: soft delete must be on", "acrctl serve --soft-delete DAYS")
	}
}
