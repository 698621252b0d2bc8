package acr_test

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// newSessionLoser serves a registry (the emulator) behind a
// faulttest.SessionLoser that loses the session requests loss chooses, and
// returns it with a client of it.
func newSessionLoser(t *testing.T, loss faulttest.SessionLoss) (*faulttest.SessionLoser, *acr.Client) {
	t.Helper()
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	s := faulttest.NewSessionLoser(t, reg, loss)
	client, err := acr.NewClient(s.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

// onlyReader hides every method of a reader but Read: a source that cannot
// seek.
type onlyReader struct{ io.Reader }

// TestUploadStartsOverWhenSessionLost loses the upload session midway:
// uploads from sources that can seek, and small ones still in hand, start
// over in a new session and store the right content; a large upload from a
// reader that cannot seek fails with an error that says why and what to do.
func TestUploadStartsOverWhenSessionLost(t *testing.T) {
	big := randomBytes(5*mib + 3)
	small := randomBytes(100 << 10)
	third := func(n int) bool { return n == 3 }
	first := func(n int) bool { return n == 1 }
	for _, tc := range []struct {
		name     string
		data     []byte
		lose     func(int) bool
		seekable bool
		sessions int // opened, when it succeeds
	}{
		{"chunked, seekable, lost at the third chunk", big, third, true, 2},
		{"one PUT in hand, lost at once", small, first, false, 2},
		{"lost twice", big, func(n int) bool { return n == 2 || n == 5 }, true, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, client := newSessionLoser(t, faulttest.SessionLoss{Lose: tc.lose})
			var r io.Reader = bytes.NewReader(tc.data)
			if !tc.seekable {
				r = onlyReader{r}
			}
			desc, err := client.UploadBlob(t.Context(), "lost/up", r, &acr.UploadBlobOptions{ChunkSize: mib})
			if err != nil {
				t.Fatalf("upload: %v", err)
			}
			if want := digest.FromBytes(tc.data); desc.Digest != want || desc.Size != int64(len(tc.data)) {
				t.Fatalf("got %s (%d bytes), want %s (%d bytes)", desc.Digest, desc.Size, want, len(tc.data))
			}
			if n := s.Sessions(); n != tc.sessions {
				t.Errorf("the upload opened %d sessions, want %d", n, tc.sessions)
			}
			assertHeld(t, client, "lost/up", desc.Digest, tc.data)
		})
	}

	t.Run("reader that cannot seek", func(t *testing.T) {
		s, client := newSessionLoser(t, faulttest.SessionLoss{Lose: third})
		_, err := client.UploadBlob(t.Context(), "lost/up", onlyReader{bytes.NewReader(big)}, &acr.UploadBlobOptions{ChunkSize: mib})
		if err == nil || !strings.Contains(err.Error(), "lost the upload session") || !strings.Contains(err.Error(), "cannot seek") {
			t.Fatalf("got %v, want an error saying the session was lost and the reader cannot seek", err)
		}
		if s.Sessions() != 1 {
			t.Errorf("opened %d sessions, want 1", s.Sessions())
		}
		assertNotHeld(t, client, "lost/up", digest.FromBytes(big))
	})

	// Lost every time: three sessions, whatever the source, then an error.
	for _, tc := range []struct {
		name string
		r    func() io.Reader
	}{
		{"lost every time, chunked", func() io.Reader { return bytes.NewReader(big) }},
		{"lost every time, one PUT", func() io.Reader { return bytes.NewReader(small) }},
		{"lost every time, one PUT from a reader that cannot seek", func() io.Reader { return onlyReader{bytes.NewReader(small)} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, client := newSessionLoser(t, faulttest.SessionLoss{Lose: func(int) bool { return true }})
			_, err := client.UploadBlob(t.Context(), "lost/up", tc.r(), &acr.UploadBlobOptions{ChunkSize: mib})
			if err == nil || !strings.Contains(err.Error(), "lost the upload session 3 times") || !errors.Is(err, acr.ErrNotFound) {
				t.Fatalf("got %v, want the session lost 3 times", err)
			}
			if s.Sessions() != 3 {
				t.Errorf("opened %d sessions, want 3", s.Sessions())
			}
		})
	}

	// A dropped connection, after which the session is gone: the client
	// learns it from the offset it asks for, and starts over.
	t.Run("cut, then lost", func(t *testing.T) {
		s, client := newSessionLoser(t, faulttest.SessionLoss{Lose: third, Cut: true})
		desc, err := client.UploadBlob(t.Context(), "lost/up", bytes.NewReader(big), &acr.UploadBlobOptions{ChunkSize: mib})
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		if s.Sessions() != 2 {
			t.Errorf("opened %d sessions, want 2", s.Sessions())
		}
		assertHeld(t, client, "lost/up", desc.Digest, big)
	})
}

// TestUploadKnownBlobStartsOverWhenSessionLost loses the session of a streamed
// PUT: a source that can seek is sent again, from where it started (not
// from the start of the file), in a new session.
func TestUploadKnownBlobStartsOverWhenSessionLost(t *testing.T) {
	data := randomBytes(3*mib + 11)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
	s, client := newSessionLoser(t, faulttest.SessionLoss{Lose: func(n int) bool { return n == 1 }})
	// The content starts 5 bytes into the reader.
	r := bytes.NewReader(append([]byte("junk!"), data...))
	r.Seek(5, io.SeekStart)
	if err := putBlob(t.Context(), client, "lost/put", desc, r); err != nil {
		t.Fatalf("UploadBlob with a Descriptor: %v", err)
	}
	if s.Sessions() != 2 {
		t.Errorf("opened %d sessions, want 2", s.Sessions())
	}
	assertHeld(t, client, "lost/put", desc.Digest, data)

	// From a reader that cannot seek, the error says what to do.
	_, client = newSessionLoser(t, faulttest.SessionLoss{Lose: func(n int) bool { return n == 1 }})
	err := putBlob(t.Context(), client, "lost/put", desc, onlyReader{bytes.NewReader(data)})
	if err == nil || !strings.Contains(err.Error(), "cannot seek") {
		t.Fatalf("got %v, want an error saying the reader cannot seek", err)
	}

	// A dropped connection, after which the session is gone.
	_, client = newSessionLoser(t, faulttest.SessionLoss{Lose: func(n int) bool { return n == 1 }, Cut: true})
	if err := putBlob(t.Context(), client, "lost/put", desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("UploadBlob with a Descriptor, cut then lost: %v", err)
	}
	assertHeld(t, client, "lost/put", desc.Digest, data)

	// A small blob, sent in a POST and a PUT, is in hand: sent again, from
	// any reader.
	small := randomBytes(100 << 10)
	sdesc := ocispec.Descriptor{Digest: digest.FromBytes(small), Size: int64(len(small))}
	s, client = newSessionLoser(t, faulttest.SessionLoss{Lose: func(n int) bool { return n == 1 }, NoMonolithic: true})
	if err := putBlob(t.Context(), client, "lost/put", sdesc, onlyReader{bytes.NewReader(small)}); err != nil {
		t.Fatalf("UploadBlob with the Descriptor of a small blob: %v", err)
	}
	if s.Sessions() != 2 {
		t.Errorf("small blob: opened %d sessions, want 2", s.Sessions())
	}
	assertHeld(t, client, "lost/put", sdesc.Digest, small)
}

// assertHeld checks that repo holds data under d, read back through client
// (which verifies the digest).
func assertHeld(t *testing.T, client *acr.Client, repo string, d digest.Digest, data []byte) {
	t.Helper()
	rc, err := client.DownloadBlob(t.Context(), repo, d, nil)
	if err != nil {
		t.Fatalf("download %s: %v", d, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the registry holds %d bytes under %s (%v), want the %d uploaded", len(got), d, err, len(data))
	}
}

// assertNotHeld checks that repo holds nothing under d.
func assertNotHeld(t *testing.T, client *acr.Client, repo string, d digest.Digest) {
	t.Helper()
	if _, ok, err := client.BlobExists(t.Context(), repo, d); err != nil || ok {
		t.Fatalf("BlobExists(%s) = %v, %v; want nothing stored", d, ok, err)
	}
}
