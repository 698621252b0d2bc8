package acr_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
)

// resumeTarget is a registry behind a blobTap, with a client for it.
type resumeTarget struct {
	tap    *faulttest.BlobTap
	client *acr.Client
	repo   string
	d      digest.Digest
	data   []byte
}

// emulatorTarget returns the emulator in process behind a tap, holding a
// blob of size bytes.
func emulatorTarget(t *testing.T, size int) *resumeTarget {
	t.Helper()
	data := randomBytes(size)
	srv := acrtest.NewServer(t, nil)
	tap := faulttest.NewBlobTap(srv.Registry)
	hs := httptest.NewServer(tap)
	t.Cleanup(hs.Close)
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := newSeeder(t, srv, "", "").blob("resume/blob", data)
	return &resumeTarget{tap: tap, client: client, repo: "resume/blob", d: d, data: data}
}

// referenceTarget returns the reference registry that ACRGO_REFERENCE_URL
// names, behind a tap (a reverse proxy on loopback), holding a blob of
// size bytes; without it, the test is skipped.
func referenceTarget(t *testing.T, size int) *resumeTarget {
	t.Helper()
	ref := acrtest.ReferenceRegistry(t)
	u, err := url.Parse(ref.URL)
	if err != nil {
		t.Fatal(err)
	}
	tap := faulttest.NewBlobTap(httputil.NewSingleHostReverseProxy(u))
	hs := httptest.NewServer(tap)
	t.Cleanup(hs.Close)
	var cred acr.Credential
	if ref.User != "" {
		cred = acr.BasicCredential(ref.User, ref.Password)
	}
	client, err := acr.NewClient(hs.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(size)
	repo := "acrgo/resume-" + digest.FromString(t.Name()).Encoded()[:8]
	desc, err := client.UploadBlob(t.Context(), repo, bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &resumeTarget{tap: tap, client: client, repo: repo, d: desc.Digest, data: data}
}

// partialFile creates a file in a new directory holding content and
// returns it open for reading and writing.
func partialFile(t *testing.T, content []byte) *os.File {
	t.Helper()
	name := filepath.Join(t.TempDir(), ".blob.partial")
	if err := os.WriteFile(name, content, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func fileContent(t *testing.T, f *os.File) []byte {
	t.Helper()
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestDownloadBlobToResumeCutAgain keeps cutting every connection after
// 1 MiB through two calls: the first gives up with a prefix, the second
// resumes from it and, cut again, resumes within the call until the blob
// is whole; each byte is sent once, and the digest holds.
func TestDownloadBlobToResumeCutAgain(t *testing.T) {
	tg := emulatorTarget(t, resumeSize)
	tg.tap.CutAfter(1 << 20)
	f := partialFile(t, nil)
	if _, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{Resume: true}); err == nil {
		t.Fatal("the cut download succeeded")
	}
	kept := len(fileContent(t, f))
	if resumeSize-kept <= 1<<20 {
		t.Fatalf("the first call kept %d bytes of %d: too many for the second to be cut", kept, resumeSize)
	}
	_, before := tg.tap.Seen()
	n, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{Resume: true})
	if err != nil {
		t.Fatal(err)
	}
	ranges, served := tg.tap.Seen()
	if n != resumeSize || !bytes.Equal(fileContent(t, f), tg.data) {
		t.Fatalf("got %d bytes, want the blob's %d", n, resumeSize)
	}
	if served-before != int64(resumeSize-kept) {
		t.Errorf("the second call was sent %d bytes, want the %d the first did not keep", served-before, resumeSize-kept)
	}
	if last := ranges[len(ranges)-1]; len(ranges) < 2 || last == "bytes="+strconv.Itoa(kept)+"-" {
		t.Errorf("Ranges %q: want the second call to resume within itself after its first cut", ranges)
	}
}

// resumeSize is over 8 MiB: the pipelined, background-hashed path.
const resumeSize = 12<<20 + 7

// TestDownloadBlobToResume cuts a download's every connection until the
// client gives up, then resumes it in a second call: that call hashes the
// bytes the first one left, asks for the rest with one Range request from
// their length, receives only the rest, and ends with the blob, verified;
// progress starts past the kept bytes and ends at the blob's size.
func TestDownloadBlobToResume(t *testing.T) {
	testResumeAfterCuts(t, emulatorTarget(t, resumeSize))
}

// TestReferenceRegistryDownloadResume is TestDownloadBlobToResume against
// the reference registry (distribution v3.1.2).
func TestReferenceRegistryDownloadResume(t *testing.T) {
	testResumeAfterCuts(t, referenceTarget(t, resumeSize))
}

func testResumeAfterCuts(t *testing.T, tg *resumeTarget) {
	const size = resumeSize
	tg.tap.Reset()
	tg.tap.CutAfter(1 << 20)
	f := partialFile(t, nil)
	_, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{Resume: true})
	if err == nil {
		t.Fatal("the cut download succeeded")
	}
	kept := fileContent(t, f)
	if len(kept) == 0 || len(kept) >= size || !bytes.Equal(kept, tg.data[:len(kept)]) {
		t.Fatalf("after the cut download the file holds %d bytes (a prefix of the blob: %v), want a prefix of the %d", len(kept), bytes.Equal(kept, tg.data[:min(len(kept), size)]), size)
	}

	tg.tap.Reset()
	var notes []acr.Resumption
	var first, last int64 = -1, 0
	n, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{
		Resume:  true,
		Resumed: func(r acr.Resumption) { notes = append(notes, r) },
		Progress: func(n int64) {
			if first < 0 {
				first = n
			}
			last = n
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ranges, served := tg.tap.Seen()
	if want := []string{"bytes=" + strconv.Itoa(len(kept)) + "-"}; !slices.Equal(ranges, want) {
		t.Errorf("Range headers: got %q, want %q", ranges, want)
	}
	if want := int64(size - len(kept)); served != want {
		t.Errorf("bytes served: got %d, want %d (the blob less the %d kept)", served, want, len(kept))
	}
	if n != size || !bytes.Equal(fileContent(t, f), tg.data) {
		t.Errorf("got %d bytes, want the blob's %d", n, size)
	}
	if want := (acr.Resumption{Kept: int64(len(kept)), Size: size}); len(notes) != 1 || notes[0] != want {
		t.Errorf("Resumed: got %+v, want one call with %+v", notes, want)
	}
	if first <= int64(len(kept)) || last != size {
		t.Errorf("progress went from %d to %d, want from past %d to %d", first, last, len(kept), size)
	}
}

// TestDownloadBlobToResumeStartsOver gives Resume files it cannot
// continue, and registries that will not let it: each time the file is
// truncated and the whole blob downloaded, and Resumed says why; a file
// that already holds the blob is verified and kept, the registry's answer
// to the Range (416, or 200 when it ignores Range) left unread.
func TestDownloadBlobToResumeStartsOver(t *testing.T) {
	testResumeStartsOver(t, emulatorTarget(t, startOverSize))
}

// TestReferenceRegistryDownloadResumeStartsOver is
// TestDownloadBlobToResumeStartsOver against the reference registry
// (distribution v3.1.2), whose answer to a Range past the blob's end is
// its own.
func TestReferenceRegistryDownloadResumeStartsOver(t *testing.T) {
	testResumeStartsOver(t, referenceTarget(t, startOverSize))
}

const startOverSize = 3<<20 + 11

func testResumeStartsOver(t *testing.T, tg *resumeTarget) {
	const size = startOverSize
	flipped := bytes.Clone(tg.data)
	flipped[size/2] ^= 1
	for _, tc := range []struct {
		name      string
		held      []byte
		dropRange bool
		zeroRange bool
		reason    string // in Resumed's Reason; "" when the bytes are kept
		ranges    []string
		served    int64 // -1: any number (an answer closed unread)
	}{
		{name: "registry ignores Range", held: tg.data[:1<<20], dropRange: true,
			reason: "ignored the Range request", ranges: []string{"bytes=1048576-"}, served: size},
		{name: "206 from another byte", held: tg.data[:1<<20], zeroRange: true,
			reason: `Content-Range "bytes 0-`, ranges: []string{"bytes=1048576-", ""}, served: -1},
		{name: "longer than the blob", held: append(bytes.Clone(tg.data), "more"...),
			reason: "416", ranges: []string{"bytes=" + strconv.Itoa(size+4) + "-", ""}, served: size},
		{name: "as long as the blob, one byte wrong", held: flipped,
			reason: "416", ranges: []string{"bytes=" + strconv.Itoa(size) + "-", ""}, served: size},
		{name: "the whole blob already", held: tg.data, ranges: []string{"bytes=" + strconv.Itoa(size) + "-"}},
		{name: "the whole blob already, Range ignored", held: tg.data, dropRange: true, ranges: []string{"bytes=" + strconv.Itoa(size) + "-"}, served: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg.tap.Reset()
			if tc.dropRange {
				tg.tap.DropRange()
			}
			if tc.zeroRange {
				tg.tap.RangeFromZero()
			}
			f := partialFile(t, tc.held)
			var notes []acr.Resumption
			n, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{
				Resume: true, Resumed: func(r acr.Resumption) { notes = append(notes, r) }})
			if err != nil {
				t.Fatal(err)
			}
			if n != size || !bytes.Equal(fileContent(t, f), tg.data) {
				t.Fatalf("got %d bytes, want the blob's %d", n, size)
			}
			ranges, served := tg.tap.Seen()
			if !slices.Equal(ranges, tc.ranges) || (served != tc.served && tc.served >= 0) {
				t.Errorf("requests: got Ranges %q and %d bytes served, want %q and %d", ranges, served, tc.ranges, tc.served)
			}
			want := acr.Resumption{Kept: int64(len(tc.held))}
			if tc.reason != "" {
				want = acr.Resumption{Discarded: int64(len(tc.held))}
			}
			if len(notes) != 1 || notes[0].Kept != want.Kept || notes[0].Discarded != want.Discarded || notes[0].Size != size ||
				!strings.Contains(notes[0].Reason, tc.reason) || (tc.reason == "") != (notes[0].Reason == "") {
				t.Errorf("Resumed: got %+v, want one call with Kept %d, Discarded %d, Size %d and a Reason with %q", notes, want.Kept, want.Discarded, size, tc.reason)
			}
		})
	}
}

// TestDownloadBlobToResumeCorrupt resumes from a file whose kept bytes
// have one byte flipped: the final check fails with ErrDigestMismatch, the
// error says to download again, the file is truncated, and the next call
// downloads the whole blob.
func TestDownloadBlobToResumeCorrupt(t *testing.T) {
	const size = 10<<20 + 3
	tg := emulatorTarget(t, size)
	held := bytes.Clone(tg.data[:6<<20])
	held[12345] ^= 0x80
	f := partialFile(t, held)
	_, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{Resume: true})
	if !errors.Is(err, acr.ErrDigestMismatch) || !strings.Contains(err.Error(), "download again") {
		t.Fatalf("got %v, want ErrDigestMismatch saying to download again", err)
	}
	if got := fileContent(t, f); len(got) != 0 {
		t.Fatalf("after the mismatch the file holds %d bytes, want 0", len(got))
	}
	tg.tap.Reset()
	if _, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{Resume: true}); err != nil {
		t.Fatal(err)
	}
	if ranges, served := tg.tap.Seen(); !bytes.Equal(fileContent(t, f), tg.data) || !slices.Equal(ranges, []string{""}) || served != size {
		t.Errorf("the retry: got Ranges %q and %d bytes served, want one whole download of %d", ranges, served, size)
	}
}

