package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
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
		byDigest := f.ref("hello@" + imgs["v1"].digest.String())
		r := f.run("", "manifest", "update", f.ref("hello:v1"), "--lock").ok(t)
		golden(t, "manifest-update.txt", r.stdout, f.srv.Host)
		f.run("", "manifest", "delete", f.ref("hello:v1"), "--yes").fails(t, 1, f.ref("hello:v1")+" is locked",
			"writeEnabled and deleteEnabled are false on the manifest "+byDigest, "fix: acrctl manifest update "+byDigest+" --unlock")
		r = f.run("", "manifest", "update", byDigest, "--delete-enabled", "true", "--write-enabled", "true", "--output", "json").ok(t)
		golden(t, "manifest-update.json", r.stdout, f.srv.Host)
		// A locked tag of the manifest refuses too, and is named.
		f.run("", "tag", "update", f.ref("hello:v1"), "--delete-enabled", "false").ok(t)
		f.run("", "manifest", "delete", byDigest, "--yes").fails(t, 1, "deleteEnabled is false on the tag "+f.ref("hello:v1"),
			"fix: acrctl tag update "+f.ref("hello:v1")+" --delete-enabled true")
		f.run("", "tag", "update", f.ref("hello:v1"), "--delete-enabled", "true").ok(t)
		r = f.run("", "manifest", "delete", f.ref("hello:v1"), "--yes").ok(t)
		golden(t, "manifest-delete.txt", r.stdout, f.srv.Host)
		if _, err := f.client.GetManifest(t.Context(), "hello", imgs["v1"].digest.String(), nil); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("after delete: got %v, want ErrNotFound", err)
		}
		// Deleting by digest removes every tag pointing at it.
		r = f.run("", "manifest", "rm", f.ref("hello@"+imgs["v3"].digest.String()), "-y", "-o", "json").ok(t)
		golden(t, "manifest-delete.json", r.stdout, f.srv.Host)
		for _, tag := range []string{"v3", "latest"} {
			if _, err := f.client.GetTagProperties(t.Context(), "hello", tag); !errors.Is(err, acr.ErrNotFound) {
				t.Errorf("tag %s after its manifest was deleted: got %v, want ErrNotFound", tag, err)
			}
		}
	})
}

// TestManifestDeleteConfirms: a manifest delete that takes more than was
// named (the manifest behind a tag, its other tags, its referrers) asks on
// a terminal and needs --yes elsewhere, as repo delete does; an untagged
// manifest named by digest goes without a question.
func TestManifestDeleteConfirms(t *testing.T) {
	f := newFixture(t, false)
	imgs := pushTags(f)
	untagged := f.pushImage("hello", "untagged")
	gone := func(d string) bool {
		_, err := f.client.GetManifest(t.Context(), "hello", d, nil)
		return errors.Is(err, acr.ErrNotFound)
	}
	v3 := f.ref("hello@" + imgs["v3"].digest.String())
	// Not a terminal, no --yes: a usage error that says what would go.
	f.run("", "manifest", "delete", f.ref("hello:v1")).fails(t, 2, "deleting "+f.ref("hello@"+imgs["v1"].digest.String())+" with its only tag v1",
		"pass --yes to confirm")
	f.run("", "manifest", "delete", v3).fails(t, 2, "with its tags latest, v3", "--yes")
	f.run("", "manifest", "delete", f.ref("hello@"+imgs["v1"].digest.String())).fails(t, 2, "with its tag v1:", "--yes")
	if gone(imgs["v1"].digest.String()) || gone(imgs["v3"].digest.String()) {
		t.Fatal("a refused delete deleted")
	}
	// On a terminal: the question, and only y deletes.
	defer func(old func(any) bool) { stdinIsTerminal = old }(stdinIsTerminal)
	stdinIsTerminal = func(any) bool { return true }
	r := f.run("n\n", "manifest", "delete", v3)
	if want := "Delete " + v3 + " with its tags latest, v3? [y/N] acrctl: not confirmed; nothing deleted\n"; r.code != 1 || r.stderr != want {
		t.Errorf("answering n: exit %d, stderr %q; want 1, %q", r.code, r.stderr, want)
	}
	if gone(imgs["v3"].digest.String()) {
		t.Fatal("deleted without a yes")
	}
	f.run("y\n", "manifest", "delete", v3).ok(t)
	if !gone(imgs["v3"].digest.String()) {
		t.Error("not deleted after y")
	}
	stdinIsTerminal = func(any) bool { return false }
	// Nothing more than named: no question.
	f.run("", "manifest", "delete", f.ref("hello@"+untagged.digest.String())).ok(t)
	// A referrer goes with its subject: that is more.
	sub := f.pushImage("signed", "s")
	f.run("", "attach", f.ref("signed@"+sub.digest.String()), writeTemp(t, "sig.json", "{}"), "--artifact-type", "application/vnd.example.sig").ok(t)
	f.run("", "manifest", "delete", f.ref("signed@"+sub.digest.String())).fails(t, 2, "and its referrer", "--yes")
}

