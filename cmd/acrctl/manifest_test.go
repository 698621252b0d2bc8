package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr"
)

func TestManifestList(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		pushTags(f)
		f.pushImage("hello", "untagged")
		r := f.run("", "manifest", "list", f.ref("hello")).ok(t)
		golden(t, "manifest-list.txt", r.stdout, f.srv.Host)
		r = f.run("", "manifest", "ls", f.ref("hello"), "--order", "time-desc").ok(t)
		golden(t, "manifest-list-time-desc.txt", r.stdout, f.srv.Host)
		r = f.run("", "manifest", "list", f.ref("hello"), "--order", "time-desc", "--output", "json").ok(t)
		golden(t, "manifest-list-time-desc.json", r.stdout, f.srv.Host)
	})
}

func TestManifestShow(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		imgs := pushTags(f)
		r := f.run("", "manifest", "show", f.ref("hello:latest")).ok(t)
		golden(t, "manifest-show.txt", r.stdout, f.srv.Host)
		// By digest, the same properties.
		r2 := f.run("", "manifest", "show", f.ref("hello@"+imgs["v3"].digest.String())).ok(t)
		if r2.stdout != r.stdout {
			t.Errorf("show by digest differs from show by tag:\n%s\n%s", r2.stdout, r.stdout)
		}
		r = f.run("", "manifest", "show", f.ref("hello:latest"), "--output", "json").ok(t)
		golden(t, "manifest-show.json", r.stdout, f.srv.Host)
	})
}

func TestManifestGet(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		imgs := pushTags(f)
		// Raw bytes, exactly as pushed, by tag and by digest.
		for _, ref := range []string{"hello:v2", "hello@" + imgs["v2"].digest.String()} {
			r := f.run("", "manifest", "get", f.ref(ref)).ok(t)
			if r.stdout != string(imgs["v2"].bytes) {
				t.Errorf("manifest get %s: got %q, want the pushed bytes %q", ref, r.stdout, imgs["v2"].bytes)
			}
		}
		r := f.run("", "manifest", "get", f.ref("hello:v2"), "--pretty").ok(t)
		golden(t, "manifest-get-pretty.json", r.stdout, f.srv.Host)
		var want bytes.Buffer
		json.Indent(&want, imgs["v2"].bytes, "", "  ")
		if r.stdout != want.String()+"\n" {
			t.Errorf("--pretty: got %q, want the indented bytes", r.stdout)
		}
	})
}

func TestManifestUpdateAndDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		imgs := pushTags(f)
		r := f.run("", "manifest", "update", f.ref("hello:v1"), "--lock").ok(t)
		golden(t, "manifest-update.txt", r.stdout, f.srv.Host)
		f.run("", "manifest", "delete", f.ref("hello:v1")).fails(t, 1, "lock",
			"fix: acrctl manifest update "+f.ref("hello@"+imgs["v1"].digest.String())+" --unlock")
		r = f.run("", "manifest", "update", f.ref("hello@"+imgs["v1"].digest.String()), "--delete-enabled", "true", "--write-enabled", "true", "--output", "json").ok(t)
		golden(t, "manifest-update.json", r.stdout, f.srv.Host)
		r = f.run("", "manifest", "delete", f.ref("hello:v1")).ok(t)
		golden(t, "manifest-delete.txt", r.stdout, f.srv.Host)
		if _, err := f.client.GetManifest(t.Context(), "hello", imgs["v1"].digest.String()); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
		// Deleting by digest removes every tag pointing at it.
		f.run("", "manifest", "rm", f.ref("hello@"+imgs["v3"].digest.String())).ok(t)
		for _, tag := range []string{"v3", "latest"} {
			if _, err := f.client.GetTagProperties(t.Context(), "hello", tag); !errors.Is(err, acr.ErrNotFound) {
				t.Errorf("tag %s after its manifest was deleted: got %v, want ErrNotFound", tag, err)
			}
		}
	})
}

