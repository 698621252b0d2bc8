package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestBlobPutGetExistsDelete(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		data := bytes.Repeat([]byte("acrctl blob test\n"), 4096)
		want := digest.FromBytes(data)
		file := filepath.Join(t.TempDir(), "layer.bin")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}

		// put prints the digest, from a file and from stdin.
		r := f.run("", "blob", "put", f.ref("hello"), file).ok(t)
		if r.stdout != want.String()+"\n" {
			t.Errorf("blob put FILE printed %q, want %q", r.stdout, want)
		}
		if r.stderr != "" {
			t.Errorf("blob put wrote %q to stderr; no progress when stderr is not a terminal", r.stderr)
		}
		other := "another blob\n"
		r = f.run(other, "blob", "put", f.ref("hello"), "-", "--output", "json").ok(t)
		golden(t, "blob-put.json", r.stdout, f.srv.Host)

		// get to stdout and to a file.
		ref := f.ref("hello@" + want.String())
		r = f.run("", "blob", "get", ref).ok(t)
		if r.stdout != string(data) {
			t.Errorf("blob get: got %d bytes, want the %d uploaded", len(r.stdout), len(data))
		}
		out := filepath.Join(t.TempDir(), "out.bin")
		r = f.run("", "blob", "get", ref, "--output-file", out).ok(t)
		if got, err := os.ReadFile(out); err != nil || !bytes.Equal(got, data) {
			t.Errorf("blob get --output-file: file holds %d bytes (%v), want the %d uploaded", len(got), err, len(data))
		}
		if r.stdout != "" || !strings.Contains(r.stderr, "digest verified") {
			t.Errorf("blob get --output-file: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		// -o is the format everywhere: the old -o FILE is refused with the
		// new flag's name, and writes nothing.
		f.run("", "blob", "get", ref, "-o", out+".old").fails(t, 2, `--output "`, "output format", "--output-file FILE")
		if _, err := os.Stat(out + ".old"); !os.IsNotExist(err) {
			t.Errorf("blob get -o FILE wrote %s", out+".old")
		}
		f.run("", "blob", "get", ref, "-o", "json").fails(t, 2, "add --output-file FILE")
		r = f.run("", "blob", "get", ref, "--output-file", out+".json", "-o", "json").ok(t)
		golden(t, "blob-get.json", strings.ReplaceAll(r.stdout, out, "FILE"), f.srv.Host)
		if r.stderr != "" {
			t.Errorf("blob get -o json wrote %q to stderr", r.stderr)
		}

		// exists: 0 when present, 1 when absent, in text and JSON.
		r = f.run("", "blob", "exists", ref).ok(t)
		golden(t, "blob-exists.txt", r.stdout, f.srv.Host)
		r = f.run("", "blob", "exists", ref, "--output", "json").ok(t)
		golden(t, "blob-exists.json", r.stdout, f.srv.Host)

		r = f.run("", "blob", "delete", ref).ok(t)
		golden(t, "blob-delete.txt", r.stdout, f.srv.Host)
		other = f.ref("hello@" + digest.FromString(other).String())
		r = f.run("", "blob", "delete", other, "-o", "json").ok(t)
		golden(t, "blob-delete.json", r.stdout, f.srv.Host)
		f.run("", "blob", "exists", ref).fails(t, 3, "does not exist")
		r = f.run("", "blob", "exists", ref, "--output", "json")
		if r.code != 3 {
			t.Errorf("blob exists of a deleted blob: exit %d, want 3", r.code)
		}
		golden(t, "blob-exists-absent.json", r.stdout, f.srv.Host)
		f.run("", "blob", "get", ref, "--output-file", out+".2").fails(t, 3, "does not exist", "check the digest")
		if _, err := os.Stat(out + ".2"); !os.IsNotExist(err) {
			t.Errorf("a failed download left %s behind", out+".2")
		}
		f.run("", "blob", "delete", ref).fails(t, 3, "does not exist")
	})
}

