package acr_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
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
	got, err := client.GetManifest(ctx, "img", "v1", nil)
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
	if _, err := client.DeleteManifest(ctx, "img", desc.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.GetManifest(ctx, "img", sigDesc.Digest.String(), nil); !errors.Is(err, acr.ErrNotFound) {
		t.Fatalf("the referrer of a deleted manifest survives: %v", err)
	}
}

// TestReferrersArtifactTypeFilter lists referrers by artifactType from
// registries that differ in what they do with the filter: one that filters
// and says so (OCI-Filters-Applied) but lists descriptors without their
// artifactType, as ACR does for registries with customer-managed keys
// (Azure/acr#784); and one that ignores the filter, so that the client
// must filter.
func TestReferrersArtifactTypeFilter(t *testing.T) {
	for _, tc := range []struct {
		name    string
		rewrite func(r *http.Request, idx *ocispec.Index, h http.Header)
	}{
		{"filtered, artifactType withheld", func(_ *http.Request, idx *ocispec.Index, _ http.Header) {
			for i := range idx.Manifests {
				idx.Manifests[i].ArtifactType = ""
			}
		}},
		{"not filtered", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg, err := emulator.New(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer reg.Close()
			hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if !strings.Contains(r.URL.Path, "/referrers/") {
					reg.ServeHTTP(w, r)
					return
				}
				if tc.rewrite == nil {
					r.URL.RawQuery = "" // a registry that ignores the filter
				}
				rec := httptest.NewRecorder()
				reg.ServeHTTP(rec, r)
				var idx ocispec.Index
				if err := json.Unmarshal(rec.Body.Bytes(), &idx); err != nil {
					t.Errorf("the emulator's referrers did not decode: %v", err)
				}
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				if tc.rewrite != nil {
					tc.rewrite(r, &idx, w.Header())
				}
				b, _ := json.Marshal(idx)
				w.Header().Set("Content-Length", strconv.Itoa(len(b)))
				w.WriteHeader(rec.Code)
				w.Write(b)
			}))
			defer hs.Close()
			client, _ := acr.NewClient(hs.URL, nil, nil)
			ctx := t.Context()
			cfg, _ := client.UploadBlob(ctx, "img", bytes.NewReader([]byte(`{}`)), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
			m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{}}
			m.SchemaVersion = 2
			subject, err := client.SetImage(ctx, "img", m, &acr.SetManifestOptions{Tag: "v1"})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]digest.Digest{}
			for _, at := range []string{"application/vnd.example.signature", "application/vnd.example.sbom"} {
				r := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{}, Subject: &subject, ArtifactType: at}
				r.SchemaVersion = 2
				d, err := client.SetImage(ctx, "img", r, nil)
				if err != nil {
					t.Fatal(err)
				}
				want[at] = d.Digest
			}
			for at, d := range want {
				var got []digest.Digest
				for r, err := range client.Referrers(ctx, "img", subject.Digest, at) {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, r.Digest)
				}
				if len(got) != 1 || got[0] != d {
					t.Errorf("referrers of type %s: got %v, want [%s]", at, got, d)
				}
			}
		})
	}
}

// TestSetManifestMediaType: without a media type, SetManifest takes the
// manifest's own, else OCI's image manifest or index, as the .NET SDK
// defaults; the registry then serves it under that type.
func TestSetManifestMediaType(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cfg, err := client.UploadBlob(ctx, "app", strings.NewReader("{}"), nil)
	if err != nil {
		t.Fatal(err)
	}
	image := `{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfg.Digest.String() + `","size":2},"layers":[]}`
	d, err := client.SetManifest(ctx, "app", []byte(image), "", &acr.SetManifestOptions{Tag: "image"})
	if err != nil {
		t.Fatal(err)
	}
	index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d.String() + `","size":` + strconv.Itoa(len(image)) + `}]}`
	if _, err := client.SetManifest(ctx, "app", []byte(index), "", &acr.SetManifestOptions{Tag: "index"}); err != nil {
		t.Fatal(err)
	}
	for tag, want := range map[string]string{"image": ocispec.MediaTypeImageManifest, "index": ocispec.MediaTypeImageIndex} {
		m, err := client.GetManifest(ctx, "app", tag, nil)
		if err != nil || m.MediaType != want {
			t.Errorf("%s: %v, served as %q, want %q", tag, err, m.MediaType, want)
		}
	}
	if _, err := client.SetManifest(ctx, "app", []byte("not json"), "", nil); err == nil {
		t.Error("a manifest that is not JSON was pushed without a media type")
	}
}

// TestSetImageSchemaVersion: a manifest or index literal without
// specs.Versioned is pushed with schemaVersion 2, which registries require
// (the emulator, like ACR, refuses an OCI manifest without it).
func TestSetImageSchemaVersion(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	cfg, err := client.UploadBlob(ctx, "app", strings.NewReader("{}"), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	img, err := client.SetImage(ctx, "app", ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{}}, &acr.SetManifestOptions{Tag: "image"})
	if err != nil {
		t.Fatalf("SetImage without SchemaVersion: %v", err)
	}
	if _, err := client.SetIndex(ctx, "app", ocispec.Index{Manifests: []ocispec.Descriptor{img}}, &acr.SetManifestOptions{Tag: "index"}); err != nil {
		t.Fatalf("SetIndex without SchemaVersion: %v", err)
	}
	for _, tag := range []string{"image", "index"} {
		m, err := client.GetManifest(ctx, "app", tag, nil)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			SchemaVersion int `json:"schemaVersion"`
		}
		if err := json.Unmarshal(m.Bytes, &v); err != nil || v.SchemaVersion != 2 {
			t.Errorf("%s: got schemaVersion %d (%v), want 2", tag, v.SchemaVersion, err)
		}
	}
}