func TestManifestErrors(t *testing.T) {
	f := newFixture(t, false)
	imgs := pushTags(f)
	missing := "sha256:" + imgs["v1"].digest.Encoded()[:63] + "0"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no tag or digest", []string{"manifest", "show", f.ref("hello")}, 2, []string{"names no tag or digest"}},
		{"bad digest", []string{"manifest", "get", f.ref("hello@sha256:zz")}, 2, []string{"invalid reference"}},
		{"missing tag", []string{"manifest", "get", f.ref("hello:nope")}, 1, []string{"not found", "acrctl tag list " + f.ref("hello")}},
		{"missing digest", []string{"manifest", "show", f.ref("hello@" + missing)}, 1, []string{"not found", "acrctl manifest list " + f.ref("hello")}},
		{"missing repo", []string{"manifest", "list", f.ref("nope")}, 1, []string{"not found"}},
		{"nothing to update", []string{"manifest", "update", f.ref("hello:v1")}, 2, []string{"nothing to update"}},
		{"referrers of a missing tag", []string{"manifest", "referrers", f.ref("hello:nope")}, 1, []string{"not found", "acrctl tag list " + f.ref("hello")}},
		{"referrers without a tag", []string{"manifest", "referrers", f.ref("hello")}, 2, []string{"names no tag or digest"}},
	} {
		t.Run(tc.name, func(t *testing.T) { acrctl(t, "", tc.args...).fails(t, tc.code, tc.want...) })
	}
}

func TestManifestReferrers(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		img := f.pushImage("app", "subject", "v1")
		f.pushImage("app", "lonely", "v2")
		dir := t.TempDir()
		attach := func(name, artifactType string) string {
			p := filepath.Join(dir, name)
			if err := os.WriteFile(p, []byte("content of "+name), 0o644); err != nil {
				t.Fatal(err)
			}
			return strings.TrimSpace(f.run("", "attach", f.ref("app:v1"), p, "--artifact-type", artifactType).ok(t).stdout)
		}
		sig := attach("sig.txt", "application/vnd.example.sig")
		sbom := attach("sbom.json", "application/vnd.example.sbom")

		type listing struct {
			Registry, Repository, Subject string
			Referrers                     []referrerJSON
		}
		list := func(args ...string) listing {
			r := f.run("", append([]string{"manifest", "referrers", "--output", "json"}, args...)...).ok(t)
			var l listing
			if err := json.Unmarshal([]byte(r.stdout), &l); err != nil {
				t.Fatalf("referrers --output json: %v\n%s", err, r.stdout)
			}
			return l
		}
		all := list(f.ref("app:v1"))
		if all.Subject != img.digest.String() || all.Repository != "app" {
			t.Errorf("subject %s in %s, want %s in app", all.Subject, all.Repository, img.digest)
		}
		got := map[string]string{}
		for _, r := range all.Referrers {
			got[r.Digest] = r.ArtifactType
		}
		want := map[string]string{sig: "application/vnd.example.sig", sbom: "application/vnd.example.sbom"}
		if !maps.Equal(got, want) {
			t.Errorf("referrers of app:v1: got %v, want %v", got, want)
		}
		// By digest, and filtered by type.
		only := list(f.ref("app@"+img.digest.String()), "--artifact-type", "application/vnd.example.sbom")
		if len(only.Referrers) != 1 || only.Referrers[0].Digest != sbom {
			t.Errorf("--artifact-type application/vnd.example.sbom: got %+v, want only %s", only.Referrers, sbom)
		}
		// The table names both, one per line under a header.
		r := f.run("", "manifest", "referrers", f.ref("app:v1")).ok(t)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if len(lines) != 3 || !strings.HasPrefix(lines[0], "DIGEST") || !strings.Contains(r.stdout, sig) || !strings.Contains(r.stdout, sbom) {
			t.Errorf("referrers table:\n%s", r.stdout)
		}
		// An image without referrers: nothing on stdout, a note on stderr.
		r = f.run("", "manifest", "referrers", f.ref("app:v2")).ok(t)
		if r.stdout != "" || !strings.Contains(r.stderr, "has no referrers") {
			t.Errorf("referrers of app:v2: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		if l := list(f.ref("app:v2")); len(l.Referrers) != 0 {
			t.Errorf("referrers of app:v2 in JSON: %+v", l.Referrers)
		}
	})
}
