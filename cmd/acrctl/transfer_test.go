package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/faulttest"

	"github.com/opencontainers/go-digest"
)

func TestPushPullCopyAttach(t *testing.T) {
	forEachMode(t, func(t *testing.T, f *fixture) {
		dir := t.TempDir()
		files := map[string][]byte{"notes.txt": []byte("hello\n"), "model.bin": bytes.Repeat([]byte("x"), 2<<20)}
		var args []string
		for n, b := range files {
			p := filepath.Join(dir, n)
			os.WriteFile(p, b, 0o644)
			args = append(args, p)
		}
		out := f.run("", append([]string{"push", f.ref("art:v1"), "--artifact-type", "application/vnd.example.files", "--annotation", "k=v"}, args...)...).ok(t)
		d := digest.Digest(strings.TrimSpace(out.stdout))
		if d.Validate() != nil {
			t.Fatalf("push printed %q, not a digest", out.stdout)
		}
		pulled := filepath.Join(t.TempDir(), "pulled")
		f.run("", "pull", f.ref("art:v1"), "--output-dir", pulled).ok(t)
		for n, b := range files {
			if got, err := os.ReadFile(filepath.Join(pulled, n)); err != nil || !bytes.Equal(got, b) {
				t.Fatalf("%s differs after push and pull", n)
			}
		}
		layout := filepath.Join(t.TempDir(), "layout")
		f.run("", "copy", f.ref("art:v1"), "oci:"+layout+":v1").ok(t)
		f.run("", "copy", "oci:"+layout+":v1", f.ref("copied:v2")).ok(t)
		// A tag the layout lacks is "no such tag", as in a registry: exit 3.
		f.run("", "copy", "oci:"+layout+":v9", f.ref("copied:v9")).fails(t, 3, `has no tag "v9" (its tags: v1)`, "fix: check the tag")
		sig := f.run("", "attach", f.ref("copied:v2"), filepath.Join(dir, "notes.txt"), "--artifact-type", "application/vnd.example.sig").ok(t)
		f.run("", "copy", f.ref("copied:v2"), f.ref("mirror:v2"), "--referrers").ok(t)
		refs := 0
		for r, err := range f.client.Referrers(t.Context(), "mirror", d, "") {
			if err != nil {
				t.Fatal(err)
			}
			if r.Digest.String() == strings.TrimSpace(sig.stdout) {
				refs++
			}
		}
		if refs != 1 {
			t.Fatalf("the attached signature did not follow the copy with --referrers")
		}
		f.run("", "attach", f.ref("copied:v2"), filepath.Join(dir, "notes.txt")).fails(t, 2, "--artifact-type")
		f.run("", "copy", f.ref("copied:v2"), f.ref("x:y"), "--platform", "linux").fails(t, 2, "OS/ARCH")
		f.run("", "copy", f.ref("copied"), f.ref("x:y")).fails(t, 2, "no tag or digest")
	})
}

// TestCopyRefusesWithoutLeftovers: a source layout that does not exist is
// an error that creates nothing (it left two empty layouts), a copy that
// fails removes the layout it created, --concurrency is checked, and no
// package prefix reaches the message.
func TestCopyRefusesWithoutLeftovers(t *testing.T) {
	f := newFixture(t, false)
	dir := t.TempDir()
	typo, out := filepath.Join(dir, "typo"), filepath.Join(dir, "out")
	r := f.run("", "copy", "oci:"+typo+":v1", "oci:"+out+":v1").fails(t, 1, "is not an OCI image layout", "check the path")
	r2 := f.run("", "copy", f.ref("nope:v1"), "oci:"+out+":v1").fails(t, 3, "not found")
	for _, p := range []string{typo, out} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was left behind", p)
		}
	}
	for _, msg := range []string{r.stderr, r2.stderr} {
		if strings.Contains(msg, "transfer: ") || strings.Contains(msg, "acr: ") {
			t.Errorf("package prefix in %q", msg)
		}
	}
	f.run("", "copy", f.ref("a:v1"), f.ref("b:v1"), "--concurrency", "-1").fails(t, 2, "--concurrency -1")
}

// TestCopyToLayoutNotADirectory: a destination oci:DIR that names a file,
// or a directory holding something other than a layout, is refused before
// anything is fetched, with the fix, and left as it was.
func TestCopyToLayoutNotADirectory(t *testing.T) {
	f := newFixture(t, false)
	f.pushImage("app", "a", "v1")
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("mine\n"), 0o644)
	f.run("", "copy", f.ref("app:v1"), "oci:"+file+":v1").fails(t, 2, file+" is a file", "name a directory")
	if got, err := os.ReadFile(file); err != nil || string(got) != "mine\n" {
		t.Errorf("%s holds %q (%v), want it untouched", file, got, err)
	}
	other := filepath.Join(dir, "other")
	os.Mkdir(other, 0o755)
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("x"), 0o644)
	f.run("", "copy", f.ref("app:v1"), "oci:"+other+":v1").fails(t, 1, "not an OCI image layout", "fix: name an empty or new directory")
	if entries, _ := os.ReadDir(other); len(entries) != 1 {
		t.Errorf("%s holds %d entries, want its one file", other, len(entries))
	}
}

