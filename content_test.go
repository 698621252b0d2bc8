package acr_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestManifestsAndReferrers(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	cfg, err := client.UploadBlob(ctx, "img", bytes.NewReader([]byte(`{"architecture":"amd64","os":"linux"}`)),
		&acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := client.UploadBlob(ctx, "img", bytes.NewReader([]byte("layer")), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	desc, err := client.SetImage(ctx, "img", m, &acr.SetManifestOptions{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := client.GetManifest(ctx, "img", "v1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != desc.Digest || got.MediaType != ocispec.MediaTypeImageManifest {
		t.Fatalf("got %s %s, want %s", got.Digest, got.MediaType, desc.Digest)
	}
	im, err := got.Image()
	if err != nil || im.Config.Digest != cfg.Digest || len(im.Layers) != 1 {
		t.Fatalf("Image(): %v %+v", err, im)
	}
	if _, err := got.Index(); err == nil {
		t.Fatal("Index() of an image manifest succeeded")
	}

	// A signature-like referrer.
	empty, _ := client.UploadBlob(ctx, "img", bytes.NewReader([]byte("{}")), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
	sig := ocispec.Manifest{Config: empty, Layers: []ocispec.Descriptor{}, Subject: &desc, ArtifactType: "application/vnd.example.signature"}
	sig.SchemaVersion = 2
	sigDesc, err := client.SetImage(ctx, "img", sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	var refs []ocispec.Descriptor
	for r, err := range client.Referrers(ctx, "img", desc.Digest, "") {
		if err != nil {
			t.Fatal(err)
		}
		refs = append(refs, r)
	}
	if len(refs) != 1 || refs[0].Digest != sigDesc.Digest || refs[0].ArtifactType != "application/vnd.example.signature" {
		t.Fatalf("referrers: got %+v", refs)
	}
	for r, err := range client.Referrers(ctx, "img", desc.Digest, "application/vnd.example.sbom") {
		t.Fatalf("filtered referrers yielded %+v %v", r, err)
	}
	if _, err := client.SetManifest(ctx, "img", []byte(`{"schemaVersion":2}`), "", nil); err == nil {
		t.Fatal("a manifest without media type was accepted")
	}
	if err := client.DeleteManifest(ctx, "img", desc.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetManifest(ctx, "img", sigDesc.Digest.String()); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("the referrer of a deleted manifest survives: %v", err)
	}
}
