package acr_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// sessionLoser is a registry (the emulator) that forgets upload sessions
// the way ACR now and then does during long uploads: the chosen requests
// to a session (PATCH or PUT, counted from 1 in the order they arrive) are
// read to the end and answered 404 BLOB_UPLOAD_UNKNOWN, and the session is
// never heard of again.
type sessionLoser struct {
	reg  *emulator.Server
	lose func(n int) bool
	// cut makes the losing request end in a dropped connection, after part
	// of its body, instead of a 404: the client learns that the session
	// is gone when it asks for the session's offset.
	cut bool
	// noMonolithic opens a session for a monolithic POST (as registries
	// without monolithic uploads do), so that the blob follows in a PUT.
	noMonolithic bool

	mu    sync.Mutex
	n     int             // session requests seen
	posts int             // sessions opened
	lost  map[string]bool // paths of lost sessions
}

func newSessionLoser(t *testing.T, lose func(n int) bool) (*sessionLoser, *acr.Client) {
	t.Helper()
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })
	s := &sessionLoser{reg: reg, lose: lose, lost: map[string]bool{}}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	client, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, client
}

func (s *sessionLoser) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inSession := strings.Contains(r.URL.Path, "/blobs/uploads/") && !strings.HasSuffix(r.URL.Path, "/blobs/uploads/")
	s.mu.Lock()
	if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
		s.posts++
	}
	lose := false
	if inSession && (r.Method == http.MethodPatch || r.Method == http.MethodPut) {
		s.n++
		lose = s.lose(s.n)
		if lose {
			s.lost[r.URL.Path] = true
		}
	}
	gone := inSession && s.lost[r.URL.Path]
	s.mu.Unlock()
	if lose && s.cut {
		io.CopyN(io.Discard, r.Body, 64<<10)
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			conn.Close()
		}
		return
	}
	if s.noMonolithic && r.Method == http.MethodPost && r.URL.Query().Has("digest") {
		io.Copy(io.Discard, r.Body)
		r.URL.RawQuery, r.Body, r.ContentLength = "", http.NoBody, 0
	}
	if gone {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}`)
		return
	}
	s.reg.ServeHTTP(w, r)
}

func (s *sessionLoser) lostSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.lost)
}

func (s *sessionLoser) sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
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
			s, client := newSessionLoser(t, tc.lose)
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
			if n := s.sessions(); n != tc.sessions {
				t.Errorf("the upload opened %d sessions, want %d", n, tc.sessions)
			}
			assertHeld(t, client, "lost/up", desc.Digest, tc.data)
		})
	}

	t.Run("reader that cannot seek", func(t *testing.T) {
		s, client := newSessionLoser(t, third)
		_, err := client.UploadBlob(t.Context(), "lost/up", onlyReader{bytes.NewReader(big)}, &acr.UploadBlobOptions{ChunkSize: mib})
		if err == nil || !strings.Contains(err.Error(), "lost the upload session") || !strings.Contains(err.Error(), "cannot seek") {
			t.Fatalf("got %v, want an error saying the session was lost and the reader cannot seek", err)
		}
		if s.sessions() != 1 {
			t.Errorf("opened %d sessions, want 1", s.sessions())
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
			s, client := newSessionLoser(t, func(int) bool { return true })
			_, err := client.UploadBlob(t.Context(), "lost/up", tc.r(), &acr.UploadBlobOptions{ChunkSize: mib})
			if err == nil || !strings.Contains(err.Error(), "lost the upload session 3 times") || !errors.Is(err, acr.ErrNotFound) {
				t.Fatalf("got %v, want the session lost 3 times", err)
			}
			if s.sessions() != 3 {
				t.Errorf("opened %d sessions, want 3", s.sessions())
			}
		})
	}

	// A dropped connection, after which the session is gone: the client
	// learns it from the offset it asks for, and starts over.
	t.Run("cut, then lost", func(t *testing.T) {
		s, client := newSessionLoser(t, third)
		s.cut = true
		desc, err := client.UploadBlob(t.Context(), "lost/up", bytes.NewReader(big), &acr.UploadBlobOptions{ChunkSize: mib})
		if err != nil {
			t.Fatalf("upload: %v", err)
		}
		if s.sessions() != 2 {
			t.Errorf("opened %d sessions, want 2", s.sessions())
		}
		assertHeld(t, client, "lost/up", desc.Digest, big)
	})
}

// TestPutBlobStartsOverWhenSessionLost loses the session of a streamed
// PUT: a source that can seek is sent again, from where it started (not
// from the start of the file), in a new session.
func TestPutBlobStartsOverWhenSessionLost(t *testing.T) {
	data := randomBytes(3*mib + 11)
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.FromBytes(data), Size: int64(len(data))}
	s, client := newSessionLoser(t, func(n int) bool { return n == 1 })
	// The content starts 5 bytes into the reader.
	r := bytes.NewReader(append([]byte("junk!"), data...))
	r.Seek(5, io.SeekStart)
	if err := putBlob(t.Context(), client, "lost/put", desc, r); err != nil {
		t.Fatalf("PutBlob: %v", err)
	}
	if s.sessions() != 2 {
		t.Errorf("opened %d sessions, want 2", s.sessions())
	}
	assertHeld(t, client, "lost/put", desc.Digest, data)

	// From a reader that cannot seek, the error says what to do.
	s, client = newSessionLoser(t, func(n int) bool { return n == 1 })
	err := putBlob(t.Context(), client, "lost/put", desc, onlyReader{bytes.NewReader(data)})
	if err == nil || !strings.Contains(err.Error(), "cannot seek") {
		t.Fatalf("got %v, want an error saying the reader cannot seek", err)
	}

	// A dropped connection, after which the session is gone.
	s, client = newSessionLoser(t, func(n int) bool { return n == 1 })
	s.cut = true
	if err := putBlob(t.Context(), client, "lost/put", desc, bytes.NewReader(data)); err != nil {
		t.Fatalf("PutBlob, cut then lost: %v", err)
	}
	assertHeld(t, client, "lost/put", desc.Digest, data)

	// A small blob, sent in a POST and a PUT, is in hand: sent again, from
	// any reader.
	small := randomBytes(100 << 10)
	sdesc := ocispec.Descriptor{Digest: digest.FromBytes(small), Size: int64(len(small))}
	s, client = newSessionLoser(t, func(n int) bool { return n == 1 })
	s.noMonolithic = true
	if err := putBlob(t.Context(), client, "lost/put", sdesc, onlyReader{bytes.NewReader(small)}); err != nil {
		t.Fatalf("PutBlob of a small blob: %v", err)
	}
	if s.sessions() != 2 {
		t.Errorf("small blob: opened %d sessions, want 2", s.sessions())
	}
	assertHeld(t, client, "lost/put", sdesc.Digest, small)
}

// TestCopyStartsOverWhenSessionLost copies an image into a registry that
// loses the session of its first blob upload: Copy fetches that blob again
// and pushes it in a new session.
func TestCopyStartsOverWhenSessionLost(t *testing.T) {
	src, err := acr.NewClient(acrtest.NewServer(t, nil).URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := pushCopyImage(t, src, "app", 2*mib, 3*mib)
	s, dst := newSessionLoser(t, func(n int) bool { return n == 1 })
	got, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "app"), "v1", nil)
	if err != nil {
		t.Fatalf("copy: %v", err)
	}
	if got.Digest != img.root.Digest {
		t.Fatalf("copied %s, want %s", got.Digest, img.root.Digest)
	}
	for d, b := range img.blobs {
		assertHeld(t, dst, "app", d, b)
	}
	if n := s.lostSessions(); n != 1 {
		t.Errorf("the registry lost %d sessions, want 1", n)
	}
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