// TestInterruptedPushCancelsSessions: Ctrl-C during a push (the context
// cancelled mid-upload) leaves no upload session open on the registry: the
// cancels that run in the background get their moment before acrctl ends.
func TestInterruptedPushCancelsSessions(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPatch || r.Method == http.MethodPut) && strings.Contains(r.URL.Path, "/blobs/uploads/") {
			once.Do(cancel) // the user presses Ctrl-C while the first upload is under way
			time.Sleep(100 * time.Millisecond)
		}
		reg.ServeHTTP(w, r)
	}))
	defer hs.Close()
	big := filepath.Join(t.TempDir(), "big.bin")
	data := make([]byte, 24<<20)
	rand.Read(data)
	os.WriteFile(big, data, 0o644)
	var out, errb bytes.Buffer
	host := strings.TrimPrefix(hs.URL, "http://")
	code := run(ctx, []string{"push", host + "/app:v1", big}, strings.NewReader(""), &out, &errb)
	result{out.String(), errb.String(), code}.fails(t, 1, "interrupted", host+"/app:v1 was not tagged", "run the push again")
	n := 0
	for _, err := range reg.Store().Uploads(t.Context()) {
		if err == nil {
			n++
		}
	}
	if n != 0 {
		t.Errorf("%d upload sessions left open after the interrupted push (stderr %q)", n, errb.String())
	}
}

// TestInterruptedCopy: Ctrl-C during a copy says so in a line, not in the
// chain of the blob transfer that it broke, and leaves the destination tag
// where it was.
func TestInterruptedCopy(t *testing.T) {
	f := newFixture(t, false)
	data := make([]byte, 8<<20)
	rand.Read(data)
	big := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(big, data, 0o644)
	f.run("", "push", f.ref("src:v1"), big).ok(t)
	before := f.pushImage("dst", "old", "v1")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var once sync.Once
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			once.Do(cancel) // the user presses Ctrl-C while a blob is on its way
			time.Sleep(50 * time.Millisecond)
		}
		f.srv.Registry.ServeHTTP(w, r)
	}))
	defer hs.Close()
	src := strings.TrimPrefix(hs.URL, "http://") + "/src:v1"
	var out, errb bytes.Buffer
	code := run(ctx, []string{"copy", src, f.ref("dst:v1"), "--no-progress"}, strings.NewReader(""), &out, &errb)
	r := result{out.String(), errb.String(), code}
	r.fails(t, 1, "interrupted", f.ref("dst:v1")+" was not tagged", "run the copy again")
	if strings.Contains(r.stderr, "broke after") || strings.Contains(r.stderr, "upload to") {
		t.Errorf("the error spells out the transfer it broke: %s", r.stderr)
	}
	if d, err := f.client.ResolveDigest(t.Context(), "dst", "v1"); err != nil || d != before.digest {
		t.Errorf("dst:v1 is %s (%v), want it left at %s", d, err, before.digest)
	}
}

// TestCopyLayoutByDigest: a copy by digest into a layout lists the manifest
// there (the layout looked empty), and oci:DIR@DIGEST names it, as a
// registry reference would, on the way back.
func TestCopyLayoutByDigest(t *testing.T) {
	f := newFixture(t, false)
	img := f.pushImage("app", "a", "v1")
	dir := filepath.Join(t.TempDir(), "layout")
	f.run("", "copy", f.ref("app@"+img.digest.String()), "oci:"+dir).ok(t)
	f.run("", "copy", "oci:"+dir+"@"+img.digest.String(), f.ref("back:v1")).ok(t)
	f.run("", "copy", "oci:"+dir, f.ref("back:v2")).ok(t)
	for _, tag := range []string{"v1", "v2"} {
		if d, err := f.client.ResolveDigest(t.Context(), "back", tag); err != nil || d != img.digest {
			t.Errorf("back:%s is %s (%v), want %s", tag, d, err, img.digest)
		}
	}
	f.run("", "copy", "oci:"+dir+"@sha256:00", f.ref("back:v3")).fails(t, 2, `"sha256:00" is not a digest`)
}

// TestTransferToRegistryThatGoesAway: a registry that goes away during a
// copy or push (its connection cut mid-upload, then nothing listening)
// fails the command saying that the tag was not moved and to run it again,
// and the tag is indeed not there.
func TestTransferToRegistryThatGoesAway(t *testing.T) {
	f := newFixture(t, false)
	data := make([]byte, 4<<20)
	rand.Read(data)
	big := filepath.Join(t.TempDir(), "big.bin")
	os.WriteFile(big, data, 0o644)
	f.run("", "push", f.ref("src:v1"), big).ok(t)

	for _, tc := range []struct {
		command string
		args    func(dst string) []string
	}{
		{"copy", func(dst string) []string { return []string{"copy", f.ref("src:v1"), dst, "--no-progress"} }},
		{"push", func(dst string) []string { return []string{"push", dst, big, "--no-progress"} }},
	} {
		t.Run(tc.command, func(t *testing.T) {
			// Vanishing, not closing the listener: the port a closed
			// listener frees can go, within acrctl's retries, to a test
			// server of another go test process, which then answers them.
			var hs *faulttest.VanishingServer
			hs = faulttest.NewVanishingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.Contains(r.URL.Path, "/blobs/uploads/") && r.Method != http.MethodDelete {
					hs.Vanish() // this upload's connection is cut, and every one after it
					return
				}
				f.srv.Registry.ServeHTTP(w, r)
			}))
			dst := strings.TrimPrefix(hs.URL, "http://") + "/gone:v1"
			f.run("", tc.args(dst)...).fails(t, 1, dst+" was not tagged", "run the "+tc.command+" again")
			if _, err := f.client.ResolveDigest(t.Context(), "gone", "v1"); err == nil {
				t.Errorf("gone:v1 was tagged")
			}
		})
	}
}
