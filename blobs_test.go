package acr_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestUploadAndDownloadBlob(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	for _, tc := range []struct {
		name  string
		size  int
		chunk int64
	}{
		{"empty", 0, 0},
		{"one chunk", 1000, 0},
		{"several chunks", 5<<20 + 123, 1 << 20},
		{"exact chunks", 2 << 20, 1 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := randomBytes(tc.size)
			var progress int64
			desc, err := client.UploadBlob(ctx, "blobs", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: tc.chunk,
				Progress: func(n int64) { progress = n }})
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest != digest.FromBytes(data) || desc.Size != int64(tc.size) || progress != int64(tc.size) {
				t.Fatalf("got %+v progress %d", desc, progress)
			}
			rc, err := client.DownloadBlob(ctx, "blobs", desc.Digest, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("download: %v, %d bytes", err, len(got))
			}
			path := filepath.Join(t.TempDir(), "blob")
			if n, err := downloadFile(ctx, client, "blobs", desc.Digest, path, nil); err != nil || n != int64(tc.size) {
				t.Fatalf("DownloadBlobTo: %v %d", err, n)
			}
			if onDisk, _ := os.ReadFile(path); !bytes.Equal(onDisk, data) {
				t.Fatal("file content differs")
			}
		})
	}
}

func TestUploadKnownBlobExistsMountDelete(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	data := []byte("known content")
	desc := ocispec.Descriptor{MediaType: "application/vnd.example", Digest: digest.FromBytes(data), Size: int64(len(data))}
	var progress []int64
	got, err := client.UploadBlob(ctx, "src", bytes.NewReader(data), &acr.UploadBlobOptions{Descriptor: &desc,
		Progress: func(n int64) { progress = append(progress, n) }})
	if err != nil || got.Digest != desc.Digest || got.Size != desc.Size || got.MediaType != desc.MediaType {
		t.Fatalf("UploadBlob with a Descriptor: got %+v, %v; want %+v", got, err, desc)
	}
	if len(progress) == 0 || progress[len(progress)-1] != desc.Size {
		t.Errorf("progress %v, want it to end at %d", progress, desc.Size)
	}
	bad := ocispec.Descriptor{Digest: digest.FromString("other"), Size: int64(len(data))}
	if err := putBlob(ctx, client, "src", bad, bytes.NewReader(data)); !errors.Is(err, acr.ErrDigestMismatch) {
		t.Fatalf("push with a wrong descriptor: got %v, want ErrDigestMismatch", err)
	}
	if _, ok, _ := client.BlobExists(ctx, "src", bad.Digest); ok {
		t.Fatal("a blob was stored under a digest its content does not have")
	}
	size, ok, err := client.BlobExists(ctx, "src", desc.Digest)
	if err != nil || !ok || size != desc.Size {
		t.Fatalf("BlobExists: %v %v %d", err, ok, size)
	}
	if mounted, err := client.MountBlob(ctx, "dst", "src", desc.Digest); err != nil || !mounted {
		t.Fatalf("MountBlob: %v %v", err, mounted)
	}
	if mounted, err := client.MountBlob(ctx, "dst", "src", bad.Digest); err != nil || mounted {
		t.Fatalf("MountBlob of a missing blob: %v %v", err, mounted)
	}
	if err := client.DeleteBlob(ctx, "dst", desc.Digest); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := client.BlobExists(ctx, "dst", desc.Digest); ok {
		t.Fatal("deleted blob still exists")
	}
	if err := client.DeleteBlob(ctx, "dst", desc.Digest); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("second delete: got %v, want ErrNotFound", err)
	}
}

// putBlob uploads content whose descriptor is known.
func putBlob(ctx context.Context, client *acr.Client, repo string, desc ocispec.Descriptor, r io.Reader) error {
	_, err := client.UploadBlob(ctx, repo, r, &acr.UploadBlobOptions{Descriptor: &desc})
	return err
}

