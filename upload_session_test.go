package acr_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// TestUploadSessionResumedElsewhere starts a session in one client, writes
// two chunks, and finishes it in a second client that has only the
// session's Location, as another process would: it learns the offset from
// the registry, writes the rest and completes; the blob is the whole
// content.
func TestUploadSessionResumedElsewhere(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"admin": "s3cret"}})
	ctx := t.Context()
	data := randomBytes(3*mib + 11)
	d := digest.FromBytes(data)

	first, _ := acr.NewClient(srv.URL, acr.BasicCredential("admin", "s3cret"), nil)
	up, err := first.StartUpload(ctx, "sessions/a")
	if err != nil {
		t.Fatal(err)
	}
	for _, chunk := range [][]byte{data[:mib], data[mib : 2*mib]} {
		if err := up.Write(ctx, chunk); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if got := up.Offset(); got != 2*mib {
		t.Fatalf("Offset after two chunks: got %d, want %d", got, 2*mib)
	}
	if held, err := up.Status(ctx); err != nil || held != 2*mib {
		t.Fatalf("Status: got %d, %v; want %d", held, err, 2*mib)
	}
	location := up.Location()

	second, _ := acr.NewClient(srv.URL, acr.BasicCredential("admin", "s3cret"), nil)
	resumed, err := second.ResumeUpload(ctx, "sessions/a", location)
	if err != nil {
		t.Fatalf("ResumeUpload: %v", err)
	}
	if got := resumed.Offset(); got != 2*mib {
		t.Fatalf("resumed Offset: got %d, want %d", got, 2*mib)
	}
	if err := resumed.Write(ctx, data[2*mib:]); err != nil {
		t.Fatalf("Write after resuming: %v", err)
	}
	desc, err := resumed.Complete(ctx, d)
	if err != nil || desc.Digest != d || desc.Size != int64(len(data)) {
		t.Fatalf("Complete: got %+v, %v; want %s, %d bytes", desc, err, d, len(data))
	}
	if err := resumed.Write(ctx, []byte("x")); err == nil {
		t.Error("Write after Complete succeeded")
	}
	if err := resumed.Cancel(ctx); err != nil {
		t.Errorf("Cancel after Complete: %v, want nil", err)
	}
	rc, err := first.DownloadBlob(ctx, "sessions/a", d, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the stored blob: %d bytes, %v; want the %d written", len(got), err, len(data))
	}
}

