package acr

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/opencontainers/go-digest"
)

// TestWriteToBufSize: a 64th of the blob in whole 32 KiB write pieces,
// from 256 KiB to 2 MiB, and 2 MiB when the size is unknown.
func TestWriteToBufSize(t *testing.T) {
	for _, tc := range []struct {
		size int64
		want int
	}{
		{-1, 2 << 20},
		{8 << 20, 256 << 10},
		{32<<20 - 1, 480 << 10},
		{32 << 20, 512 << 10},
		{100 << 20, 1600 << 10},
		{128 << 20, 2 << 20},
		{1 << 40, 2 << 20},
	} {
		if got := writeToBufSize(tc.size); got != tc.want {
			t.Errorf("writeToBufSize(%d) = %d, want %d", tc.size, got, tc.want)
		}
	}
}

// TestBigStreamsTokens: a download that finds every large-buffer token
// taken streams with small buffers and succeeds, and a download gives its
// token back when it ends, also when the content does not match.
func TestBigStreamsTokens(t *testing.T) {
	data := make([]byte, 40<<20)
	rand.Read(data)
	d := digest.FromBytes(data)
	wrong := bytes.Clone(data)
	wrong[len(wrong)-1] ^= 1
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		if r.URL.Path == "/v2/lie/blobs/"+d.String() {
			w.Write(wrong)
			return
		}
		w.Write(data)
	}))
	defer hs.Close()
	c, err := NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	get := func(repo string) error {
		var buf bytes.Buffer
		_, err := c.DownloadBlobTo(t.Context(), repo, d, &buf, nil)
		if err == nil && !bytes.Equal(buf.Bytes(), data) {
			t.Errorf("%s: the bytes written differ from the blob", repo)
		}
		return err
	}
	for range cap(bigStreams) {
		bigStreams <- struct{}{}
	}
	if err := get("full"); err != nil {
		t.Errorf("with every token taken: %v", err)
	}
	if n := len(bigStreams); n != cap(bigStreams) {
		t.Errorf("%d tokens taken after a download without one, want %d", n, cap(bigStreams))
	}
	for range cap(bigStreams) {
		<-bigStreams
	}
	if err := get("ok"); err != nil {
		t.Errorf("with free tokens: %v", err)
	}
	if err := get("lie"); err == nil {
		t.Error("a mismatching download succeeded")
	}
	if n := len(bigStreams); n != 0 {
		t.Errorf("%d tokens kept after the downloads ended, want 0", n)
	}
}