// TestUploadBlobWithDescriptor streams content under a known descriptor:
// content that does not match it is refused and stores nothing.
func TestUploadBlobWithDescriptor(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	data := randomBytes(3<<20 + 5)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	cases := []struct {
		name string
		desc ocispec.Descriptor
		src  []byte
	}{
		{"wrong digest", ocispec.Descriptor{Digest: digest.FromString("x"), Size: desc.Size}, data},
		{"shorter content", desc, data[:len(data)-1]},
		{"longer content", desc, append(append([]byte{}, data...), 'x')},
		{"small, wrong digest", ocispec.Descriptor{Digest: digest.FromString("y"), Size: 10}, data[:10]},
	}
	// A file is sent with sendfile (see fileBody) when it holds exactly
	// the descriptor's size, and read like any reader otherwise.
	sources := map[string]func(t *testing.T, b []byte) io.Reader{
		"reader": func(t *testing.T, b []byte) io.Reader { return bytes.NewReader(b) },
		"file":   openTempFile,
	}
	for name, open := range sources {
		repo := "put-" + name
		for _, tc := range cases {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				err := putBlob(ctx, client, repo, tc.desc, open(t, tc.src))
				if !errors.Is(err, acr.ErrDigestMismatch) {
					t.Fatalf("got %v, want ErrDigestMismatch", err)
				}
				if _, ok, _ := client.BlobExists(ctx, repo, tc.desc.Digest); ok {
					t.Fatal("a blob was stored under a digest its content does not have")
				}
			})
		}
		if err := putBlob(ctx, client, repo, desc, open(t, data)); err != nil {
			t.Fatal(err)
		}
		if n, ok, err := client.BlobExists(ctx, repo, desc.Digest); err != nil || !ok || n != desc.Size {
			t.Fatalf("after UploadBlob with a Descriptor from a %s: %v %v %d", name, err, ok, n)
		}
		assertStored(t, srv, repo, desc.Digest, data)
	}
}

// openTempFile writes b to a new file and returns it open for reading,
// closed when the test ends.
func openTempFile(t *testing.T, b []byte) io.Reader {
	t.Helper()
	name := filepath.Join(t.TempDir(), "blob")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// progressLog records the counts a Progress hook is told and checks that
// they never go back.
type progressLog struct {
	t    *testing.T
	what string
	seen []int64
}

func (p *progressLog) hook(n int64) {
	if k := len(p.seen); k > 0 && n < p.seen[k-1] {
		p.t.Errorf("%s: progress went back from %d to %d", p.what, p.seen[k-1], n)
	}
	p.seen = append(p.seen, n)
}

func (p *progressLog) check(want int64) {
	p.t.Helper()
	if len(p.seen) == 0 || p.seen[len(p.seen)-1] != want {
		p.t.Errorf("%s: progress %v, want it to end at %d", p.what, p.seen[max(len(p.seen)-3, 0):], want)
	}
}

// TestProgressHooks runs every blob transfer with a Progress hook: counts
// only grow and end at the bytes moved.
func TestProgressHooks(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	data := randomBytes(9*mib + 7)

	up := &progressLog{t: t, what: "UploadBlob in chunks"}
	desc, err := client.UploadBlob(ctx, "progress", bytes.NewReader(data), &acr.UploadBlobOptions{ChunkSize: 2 * mib, Progress: up.hook})
	if err != nil {
		t.Fatal(err)
	}
	up.check(int64(len(data)))
	if len(up.seen) < 5 {
		t.Errorf("UploadBlob in 2 MiB chunks told progress %d times, want once a chunk", len(up.seen))
	}

	known := &progressLog{t: t, what: "UploadBlob with a Descriptor"}
	if _, err := client.UploadBlob(ctx, "progress2", bytes.NewReader(data), &acr.UploadBlobOptions{Descriptor: &desc, Progress: known.hook}); err != nil {
		t.Fatal(err)
	}
	known.check(int64(len(data)))

	down := &progressLog{t: t, what: "DownloadBlob"}
	rc, err := client.DownloadBlob(ctx, "progress", desc.Digest, &acr.DownloadBlobOptions{Progress: down.hook})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	down.check(int64(len(data)))

	ranged := &progressLog{t: t, what: "DownloadBlob of a range"}
	rc, err = client.DownloadBlob(ctx, "progress", desc.Digest, &acr.DownloadBlobOptions{Offset: mib, Length: 3 * mib, Progress: ranged.hook})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data[mib:4*mib]) {
		t.Fatalf("range: %d bytes, %v", len(got), err)
	}
	ranged.check(3 * mib)

	var sink bytes.Buffer
	to := &progressLog{t: t, what: "DownloadBlobTo"}
	if n, err := client.DownloadBlobTo(ctx, "progress", desc.Digest, &sink, &acr.DownloadBlobToOptions{Progress: to.hook}); err != nil || n != int64(len(data)) {
		t.Fatalf("DownloadBlobTo: %d, %v", n, err)
	}
	to.check(int64(len(data)))
	if !bytes.Equal(sink.Bytes(), data) {
		t.Fatal("DownloadBlobTo wrote other bytes than the blob's")
	}
}
