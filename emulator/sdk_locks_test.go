package emulator_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/emulator"
)

// sdkDisallowed is the error code of a refusal by a lock flag, with status
// 405. The recordings only flip the flags and back (their README, "Not
// covered"), so the code is the one docs/acr-rest-api.md leaves open and
// the emulator documents (emulator/locks.go).
const sdkDisallowed = "REGISTRY_DISALLOWED_OPERATION"

// sdkLocksArea covers the lock flags through the SDK's Update*Properties:
// writeEnabled=false refuses overwrites and deletes, deleteEnabled=false
// deletes, readEnabled=false pulls; unlocking lets the same calls succeed.
func sdkLocksArea(t *testing.T) {
	e := newSDKEnv(t, false, emulator.Options{})
	ctx := t.Context()
	const repo = "locked/repo"
	a := e.pushImage(t, repo, "a", "amd64", "linux", sdkOCI, "layer a")
	b := e.pushImage(t, repo, "b", "arm64", "linux", sdkOCI, "layer b")
	refused := func(what string, err error) {
		t.Helper()
		sdkWantError(t, what, err, http.StatusMethodNotAllowed, sdkDisallowed)
	}
	tagFlags := func(tag string, v azcontainerregistry.TagWriteableProperties, want [4]bool) {
		t.Helper()
		resp, err := e.client.UpdateTagProperties(ctx, repo, tag, &azcontainerregistry.ClientUpdateTagPropertiesOptions{Value: &v})
		if err != nil {
			t.Fatalf("UpdateTagProperties %s: %v", tag, err)
		}
		c := resp.Tag.ChangeableAttributes
		sdkAttrs(t, "UpdateTagProperties "+tag, c.CanDelete, c.CanWrite, c.CanRead, c.CanList, want)
	}
	manifestFlags := func(d string, v azcontainerregistry.ManifestWriteableProperties, want [4]bool) {
		t.Helper()
		resp, err := e.client.UpdateManifestProperties(ctx, repo, d, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{Value: &v})
		if err != nil {
			t.Fatalf("UpdateManifestProperties %s: %v", d, err)
		}
		c := resp.Manifest.ChangeableAttributes
		sdkAttrs(t, "UpdateManifestProperties "+d, c.CanDelete, c.CanWrite, c.CanRead, c.CanList, want)
	}
	repoFlags := func(v azcontainerregistry.RepositoryWriteableProperties, want [4]bool) {
		t.Helper()
		resp, err := e.client.UpdateRepositoryProperties(ctx, repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{Value: &v})
		if err != nil {
			t.Fatalf("UpdateRepositoryProperties: %v", err)
		}
		c := resp.ChangeableAttributes
		sdkAttrs(t, "UpdateRepositoryProperties", c.CanDelete, c.CanWrite, c.CanRead, c.CanList, want)
	}
	tagDigest := func(tag string) string {
		t.Helper()
		resp, err := e.client.GetTagProperties(ctx, repo, tag, nil)
		if err != nil {
			t.Fatalf("GetTagProperties %s: %v", tag, err)
		}
		return sdkStr(resp.Tag.Digest)
	}
	yes, no := to.Ptr(true), to.Ptr(false)

	t.Run("tag deleteEnabled", func(t *testing.T) {
		tagFlags("a", azcontainerregistry.TagWriteableProperties{CanDelete: no}, [4]bool{false, true, true, true})
		_, err := e.client.DeleteTag(ctx, repo, "a", nil)
		refused("DeleteTag of a tag with deleteEnabled=false", err)
		// Deleting its manifest would delete the tag too.
		_, err = e.client.DeleteManifest(ctx, repo, a.digest, nil)
		refused("DeleteManifest of a manifest whose tag has deleteEnabled=false", err)
		if tagDigest("a") != a.digest {
			t.Error("the locked tag moved")
		}
		tagFlags("a", azcontainerregistry.TagWriteableProperties{CanDelete: yes}, [4]bool{true, true, true, true})
	})

	t.Run("tag writeEnabled", func(t *testing.T) {
		tagFlags("a", azcontainerregistry.TagWriteableProperties{CanWrite: no}, [4]bool{true, false, true, true})
		_, err := e.client.UploadManifest(ctx, repo, "a", sdkOCI, streaming.NopCloser(bytes.NewReader(b.manifest)), nil)
		refused("UploadManifest over a tag with writeEnabled=false", err)
		_, err = e.client.DeleteTag(ctx, repo, "a", nil)
		refused("DeleteTag of a tag with writeEnabled=false", err)
		if tagDigest("a") != a.digest {
			t.Error("the locked tag moved")
		}
		tagFlags("a", azcontainerregistry.TagWriteableProperties{CanWrite: yes}, [4]bool{true, true, true, true})
		e.uploadManifest(t, repo, "a", sdkOCI, b.manifest)
		if tagDigest("a") != b.digest {
			t.Error("the unlocked tag did not move")
		}
		e.uploadManifest(t, repo, "a", sdkOCI, a.manifest)
	})

	t.Run("manifest deleteEnabled and writeEnabled", func(t *testing.T) {
		for _, v := range []azcontainerregistry.ManifestWriteableProperties{{CanDelete: no}, {CanDelete: yes, CanWrite: no}} {
			want := [4]bool{*v.CanDelete, v.CanWrite == nil, true, true}
			manifestFlags(b.digest, v, want)
			_, err := e.client.DeleteManifest(ctx, repo, b.digest, nil)
			refused("DeleteManifest of a locked manifest", err)
			if _, err := e.client.GetManifestProperties(ctx, repo, b.digest, nil); err != nil {
				t.Errorf("the locked manifest is gone: %v", err)
			}
		}
		manifestFlags(b.digest, azcontainerregistry.ManifestWriteableProperties{CanWrite: yes}, [4]bool{true, true, true, true})
	})

	t.Run("repository writeEnabled", func(t *testing.T) {
		repoFlags(azcontainerregistry.RepositoryWriteableProperties{CanWrite: no}, [4]bool{true, false, true, true})
		_, err := e.blobs.StartUpload(ctx, repo, nil)
		refused("StartUpload into a repository with writeEnabled=false", err)
		_, err = e.client.UploadManifest(ctx, repo, "c", sdkOCI, streaming.NopCloser(bytes.NewReader(b.manifest)), nil)
		refused("UploadManifest into a repository with writeEnabled=false", err)
		_, err = e.client.DeleteRepository(ctx, repo, nil)
		refused("DeleteRepository of a repository with writeEnabled=false", err)
		repoFlags(azcontainerregistry.RepositoryWriteableProperties{CanWrite: yes}, [4]bool{true, true, true, true})
		e.uploadManifest(t, repo, "c", sdkOCI, b.manifest)
	})

	t.Run("repository readEnabled", func(t *testing.T) {
		repoFlags(azcontainerregistry.RepositoryWriteableProperties{CanRead: no}, [4]bool{true, true, false, true})
		_, err := e.client.GetManifest(ctx, repo, "a", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		refused("GetManifest from a repository with readEnabled=false", err)
		_, err = e.blobs.GetBlob(ctx, repo, a.layerDigests[0], nil)
		refused("GetBlob from a repository with readEnabled=false", err)
		repoFlags(azcontainerregistry.RepositoryWriteableProperties{CanRead: yes}, [4]bool{true, true, true, true})
		m, err := e.client.GetManifest(ctx, repo, "a", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		if err != nil {
			t.Fatalf("GetManifest after unlocking: %v", err)
		}
		sdkValidated(t, "GetManifest after unlocking", a.digest, m.ManifestData)
	})

	t.Run("repository deleteEnabled", func(t *testing.T) {
		repoFlags(azcontainerregistry.RepositoryWriteableProperties{CanDelete: no}, [4]bool{false, true, true, true})
		_, err := e.client.DeleteRepository(ctx, repo, nil)
		refused("DeleteRepository of a repository with deleteEnabled=false", err)
		if _, err := e.client.GetRepositoryProperties(ctx, repo, nil); err != nil {
			t.Fatalf("the locked repository is gone: %v", err)
		}
		repoFlags(azcontainerregistry.RepositoryWriteableProperties{CanDelete: yes}, [4]bool{true, true, true, true})
		var raw *http.Response
		if _, err := e.client.DeleteRepository(policy.WithCaptureResponse(ctx, &raw), repo, nil); err != nil {
			t.Fatalf("DeleteRepository after unlocking: %v", err)
		}
		sdkWantCaptured(t, "DeleteRepository after unlocking", raw, http.StatusAccepted, "")
		var body struct {
			ManifestsDeleted []string `json:"manifestsDeleted"`
			TagsDeleted      []string `json:"tagsDeleted"`
		}
		_ = json.Unmarshal([]byte(sdkBody(raw)), &body)
		slices.Sort(body.ManifestsDeleted)
		slices.Sort(body.TagsDeleted)
		wantM := []string{a.digest, b.digest}
		slices.Sort(wantM)
		if !slices.Equal(body.ManifestsDeleted, wantM) || !slices.Equal(body.TagsDeleted, []string{"a", "b", "c"}) {
			t.Errorf("DeleteRepository after unlocking: got body %s", sdkBody(raw))
		}
	})
}