// TestUploadSessionRefusals: a wrong digest stores nothing under it (nor
// under the content's own digest), a cancelled session cannot be resumed
// or written, and a location on another origin is refused before any
// request.
func TestUploadSessionRefusals(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	data := []byte("content of the session")

	t.Run("wrong digest", func(t *testing.T) {
		up, err := client.StartUpload(ctx, "sessions/b")
		if err != nil {
			t.Fatal(err)
		}
		if err := up.Write(ctx, data); err != nil {
			t.Fatal(err)
		}
		wrong := digest.FromString("something else")
		_, err = up.Complete(ctx, wrong)
		if !errors.Is(err, acr.ErrDigestMismatch) {
			t.Fatalf("Complete with a wrong digest: got %v, want ErrDigestMismatch", err)
		}
		if re, ok := errors.AsType[*acr.ResponseError](err); !ok || !re.HasCode("DIGEST_INVALID") {
			t.Errorf("Complete with a wrong digest: %v; want the registry's *ResponseError (DIGEST_INVALID) in the chain", err)
		}
		if err := up.Cancel(ctx); err != nil {
			t.Errorf("Cancel after the registry ended the session: %v, want nil", err)
		}
		for _, d := range []digest.Digest{wrong, digest.FromBytes(data)} {
			if _, ok, err := client.BlobExists(ctx, "sessions/b", d); err != nil || ok {
				t.Errorf("BlobExists(%s) = %v, %v after a refused Complete; want false", d, ok, err)
			}
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		up, err := client.StartUpload(ctx, "sessions/c")
		if err != nil {
			t.Fatal(err)
		}
		if err := up.Write(ctx, data); err != nil {
			t.Fatal(err)
		}
		location := up.Location()
		if err := up.Cancel(ctx); err != nil {
			t.Fatalf("Cancel: %v", err)
		}
		if err := up.Write(ctx, data); err == nil {
			t.Error("Write after Cancel succeeded")
		}
		if err := up.Cancel(ctx); err != nil {
			t.Errorf("a second Cancel: %v, want nil (a deferred Cancel after any end is harmless)", err)
		}
		other, _ := acr.NewClient(srv.URL, nil, nil)
		_, err = other.ResumeUpload(ctx, "sessions/c", location)
		if !errors.Is(err, acr.ErrUploadSessionLost) && !errors.Is(err, acr.ErrNotFound) {
			t.Fatalf("ResumeUpload of a cancelled session: got %v, want ErrUploadSessionLost or ErrNotFound", err)
		}
		if _, ok, _ := client.BlobExists(ctx, "sessions/c", digest.FromBytes(data)); ok {
			t.Error("a cancelled session's content was stored")
		}
	})

	t.Run("two writers", func(t *testing.T) {
		// A writes, B takes the session up and writes: A's next chunk is
		// refused for where the session stands, not counted as sent.
		a, err := client.StartUpload(ctx, "sessions/e")
		if err != nil {
			t.Fatal(err)
		}
		defer a.Cancel(ctx)
		if err := a.Write(ctx, []byte("aaaa")); err != nil {
			t.Fatal(err)
		}
		other, _ := acr.NewClient(srv.URL, nil, nil)
		b, err := other.ResumeUpload(ctx, "sessions/e", a.Location())
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Write(ctx, []byte("bbbb")); err != nil {
			t.Fatal(err)
		}
		if err := a.Write(ctx, []byte("dddd")); err == nil || !strings.Contains(err.Error(), "another writer") {
			t.Fatalf("A's Write after B's: got %v (Offset %d), want the error that another writer used the session", err, a.Offset())
		}
		if n, err := a.Status(ctx); err != nil || n != 8 {
			t.Fatalf("Status = %d, %v; want the 8 bytes A and B wrote", n, err)
		}
	})

	t.Run("another repository", func(t *testing.T) {
		up, err := client.StartUpload(ctx, "sessions/f")
		if err != nil {
			t.Fatal(err)
		}
		defer up.Cancel(ctx)
		if _, err := client.ResumeUpload(ctx, "sessions/other", up.Location()); err == nil || !strings.Contains(err.Error(), "not an upload session of sessions/other") {
			t.Fatalf("ResumeUpload in another repository: got %v, want a refusal naming the repository", err)
		}
	})

	t.Run("another origin", func(t *testing.T) {
		up, err := client.StartUpload(ctx, "sessions/d")
		if err != nil {
			t.Fatal(err)
		}
		defer up.Cancel(ctx)
		elsewhere := strings.Replace(up.Location(), "127.0.0.1", "localhost", 1)
		if elsewhere == up.Location() {
			t.Fatalf("the location %s is not on 127.0.0.1", up.Location())
		}
		if _, err := client.ResumeUpload(ctx, "sessions/d", elsewhere); err == nil || !strings.Contains(err.Error(), "refusing") {
			t.Fatalf("ResumeUpload on another origin: got %v, want a refusal", err)
		}
		if _, err := client.ResumeUpload(ctx, "sessions/d", ""); err == nil {
			t.Fatal("ResumeUpload of an empty location succeeded")
		}
	})
}

// An upload session started in one process and finished in another, which
// has only the session's Location.
func ExampleClient_ResumeUpload() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	up, err := client.StartUpload(ctx, "uploads")
	if err != nil {
		log.Fatal(err)
	}
	if err := up.Write(ctx, []byte("first chunk, ")); err != nil {
		log.Fatal(err)
	}
	location := up.Location() // saved, say, in the job's state

	// Later, in another process:
	other, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	resumed, err := other.ResumeUpload(ctx, "uploads", location)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("the registry holds", resumed.Offset(), "bytes")
	if err := resumed.Write(ctx, []byte("second chunk")); err != nil {
		log.Fatal(err)
	}
	desc, err := resumed.Complete(ctx, digest.FromString("first chunk, second chunk"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(desc.Size, "bytes stored as", desc.Digest.Encoded()[:12])
	// Output:
	// the registry holds 13 bytes
	// 25 bytes stored as c8f792521ea6
}
