package transfer_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// rawReferrersTag reads the referrers tag schema's index of subject with a
// plain HTTP GET and returns the digests it lists by artifact type.
func rawReferrersTag(t *testing.T, base, repo string, subject digest.Digest) map[string]digest.Digest {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v2/"+repo+"/manifests/sha256-"+subject.Encoded(), nil)
	req.Header.Set("Accept", ocispec.MediaTypeImageIndex)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET of the referrers tag of %s: status %d, want 200", subject, resp.StatusCode)
	}
	var idx ocispec.Index
	if err := json.NewDecoder(resp.Body).Decode(&idx); err != nil {
		t.Fatal(err)
	}
	out := map[string]digest.Digest{}
	for _, d := range idx.Manifests {
		if _, dup := out[d.ArtifactType]; dup {
			t.Errorf("the index of %s lists %s twice", subject, d.ArtifactType)
		}
		out[d.ArtifactType] = d.Digest
	}
	return out
}

// TestCopyReferrersToRegistryWithoutReferrersAPI copies an index with a
// signature, an SBOM and a signature of the SBOM into a registry without
// the referrers API: each subject's sha256-HEX index must list its
// referrers, so that tools using the tag schema find them there.
func TestCopyReferrersToRegistryWithoutReferrersAPI(t *testing.T) {
	src := newRegistry(t)
	index, _, _ := pushMultiArch(t, src, "app")
	var sbom ocispec.Descriptor
	for r, err := range src.Referrers(t.Context(), "app", index.Digest, "application/vnd.example.sbom") {
		if err != nil {
			t.Fatal(err)
		}
		sbom = r
	}
	empty, _ := src.UploadBlob(t.Context(), "app", bytes.NewReader([]byte("{}")), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
	body, _ := src.UploadBlob(t.Context(), "app", bytes.NewReader([]byte("sbom signature")), nil)
	sbomSig := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: "application/vnd.example.signature",
		Config: empty, Layers: []ocispec.Descriptor{body}, Subject: &ocispec.Descriptor{MediaType: sbom.MediaType, Digest: sbom.Digest, Size: sbom.Size}}
	sbomSig.SchemaVersion = 2
	sbomSigDesc, err := src.SetImage(t.Context(), "app", sbomSig, nil)
	if err != nil {
		t.Fatal(err)
	}

	srv := acrtest.NewServer(t, nil)
	hs := httptest.NewServer(acrtest.WithoutReferrersAPI(srv.Registry))
	t.Cleanup(hs.Close)
	dst, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second copy finds everything in place
		if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), "v1", transfer.Repository(dst, "mirror/app"), "v1",
			&transfer.CopyOptions{Referrers: true}); err != nil {
			t.Fatal(err)
		}
		got := rawReferrersTag(t, hs.URL, "mirror/app", index.Digest)
		if len(got) != 2 || got["application/vnd.example.signature"] == "" || got["application/vnd.example.sbom"] != sbom.Digest {
			t.Fatalf("referrers index of the copied index: got %v, want a signature and the SBOM %s", got, sbom.Digest)
		}
		if got := rawReferrersTag(t, hs.URL, "mirror/app", sbom.Digest); len(got) != 1 || got["application/vnd.example.signature"] != sbomSigDesc.Digest {
			t.Fatalf("referrers index of the copied SBOM: got %v, want its signature %s", got, sbomSigDesc.Digest)
		}
	}
	var listed []string
	for r, err := range transfer.Repository(dst, "mirror/app").Referrers(t.Context(), index, "") {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, r.ArtifactType)
	}
	slices.Sort(listed)
	if want := []string{"application/vnd.example.sbom", "application/vnd.example.signature"}; !slices.Equal(listed, want) {
		t.Fatalf("Referrers in the destination: got %v, want %v", listed, want)
	}
}
