package acr_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// pieceWriter records what DownloadBlobTo writes: the bytes, and the
// largest single write.
type pieceWriter struct {
	bytes.Buffer
	largest int
}

func (w *pieceWriter) Write(p []byte) (int, error) {
	w.largest = max(w.largest, len(p))
	return w.Buffer.Write(p)
}

// TestDownloadBlobToStream downloads blobs around the sizes where
// DownloadBlobTo's one stream changes shape (inline hashing below 8 MiB,
// buffers of several write pieces from 32 MiB) from the emulator, with and
// without a Content-Length: the bytes arrive whole, no write is larger
// than 32 KiB (see writePiece), progress only grows, ending at the blob's size, and Size
// tells the length first when the answer carries it.
func TestDownloadBlobToStream(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	seed := newSeeder(t, srv, "", "")
	for _, size := range []int{8*mib - 1, 8 * mib, 33*mib + 5} {
		data := randomBytes(size)
		d := seed.blob("stream/blob", data)
		for _, chunked := range []bool{false, true} {
			name := strconv.Itoa(size)
			url := srv.URL
			if chunked {
				name += "/chunked"
				// A proxy that drops Content-Length, so the client
				// cannot know the size in advance.
				hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.URL.Path != "/v2/stream/blob/blobs/"+d.String() {
						http.NotFound(w, r)
						return
					}
					w.Header().Set("Content-Type", "application/octet-stream")
					for p := data; len(p) > 0; {
						n := min(len(p), 3*mib+1)
						w.Write(p[:n])
						w.(http.Flusher).Flush()
						p = p[n:]
					}
				}))
				t.Cleanup(hs.Close)
				url = hs.URL
			}
			t.Run(name, func(t *testing.T) {
				client, err := acr.NewClient(url, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				var w pieceWriter
				var last int64
				calls := 0
				progress := func(n int64) {
					if n < last {
						t.Errorf("progress went back from %d to %d", last, n)
					}
					last = n
					calls++
				}
				var sizes []int64
				setSize := func(n int64) {
					if calls > 0 {
						t.Errorf("Size(%d) came after Progress", n)
					}
					sizes = append(sizes, n)
				}
				n, err := client.DownloadBlobTo(t.Context(), "stream/blob", d, &w, &acr.DownloadBlobToOptions{Progress: progress, Size: setSize})
				if err != nil {
					t.Fatalf("DownloadBlobTo: %v", err)
				}
				if n != int64(size) || !bytes.Equal(w.Bytes(), data) {
					t.Fatalf("got %d bytes (returned %d) that differ from the blob's %d", w.Len(), n, size)
				}
				if w.largest > 32<<10 {
					t.Errorf("the largest write was %d bytes, want at most 32 KiB", w.largest)
				}
				if last != int64(size) || calls < size/(256<<10) {
					t.Errorf("progress ended at %d after %d calls, want %d after at least %d", last, calls, size, size/(256<<10))
				}
				if chunked && len(sizes) != 0 {
					t.Errorf("Size was called with %v for an answer without a length", sizes)
				} else if !chunked && (len(sizes) != 1 || sizes[0] != int64(size)) {
					t.Errorf("Size was called with %v, want once with %d", sizes, size)
				}
			})
		}
	}
}

// TestDownloadBlobToStreamMismatch serves a large blob with one byte
// flipped in each of its buffers' places (first, middle, last): the stream,
// hashed in a second goroutine, fails with ErrDigestMismatch after the
// bytes were written, and a later WriteTo or Read does not succeed.
func TestDownloadBlobToStreamMismatch(t *testing.T) {
	const size = 33*mib + 5
	data := randomBytes(size)
	d := digest.FromBytes(data)
	for _, at := range []int{0, size / 2, size - 1} {
		wrong := bytes.Clone(data)
		wrong[at] ^= 0x01
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(size))
			w.Write(wrong)
		}))
		t.Run(strconv.Itoa(at), func(t *testing.T) {
			defer hs.Close()
			client, _ := acr.NewClient(hs.URL, nil, nil)
			var w pieceWriter
			n, err := client.DownloadBlobTo(t.Context(), "lie", d, &w, nil)
			if !errors.Is(err, acr.ErrDigestMismatch) {
				t.Fatalf("DownloadBlobTo: got %v, want ErrDigestMismatch", err)
			}
			if n != size || w.Len() != size {
				t.Errorf("wrote %d bytes (returned %d) before failing, want all %d", w.Len(), n, size)
			}
		})
	}
}

// TestDownloadBlobToStreamsAtOnce runs more large downloads at once than
// may stream with large buffers (4), so that some stream with small ones,
// and then some more one at a time: each writes the whole blob.
func TestDownloadBlobToStreamsAtOnce(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	data := randomBytes(33*mib + 5)
	d := newSeeder(t, srv, "", "").blob("stream/many", data)
	client, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func() error {
		v := d.Verifier()
		n, err := client.DownloadBlobTo(t.Context(), "stream/many", d, v, nil)
		switch {
		case err != nil:
			return err
		case n != int64(len(data)) || !v.Verified():
			return fmt.Errorf("wrote %d bytes that do not hash to the blob's digest", n)
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, 7)
	for i := range errs {
		wg.Go(func() { errs[i] = get() })
	}
	wg.Wait()
	for i := 0; i < 5; i++ {
		errs = append(errs, get())
	}
	for i, err := range errs {
		if err != nil {
			t.Errorf("download %d: %v", i, err)
		}
	}
}
