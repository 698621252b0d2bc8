package acr_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestInjectedFailures runs the library's retries against the registry's
// own fault injection (what acrctl serve --fail-rate and --latency give
// users): 15% of requests answer 503 or have their connection cut, and
// uploads, manifests, downloads and listings still all succeed, verified.
func TestInjectedFailures(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{FailRate: 0.15, Latency: time.Millisecond})
	client, err := acr.NewClient(srv.URL, nil, &acr.ClientOptions{MaxRetries: 12})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	sizes := []int{0, 1, 100 << 10, 6 << 20} // 6 MiB goes in chunks
	for i, size := range sizes {
		data := make([]byte, size)
		rand.Read(data)
		desc, err := client.UploadBlob(ctx, "app", bytes.NewReader(data), nil)
		if err != nil {
			t.Fatalf("upload %d bytes: %v", size, err)
		}
		if desc.Digest != digest.FromBytes(data) {
			t.Fatalf("upload %d bytes: digest %s", size, desc.Digest)
		}
		cfg, err := client.UploadBlob(ctx, "app", bytes.NewReader([]byte(`{"architecture":"amd64","os":"linux"}`)), nil)
		if err != nil {
			t.Fatalf("config: %v", err)
		}
		cfg.MediaType, desc.MediaType = ocispec.MediaTypeImageConfig, ocispec.MediaTypeImageLayer
		m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{desc}}
		m.SchemaVersion = 2
		if _, err := client.SetImage(ctx, "app", m, &acr.SetManifestOptions{Tag: "v" + string(rune('0'+i))}); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		rc, err := client.DownloadBlob(ctx, "app", desc.Digest, nil)
		if err != nil {
			t.Fatalf("download %d bytes: %v", size, err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("download %d bytes: got %d (%v)", size, len(got), err)
		}
	}
	var tags []string
	for tag, err := range client.Tags(ctx, "app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag.Name)
	}
	if len(tags) != len(sizes) {
		t.Errorf("listed tags %v", tags)
	}
}

// TestInjectedThrottling: against a registry throttled to 20 requests a
// second (acrctl serve --throttle 20), concurrent calls wait out the 429s'
// Retry-After and all succeed; without retries the 429 is a typed error.
func TestInjectedThrottling(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{Throttle: 20})
	data := []byte("throttled")
	d := newSeeder(t, srv, "", "").blob("app", data)
	client, err := acr.NewClient(srv.URL, nil, &acr.ClientOptions{MaxRetries: 10})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 60)
	for range 3 {
		wg.Go(func() {
			for range 20 {
				if _, ok, err := client.BlobExists(t.Context(), "app", d); err != nil || !ok {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("BlobExists under throttling: %v", err)
	}
	impatient, _ := acr.NewClient(srv.URL, nil, &acr.ClientOptions{MaxRetries: -1})
	var re *acr.ResponseError
	for range 40 {
		if _, _, err := impatient.BlobExists(t.Context(), "app", d); err != nil {
			if !errors.As(err, &re) || re.StatusCode != 429 || re.RetryAfter <= 0 {
				t.Errorf("a throttled call without retries: %v", err)
			}
			return
		}
	}
	t.Error("40 calls in a row were never throttled")
}