// writeTemp writes content to a file name in a temporary directory.
func writeTemp(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestManifestGetJSON: -o json prints the manifest itself, byte for byte.
func TestManifestGetJSON(t *testing.T) {
	f := newFixture(t, false)
	imgs := pushTags(f)
	r := f.run("", "manifest", "get", f.ref("hello:v2"), "-o", "json").ok(t)
	if r.stdout != string(imgs["v2"].bytes) {
		t.Errorf("-o json: got %q, want the manifest's bytes %q", r.stdout, imgs["v2"].bytes)
	}
	f.run("", "manifest", "get", f.ref("hello:v2"), "-o", "m.json").fails(t, 2, "want text or json", "redirect stdout")
	// A read lock names its flag and the command that lifts it.
	f.run("", "tag", "update", f.ref("hello:v2"), "--read-enabled", "false").ok(t)
	r = f.run("", "manifest", "get", f.ref("hello:v2")).fails(t, 1, "readEnabled is false on the tag "+f.ref("hello:v2"),
		"fix: acrctl tag update "+f.ref("hello:v2")+" --read-enabled true")
	if strings.Contains(r.stderr, "...") {
		t.Errorf("the fix has placeholders: %s", r.stderr)
	}
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
		{"missing tag", []string{"manifest", "get", f.ref("hello:nope")}, 3, []string{"not found", "acrctl tag list " + f.ref("hello")}},
		{"missing digest", []string{"manifest", "show", f.ref("hello@" + missing)}, 3, []string{"not found", "acrctl manifest list " + f.ref("hello")}},
		{"missing repo", []string{"manifest", "list", f.ref("nope")}, 3, []string{"not found"}},
		{"nothing to update", []string{"manifest", "update", f.ref("hello:v1")}, 2, []string{"nothing to update"}},
		{"referrers of a missing tag", []string{"manifest", "referrers", f.ref("hello:nope")}, 3, []string{"not found", "acrctl tag list " + f.ref("hello")}},
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
			Registry   string         `json:"registry"`
			Repository string         `json:"imageName"`
			Subject    string         `json:"subject"`
			Referrers  []referrerJSON `json:"manifests"`
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

// TestManifestDeleteIndexChild: deleting a manifest that an index lists as
// one of its platforms breaks pulls of that index on that platform, so it
// asks first and names the index and the platform, as for tags and
// referrers; an untagged manifest that no index lists goes without a
// question.
func TestManifestDeleteIndexChild(t *testing.T) {
	f := newFixture(t, false)
	amd := f.pushImage("multi", "amd64")
	arm := f.pushImage("multi", "arm64")
	loose := f.pushImage("multi", "loose")
	platforms := map[digest.Digest]*ocispec.Platform{amd.digest: {OS: "linux", Architecture: "amd64"}, arm.digest: {OS: "linux", Architecture: "arm64"}}
	var children []ocispec.Descriptor
	for _, img := range []testImage{amd, arm} {
		children = append(children, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: img.digest,
			Size: int64(len(img.bytes)), Platform: platforms[img.digest]})
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: children}
	for _, tag := range []string{"v1", "latest"} {
		if _, err := f.client.SetIndex(t.Context(), "multi", idx, &acr.SetManifestOptions{Tag: tag}); err != nil {
			t.Fatal(err)
		}
	}
	f.run("", "manifest", "delete", f.ref("multi@"+arm.digest.String())).fails(t, 2,
		"although the index :latest, :v1 lists it: pulls of it for linux/arm64 would then fail", "pass --yes to confirm")
	if _, err := f.client.GetManifest(t.Context(), "multi", arm.digest.String(), nil); err != nil {
		t.Fatalf("the refused delete deleted: %v", err)
	}
	// A listing that leaves the indexes' children out (the recordings show
	// ACR's list items without references): the index is read instead.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/_manifests") {
			f.srv.Registry.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		f.srv.Registry.ServeHTTP(rec, r)
		var page map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err == nil {
			if items, ok := page["manifests"].([]any); ok {
				for _, it := range items {
					delete(it.(map[string]any), "references")
				}
			}
		}
		b, _ := json.Marshal(page)
		maps.Copy(w.Header(), rec.Header())
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(b)
	}))
	defer bare.Close()
	bareRef := strings.TrimPrefix(bare.URL, "http://") + "/multi@" + amd.digest.String()
	f.run("", "manifest", "delete", bareRef).fails(t, 2,
		"although the index :latest, :v1 lists it: pulls of it for linux/amd64 would then fail", "pass --yes to confirm")
	f.run("", "manifest", "delete", f.ref("multi@"+arm.digest.String()), "--yes").ok(t)
	f.run("", "manifest", "delete", f.ref("multi@"+loose.digest.String())).ok(t)
}

