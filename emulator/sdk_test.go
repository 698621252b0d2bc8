package emulator_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// staticCredential stands in for an Entra ID credential: it hands out a
// fixed token that the registry is configured to accept.
type staticCredential string

func (c staticCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: string(c), ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// TestOfficialGoSDK drives the registry with the official Azure SDK for Go
// (azcontainerregistry), unchanged: Entra ID exchange, chunked upload,
// manifests, listing with ordering, lock flags and deletes.
func TestOfficialGoSDK(t *testing.T) {
	srv := acrtest.NewServer(t, &emulator.Options{AADTokens: []string{"aad-secret"}})
	ctx := t.Context()
	cred := staticCredential("aad-secret")
	client, err := azcontainerregistry.NewClient(srv.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := azcontainerregistry.NewBlobClient(srv.URL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	const repo = "library/hello-world"
	upload := func(data []byte) string {
		t.Helper()
		start, err := blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatalf("StartUpload: %v", err)
		}
		calc := azcontainerregistry.NewBlobDigestCalculator()
		up, err := blobs.UploadChunk(ctx, *start.Location, bytes.NewReader(data), calc, nil)
		if err != nil {
			t.Fatalf("UploadChunk: %v", err)
		}
		done, err := blobs.CompleteUpload(ctx, *up.Location, calc, nil)
		if err != nil {
			t.Fatalf("CompleteUpload: %v", err)
		}
		return *done.DockerContentDigest
	}
	layer := []byte("hello world")
	layerDigest := upload(layer)
	if layerDigest != digest.FromBytes(layer).String() {
		t.Fatalf("got layer digest %s", layerDigest)
	}
	config := []byte(`{"architecture":"amd64","os":"windows"}`)
	configDigest := upload(config)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		configDigest + `","size":` + itoa(len(config)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` + layerDigest + `","size":` + itoa(len(layer)) + `}]}`)
	for _, tag := range []string{"v1", "v2", "latest"} {
		if _, err := client.UploadManifest(ctx, repo, tag, azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON,
			streaming.NopCloser(bytes.NewReader(manifest)), nil); err != nil {
			t.Fatalf("UploadManifest %s: %v", tag, err)
		}
	}

	var repos []string
	for pager := client.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](1)}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list repositories: %v", err)
		}
		for _, r := range page.Repositories.Names {
			repos = append(repos, *r)
		}
	}
	if len(repos) != 1 || repos[0] != repo {
		t.Fatalf("got repositories %v", repos)
	}
	props, err := client.GetRepositoryProperties(ctx, repo, nil)
	if err != nil || *props.TagCount != 3 || *props.ManifestCount != 1 {
		t.Fatalf("GetRepositoryProperties: %v %+v", err, props)
	}
	var tags []string
	for pager := client.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{OrderBy: to.Ptr(azcontainerregistry.ArtifactTagOrderByLastUpdatedOnDescending), MaxNum: to.Ptr[int32](2)}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list tags: %v", err)
		}
		for _, tg := range page.Tags {
			tags = append(tags, *tg.Name)
		}
	}
	if len(tags) != 3 {
		t.Fatalf("got tags %v, want 3", tags)
	}
	var manifests int
	for pager := client.NewListManifestsPager(repo, &azcontainerregistry.ClientListManifestsOptions{OrderBy: to.Ptr(azcontainerregistry.ArtifactManifestOrderByNone)}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list manifests: %v", err)
		}
		for _, m := range page.Attributes {
			manifests++
			if *m.Architecture != "amd64" || *m.OperatingSystem != "windows" || len(m.Tags) != 3 {
				t.Errorf("got manifest properties %+v", m)
			}
		}
	}
	if manifests != 1 {
		t.Fatalf("got %d manifests, want 1", manifests)
	}

	got, err := client.GetManifest(ctx, repo, "v1", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON))})
	if err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	body, _ := io.ReadAll(got.ManifestData)
	if !bytes.Equal(body, manifest) {
		t.Fatal("GetManifest returned different bytes")
	}
	blob, err := blobs.GetBlob(ctx, repo, layerDigest, nil)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	lb, _ := io.ReadAll(blob.BlobData)
	if !bytes.Equal(lb, layer) {
		t.Fatal("GetBlob returned different bytes")
	}

	// Lock a tag: the SDK sees the refusal as an error, and the tag survives.
	if _, err := client.UpdateTagProperties(ctx, repo, "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(false)}}); err != nil {
		t.Fatalf("UpdateTagProperties: %v", err)
	}
	if _, err := client.DeleteTag(ctx, repo, "v1", nil); err == nil {
		t.Fatal("deleting a tag with deleteEnabled=false succeeded")
	}
	tp, err := client.GetTagProperties(ctx, repo, "v1", nil)
	if err != nil || *tp.Tag.ChangeableAttributes.CanDelete {
		t.Fatalf("GetTagProperties: %v %+v", err, tp)
	}
	if _, err := client.DeleteTag(ctx, repo, "v2", nil); err != nil {
		t.Fatalf("DeleteTag v2: %v", err)
	}
	if _, err := client.UpdateTagProperties(ctx, repo, "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(true)}}); err != nil {
		t.Fatalf("UpdateTagProperties: %v", err)
	}
	if _, err := client.DeleteRepository(ctx, repo, nil); err != nil {
		t.Fatalf("DeleteRepository: %v", err)
	}
	if _, err := client.GetRepositoryProperties(ctx, repo, nil); err == nil {
		t.Fatal("the repository is still there after DeleteRepository")
	}
}
