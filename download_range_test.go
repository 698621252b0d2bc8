package acr_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// TestDownloadBlobRange reads parts of a blob through ACR's storage
// redirect, from a registry that ignores Range, and past the end.
func TestDownloadBlobRange(t *testing.T) {
	data := make([]byte, 1472)
	rand.Read(data)
	srv := acrtest.NewRedirectingServer(t, nil)
	d := newSeeder(t, srv, "", "").blob("app", data)
	// A registry that ignores Range, in front of the same store.
	ignoring := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Del("Range")
		srv.Registry.ServeHTTP(w, r)
	}))
	defer ignoring.Close()
	ctx := t.Context()
	for name, url := range map[string]string{"redirecting": srv.URL, "ignoring Range": ignoring.URL} {
		client, err := acr.NewClient(url, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			offset, length int64
			want           []byte
		}{
			{0, 1000, data[:1000]},
			{1000, 1000, data[1000:]}, // the blob ends first (G TestBlobClient_GetChunk)
			{1471, 1, data[1471:]},
			{17, 300, data[17:317]},
		} {
			rc, err := client.DownloadBlob(ctx, "app", d, &acr.DownloadBlobOptions{Offset: tc.offset, Length: tc.length})
			if err != nil {
				t.Fatalf("%s: range %d+%d: %v", name, tc.offset, tc.length, err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("%s: range %d+%d: got %d bytes (%v), want %d", name, tc.offset, tc.length, len(got), err, len(tc.want))
			}
		}
		if _, err := client.DownloadBlob(ctx, "app", d, &acr.DownloadBlobOptions{Offset: 1472, Length: 10}); err == nil {
			t.Errorf("%s: a range past the end was served", name)
		}
	}
	client, _ := acr.NewClient(srv.URL, nil, nil)
	for _, bad := range [][2]int64{{-1, 10}, {0, -5}} {
		if _, err := client.DownloadBlob(ctx, "app", d, &acr.DownloadBlobOptions{Offset: bad[0], Length: bad[1]}); err == nil {
			t.Errorf("offset %d length %d accepted", bad[0], bad[1])
		}
	}
}

// TestDownloadBlobRangeLyingRegistry: a Content-Range other than the one
// asked for, or a body that runs short, fails instead of handing over the
// wrong bytes.
func TestDownloadBlobRangeLyingRegistry(t *testing.T) {
	data := []byte("0123456789")
	for name, answer := range map[string]func(w http.ResponseWriter){
		"other range": func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", "bytes 0-3/10")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[:4])
		},
		"long body": func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", "bytes 2-5/10")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[2:9])
		},
		"short body": func(w http.ResponseWriter) {
			w.Header().Set("Content-Range", "bytes 2-5/10")
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(http.StatusPartialContent)
			w.Write(data[2:4])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		},
	} {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v2/" {
				return
			}
			answer(w)
		}))
		client, _ := acr.NewClient(hs.URL, nil, &acr.ClientOptions{MaxRetries: -1})
		rc, err := client.DownloadBlob(t.Context(), "app", digest.FromBytes(data), &acr.DownloadBlobOptions{Offset: 2, Length: 4})
		if err == nil {
			got, rerr := io.ReadAll(rc)
			rc.Close()
			if rerr == nil {
				t.Errorf("%s: got %q without an error", name, got)
			}
		}
		hs.Close()
	}
}