// TestManifestExists: a pipeline's `if`: exit 0 with the digest on stdout
// when the tag or digest is there, 1 with nothing on stdout (or exists:
// false with -o json) when it is not, and a refused credential is an
// error that says so, never "does not exist".
func TestManifestExists(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		imgs := pushTags(f)
		v2 := imgs["v2"].digest.String()
		for _, ref := range []string{"hello:v2", "hello@" + v2} {
			r := f.run("", "manifest", "exists", f.ref(ref)).ok(t)
			if got := strings.TrimSpace(r.stdout); got != v2 {
				t.Errorf("manifest exists %s printed %q, want %s", ref, got, v2)
			}
		}
		var doc existsJSON
		r := f.run("", "manifest", "exists", f.ref("hello:v2"), "-o", "json").ok(t)
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || !doc.Exists || doc.Digest != v2 || doc.Tag != "v2" || doc.ImageName != "hello" {
			t.Errorf("-o json: got %+v (%v) from %s", doc, err, r.stdout)
		}

		absent := "hello@" + digest.FromString("never pushed").String()
		for _, ref := range []string{"hello:nope", "nope:v1", absent} {
			r := f.run("", "manifest", "exists", f.ref(ref)).fails(t, 3, f.ref(ref)+" does not exist")
			if r.stdout != "" {
				t.Errorf("manifest exists %s: stdout %q, want nothing", ref, r.stdout)
			}
			r = f.run("", "manifest", "exists", f.ref(ref), "-o", "json").fails(t, 3, "does not exist")
			doc = existsJSON{Exists: true}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Exists || doc.Digest != "" {
				t.Errorf("manifest exists %s -o json: got %+v (%v) from %q, want exists false and no digest", ref, doc, err, r.stdout)
			}
		}
	})

	srv, _ := authServer(t)
	srv.PushImage(t, "app", "v1")
	r := acrctl(t, "", "manifest", "exists", srv.Host+"/app:v1", "-o", "json").fails(t, 1, "authentication failed", "acrctl login")
	if r.stdout != "" || strings.Contains(r.stderr, "does not exist") {
		t.Errorf("a refused credential: stdout %q, stderr %q; want nothing on stdout and no \"does not exist\"", r.stdout, r.stderr)
	}
}