func TestBlobErrors(t *testing.T) {
	f := newFixture(t, true)
	dir := t.TempDir()
	d := digest.FromString("x").String()
	for _, tc := range []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  []string
	}{
		{"put one arg", "", []string{"blob", "put", f.ref("hello")}, 2, []string{"FILE (or - for stdin)"}},
		{"put to tag", "", []string{"blob", "put", f.ref("hello:v1"), "x"}, 2, []string{"takes a repository"}},
		{"put missing file", "", []string{"blob", "put", f.ref("hello"), filepath.Join(dir, "nope")}, 1, []string{"open the blob's file", "no such file", "fix: check the path"}},
		{"put directory", "", []string{"blob", "put", f.ref("hello"), dir}, 2, []string{"is a directory"}},
		{"put stdin twice", "pw\n", []string{"blob", "put", f.ref("hello"), "-", "-u", "admin", "--password-stdin"}, 2, []string{"both the blob"}},
		{"get by tag", "", []string{"blob", "get", f.ref("hello:v1")}, 2, []string{"names no digest"}},
		{"exists by repo", "", []string{"blob", "exists", f.ref("hello")}, 2, []string{"names no digest"}},
		{"anonymous put", "", []string{"blob", "put", f.ref("hello"), "-", "--registry-config", filepath.Join(dir, "none.json")}, 1,
			[]string{"refused anonymous access", "acrctl login " + f.srv.Host}},
		{"get missing", "", []string{"blob", "get", f.ref("hello@" + d)}, 3, []string{"does not exist"}},
	} {
		t.Run(tc.name, func(t *testing.T) { acrctl(t, tc.stdin, tc.args...).fails(t, tc.code, tc.want...) })
	}
}

func TestProgressLine(t *testing.T) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	now := start
	clock := func() time.Time { return now }
	for _, tc := range []struct {
		name  string
		label string
		total int64
		done  int64
		after time.Duration
		width int
		want  string
	}{
		{"known total", "Uploading big.bin", 200 << 20, 50 << 20, 2 * time.Second, 100,
			"Uploading big.bin  [=======>                      ]   25%  50.0 MiB / 200.0 MiB  25.0 MiB/s"},
		{"done", "Uploading big.bin", 200 << 20, 200 << 20, 4 * time.Second, 100,
			"Uploading big.bin  [==============================]  100%  200.0 MiB / 200.0 MiB  50.0 MiB/s"},
		{"unknown total", "Uploading stdin", -1, 3 << 20, 3 * time.Second, 100,
			"Uploading stdin  3.0 MiB  1.0 MiB/s  3s"},
		{"narrow terminal drops the bar and shortens the label", "Uploading a-file-with-a-very-long-name.tar.gz", 1000, 500, time.Second, 50,
			"…ng-name.tar.gz   50%  500 B / 1000 B  500 B/s"},
		{"empty blob", "Uploading empty", 0, 0, time.Second, 80,
			"Uploading empty  [==============================]  100%  0 B / 0 B  0 B/s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now = start
			p := newProgressBar(&bytes.Buffer{}, tc.label, tc.total, tc.width, clock)
			p.Set(tc.done)
			now = start.Add(tc.after)
			got := p.line()
			if got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
			if len([]rune(got)) >= tc.width {
				t.Errorf("line is %d columns, wider than the terminal's %d", len([]rune(got)), tc.width)
			}
		})
	}
}

func TestProgressFinish(t *testing.T) {
	var buf syncBuffer
	p := startProgress(&buf, true, "Uploading x", 10)
	p.Set(4)
	p.Finish(true)
	out := buf.String()
	last := out[strings.LastIndex(out, "\r"):]
	if !strings.Contains(last, "100%  10 B / 10 B") || !strings.HasSuffix(last, "\x1b[K\n") {
		t.Errorf("finished progress output %q does not end with a full line and a newline", out)
	}
	var buf2 syncBuffer
	p = startProgress(&buf2, true, "Uploading x", 10)
	p.Finish(false)
	if !strings.HasSuffix(buf2.String(), "\r\x1b[K") {
		t.Errorf("failed progress output %q does not erase the line", buf2.String())
	}
	// Disabled progress is a nil bar whose methods do nothing.
	var none *progressBar = startProgress(&buf, false, "x", 1)
	none.Set(1)
	none.Finish(true)
	if w := none.Writer(&buf); w != &buf {
		t.Errorf("a nil bar wraps the writer")
	}
}

