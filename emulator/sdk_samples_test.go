package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// sdkSamplesArea runs the samples of the seed README
// (../shared/seeds/acr-dotnet-readme.md) translated to the Go SDK, in its
// order where they depend on each other. The national cloud sample is in
// sdkAuthArea.
func sdkSamplesArea(t *testing.T) {
	e := newSDKEnv(t, false, emulator.Options{AnonymousPull: true})
	ctx := t.Context()
	const hello = "library/hello-world"
	// Five images in hello-world and four in busybox, oldest first;
	// latest and v1 name the newest hello-world image.
	var helloImages, busyboxImages []sdkImage
	for i := 1; i <= 5; i++ {
		helloImages = append(helloImages, e.pushImage(t, hello, fmt.Sprintf("v%d", i), "amd64", "linux", sdkOCI, fmt.Sprintf("hello layer %d", i)))
	}
	newest := helloImages[4]
	e.uploadManifest(t, hello, "latest", sdkOCI, newest.manifest)
	e.uploadManifest(t, hello, "stable", sdkOCI, newest.manifest)
	for i := 1; i <= 4; i++ {
		busyboxImages = append(busyboxImages, e.pushImage(t, "samples/busybox", fmt.Sprintf("1.%d", i), "arm64", "linux", sdkDocker, fmt.Sprintf("busybox layer %d", i)))
	}

	t.Run("ListRepositories", func(t *testing.T) {
		var names []string
		for _, p := range sdkPages(t, "repositories", e.client.NewListRepositoriesPager(nil), ctx) {
			names = append(names, sdkStrs(p.Names)...)
		}
		if want := []string{hello, "samples/busybox"}; !slices.Equal(names, want) {
			t.Errorf("got repositories %v, want %v", names, want)
		}
	})

	t.Run("ListTagsWithAnonymousAccess", func(t *testing.T) {
		client, _ := e.clients(t, nil)
		image, err := client.GetTagProperties(ctx, hello, "latest", nil)
		if err != nil {
			t.Fatalf("GetTagProperties latest: %v", err)
		}
		var aliases []string
		pager := client.NewListTagsPager(hello, &azcontainerregistry.ClientListTagsOptions{Digest: image.Tag.Digest})
		for _, p := range sdkPages(t, "tags of latest", pager, ctx) {
			for _, tag := range p.Tags {
				aliases = append(aliases, e.srv.Host+"/"+hello+":"+sdkStr(tag.Name))
			}
		}
		want := []string{e.srv.Host + "/" + hello + ":latest", e.srv.Host + "/" + hello + ":stable", e.srv.Host + "/" + hello + ":v5"}
		if !slices.Equal(aliases, want) {
			t.Errorf("got aliases %v, want %v", aliases, want)
		}
	})

	t.Run("SetArtifactProperties", func(t *testing.T) {
		resp, err := e.client.UpdateTagProperties(ctx, hello, "latest", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false), CanDelete: to.Ptr(false)}})
		if err != nil {
			t.Fatalf("UpdateTagProperties: %v", err)
		}
		sdkCheckTag(t, "UpdateTagProperties latest", resp.Tag, "latest", newest.digest, [4]bool{false, false, true, true})
		got, err := e.client.GetTagProperties(ctx, hello, "latest", nil)
		if err != nil {
			t.Fatal(err)
		}
		sdkCheckTag(t, "GetTagProperties latest", got.Tag, "latest", newest.digest, [4]bool{false, false, true, true})
		_, err = e.client.DeleteTag(ctx, hello, "latest", nil)
		sdkWantError(t, "DeleteTag of the locked tag", err, http.StatusMethodNotAllowed, sdkDisallowed)
	})

	t.Run("DeleteImages", func(t *testing.T) {
		// For every repository, keep the three newest images and delete
		// the others with their tags.
		for _, rp := range sdkPages(t, "repositories", e.client.NewListRepositoriesPager(nil), ctx) {
			for _, name := range sdkStrs(rp.Names) {
				var manifests []*azcontainerregistry.ManifestAttributes
				pager := e.client.NewListManifestsPager(name, &azcontainerregistry.ClientListManifestsOptions{
					OrderBy: to.Ptr(azcontainerregistry.ArtifactManifestOrderByLastUpdatedOnDescending)})
				for _, p := range sdkPages(t, "manifests of "+name, pager, ctx) {
					manifests = append(manifests, p.Attributes...)
				}
				for _, m := range manifests[min(3, len(manifests)):] {
					for _, tag := range m.Tags {
						if _, err := e.client.DeleteTag(ctx, name, *tag, nil); err != nil {
							t.Errorf("DeleteTag %s:%s: %v", name, *tag, err)
						}
					}
					if _, err := e.client.DeleteManifest(ctx, name, *m.Digest, nil); err != nil {
						t.Errorf("DeleteManifest %s@%s: %v", name, *m.Digest, err)
					}
				}
			}
		}
		for name, images := range map[string][]sdkImage{hello: helloImages, "samples/busybox": busyboxImages} {
			var left, wantLeft, tags, wantTags []string
			for _, p := range sdkPages(t, "manifests of "+name, e.client.NewListManifestsPager(name, nil), ctx) {
				for _, m := range p.Attributes {
					left = append(left, sdkStr(m.Digest))
				}
			}
			for _, im := range images[len(images)-3:] {
				wantLeft = append(wantLeft, im.digest)
				wantTags = append(wantTags, im.tag)
			}
			for _, p := range sdkPages(t, "tags of "+name, e.client.NewListTagsPager(name, nil), ctx) {
				for _, tag := range p.Tags {
					tags = append(tags, sdkStr(tag.Name))
				}
			}
			if name == hello {
				wantTags = append(wantTags, "latest", "stable")
			}
			slices.Sort(left)
			slices.Sort(wantLeft)
			slices.Sort(wantTags)
			if !slices.Equal(left, wantLeft) || !slices.Equal(tags, wantTags) {
				t.Errorf("%s after the sample: got manifests %v, tags %v; want %v, %v", name, left, tags, wantLeft, wantTags)
			}
		}
	})

	const repo, tag = "sample-oci-image", "demo"
	config, layer := []byte("Sample config"), []byte("Sample layer")

	t.Run("UploadImage", func(t *testing.T) {
		m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest}
		m.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.Digest(e.pushBlob(t, e.blobs, repo, config, 0)), Size: int64(len(config))}
		m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: digest.Digest(e.pushBlob(t, e.blobs, repo, layer, 5)), Size: int64(len(layer))})
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := e.client.UploadManifest(ctx, repo, tag, sdkOCI, streaming.NopCloser(bytes.NewReader(b)), nil)
		if err != nil {
			t.Fatalf("UploadManifest: %v", err)
		}
		if sdkStr(resp.DockerContentDigest) != digest.FromBytes(b).String() {
			t.Errorf("UploadManifest: got digest %s, want %s", sdkStr(resp.DockerContentDigest), digest.FromBytes(b))
		}
	})

	// downloadManifest is the first step of the download and delete samples.
	downloadManifest := func(t *testing.T) (ocispec.Manifest, string) {
		t.Helper()
		resp, err := e.client.GetManifest(ctx, repo, tag, &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(ocispec.MediaTypeImageManifest)})
		if err != nil {
			t.Fatalf("GetManifest %s: %v", tag, err)
		}
		var m ocispec.Manifest
		if err := json.Unmarshal(sdkValidated(t, "GetManifest", sdkStr(resp.DockerContentDigest), resp.ManifestData), &m); err != nil {
			t.Fatalf("the manifest does not parse: %v", err)
		}
		return m, sdkStr(resp.DockerContentDigest)
	}

	t.Run("DownloadImage", func(t *testing.T) {
		m, _ := downloadManifest(t)
		cb, err := e.blobs.GetBlob(ctx, repo, m.Config.Digest.String(), nil)
		if err != nil {
			t.Fatalf("GetBlob config: %v", err)
		}
		if got := sdkValidated(t, "config", m.Config.Digest.String(), cb.BlobData); !bytes.Equal(got, config) {
			t.Errorf("got config %q, want %q", got, config)
		}
		if len(m.Layers) != 1 {
			t.Fatalf("got %d layers, want 1", len(m.Layers))
		}
		for _, l := range m.Layers {
			lb, err := e.blobs.GetBlob(ctx, repo, l.Digest.String(), nil)
			if err != nil {
				t.Fatalf("GetBlob layer: %v", err)
			}
			if got := sdkValidated(t, "layer", l.Digest.String(), lb.BlobData); !bytes.Equal(got, layer) {
				t.Errorf("got layer %q, want %q", got, layer)
			}
		}
	})

	t.Run("DeleteBlob", func(t *testing.T) {
		m, _ := downloadManifest(t)
		for _, l := range m.Layers {
			if _, err := e.blobs.DeleteBlob(ctx, repo, l.Digest.String(), nil); err != nil {
				t.Errorf("DeleteBlob %s: %v", l.Digest, err)
			}
			_, err := e.blobs.CheckBlobExists(ctx, repo, l.Digest.String(), nil)
			sdkWantError(t, "CheckBlobExists of the deleted layer", err, http.StatusNotFound, "")
		}
	})

	t.Run("DeleteManifest", func(t *testing.T) {
		_, d := downloadManifest(t)
		if _, err := e.client.DeleteManifest(ctx, repo, d, nil); err != nil {
			t.Fatalf("DeleteManifest: %v", err)
		}
		_, err := e.client.GetManifest(ctx, repo, tag, &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(ocispec.MediaTypeImageManifest)})
		msg, _ := sdkWantError(t, "GetManifest of the deleted image's tag", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
		if !strings.Contains(msg, tag) {
			t.Errorf("GetManifest of the deleted image's tag: got message %q, want it to name the tag", msg)
		}
	})
}
