package acr

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLoneLocalBodyIsCopied checks how a file body goes to a registry: to
// one on this machine over plain HTTP it is copied while fewer bodies than
// GOMAXPROCS go there, and sent with sendfile once as many do; elsewhere
// it is always left to sendfile (or to TLS). Ending a send twice counts
// once.
func TestLoneLocalBodyIsCopied(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	c := &Client{}
	local, _ := url.Parse("http://127.0.0.1:5000/v2/a/blobs/uploads/x")
	for _, raw := range []string{"https://127.0.0.1:5000/v2/a/blobs/uploads/x", "http://registry.example:5000/v2/a/blobs/uploads/x"} {
		u, _ := url.Parse(raw)
		fb := &fileBody{}
		c.sendsBy(fb, u)()
		if fb.copied || c.localSends.Load() != 0 {
			t.Errorf("%s: copied %v, %d local sends; want sendfile, none counted", raw, fb.copied, c.localSends.Load())
		}
	}
	var fbs [4]fileBody
	end0 := c.sendsBy(&fbs[0], local)
	end1 := c.sendsBy(&fbs[1], local)
	if !fbs[0].copied || fbs[1].copied {
		t.Fatalf("copied %v and %v, want the lone body copied and the second sent with sendfile", fbs[0].copied, fbs[1].copied)
	}
	end0()
	end0()
	end2 := c.sendsBy(&fbs[2], local)
	if fbs[2].copied {
		t.Errorf("a body that starts beside another was copied; want sendfile")
	}
	end1()
	end2()
	c.sendsBy(&fbs[3], local)()
	if !fbs[3].copied || c.localSends.Load() != 0 {
		t.Errorf("alone again: copied %v, %d local sends; want copied, none left", fbs[3].copied, c.localSends.Load())
	}
	var sf fileBody
	sf.copied = true
	if _, err := sf.SyscallConn(); err != errCopied {
		t.Errorf("SyscallConn of a copied body: %v, want errCopied", err)
	}
}

// TestLocalFileUploadsEndTheirSends uploads files of 4 MiB to a registry on
// this machine, one at a time, four at once, and to a registry that
// refuses every PUT: the registry holds exactly what was sent, whichever
// way each body went, and no send stays counted.
func TestLocalFileUploadsEndTheirSends(t *testing.T) {
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	srv := httptest.NewServer(reg)
	defer srv.Close()
	c, err := NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	upload := func(c *Client, data []byte) error {
		path := filepath.Join(t.TempDir(), "blob")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		desc := ocispec.Descriptor{Digest: digest.FromBytes(data), Size: int64(len(data))}
		_, err = c.UploadBlob(t.Context(), "sends", f, &UploadBlobOptions{Descriptor: &desc})
		return err
	}
	check := func(data []byte) {
		t.Helper()
		rc, err := c.DownloadBlob(t.Context(), "sends", digest.FromBytes(data), nil)
		if err != nil {
			t.Fatalf("download: %v", err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("the registry holds %d bytes (%v), not the %d sent", len(got), err, len(data))
		}
	}
	blob := func() []byte {
		b := make([]byte, 4<<20+7)
		rand.Read(b)
		return b
	}
	lone := blob()
	if err := upload(c, lone); err != nil {
		t.Fatal(err)
	}
	check(lone)
	var wg sync.WaitGroup
	blobs := [][]byte{blob(), blob(), blob(), blob()}
	errs := make([]error, len(blobs))
	for i, b := range blobs {
		wg.Go(func() { errs[i] = upload(c, b) })
	}
	wg.Wait()
	for i, b := range blobs {
		if errs[i] != nil {
			t.Fatalf("upload %d of 4 at once: %v", i, errs[i])
		}
		check(b)
	}
	if n := c.localSends.Load(); n != 0 {
		t.Errorf("%d sends still counted after the uploads", n)
	}

	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.Header().Set("Location", "/v2/sends/blobs/uploads/session")
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer refusing.Close()
	rc, err := NewClient(refusing.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := upload(rc, blob()); err == nil {
		t.Fatal("an upload to a registry that refuses every PUT succeeded")
	}
	if n := rc.localSends.Load(); n != 0 {
		t.Errorf("%d sends still counted after refused uploads", n)
	}
}