// TestDownloadBlobToResumeRefuses names what Resume cannot work with: a
// destination that is not a readable, truncatable file, and parts.
func TestDownloadBlobToResumeRefuses(t *testing.T) {
	tg := emulatorTarget(t, 100)
	var buf bytes.Buffer
	if _, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, &buf, &acr.DownloadBlobToOptions{Resume: true}); err == nil || !strings.Contains(err.Error(), "os.O_RDWR") {
		t.Errorf("Resume into a bytes.Buffer: got %v, want an error asking for a file opened for reading and writing", err)
	}
	f := partialFile(t, nil)
	if _, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, f, &acr.DownloadBlobToOptions{Resume: true, Parts: 4}); err == nil || !strings.Contains(err.Error(), "Parts") {
		t.Errorf("Resume with Parts 4: got %v, want an error naming Parts", err)
	}
	wo, err := os.OpenFile(filepath.Join(t.TempDir(), "wo"), os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer wo.Close()
	wo.Write([]byte("x"))
	if _, err := tg.client.DownloadBlobTo(t.Context(), tg.repo, tg.d, wo, &acr.DownloadBlobToOptions{Resume: true}); err == nil || !strings.Contains(err.Error(), "os.O_RDWR") {
		t.Errorf("Resume into a write-only file: got %v, want an error asking for os.O_RDWR", err)
	}
	if ranges, _ := tg.tap.Seen(); len(ranges) != 0 {
		t.Errorf("refused downloads sent requests with Ranges %q", ranges)
	}
}

