//go:build unix

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// writeTree makes a small tree: files, an executable, an empty directory
// and a link within it.
func writeTree(t *testing.T, root string) {
	t.Helper()
	for _, d := range []string{"sub/deep", "empty"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(root, "a.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(root, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755)
	os.WriteFile(filepath.Join(root, "sub/deep/data.bin"), bytes.Repeat([]byte("0123456789"), 100000), 0o644)
	if err := os.Symlink("../a.txt", filepath.Join(root, "sub/link")); err != nil {
		t.Fatal(err)
	}
}

// treeOf lists a tree as path -> kind, mode and content, to compare two.
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			m[rel] = "link " + l
		case fi.IsDir():
			m[rel] = "dir"
		default:
			b, _ := os.ReadFile(p)
			m[rel] = fi.Mode().Perm().String() + " " + digest.FromBytes(b).String()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameTree(t *testing.T, want, got string) {
	t.Helper()
	a, b := treeOf(t, want), treeOf(t, got)
	if len(a) != len(b) {
		t.Fatalf("%s has %d entries, %s has %d:\n%v\n%v", want, len(a), got, len(b), a, b)
	}
	for k, v := range a {
		if b[k] != v {
			t.Errorf("%s: %q in %s, %q in %s", k, v, want, b[k], got)
		}
	}
}

func TestPushPullDirectory(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	forEachMode(t, func(t *testing.T, f *fixture) {
		src := t.TempDir()
		writeTree(t, filepath.Join(src, "site"))
		os.WriteFile(filepath.Join(src, "notes.txt"), []byte("notes\n"), 0o600)
		f.run("", "push", f.ref("dir:v1"), filepath.Join(src, "site"), filepath.Join(src, "notes.txt")).ok(t)

		// The layer is what oras makes of a directory.
		m, err := f.client.GetManifest(t.Context(), "dir", "v1", nil)
		if err != nil {
			t.Fatal(err)
		}
		im, _ := m.Image()
		l := im.Layers[0]
		if l.MediaType != ocispec.MediaTypeImageLayerGzip || l.Annotations[ocispec.AnnotationTitle] != "site" ||
			l.Annotations["io.deis.oras.content.unpack"] != "true" || digest.Digest(l.Annotations["io.deis.oras.content.digest"]).Validate() != nil {
			t.Fatalf("directory layer %+v is not as oras makes one", l)
		}

		out := filepath.Join(t.TempDir(), "out")
		r := f.run("", "pull", f.ref("dir:v1"), "--output-dir", out).ok(t)
		if !strings.Contains(r.stdout, filepath.Join(out, "site")+"\n") {
			t.Errorf("pull printed %q, not the directory it unpacked", r.stdout)
		}
		sameTree(t, filepath.Join(src, "site"), filepath.Join(out, "site"))
		if entries, _ := os.ReadDir(out); len(entries) != 2 {
			t.Errorf("pull left %d entries in the output directory, want site and notes.txt (no temporary files)", len(entries))
		}
		// A plain file gets the umask's mode, not the 0600 of a temporary file.
		if fi, err := os.Stat(filepath.Join(out, "notes.txt")); err != nil || fi.Mode().Perm() != 0o644 {
			t.Errorf("notes.txt: %v, mode %v; want 0644 under umask 022", err, fi.Mode().Perm())
		}

		// Existing files are replaced by default, as oras does.
		os.WriteFile(filepath.Join(out, "notes.txt"), []byte("changed\n"), 0o644)
		os.WriteFile(filepath.Join(out, "site/a.txt"), []byte("changed\n"), 0o644)
		f.run("", "pull", f.ref("dir:v1"), "--output-dir", out).ok(t)
		sameTree(t, filepath.Join(src, "site"), filepath.Join(out, "site"))
		if b, _ := os.ReadFile(filepath.Join(out, "notes.txt")); string(b) != "notes\n" {
			t.Errorf("notes.txt was not replaced: %q", b)
		}
		// --keep-old-files refuses, naming the file, and writes nothing.
		os.WriteFile(filepath.Join(out, "site/a.txt"), []byte("mine\n"), 0o644)
		os.Remove(filepath.Join(out, "notes.txt"))
		f.run("", "pull", f.ref("dir:v1"), "--output-dir", out, "--keep-old-files").fails(t, 1, filepath.Join(out, "site/a.txt")+" exists", "--keep-old-files")
		if _, err := os.Stat(filepath.Join(out, "notes.txt")); err == nil {
			t.Errorf("a refused pull wrote notes.txt")
		}
		if b, _ := os.ReadFile(filepath.Join(out, "site/a.txt")); string(b) != "mine\n" {
			t.Errorf("--keep-old-files replaced a.txt: %q", b)
		}
		f.run("", "pull", f.ref("dir:v1"), "--output-dir", out, "-k").fails(t, 1, "a.txt exists")
	})
}

func TestPullChecksEveryPathFirst(t *testing.T) {
	f := newFixture(t, false)
	src := t.TempDir()
	for _, n := range []string{"a.txt", "b.txt"} {
		os.WriteFile(filepath.Join(src, n), []byte(n), 0o644)
	}
	f.run("", "push", f.ref("two:v1"), filepath.Join(src, "a.txt"), filepath.Join(src, "b.txt")).ok(t)
	out := t.TempDir()
	os.Mkdir(filepath.Join(out, "b.txt"), 0o755) // a directory in the way of the second file
	f.run("", "pull", f.ref("two:v1"), "--output-dir", out).fails(t, 1, filepath.Join(out, "b.txt")+" is a directory")
	if entries, _ := os.ReadDir(out); len(entries) != 1 {
		t.Errorf("a refused pull left %d entries, want only the directory in the way", len(entries))
	}
}

// pushLayers pushes an artifact whose layers are given as blobs with
// annotations, the way a hostile or foreign client could.
func pushLayers(t *testing.T, f *fixture, repo, tag string, layers map[string][]byte, ann map[string]map[string]string) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	cfg, err := f.client.UploadBlob(ctx, repo, bytes.NewReader([]byte("{}")), &acr.UploadBlobOptions{MediaType: "application/vnd.oci.empty.v1+json"})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cfg, ArtifactType: "application/vnd.example"}
	for title, b := range layers {
		d, err := f.client.UploadBlob(ctx, repo, bytes.NewReader(b), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayerGzip})
		if err != nil {
			t.Fatal(err)
		}
		d.Annotations = map[string]string{ocispec.AnnotationTitle: title}
		for k, v := range ann[title] {
			d.Annotations[k] = v
		}
		m.Layers = append(m.Layers, d)
	}
	desc, err := f.client.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: tag})
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

