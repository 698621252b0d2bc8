package transfer_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/internal/faulttest"
	"github.com/acrgo/acr/transfer"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestPushAndPullFiles(t *testing.T) {
	c := newRegistry(t)
	dir := t.TempDir()
	files := map[string][]byte{"hello.txt": []byte("hello\n"), "data.bin": bytes.Repeat([]byte{7}, 3<<20)}
	var list []transfer.File
	for name, data := range files {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		list = append(list, transfer.File{Path: p})
	}
	desc, err := transfer.PushFiles(t.Context(), transfer.Repository(c, "files"), "v1", list,
		&transfer.PushOptions{ArtifactType: "application/vnd.example.files", Annotations: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.GetManifest(t.Context(), "files", "v1", nil)
	if err != nil || m.Digest != desc.Digest {
		t.Fatalf("pushed manifest: %v", err)
	}
	im, _ := m.Image()
	if im.ArtifactType != "application/vnd.example.files" || len(im.Layers) != 2 || im.Annotations["k"] != "v" {
		t.Fatalf("manifest: %+v", im)
	}
	out := filepath.Join(t.TempDir(), "out")
	var total int64
	last := map[string]int64{} // per file: the last count reported
	done := map[string]bool{}
	written, err := transfer.PullFiles(t.Context(), transfer.Repository(c, "files"), "v1", out, &transfer.PullOptions{
		Total: func(n int64) { total = n },
		Progress: func(p transfer.Progress) {
			name := p.Desc.Annotations[ocispec.AnnotationTitle]
			if p.Bytes < last[name] {
				t.Errorf("%s: progress went back from %d to %d", name, last[name], p.Bytes)
			}
			last[name], done[name] = p.Bytes, done[name] || p.Done
		}})
	if err != nil || len(written) != 2 {
		t.Fatalf("pull: %v %v", err, written)
	}
	if want := int64(len(files["hello.txt"]) + len(files["data.bin"])); total != want {
		t.Errorf("Total told %d, want %d", total, want)
	}
	for name, data := range files {
		if last[name] != int64(len(data)) || !done[name] {
			t.Errorf("%s: progress ended at %d (done %v), want %d and done", name, last[name], done[name], len(data))
		}
	}
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(out, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s differs after the round trip", name)
		}
	}
	// No temporary files are left.
	entries, _ := os.ReadDir(out)
	if len(entries) != 2 {
		t.Fatalf("output directory holds %d entries, want 2", len(entries))
	}
}

func TestPullRefusesEscapingNames(t *testing.T) {
	c := newRegistry(t)
	ctx := t.Context()
	outside := t.TempDir()
	for _, title := range []string{"../evil", "/etc/evil", "a/../../evil", "link/evil"} {
		t.Run(title, func(t *testing.T) {
			l, err := c.UploadBlob(ctx, "evil", strings.NewReader("payload"), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer})
			if err != nil {
				t.Fatal(err)
			}
			l.Annotations = map[string]string{ocispec.AnnotationTitle: title}
			cfg, _ := c.UploadBlob(ctx, "evil", strings.NewReader("{}"), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
			m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{l}}
			m.SchemaVersion = 2
			if _, err := c.SetImage(ctx, "evil", m, &acr.SetManifestOptions{Tag: "v1"}); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "out")
			os.MkdirAll(out, 0o755)
			os.Symlink(outside, filepath.Join(out, "link")) // a planted link out of the directory
			if _, err := transfer.PullFiles(ctx, transfer.Repository(c, "evil"), "v1", out, nil); err == nil {
				t.Fatalf("title %q was accepted", title)
			}
			for _, p := range []string{filepath.Join(outside, "evil"), filepath.Join(filepath.Dir(out), "evil")} {
				if _, err := os.Stat(p); err == nil {
					t.Fatalf("title %q wrote %s", title, p)
				}
			}
		})
	}
}