// BenchmarkDownloadBlobToResume measures a resumed download of a 256 MiB
// blob from the emulator against a whole one, in the same run, on loopback
// and over a long link (BenchmarkDownloadBlobTo's windowed proxy, ~100
// MiB/s).
// The setup cuts a download at 200 MiB (the registry stalls there and,
// once the client has written those bytes, the context is cancelled, as
// Ctrl-C would), and each resume iteration starts
// from a copy of what that left. Sub-benchmarks: full (an empty file: the
// whole blob), resume (hash the kept bytes again, fetch the rest) and, on
// loopback, rehash-only (a file holding the whole blob: hashing it again is
// all the work). served-MiB is what the registry sent per iteration.
func BenchmarkDownloadBlobToResume(b *testing.B) {
	const size = 256 << 20
	const cut = 200 << 20
	br := newBenchRegistry(b, nil)
	defer br.stop()
	seeder, err := acr.NewClient(br.URL, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	desc, err := seeder.UploadBlob(b.Context(), "bench/resume", newPatternReader(size, 5), nil)
	if err != nil {
		b.Fatal(err)
	}
	u, err := url.Parse(br.URL)
	if err != nil {
		b.Fatal(err)
	}
	tap := faulttest.NewBlobTap(httputil.NewSingleHostReverseProxy(u))
	hs := httptest.NewServer(tap)
	defer hs.Close()
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()

	// The cut download, once.
	keptPath := filepath.Join(dir, "kept")
	kf, err := os.OpenFile(keptPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(b.Context())
	tap.StallAfter(cut, func() {
		// Cancel once the client has written all it was sent, so that
		// the cut falls at 200 MiB exactly.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if fi, err := os.Stat(keptPath); err == nil && fi.Size() >= cut {
				break
			}
		}
		cancel()
	})
	if _, err := client.DownloadBlobTo(ctx, "bench/resume", desc.Digest, kf, &acr.DownloadBlobToOptions{Resume: true}); !errors.Is(err, context.Canceled) {
		b.Fatalf("the cut download: got %v, want context.Canceled", err)
	}
	kf.Close()
	kept, _ := os.Stat(keptPath)
	_, cutServed := tap.Seen()
	b.Logf("the cut download: the registry sent %d bytes and stalled; the file kept %d (%.1f MiB)", cutServed, kept.Size(), float64(kept.Size())/(1<<20))
	fullPath := filepath.Join(dir, "full")

	slow, err := acr.NewClient(startWindowProxy(b, strings.TrimPrefix(hs.URL, "http://"), 2<<20, 20*time.Millisecond), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name   string
		client *acr.Client
		prefix int64 // bytes of the blob the file starts with
	}{
		{"loopback/full", client, 0},
		{"loopback/resume", client, kept.Size()},
		{"loopback/rehash-only", client, size},
		{"window=2MiB,rtt=20ms/full", slow, 0},
		{"window=2MiB,rtt=20ms/resume", slow, kept.Size()},
	} {
		client := bc.client
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			var served int64
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				path := filepath.Join(dir, "blob")
				if err := copyPrefix(path, bc.prefix, keptPath, fullPath); err != nil {
					b.Fatal(err)
				}
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					b.Fatal(err)
				}
				tap.Reset()
				b.StartTimer()
				n, err := client.DownloadBlobTo(b.Context(), "bench/resume", desc.Digest, f, &acr.DownloadBlobToOptions{Resume: true})
				b.StopTimer()
				f.Close()
				if err != nil || n != size {
					b.Fatalf("DownloadBlobTo: %v (%d bytes)", err, n)
				}
				_, s := tap.Seen()
				served += s
				if bc.prefix == 0 {
					os.Rename(path, fullPath)
				} else {
					os.Remove(path)
				}
			}
			b.ReportMetric(float64(served)/float64(b.N)/(1<<20), "served-MiB")
		})
	}
}

// copyPrefix creates path holding the first n bytes of the blob: those
// of kept (the cut download) when n is its size, else of full (a whole
// download; "full" runs first). n 0 makes an empty file.
func copyPrefix(path string, n int64, kept, full string) error {
	dst, err := os.Create(path)
	if err != nil {
		return err
	}
	defer dst.Close()
	if n == 0 {
		return nil
	}
	src := full
	if fi, err := os.Stat(kept); err == nil && fi.Size() == n {
		src = kept
	}
	s, err := os.Open(src)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = io.CopyN(dst, s, n)
	return err
}
