package acr_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/acrgo/acr"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The content samples of the .NET library's README: upload an image,
// download it, delete its manifest and its blobs.

const (
	sampleRepository = "sample-oci-image"
	sampleTag        = "demo"
)

// uploadSampleImage is the "Upload images" sample.
func uploadSampleImage(ctx context.Context, client *acr.Client) ocispec.Descriptor {
	// Upload a config file.
	config, err := client.UploadBlob(ctx, sampleRepository, strings.NewReader("Sample config"),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		log.Fatal(err)
	}
	// Upload a layer file.
	layer, err := client.UploadBlob(ctx, sampleRepository, strings.NewReader("Sample layer"),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer})
	if err != nil {
		log.Fatal(err)
	}
	// Finally, upload the manifest that lists them, and tag it.
	manifest := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: config, Layers: []ocispec.Descriptor{layer}}
	manifest.SchemaVersion = 2
	desc, err := client.SetImage(ctx, sampleRepository, manifest, &acr.SetManifestOptions{Tag: sampleTag})
	if err != nil {
		log.Fatal(err)
	}
	return desc
}

func ExampleClient_UploadBlob() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}

	desc := uploadSampleImage(ctx, client)
	fmt.Println(desc.MediaType, desc.Size, "bytes")
	// Output:
	// application/vnd.oci.image.manifest.v1+json 394 bytes
}

func ExampleClient_DownloadBlobTo() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	uploadSampleImage(ctx, client)
	path, err := os.MkdirTemp("", "sample-oci-image-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(path)

	// Download the manifest to obtain the list of files in the image.
	result, err := client.GetManifest(ctx, sampleRepository, sampleTag, nil)
	if err != nil {
		log.Fatal(err)
	}
	manifest, err := result.Image()
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "manifest.json"), result.Bytes, 0o644); err != nil {
		log.Fatal(err)
	}
	// Download the config and the layers into files; each is hashed while
	// it is written and verified against its digest.
	blobs := append([]ocispec.Descriptor{manifest.Config}, manifest.Layers...)
	for i, blob := range blobs {
		name := blob.Digest.Encoded()
		if i == 0 {
			name = "config.json"
		}
		f, err := os.Create(filepath.Join(path, name))
		if err != nil {
			log.Fatal(err)
		}
		_, err = client.DownloadBlobTo(ctx, sampleRepository, blob.Digest, f, nil)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			log.Fatal(err)
		}
	}
	config, _ := os.ReadFile(filepath.Join(path, "config.json"))
	entries, _ := os.ReadDir(path)
	fmt.Printf("%d files; config: %s\n", len(entries), config)
	// Output:
	// 3 files; config: Sample config
}

func ExampleClient_DeleteManifest() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	uploadSampleImage(ctx, client)

	result, err := client.GetManifest(ctx, sampleRepository, sampleTag, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.DeleteManifest(ctx, sampleRepository, result.Digest.String()); err != nil {
		log.Fatal(err)
	}
	exists, err := client.ManifestExists(ctx, sampleRepository, sampleTag)
	fmt.Println("tag still resolves:", exists, err)
	// Output:
	// tag still resolves: false <nil>
}

func ExampleClient_DeleteBlob() {
	registry := exampleRegistry()
	defer registry.Close()
	ctx := context.Background()
	client, err := acr.NewClient(registry.URL, acr.TokenCredential(entraID{}), nil)
	if err != nil {
		log.Fatal(err)
	}
	uploadSampleImage(ctx, client)

	result, err := client.GetManifest(ctx, sampleRepository, sampleTag, nil)
	if err != nil {
		log.Fatal(err)
	}
	manifest, err := result.Image()
	if err != nil {
		log.Fatal(err)
	}
	for _, layer := range manifest.Layers {
		if err := client.DeleteBlob(ctx, sampleRepository, layer.Digest); err != nil {
			log.Fatal(err)
		}
		_, exists, _ := client.BlobExists(ctx, sampleRepository, layer.Digest)
		fmt.Println("layer exists:", exists)
	}
	// Output:
	// layer exists: false
}