type tarEntry struct {
	name, link string
	typ        byte
	data       string
}

func tarGz(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Linkname: e.link, Mode: 0o644, Size: int64(len(e.data))}
		if e.typ == tar.TypeDir {
			h.Mode = 0o755
		}
		if e.typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.data))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestPullRefusesHostileDirectories(t *testing.T) {
	f := newFixture(t, false)
	unpack := map[string]string{"io.deis.oras.content.unpack": "true"}
	cases := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"dotdot", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/../../evil.txt", typ: tar.TypeReg, data: "x"}}, "'..'"},
		{"outside", []tarEntry{{name: "other/evil.txt", typ: tar.TypeReg, data: "x"}}, "outside that directory"},
		{"absolute", []tarEntry{{name: "/etc/evil", typ: tar.TypeReg, data: "x"}}, "absolute"},
		{"link-out", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/l", typ: tar.TypeSymlink, link: "../../x"}}, "points outside"},
		{"link-abs", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/l", typ: tar.TypeSymlink, link: "/etc"}}, "absolute path"},
		{"through-link", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/l", typ: tar.TypeSymlink, link: "."}, {name: "d/l/f", typ: tar.TypeReg, data: "x"}}, "not a directory"},
		{"link-chain", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/a/", typ: tar.TypeDir}, {name: "d/a/up", typ: tar.TypeSymlink, link: ".."}, {name: "d/a/out", typ: tar.TypeSymlink, link: "up/../evil.txt"}}, "goes through the link"},
		{"link-chain-late", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/a/", typ: tar.TypeDir}, {name: "d/a/out", typ: tar.TypeSymlink, link: "up/../evil.txt"}, {name: "d/a/up", typ: tar.TypeSymlink, link: ".."}}, "goes through the link"},
		{"hardlink", []tarEntry{{name: "d/", typ: tar.TypeDir}, {name: "d/h", typ: tar.TypeLink, link: "/etc/passwd"}}, "hard links"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blob := tarGz(t, append(tc.entries, tarEntry{name: "d/ok.txt", typ: tar.TypeReg, data: "ok"})...)
			pushLayers(t, f, "evil", tc.name, map[string][]byte{"d": blob, "plain.txt": []byte("plain")}, map[string]map[string]string{"d": unpack})
			out := filepath.Join(t.TempDir(), "out")
			f.run("", "pull", f.ref("evil:"+tc.name), "--output-dir", out).fails(t, 1, tc.want)
			entries, _ := os.ReadDir(out)
			if len(entries) != 0 {
				t.Errorf("a refused pull wrote %d entries into the output directory", len(entries))
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(out), "evil.txt")); err == nil {
				t.Errorf("an entry escaped the output directory")
			}
		})
	}
}

func TestPullUnpackLimit(t *testing.T) {
	f := newFixture(t, false)
	blob := tarGz(t, tarEntry{name: "d/", typ: tar.TypeDir}, tarEntry{name: "d/zeros", typ: tar.TypeReg, data: strings.Repeat("\x00", 1<<20)})
	pushLayers(t, f, "bomb", "v1", map[string][]byte{"d": blob}, map[string]map[string]string{"d": {"io.deis.oras.content.unpack": "true"}})
	repo := transfer.Repository(f.client, "bomb")
	out := t.TempDir()
	if _, err := transfer.PullFiles(t.Context(), repo, "v1", out, &transfer.PullOptions{MaxUnpackedSize: 1 << 19}); err == nil || !strings.Contains(err.Error(), "unpacks to more than") {
		t.Fatalf("a directory over the limit: %v", err)
	}
	if entries, _ := os.ReadDir(out); len(entries) != 0 {
		t.Errorf("a refused unpack left %d entries", len(entries))
	}
	// A wrong tar digest annotation is refused too.
	pushLayers(t, f, "bomb", "v2", map[string][]byte{"d": blob}, map[string]map[string]string{"d": {"io.deis.oras.content.unpack": "true",
		"io.deis.oras.content.digest": digest.FromString("other").String()}})
	f.run("", "pull", f.ref("bomb:v2"), "--output-dir", out).fails(t, 1, "io.deis.oras.content.digest")
	f.run("", "pull", f.ref("bomb:v1"), "--output-dir", out).ok(t)
	if fi, err := os.Stat(filepath.Join(out, "d/zeros")); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("d/zeros: %v", err)
	}
}

func TestPullPlatform(t *testing.T) {
	f := newFixture(t, false)
	src := t.TempDir()
	var manifests []ocispec.Descriptor
	for _, p := range []string{"linux/amd64", "linux/arm64/v8"} {
		name := filepath.Join(src, strings.ReplaceAll(p, "/", "-")+".txt")
		os.WriteFile(name, []byte(p), 0o644)
		r := f.run("", "push", f.ref("multi:"+strings.ReplaceAll(p, "/", "-")), name, "--output", "json").ok(t)
		var j pushedJSON
		if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
			t.Fatal(err)
		}
		pl, _ := parsePlatform(p)
		manifests = append(manifests, ocispec.Descriptor{MediaType: j.MediaType, Digest: digest.Digest(j.Digest), Size: j.Size, Platform: &pl})
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: manifests}
	if _, err := f.client.SetIndex(t.Context(), "multi", idx, &acr.SetManifestOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	f.run("", "pull", f.ref("multi:v1"), "--output-dir", out).fails(t, 1, "linux/amd64, linux/arm64/v8", "--platform")
	f.run("", "pull", f.ref("multi:v1"), "--output-dir", out, "--platform", "linux/s390x").fails(t, 1, "no manifest for linux/s390x", "linux/amd64")
	f.run("", "pull", f.ref("multi:v1"), "--output-dir", out, "--platform", "linux").fails(t, 2, "OS/ARCH")
	f.run("", "pull", f.ref("multi:v1"), "--output-dir", out, "--platform", "linux/arm64").ok(t)
	if b, err := os.ReadFile(filepath.Join(out, "linux-arm64-v8.txt")); err != nil || string(b) != "linux/arm64/v8" {
		t.Fatalf("--platform linux/arm64 pulled %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(out, "linux-amd64.txt")); err == nil {
		t.Errorf("--platform linux/arm64 also pulled linux/amd64's file")
	}
}

func TestTransferJSON(t *testing.T) {
	f := newFixture(t, false)
	src := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(src, []byte("a"), 0o644)
	var push, cp, att pushedJSON
	for _, c := range []struct {
		args []string
		v    *pushedJSON
	}{
		{[]string{"push", f.ref("j:v1"), src, "--artifact-type", "application/vnd.example", "--output", "json"}, &push},
		{[]string{"copy", f.ref("j:v1"), f.ref("k:v2"), "--output", "json"}, &cp},
		{[]string{"attach", f.ref("k:v2"), src, "--artifact-type", "application/vnd.example.sig", "--output", "json"}, &att},
	} {
		r := f.run("", c.args...).ok(t)
		if err := json.Unmarshal([]byte(r.stdout), c.v); err != nil {
			t.Fatalf("%s printed %q: %v", c.args[0], r.stdout, err)
		}
	}
	m, err := f.client.GetManifest(t.Context(), "j", "v1", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := pushedJSON{Registry: f.srv.Host, Repository: "j", Digest: m.Digest.String(), MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: "application/vnd.example", Size: int64(len(m.Bytes)), Tags: []string{"v1"}}
	if got, _ := json.Marshal(push); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("push --output json:\n got %s\nwant %s", got, must(json.Marshal(want)))
	}
	if cp.Digest != push.Digest || cp.Repository != "k" || len(cp.Tags) != 1 || cp.Tags[0] != "v2" || cp.Size != push.Size {
		t.Errorf("copy --output json: %+v", cp)
	}
	if att.Subject != push.Digest || att.ArtifactType != "application/vnd.example.sig" || len(att.Tags) != 0 || digest.Digest(att.Digest).Validate() != nil {
		t.Errorf("attach --output json: %+v", att)
	}
	layout := filepath.Join(t.TempDir(), "lay")
	r := f.run("", "copy", f.ref("j:v1"), "oci:"+layout+":v1", "--output", "json").ok(t)
	var lj pushedJSON
	json.Unmarshal([]byte(r.stdout), &lj)
	if lj.Layout != layout || lj.Registry != "" || lj.Digest != push.Digest {
		t.Errorf("copy to a layout --output json: %s", r.stdout)
	}
	// Without a terminal, no progress line.
	if r.stderr != "" {
		t.Errorf("copy wrote %q to stderr without a terminal", r.stderr)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestPullOutputFlag: -o is the output format for pull too; -o DIR is a
// usage error that names --output-dir, and -o json lists what was written.
func TestPullOutputFlag(t *testing.T) {
	f := newFixture(t, false)
	src := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(src, []byte("a\n"), 0o644)
	f.run("", "push", f.ref("files:v1"), src).ok(t)
	out := t.TempDir()
	f.run("", "pull", f.ref("files:v1"), "-o", out).fails(t, 2, "--output-dir DIR")
	r := f.run("", "pull", f.ref("files:v1"), "--output-dir", out, "-o", "json").ok(t)
	if !strings.Contains(r.stdout, `"files": [`) || !strings.Contains(r.stdout, filepath.Join(out, "a.txt")) {
		t.Errorf("pull -o json: %s", r.stdout)
	}
}

// TestPullOutputDirIsAFile: an --output-dir that names a file is refused
// before anything is fetched, with the fix, not with mkdir's words.
func TestPullOutputDirIsAFile(t *testing.T) {
	f := newFixture(t, false)
	src := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(src, []byte("a\n"), 0o644)
	f.run("", "push", f.ref("files:v1"), src).ok(t)
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, []byte("mine\n"), 0o644)
	f.run("", "pull", f.ref("files:v1"), "--output-dir", file).fails(t, 2, "--output-dir "+file+" is a file", "name a directory")
	if got, err := os.ReadFile(file); err != nil || string(got) != "mine\n" {
		t.Errorf("the file named by --output-dir holds %q (%v), want it untouched", got, err)
	}
}

// TestPullContainerImage: pulling an image whose layers have no file names
// (a container image) fails saying so and how to fetch it, instead of
// succeeding with nothing written.
func TestPullContainerImage(t *testing.T) {
	f := newFixture(t, false)
	img := f.pushImage("app", "a", "v1")
	out := filepath.Join(t.TempDir(), "out")
	r := f.run("", "pull", f.ref("app:v1"), "--output-dir", out).fails(t, 1, "no files to pull", "1 layer(s) of "+img.digest.String(), "acrctl copy "+f.ref("app:v1")+" oci:DIR")
	if r.stdout != "" {
		t.Errorf("stdout %q, want nothing", r.stdout)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the pull created %s", out)
	}
}

// TestPullIndexWithoutPlatforms: an index whose manifests name no platform
// (crane index append makes one) cannot be pulled by --platform: the error
// says so and points to pulling a manifest by digest, instead of offering a
// --platform that cannot match.
func TestPullIndexWithoutPlatforms(t *testing.T) {
	f := newFixture(t, false)
	name := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(name, []byte("a"), 0o644)
	r := f.run("", "push", f.ref("idx:a"), name, "--output", "json").ok(t)
	var j pushedJSON
	if err := json.Unmarshal([]byte(r.stdout), &j); err != nil {
		t.Fatal(err)
	}
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{{MediaType: j.MediaType, Digest: digest.Digest(j.Digest), Size: j.Size}}}
	if _, err := f.client.SetIndex(t.Context(), "idx", idx, &acr.SetManifestOptions{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	r = f.run("", "pull", f.ref("idx:v1"), "--output-dir", t.TempDir()).fails(t, 1, "no platform", "acrctl pull "+f.ref("idx@"+j.Digest))
	if strings.Contains(r.stderr, "0 platforms") || strings.Contains(r.stderr, "such as acrctl pull") {
		t.Errorf("the error offers --platform: %s", r.stderr)
	}
}

// TestPullLeavesSymlinksAlone: a symbolic link where the artifact has a
// file is neither followed nor replaced, and the error says what to do.
func TestPullLeavesSymlinksAlone(t *testing.T) {
	f := newFixture(t, false)
	src := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(src, []byte("new\n"), 0o644)
	f.run("", "push", f.ref("files:v1"), src).ok(t)
	out := t.TempDir()
	target := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(target, []byte("precious\n"), 0o644)
	if err := os.Symlink(target, filepath.Join(out, "a.txt")); err != nil {
		t.Fatal(err)
	}
	f.run("", "pull", f.ref("files:v1"), "--output-dir", out).fails(t, 1, filepath.Join(out, "a.txt")+" is a symbolic link", "nothing was written", "fix: remove it")
	if b, _ := os.ReadFile(target); string(b) != "precious\n" {
		t.Errorf("the link's target holds %q", b)
	}
}
