//go:build unix

package main

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
)

// resumeFixture is the emulator behind a faulttest.BlobTap, holding one
// blob, and a directory to download it into.
type resumeFixture struct {
	tap  *faulttest.BlobTap
	host string
	ref  string // HOST/REPO@DIGEST
	d    digest.Digest
	data []byte
	out  string // --output-file
}

func newResumeFixture(t *testing.T, size int) *resumeFixture {
	t.Helper()
	return newTapFixture(t, size, acrtest.NewServer(t, nil).Registry, "", "")
}

// newTapFixture puts a tap in front of upstream, a registry with the Basic
// credentials user and pass (none when empty), logs acrctl in to the tap
// with them, and uploads a blob of size bytes through it.
func newTapFixture(t *testing.T, size int, upstream http.Handler, user, pass string) *resumeFixture {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	tap := faulttest.NewBlobTap(upstream)
	hs := httptest.NewServer(tap)
	t.Cleanup(hs.Close)
	host := strings.TrimPrefix(hs.URL, "http://")
	var cred acr.Credential
	if user != "" {
		cred = acr.BasicCredential(user, pass)
		acrctl(t, pass+"\n", "login", host, "-u", user, "--password-stdin").ok(t)
	}
	data := make([]byte, size)
	rand.Read(data)
	c, err := acr.NewClient(hs.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	repo := "models/llm-" + digest.FromString(t.Name()).Encoded()[:8]
	desc, err := c.UploadBlob(t.Context(), repo, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &resumeFixture{tap: tap, host: host, ref: host + "/" + repo + "@" + desc.Digest.String(), d: desc.Digest, data: data,
		out: filepath.Join(t.TempDir(), "weights.bin")}
}

// partial is the name --continue keeps the download in.
func (f *resumeFixture) partial() string {
	return filepath.Join(filepath.Dir(f.out), ".weights.bin.partial-"+f.d.Encoded()[:12])
}

// dir lists the download directory.
func (f *resumeFixture) dir(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(f.out))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// checkOut fails the test unless the output file holds the blob and
// nothing else is left beside it.
func (f *resumeFixture) checkOut(t *testing.T) {
	t.Helper()
	got, err := os.ReadFile(f.out)
	if err != nil || !bytes.Equal(got, f.data) {
		t.Fatalf("the output file holds %d bytes (%v), want the blob's %d", len(got), err, len(f.data))
	}
	if names := f.dir(t); !slices.Equal(names, []string{"weights.bin"}) {
		t.Errorf("the directory holds %q, want only weights.bin", names)
	}
}

// TestBlobGetContinue cuts every connection of a download until the client
// gives up: without --continue nothing is left; with it the bytes received
// stay in .weights.bin.partial-HEX12 and the error says how to resume, and
// the next run with --continue asks for the rest from their length,
// receives only the rest, and writes the verified blob.
func TestBlobGetContinue(t *testing.T) {
	testBlobGetContinue(t, newResumeFixture(t, continueSize))
}

// TestReferenceRegistryBlobGetContinue is TestBlobGetContinue against the
// reference registry (distribution v3.1.2), behind a reverse proxy that
// cuts its downloads.
func TestReferenceRegistryBlobGetContinue(t *testing.T) {
	reg := acrtest.ReferenceRegistry(t)
	u, err := url.Parse(reg.URL)
	if err != nil {
		t.Fatal(err)
	}
	testBlobGetContinue(t, newTapFixture(t, continueSize, httputil.NewSingleHostReverseProxy(u), reg.User, reg.Password))
}

const continueSize = 10<<20 + 5

func testBlobGetContinue(t *testing.T, f *resumeFixture) {
	const size = continueSize

	f.tap.CutAfter(512 << 10)
	r := acrctl(t, "", "blob", "get", f.ref, "--output-file", f.out, "--no-progress")
	r.fails(t, 1, "broke after")
	if names := f.dir(t); len(names) != 0 {
		t.Fatalf("without --continue the failed download left %q, want nothing", names)
	}

	r = acrctl(t, "", "blob", "get", f.ref, "--output-file", f.out, "--no-progress", "--continue")
	fi, err := os.Stat(f.partial())
	if err != nil {
		t.Fatalf("with --continue the failed download left no partial: %v (stderr %q)", err, r.stderr)
	}
	kept := fi.Size()
	r.fails(t, 1, "broke after", "kept the "+strconv.FormatInt(kept, 10)+" bytes received in "+f.partial(), "run the same command again to resume")
	if kept == 0 || kept >= size {
		t.Fatalf("the partial holds %d bytes, want some of the %d", kept, size)
	}
	if _, err := os.Stat(f.out); err == nil {
		t.Fatal("the failed download created the output file")
	}

	f.tap.Reset()
	r = acrctl(t, "", "blob", "get", f.ref, "--output-file", f.out, "--no-progress", "-c").ok(t)
	if !strings.Contains(r.stderr, "Resuming from the") || !strings.Contains(r.stderr, "("+strconv.FormatInt(kept, 10)+" bytes) kept in "+f.partial()) {
		t.Errorf("stderr %q, want a note that the download resumes from the %d bytes kept", r.stderr, kept)
	}
	ranges, served := f.tap.Seen()
	if want := []string{"bytes=" + strconv.FormatInt(kept, 10) + "-"}; !slices.Equal(ranges, want) || served != size-kept {
		t.Errorf("the resumed run: got Ranges %q and %d bytes served, want %q and %d", ranges, served, want, size-kept)
	}
	f.checkOut(t)
}

// TestBlobGetContinueStartsOver gives --continue partials it cannot use: a
// partial of another blob for the same file is removed with a note, one of
// this blob that the registry will not continue (it ignores Range) is
// discarded with a note saying why, and one with a flipped byte fails the
// digest check, is removed, says to run again, and leaves the existing
// output file as it was; the run after that downloads the whole blob.
func TestBlobGetContinueStartsOver(t *testing.T) {
	const size = 3<<20 + 1
	f := newResumeFixture(t, size)
	args := []string{"blob", "get", f.ref, "--output-file", f.out, "--no-progress", "--continue"}

	t.Run("a partial of another blob", func(t *testing.T) {
		other := filepath.Join(filepath.Dir(f.out), ".weights.bin.partial-0123456789ab")
		if err := os.WriteFile(other, []byte("another blob's start"), 0o644); err != nil {
			t.Fatal(err)
		}
		f.tap.Reset()
		r := acrctl(t, "", args...).ok(t)
		if !strings.Contains(r.stderr, "removed "+other+", a partial download of another blob into "+f.out) {
			t.Errorf("stderr %q, want a note that %s was removed", r.stderr, other)
		}
		if ranges, served := f.tap.Seen(); !slices.Equal(ranges, []string{""}) || served != size {
			t.Errorf("got Ranges %q and %d bytes served, want one whole download of %d", ranges, served, size)
		}
		f.checkOut(t)
		os.Remove(f.out)
	})

	t.Run("the registry ignores Range", func(t *testing.T) {
		if err := os.WriteFile(f.partial(), f.data[:1<<20], 0o644); err != nil {
			t.Fatal(err)
		}
		f.tap.Reset()
		f.tap.DropRange()
		r := acrctl(t, "", args...).ok(t)
		if !strings.Contains(r.stderr, "Discarded the 1048576 bytes kept in "+f.partial()+": the registry ignored the Range request") {
			t.Errorf("stderr %q, want a note that the partial was discarded because the registry ignored Range", r.stderr)
		}
		if _, served := f.tap.Seen(); served != size {
			t.Errorf("%d bytes served, want the whole blob's %d", served, size)
		}
		f.checkOut(t)
	})

	t.Run("a partial holding the whole blob", func(t *testing.T) {
		os.Remove(f.out)
		if err := os.WriteFile(f.partial(), f.data, 0o644); err != nil {
			t.Fatal(err)
		}
		f.tap.Reset()
		r := acrctl(t, "", args...).ok(t)
		if !strings.Contains(r.stderr, f.partial()+" already holds the whole blob ("+strconv.Itoa(size)+" bytes): verified, nothing to download") {
			t.Errorf("stderr %q, want a note that the partial holds the whole blob", r.stderr)
		}
		if ranges, served := f.tap.Seen(); len(ranges) != 1 || served != 0 {
			t.Errorf("downloads with Ranges %q and %d bytes served, want one Range request answered with no content (416)", ranges, served)
		}
		f.checkOut(t)
	})

	t.Run("a corrupted partial", func(t *testing.T) {
		// f.out holds the blob from the last subtest; make it something
		// else, which a failed download must leave alone.
		if err := os.WriteFile(f.out, []byte("the old content"), 0o644); err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(f.data[:2<<20])
		bad[777] ^= 1
		if err := os.WriteFile(f.partial(), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		f.tap.Reset()
		r := acrctl(t, "", args...)
		if r.code != 1 || !strings.Contains(r.stderr, "does not match its digest") || !strings.Contains(r.stderr, "the partial download "+f.partial()+" was removed: run the command again to download the whole blob") {
			t.Errorf("exit code %d, stderr %q: want 1 and an error saying the partial was removed and to run again", r.code, r.stderr)
		}
		if got, _ := os.ReadFile(f.out); string(got) != "the old content" {
			t.Errorf("the output file holds %q after the failed download, want it untouched", got)
		}
		if _, err := os.Stat(f.partial()); err == nil {
			t.Error("the corrupted partial is still there")
		}
		f.tap.Reset()
		acrctl(t, "", args...).ok(t)
		if ranges, served := f.tap.Seen(); !slices.Equal(ranges, []string{""}) || served != size {
			t.Errorf("the run after: got Ranges %q and %d bytes served, want one whole download of %d", ranges, served, size)
		}
		f.checkOut(t)
	})
}

// TestBlobGetContinueUsage refuses --continue where it cannot work.
func TestBlobGetContinueUsage(t *testing.T) {
	f := newResumeFixture(t, 10)
	acrctl(t, "", "blob", "get", f.ref, "--continue").fails(t, 2, "--continue", "add --output-file FILE")
	acrctl(t, "", "blob", "get", f.ref, "--output-file", f.out, "--continue", "--parts", "4").fails(t, 2, "--continue and --parts cannot be combined")
	if names := f.dir(t); len(names) != 0 {
		t.Errorf("refused commands left %q", names)
	}
}

// TestBlobGetContinueInterrupt sends a built acrctl a real SIGINT in the
// middle of a download with --continue: it exits 130, says it was
// interrupted and where the bytes are kept, and the partial holds exactly
// the bytes the registry sent; a second run resumes from there. A second
// acrctl started on the same partial while the first runs is refused.
func TestBlobGetContinueInterrupt(t *testing.T) {
	const size = 4<<20 + 3
	const sent = 1<<20 + 17
	bin := buildAcrctl(t)
	f := newResumeFixture(t, size)
	reached := make(chan struct{}, 1)
	f.tap.StallAfter(sent, func() { reached <- struct{}{} })

	cmd := exec.Command(bin, "blob", "get", f.ref, "--output-file", f.out, "--continue", "--no-progress")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatalf("the download did not reach byte %d in 30 s (stderr %q)", sent, stderr.String())
	}
	// Wait until the bytes sent are in the file, so that the signal does
	// not race the write.
	for deadline := time.Now().Add(10 * time.Second); ; {
		if fi, err := os.Stat(f.partial()); err == nil && fi.Size() == sent {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the partial never held the %d bytes sent", sent)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The partial is locked while its download runs.
	second := exec.Command(bin, "blob", "get", f.ref, "--output-file", f.out, "--continue", "--no-progress")
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "in use by another acrctl blob get --continue") {
		t.Errorf("a second run on the same partial: %v, %q; want it refused as in use", err, out)
	}

	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("acrctl still running 10 s after SIGINT")
	}
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit code %d, want 130 (stderr %q)", code, stderr.String())
	}
	if s := stderr.String(); !strings.Contains(s, "interrupted") || !strings.Contains(s, "kept the "+strconv.Itoa(sent)+" bytes received in "+f.partial()) {
		t.Errorf("stderr %q, want it to say the download was interrupted and where its %d bytes are kept", s, sent)
	}
	if got, err := os.ReadFile(f.partial()); err != nil || !bytes.Equal(got, f.data[:sent]) {
		t.Fatalf("the partial holds %d bytes (%v), want the %d sent", len(got), err, sent)
	}

	f.tap.Reset()
	if out, err := exec.Command(bin, "blob", "get", f.ref, "--output-file", f.out, "--continue", "--no-progress").CombinedOutput(); err != nil {
		t.Fatalf("the resumed run: %v\n%s", err, out)
	}
	ranges, served := f.tap.Seen()
	if want := []string{"bytes=" + strconv.Itoa(sent) + "-"}; !slices.Equal(ranges, want) || served != size-sent {
		t.Errorf("the resumed run: got Ranges %q and %d bytes served, want %q and %d", ranges, served, want, size-sent)
	}
	f.checkOut(t)
}

// TestBlobGetContinueSymlink refuses a partial that is not a regular file,
// such as a symlink planted under its name, instead of writing through it.
func TestBlobGetContinueSymlink(t *testing.T) {
	f := newResumeFixture(t, 100)
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, f.partial()); err != nil {
		t.Fatal(err)
	}
	acrctl(t, "", "blob", "get", f.ref, "--output-file", f.out, "--continue").fails(t, 1, "is not a regular file", "delete it")
	if got, _ := os.ReadFile(target); string(got) != "precious" {
		t.Errorf("the symlink's target holds %q, want it untouched", got)
	}
}

// TestBlobGetContinueSymlinkRace plants the symlink after acrctl looked for
// the partial and found nothing, as another local user racing it could:
// the open must not follow it.
func TestBlobGetContinueSymlinkRace(t *testing.T) {
	f := newResumeFixture(t, 100)
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(target, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lstat = os.Lstat })
	lstat = func(name string) (os.FileInfo, error) {
		fi, err := os.Lstat(name)
		if name == f.partial() {
			if err := os.Symlink(target, name); err != nil {
				t.Errorf("planting the symlink: %v", err)
			}
		}
		return fi, err
	}
	acrctl(t, "", "blob", "get", f.ref, "--output-file", f.out, "--continue").fails(t, 1, "is not a regular file", "delete it")
	if got, _ := os.ReadFile(target); string(got) != "precious" {
		t.Errorf("the symlink's target holds %q, want it untouched", got)
	}
	if fi, err := os.Lstat(f.out); err == nil {
		t.Errorf("the output file exists (%v), want none", fi.Mode())
	}
}