// TestPullFilesWithoutTitles: a manifest whose layers have no file names,
// as a container image's have not, is a *NoFilesError, not a pull that
// succeeds having written nothing; the directory is not created.
func TestPullFilesWithoutTitles(t *testing.T) {
	c := newRegistry(t)
	ctx := t.Context()
	l, err := c.UploadBlob(ctx, "img", strings.NewReader("a layer"), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayerGzip})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := c.UploadBlob(ctx, "img", strings.NewReader(`{"architecture":"amd64","os":"linux"}`), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{l, l}}
	m.SchemaVersion = 2
	desc, err := c.SetImage(ctx, "img", m, &acr.SetManifestOptions{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	written, err := transfer.PullFiles(ctx, transfer.Repository(c, "img"), "v1", out, nil)
	var ne *transfer.NoFilesError
	if !errors.As(err, &ne) || ne.Manifest != desc.Digest || ne.Layers != 2 {
		t.Fatalf("got %v (%v written), want a *NoFilesError for %s with 2 layers", err, written, desc.Digest)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("the pull created %s", out)
	}
}

// TestPushRefusesInvalidMediaTypes: an artifact type or media type that is
// not TYPE/SUBTYPE is refused before anything is sent, as oras refuses it,
// instead of going into the manifest.
func TestPushRefusesInvalidMediaTypes(t *testing.T) {
	c := newRegistry(t)
	p := filepath.Join(t.TempDir(), "a.txt")
	os.WriteFile(p, []byte("a"), 0o644)
	for name, tc := range map[string]struct {
		files []transfer.File
		opts  transfer.PushOptions
	}{
		"artifact type":     {[]transfer.File{{Path: p}}, transfer.PushOptions{ArtifactType: "not a type"}},
		"file media type":   {[]transfer.File{{Path: p, MediaType: "text/plain; charset=utf-8"}}, transfer.PushOptions{}},
		"config media type": {[]transfer.File{{Path: p}}, transfer.PushOptions{Config: p, ConfigMediaType: "json"}},
	} {
		_, err := transfer.PushFiles(t.Context(), transfer.Repository(c, "mt"), "v1", tc.files, &tc.opts)
		if !errors.Is(err, transfer.ErrInvalidMediaType) {
			t.Errorf("%s: got %v, want ErrInvalidMediaType", name, err)
		}
	}
	if ok, err := c.ManifestExists(t.Context(), "mt", "v1"); ok || err != nil && !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("a refused push left mt:v1 (%v)", err)
	}
}

// TestPushReportsTheFirstFailureAlone: when one blob check fails, the
// others in flight are cancelled with that failure as the cause, and
// net/http reports them as that cause inside their own URL error. The push
// returns the failure as it was, not wrapped in another request's words
// ("HEAD .../sha256:A: Head ".../sha256:A": HEAD .../sha256:B: 403").
func TestPushReportsTheFirstFailureAlone(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	dir := t.TempDir()
	var list []transfer.File
	for i := range 3 {
		p := filepath.Join(dir, fmt.Sprintf("f%d.txt", i))
		os.WriteFile(p, fmt.Appendf(nil, "file %d", i), 0o644)
		list = append(list, transfer.File{Path: p})
	}
	var mu sync.Mutex
	heads := 0
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead && strings.Contains(r.URL.Path, "/blobs/") {
			mu.Lock()
			heads++
			first := heads == 1
			mu.Unlock()
			if !first {
				<-r.Context().Done() // in flight until the push gives up
				return
			}
			time.Sleep(20 * time.Millisecond) // the others are under way
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"no"}]}`))
			return
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	defer hs.Close()
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = transfer.PushFiles(t.Context(), transfer.Repository(c, "app"), "v1", list, &transfer.PushOptions{Concurrency: 4})
	var re *acr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != http.StatusForbidden {
		t.Fatalf("got %v, want the 403", err)
	}
	if n := strings.Count(err.Error(), "/blobs/"); n != 1 {
		t.Errorf("the error names %d blob URLs, want the failed one only: %v", n, err)
	}
}

// TestPushReportsTheFailure: when the registry goes away mid-push, the
// error is the failure (connection reset), not the cancellation of the
// uploads that another one's failure stopped (it read "interrupted").
func TestPushReportsTheFailure(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	dir := t.TempDir()
	var list []transfer.File
	for i, size := range []int{32 << 20, 16 << 20, 1 << 10} {
		p := filepath.Join(dir, fmt.Sprintf("f%d.bin", i))
		data := make([]byte, size)
		rand.Read(data)
		os.WriteFile(p, data, 0o644)
		list = append(list, transfer.File{Path: p})
	}
	// Vanishing, not closing the listener: the port a closed listener
	// frees can go, within the client's retries, to a test server of
	// another go test process, which then answers them.
	var hs *faulttest.VanishingServer
	hs = faulttest.NewVanishingServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch || r.Method == http.MethodPut {
			hs.Vanish() // the registry dies during the first upload
			return
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = transfer.PushFiles(t.Context(), transfer.Repository(c, "app"), "v1", list, &transfer.PushOptions{Concurrency: 4})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the connection failure", err)
	}
}
