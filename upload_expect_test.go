package acr_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestRefusedPutSendsNoBody uploads 16 MiB from a file and from a reader to
// a registry on this machine that refuses every PUT before reading it, as
// a registry does whose session expired, and closes the connection (as
// Go's net/http does when a handler answers without reading): the client
// sends each PUT's
// header alone and waits to be asked for the body (Expect:
// 100-continue), so the registry receives no body, however many
// times the upload starts over, and the upload fails with the registry's
// refusal. Without the wait the body follows each header at once, and the
// registry, which reads on for a moment after refusing, takes in some.
func TestRefusedPutSendsNoBody(t *testing.T) {
	data := randomBytes(16*mib + 3)
	desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
	for name, open := range map[string]func(t *testing.T) io.Reader{
		"file":   func(t *testing.T) io.Reader { return openTempFile(t, data) },
		"reader": func(t *testing.T) io.Reader { return onlyReader{bytes.NewReader(data)} },
	} {
		t.Run(name, func(t *testing.T) {
			var received atomic.Int64
			var mu sync.Mutex
			expects := map[string]int{}
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch r.Method {
				case http.MethodPost:
					w.Header().Set("Location", "/v2/refuse/blobs/uploads/session")
					w.WriteHeader(http.StatusAccepted)
				case http.MethodPut:
					mu.Lock()
					expects[r.Header.Get("Expect")]++
					mu.Unlock()
					// Refuse first, then take in, for a moment, whatever
					// body the client sends all the same.
					rc := http.NewResponseController(w)
					rc.EnableFullDuplex()
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(http.StatusNotFound)
					fmt.Fprint(w, `{"errors":[{"code":"BLOB_UPLOAD_UNKNOWN","message":"blob upload unknown to registry"}]}`)
					rc.Flush()
					rc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
					n, _ := io.Copy(io.Discard, r.Body)
					received.Add(n)
				default:
					w.WriteHeader(http.StatusNotFound)
				}
			}))
			srv.Start()
			t.Cleanup(srv.Close)
			// The client's own transport waits a minute for 100 Continue
			// (the default, a second, could run out on a loaded machine
			// and send the body all the same).
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.ExpectContinueTimeout = time.Minute
			client, err := acr.NewClient(srv.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: tr}})
			if err != nil {
				t.Fatal(err)
			}
			err = putBlob(t.Context(), client, "refuse", desc, open(t))
			if !errors.Is(err, acr.ErrUploadSessionLost) {
				t.Fatalf("upload: %v, want the session lost", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if expects["100-continue"] < 1 || len(expects) != 1 {
				t.Errorf("Expect headers of the PUTs: %v, want 100-continue on each", expects)
			}
			if n := received.Load(); n != 0 {
				t.Errorf("the registry received %d bytes of body in %d refused PUTs, want none", n, expects["100-continue"])
			}
		})
	}
}