// TestBlobLocks: a lock's refusal names the flag that refused and the exact
// command that lifts it, for upload, download and delete.
func TestBlobLocks(t *testing.T) {
	f := newFixture(t, false)
	img := f.pushImage("hello", "a", "v1")
	repo := f.ref("hello")
	blob := f.ref("hello@" + img.layers[0].String())
	f.run("", "repo", "update", repo, "--write-enabled", "false").ok(t)
	f.run("x", "blob", "put", repo, "-").fails(t, 1, repo+" is locked: writeEnabled is false on the repository "+repo,
		"refused to write it (405 REGISTRY_DISALLOWED_OPERATION)", "fix: acrctl repo update "+repo+" --write-enabled true")
	f.run("", "blob", "delete", blob).fails(t, 1, "writeEnabled is false on the repository "+repo,
		"fix: acrctl repo update "+repo+" --write-enabled true")
	f.run("", "repo", "update", repo, "--write-enabled", "true", "--delete-enabled", "false", "--read-enabled", "false").ok(t)
	r := f.run("", "blob", "get", blob).fails(t, 1, "readEnabled is false on the repository "+repo, "fix: acrctl repo update "+repo+" --read-enabled true")
	if strings.Contains(r.stderr, "...") {
		t.Errorf("the fix has placeholders: %s", r.stderr)
	}
	f.run("", "blob", "delete", blob).fails(t, 1, "deleteEnabled is false", "fix: acrctl repo update "+repo+" --delete-enabled true")
}

// TestBlobGetOutputFile: --output-file replaces a file keeping its mode, as
// curl -o and a shell redirection do, creates a new one with the umask's
// modes, as pull does, and refuses a directory or a missing parent before
// downloading anything.
func TestBlobGetOutputFile(t *testing.T) {
	f := newFixture(t, false)
	data := []byte("a blob for --output-file\n")
	file := filepath.Join(t.TempDir(), "layer.bin")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f.run("", "blob", "put", f.ref("hello"), file).ok(t)
	ref := f.ref("hello@" + digest.FromBytes(data).String())
	dir := t.TempDir()

	mode := func(path string) os.FileMode {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	// What the umask leaves of 0666, learnt the way the command creates files.
	probe := filepath.Join(dir, "probe")
	pf, err := os.OpenFile(probe, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	pf.Close()
	fresh := mode(probe)

	newFile := filepath.Join(dir, "new.bin")
	f.run("", "blob", "get", ref, "--output-file", newFile).ok(t)
	if got := mode(newFile); got != fresh {
		t.Errorf("new file: mode %v, want %v (0666 less the umask)", got, fresh)
	}

	old := filepath.Join(dir, "old.bin")
	if err := os.WriteFile(old, []byte("old content"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(old, 0o751); err != nil {
		t.Fatal(err)
	}
	f.run("", "blob", "get", ref, "--output-file", old).ok(t)
	if got, err := os.ReadFile(old); err != nil || !bytes.Equal(got, data) {
		t.Errorf("replaced file holds %q (%v), want %q", got, err, data)
	}
	if got := mode(old); got != 0o751 {
		t.Errorf("replaced file: mode %v, want its old mode %v", got, os.FileMode(0o751))
	}

	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	f.run("", "blob", "get", ref, "--output-file", sub).fails(t, 2, sub+" is a directory", "--output-file "+filepath.Join(sub, "NAME"))
	f.run("", "blob", "get", ref, "--output-file", filepath.Join(dir, "missing", "x")).fails(t, 1, "does not exist", "mkdir -p "+filepath.Join(dir, "missing"))
	f.run("", "blob", "get", ref, "--output-file", filepath.Join(old, "x")).fails(t, 1, old+" is not a directory")
	if entries, err := os.ReadDir(sub); err != nil || len(entries) != 0 {
		t.Errorf("a refused --output-file left %v (%v) in %s", entries, err, sub)
	}
}
