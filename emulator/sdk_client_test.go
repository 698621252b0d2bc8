package emulator_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acrgo/acr/emulator"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// sdkOCI and sdkDocker are the two manifest types the SDK names.
const (
	sdkOCI    = azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON
	sdkDocker = azcontainerregistry.ContentTypeApplicationVndDockerDistributionManifestV2JSON
)

// sdkClientArea covers the Client's methods over TLS: uploads, reads,
// listings, property updates and deletes, with ACR's answers for missing
// things.
func sdkClientArea(t *testing.T) {
	e := newSDKEnv(t, true, emulator.Options{})
	ctx := t.Context()
	host := e.srv.Host
	const repo = "library/hello-world"

	// In time order: v1, v2, latest (tagged v3 too), an untagged image
	// and an index of v1 and v2 tagged multi.
	v1 := e.pushImage(t, repo, "v1", "amd64", "linux", sdkOCI, "layer one", "layer two")
	v2 := e.pushImage(t, repo, "v2", "arm64", "linux", sdkDocker, "layer three")
	latest := e.pushImage(t, repo, "latest", "amd64", "windows", sdkOCI, "layer four")
	e.uploadManifest(t, repo, "v3", sdkOCI, latest.manifest)
	untagged := e.pushImage(t, repo, "", "s390x", "linux", sdkOCI, "layer five")
	idx, err := json.Marshal(ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{
			{MediaType: string(sdkOCI), Digest: digest.Digest(v1.digest), Size: int64(len(v1.manifest)), Platform: &ocispec.Platform{Architecture: "amd64", OS: "linux"}},
			{MediaType: string(sdkDocker), Digest: digest.Digest(v2.digest), Size: int64(len(v2.manifest)), Platform: &ocispec.Platform{Architecture: "arm64", OS: "linux"}},
		}})
	if err != nil {
		t.Fatal(err)
	}
	e.uploadManifest(t, repo, "multi", ocispec.MediaTypeImageIndex, idx)
	index := sdkImage{repo: repo, tag: "multi", mediaType: ocispec.MediaTypeImageIndex, manifest: idx, digest: digest.FromBytes(idx).String()}
	alpine := e.pushImage(t, "alpine", "1.0", "amd64", "linux", sdkOCI, "alpine layer")
	e.pushImage(t, "busybox", "1.0", "amd64", "linux", sdkDocker, "busybox layer")
	e.pushImage(t, "nginx/nginx", "1.0", "arm64", "linux", sdkOCI, "nginx layer")

	byTag := map[string]sdkImage{"v1": v1, "v2": v2, "latest": latest, "v3": latest, "multi": index}
	tagsOf := map[string][]string{v1.digest: {"v1"}, v2.digest: {"v2"}, latest.digest: {"latest", "v3"}, index.digest: {"multi"}}
	manifestsByTime := []sdkImage{v1, v2, latest, untagged, index}
	notFound := digest.FromString("nothing here").String()

	t.Run("UploadManifest", func(t *testing.T) {
		// The pushes above checked each answer; here, what is refused.
		missing := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: string(sdkOCI),
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: digest.Digest(notFound), Size: 12}}
		b, _ := json.Marshal(missing)
		_, err := e.client.UploadManifest(ctx, repo, "broken", sdkOCI, streaming.NopCloser(bytes.NewReader(b)), nil)
		sdkWantError(t, "UploadManifest with a missing config blob", err, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
		_, err = e.client.UploadManifest(ctx, repo, "broken", sdkOCI, streaming.NopCloser(strings.NewReader("not json")), nil)
		sdkWantError(t, "UploadManifest of a body that is not JSON", err, http.StatusBadRequest, "MANIFEST_INVALID")
		if _, err := e.client.GetTagProperties(ctx, repo, "broken", nil); err == nil {
			t.Error("a refused manifest upload left the tag broken behind")
		}
		// Every manifest type the SDK names was pushed above.
		for _, ct := range azcontainerregistry.PossibleContentTypeValues() {
			if !slices.ContainsFunc(manifestsByTime, func(im sdkImage) bool { return im.mediaType == ct }) {
				t.Errorf("no image of content type %s was uploaded", ct)
			}
		}
	})

	t.Run("GetManifest", func(t *testing.T) {
		both := string(sdkOCI) + ", " + string(sdkDocker)
		for _, im := range []sdkImage{v1, v2, latest, untagged, index} {
			refs := []string{im.digest}
			if im.tag != "" {
				refs = append(refs, im.tag)
			}
			for _, ref := range refs {
				for _, accept := range []string{string(im.mediaType), both + ", " + ocispec.MediaTypeImageIndex} {
					what := "GetManifest " + ref + " Accept " + accept
					var raw *http.Response
					resp, err := e.client.GetManifest(policy.WithCaptureResponse(ctx, &raw), repo, ref,
						&azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(accept)})
					if err != nil {
						t.Errorf("%s: %v", what, err)
						continue
					}
					if sdkStr(resp.DockerContentDigest) != im.digest {
						t.Errorf("%s: got digest %s, want %s", what, sdkStr(resp.DockerContentDigest), im.digest)
					}
					if got := sdkValidated(t, what, im.digest, resp.ManifestData); !bytes.Equal(got, im.manifest) {
						t.Errorf("%s: got %s, want the uploaded bytes %s", what, got, im.manifest)
					}
					if ct := raw.Header.Get("Content-Type"); ct != string(im.mediaType) {
						t.Errorf("%s: got Content-Type %q, want %q", what, ct, im.mediaType)
					}
					if et := raw.Header.Get("ETag"); et != `"`+im.digest+`"` {
						t.Errorf("%s: got ETag %q, want the quoted digest (G TestClient_GetManifest)", what, et)
					}
				}
			}
		}
		// The SDK's validation reader catches a body that is not the digest's.
		resp, err := e.client.GetManifest(ctx, repo, "v1", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		if err != nil {
			t.Fatalf("GetManifest v1: %v", err)
		}
		vr, err := azcontainerregistry.NewDigestValidationReader(v2.digest, resp.ManifestData)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadAll(vr); !errors.Is(err, azcontainerregistry.ErrMismatchedHash) {
			t.Errorf("validating v1's bytes against v2's digest: got %v, want ErrMismatchedHash", err)
		}
		resp.ManifestData.Close()
		if _, err := azcontainerregistry.NewDigestValidationReader("md5:0123", strings.NewReader("")); !errors.Is(err, azcontainerregistry.ErrDigestAlgNotSupported) {
			t.Errorf("NewDigestValidationReader(md5:…): got %v, want ErrDigestAlgNotSupported", err)
		}

		_, err = e.client.GetManifest(ctx, repo, "wrong-tag", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		msg, detail := sdkWantError(t, "GetManifest wrong-tag", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
		if msg != `manifest tagged by "wrong-tag" is not found` || detail != `{"Tag":"wrong-tag"}` {
			t.Errorf("GetManifest wrong-tag: got message %q, detail %s; want ACR's (G TestClient_GetManifest_wrongTag)", msg, detail)
		}
		_, err = e.client.GetManifest(ctx, repo, notFound, &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		sdkWantError(t, "GetManifest of an unknown digest", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
		_, err = e.client.GetManifest(ctx, "no/such-repo", "v1", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(sdkOCI))})
		sdkWantError(t, "GetManifest in an unknown repository", err, http.StatusNotFound, "NAME_UNKNOWN")
	})

	t.Run("GetManifestProperties", func(t *testing.T) {
		for _, im := range manifestsByTime {
			what := "GetManifestProperties " + im.digest
			resp, err := e.client.GetManifestProperties(ctx, repo, im.digest, nil)
			if err != nil {
				t.Errorf("%s: %v", what, err)
				continue
			}
			if sdkStr(resp.RegistryLoginServer) != host || sdkStr(resp.RepositoryName) != repo {
				t.Errorf("%s: got registry %s, repository %s; want %s, %s", what, sdkStr(resp.RegistryLoginServer), sdkStr(resp.RepositoryName), host, repo)
			}
			if resp.Manifest == nil {
				t.Errorf("%s: no manifest attributes", what)
				continue
			}
			sdkCheckManifest(t, what, resp.Manifest, im, tagsOf[im.digest])
		}
		// An index lists its children with their platforms, as ACR does
		// (G TestClient_GetManifestProperties).
		resp, err := e.client.GetManifestProperties(ctx, repo, index.digest, nil)
		if err != nil {
			t.Fatalf("GetManifestProperties index: %v", err)
		}
		var related []string
		for _, r := range resp.Manifest.RelatedArtifacts {
			related = append(related, sdkStr(r.Digest)+" "+string(*r.Architecture)+"/"+string(*r.OperatingSystem))
		}
		if want := []string{v1.digest + " amd64/linux", v2.digest + " arm64/linux"}; !slices.Equal(related, want) {
			t.Errorf("GetManifestProperties index: got references %v, want %v", related, want)
		}

		_, err = e.client.GetManifestProperties(ctx, repo, notFound, nil)
		sdkWantError(t, "GetManifestProperties of an unknown digest", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
		// A malformed digest never reaches the handlers
		// (G TestClient_GetManifestProperties_wrongDigest).
		_, err = e.client.GetManifestProperties(ctx, repo, "wrong-digest", nil)
		sdkWantError(t, "GetManifestProperties wrong-digest", err, http.StatusNotFound, "")
		sdkWantRouter404(t, "GetManifestProperties wrong-digest", err)
	})

	t.Run("GetRepositoryProperties", func(t *testing.T) {
		resp, err := e.client.GetRepositoryProperties(ctx, repo, nil)
		if err != nil {
			t.Fatalf("GetRepositoryProperties: %v", err)
		}
		if sdkStr(resp.Name) != repo || sdkStr(resp.RegistryLoginServer) != host {
			t.Errorf("GetRepositoryProperties: got name %s, registry %s", sdkStr(resp.Name), sdkStr(resp.RegistryLoginServer))
		}
		if resp.ManifestCount == nil || *resp.ManifestCount != 5 || resp.TagCount == nil || *resp.TagCount != 5 {
			t.Errorf("GetRepositoryProperties: got %v manifests, %v tags; want 5, 5", resp.ManifestCount, resp.TagCount)
		}
		sdkTimes(t, "GetRepositoryProperties", resp.CreatedOn, resp.LastUpdatedOn)
		a := resp.ChangeableAttributes
		sdkAttrs(t, "GetRepositoryProperties", a.CanDelete, a.CanWrite, a.CanRead, a.CanList, [4]bool{true, true, true, true})

		_, err = e.client.GetRepositoryProperties(ctx, "wrong-name", nil)
		msg, detail := sdkWantError(t, "GetRepositoryProperties wrong-name", err, http.StatusNotFound, "NAME_UNKNOWN")
		if msg != `repository "wrong-name" is not found` || detail != "" {
			t.Errorf("GetRepositoryProperties wrong-name: got message %q, detail %q; want ACR's (G TestClient_GetRepositoryProperties_wrongName)", msg, detail)
		}
	})

	t.Run("GetTagProperties", func(t *testing.T) {
		for tag, im := range byTag {
			what := "GetTagProperties " + tag
			resp, err := e.client.GetTagProperties(ctx, repo, tag, nil)
			if err != nil {
				t.Errorf("%s: %v", what, err)
				continue
			}
			if sdkStr(resp.RegistryLoginServer) != host || sdkStr(resp.RepositoryName) != repo || resp.Tag == nil {
				t.Errorf("%s: got registry %s, repository %s, tag %v", what, sdkStr(resp.RegistryLoginServer), sdkStr(resp.RepositoryName), resp.Tag)
				continue
			}
			sdkCheckTag(t, what, resp.Tag, tag, im.digest, [4]bool{true, true, true, true})
		}
		_, err := e.client.GetTagProperties(ctx, repo, "wrong-tag", nil)
		msg, _ := sdkWantError(t, "GetTagProperties wrong-tag", err, http.StatusNotFound, "TAG_UNKNOWN")
		if msg != "the specified tag does not exist" {
			t.Errorf("GetTagProperties wrong-tag: got message %q, want ACR's (G TestClient_GetTagProperties_wrongTag)", msg)
		}
	})

	t.Run("NewListRepositoriesPager", func(t *testing.T) {
		all := []string{"alpine", "busybox", repo, "nginx/nginx"}
		cases := []struct {
			name string
			opts *azcontainerregistry.ClientListRepositoriesOptions
			want [][]string
		}{
			{"nil options", nil, [][]string{all}},
			{"MaxNum 1", &azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](1)}, [][]string{{all[0]}, {all[1]}, {all[2]}, {all[3]}}},
			{"MaxNum 3", &azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](3)}, [][]string{all[:3], all[3:]}},
			{"Last", &azcontainerregistry.ClientListRepositoriesOptions{Last: to.Ptr("busybox")}, [][]string{all[2:]}},
			{"Last MaxNum 1", &azcontainerregistry.ClientListRepositoriesOptions{Last: to.Ptr("busybox"), MaxNum: to.Ptr[int32](1)}, [][]string{{all[2]}, {all[3]}}},
			{"Last after all", &azcontainerregistry.ClientListRepositoriesOptions{Last: to.Ptr("zzz")}, [][]string{{}}},
		}
		for _, tc := range cases {
			var got [][]string
			pages := sdkPages(t, tc.name, e.client.NewListRepositoriesPager(tc.opts), ctx)
			for i, p := range pages {
				got = append(got, sdkStrs(p.Names))
				if last := i == len(pages)-1; (p.Link == nil) != last {
					t.Errorf("%s: page %d has Link %v; want one on every page but the last", tc.name, i+1, sdkStr(p.Link))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NewListRepositoriesPager %s: pages (-want +got):\n%s", tc.name, diff)
			}
		}
		// ACR's Link: relative, no api-version, an empty orderby
		// (G TestClient_NewListRepositoriesPager, P …list_repository_names_by_page).
		var raw *http.Response
		pager := e.client.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](2)})
		if _, err := pager.NextPage(policy.WithCaptureResponse(ctx, &raw)); err != nil {
			t.Fatal(err)
		}
		if got, want := raw.Header.Get("Link"), `</acr/v1/_catalog?last=busybox&n=2&orderby=>; rel="next"`; got != want {
			t.Errorf("catalog Link: got %q, want %q", got, want)
		}
	})

	t.Run("NewListTagsPager", func(t *testing.T) {
		byName := []string{"latest", "multi", "v1", "v2", "v3"}
		byTime := []string{"v1", "v2", "latest", "v3", "multi"}
		orders := []*azcontainerregistry.ArtifactTagOrderBy{nil}
		for _, o := range azcontainerregistry.PossibleArtifactTagOrderByValues() {
			orders = append(orders, to.Ptr(o))
		}
		for _, ob := range orders {
			want, name := byName, "no orderby"
			if ob != nil {
				name = "orderby " + string(*ob)
				switch *ob {
				case azcontainerregistry.ArtifactTagOrderByNone:
				case azcontainerregistry.ArtifactTagOrderByLastUpdatedOnAscending:
					want = byTime
				case azcontainerregistry.ArtifactTagOrderByLastUpdatedOnDescending:
					want = slices.Clone(byTime)
					slices.Reverse(want)
				default:
					t.Fatalf("the SDK has an order %q this test does not know", *ob)
				}
			}
			for _, n := range []int32{0, 2} {
				opts := &azcontainerregistry.ClientListTagsOptions{OrderBy: ob}
				what := "NewListTagsPager " + name
				wantPages := [][]string{want}
				if n > 0 {
					opts.MaxNum = to.Ptr(n)
					what += " MaxNum 2"
					wantPages = [][]string{want[:2], want[2:4], want[4:]}
				}
				got := sdkTagPages(t, what, e.client.NewListTagsPager(repo, opts), repo, host, byTag)
				if diff := cmp.Diff(wantPages, got); diff != "" {
					t.Errorf("%s: pages (-want +got):\n%s", what, diff)
				}
			}
		}
		for _, tc := range []struct {
			name string
			opts azcontainerregistry.ClientListTagsOptions
			want [][]string
		}{
			{"Last", azcontainerregistry.ClientListTagsOptions{Last: to.Ptr("v1")}, [][]string{{"v2", "v3"}}},
			{"Last MaxNum 2", azcontainerregistry.ClientListTagsOptions{Last: to.Ptr("latest"), MaxNum: to.Ptr[int32](2)}, [][]string{{"multi", "v1"}, {"v2", "v3"}}},
			{"Digest", azcontainerregistry.ClientListTagsOptions{Digest: to.Ptr(latest.digest)}, [][]string{{"latest", "v3"}}},
			{"Digest MaxNum 1", azcontainerregistry.ClientListTagsOptions{Digest: to.Ptr(latest.digest), MaxNum: to.Ptr[int32](1)}, [][]string{{"latest"}, {"v3"}}},
			{"Digest untagged", azcontainerregistry.ClientListTagsOptions{Digest: to.Ptr(untagged.digest)}, [][]string{{}}},
		} {
			got := sdkTagPages(t, "NewListTagsPager "+tc.name, e.client.NewListTagsPager(repo, &tc.opts), repo, host, byTag)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("NewListTagsPager %s: pages (-want +got):\n%s", tc.name, diff)
			}
		}
		var raw *http.Response
		pager := e.client.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](1)})
		if _, err := pager.NextPage(policy.WithCaptureResponse(ctx, &raw)); err != nil {
			t.Fatal(err)
		}
		if got, want := raw.Header.Get("Link"), `</acr/v1/library%2Fhello-world/_tags?last=latest&n=1&orderby=>; rel="next"`; got != want {
			t.Errorf("tags Link: got %q, want %q (G TestClient_NewListTagsPager)", got, want)
		}
		err := sdkPagerError(e.client.NewListTagsPager("wrong-name", nil), ctx)
		sdkWantError(t, "NewListTagsPager wrong-name", err, http.StatusNotFound, "NAME_UNKNOWN")
	})

	t.Run("NewListManifestsPager", func(t *testing.T) {
		byDigest := slices.Clone(manifestsByTime)
		slices.SortFunc(byDigest, func(a, b sdkImage) int { return strings.Compare(a.digest, b.digest) })
		byTime := manifestsByTime
		digests := func(ims []sdkImage) []string {
			var out []string
			for _, im := range ims {
				out = append(out, im.digest)
			}
			return out
		}
		orders := []*azcontainerregistry.ArtifactManifestOrderBy{nil}
		for _, o := range azcontainerregistry.PossibleArtifactManifestOrderByValues() {
			orders = append(orders, to.Ptr(o))
		}
		for _, ob := range orders {
			want, name := digests(byDigest), "no orderby"
			if ob != nil {
				name = "orderby " + string(*ob)
				switch *ob {
				case azcontainerregistry.ArtifactManifestOrderByNone:
				case azcontainerregistry.ArtifactManifestOrderByLastUpdatedOnAscending:
					want = digests(byTime)
				case azcontainerregistry.ArtifactManifestOrderByLastUpdatedOnDescending:
					want = digests(byTime)
					slices.Reverse(want)
				default:
					t.Fatalf("the SDK has an order %q this test does not know", *ob)
				}
			}
			for _, n := range []int32{0, 2} {
				opts := &azcontainerregistry.ClientListManifestsOptions{OrderBy: ob}
				what := "NewListManifestsPager " + name
				wantPages := [][]string{want}
				if n > 0 {
					opts.MaxNum = to.Ptr(n)
					what += " MaxNum 2"
					wantPages = [][]string{want[:2], want[2:4], want[4:]}
				}
				got := sdkManifestPages(t, what, e.client.NewListManifestsPager(repo, opts), repo, host, manifestsByTime, tagsOf)
				if diff := cmp.Diff(wantPages, got); diff != "" {
					t.Errorf("%s: pages (-want +got):\n%s", what, diff)
				}
			}
		}
		got := sdkManifestPages(t, "NewListManifestsPager Last", e.client.NewListManifestsPager(repo,
			&azcontainerregistry.ClientListManifestsOptions{Last: to.Ptr(byDigest[1].digest)}), repo, host, manifestsByTime, tagsOf)
		if diff := cmp.Diff([][]string{digests(byDigest[2:])}, got); diff != "" {
			t.Errorf("NewListManifestsPager Last: pages (-want +got):\n%s", diff)
		}
		// J …list_registry_manifests_by_pages: the repository stays %2F
		// in the Link and last is escaped.
		var raw *http.Response
		pager := e.client.NewListManifestsPager(repo, &azcontainerregistry.ClientListManifestsOptions{MaxNum: to.Ptr[int32](2)})
		if _, err := pager.NextPage(policy.WithCaptureResponse(ctx, &raw)); err != nil {
			t.Fatal(err)
		}
		want := `</acr/v1/library%2Fhello-world/_manifests?last=` + strings.Replace(byDigest[1].digest, ":", "%3A", 1) + `&n=2&orderby=>; rel="next"`
		if got := raw.Header.Get("Link"); got != want {
			t.Errorf("manifests Link: got %q, want %q", got, want)
		}
		err := sdkPagerError(e.client.NewListManifestsPager("wrong-name", nil), ctx)
		sdkWantError(t, "NewListManifestsPager wrong-name", err, http.StatusNotFound, "NAME_UNKNOWN")
	})

	t.Run("UpdateRepositoryProperties", func(t *testing.T) {
		for _, list := range []bool{false, true} {
			resp, err := e.client.UpdateRepositoryProperties(ctx, repo, &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
				Value: &azcontainerregistry.RepositoryWriteableProperties{CanList: to.Ptr(list)}})
			if err != nil {
				t.Fatalf("UpdateRepositoryProperties CanList=%v: %v", list, err)
			}
			want := [4]bool{true, true, true, list}
			if sdkStr(resp.Name) != repo || sdkStr(resp.RegistryLoginServer) != host || resp.ManifestCount == nil || *resp.ManifestCount != 5 {
				t.Errorf("UpdateRepositoryProperties: got name %s, registry %s, manifests %v", sdkStr(resp.Name), sdkStr(resp.RegistryLoginServer), resp.ManifestCount)
			}
			a := resp.ChangeableAttributes
			sdkAttrs(t, "UpdateRepositoryProperties answer", a.CanDelete, a.CanWrite, a.CanRead, a.CanList, want)
			got, err := e.client.GetRepositoryProperties(ctx, repo, nil)
			if err != nil {
				t.Fatal(err)
			}
			a = got.ChangeableAttributes
			sdkAttrs(t, "GetRepositoryProperties after the update", a.CanDelete, a.CanWrite, a.CanRead, a.CanList, want)
			var names []string
			for _, p := range sdkPages(t, "catalog", e.client.NewListRepositoriesPager(nil), ctx) {
				names = append(names, sdkStrs(p.Names)...)
			}
			if slices.Contains(names, repo) != list {
				t.Errorf("with listEnabled=%v the catalog is %v", list, names)
			}
		}
		_, err := e.client.UpdateRepositoryProperties(ctx, "wrong-repository", &azcontainerregistry.ClientUpdateRepositoryPropertiesOptions{
			Value: &azcontainerregistry.RepositoryWriteableProperties{CanWrite: to.Ptr(false)}})
		msg, _ := sdkWantError(t, "UpdateRepositoryProperties wrong-repository", err, http.StatusNotFound, "NAME_UNKNOWN")
		if msg != `repository "wrong-repository" is not found` {
			t.Errorf("UpdateRepositoryProperties wrong-repository: got message %q (G TestClient_UpdateRepositoryProperties_wrongRepository)", msg)
		}
	})

	t.Run("UpdateTagProperties", func(t *testing.T) {
		for _, tc := range []struct {
			tag  string
			v    azcontainerregistry.TagWriteableProperties
			want [4]bool
		}{
			{"v1", azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false)}, [4]bool{true, false, true, true}},
			{"v1", azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(true)}, [4]bool{true, true, true, true}},
			{"v2", azcontainerregistry.TagWriteableProperties{CanList: to.Ptr(false), CanRead: to.Ptr(false)}, [4]bool{true, true, false, false}},
		} {
			what := "UpdateTagProperties " + tc.tag
			resp, err := e.client.UpdateTagProperties(ctx, repo, tc.tag, &azcontainerregistry.ClientUpdateTagPropertiesOptions{Value: &tc.v})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if sdkStr(resp.RepositoryName) != repo || sdkStr(resp.RegistryLoginServer) != host || resp.Tag == nil {
				t.Fatalf("%s: got repository %s, registry %s, tag %v", what, sdkStr(resp.RepositoryName), sdkStr(resp.RegistryLoginServer), resp.Tag)
			}
			sdkCheckTag(t, what, resp.Tag, tc.tag, byTag[tc.tag].digest, tc.want)
			got, err := e.client.GetTagProperties(ctx, repo, tc.tag, nil)
			if err != nil {
				t.Fatal(err)
			}
			sdkCheckTag(t, "GetTagProperties after "+what, got.Tag, tc.tag, byTag[tc.tag].digest, tc.want)
		}
		// listEnabled=false hides v2 from the listing.
		got := sdkTagPages(t, "NewListTagsPager", e.client.NewListTagsPager(repo, nil), repo, host, nil)
		if diff := cmp.Diff([][]string{{"latest", "multi", "v1", "v3"}}, got); diff != "" {
			t.Errorf("tags with v2 unlisted (-want +got):\n%s", diff)
		}
		if _, err := e.client.UpdateTagProperties(ctx, repo, "v2", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanList: to.Ptr(true), CanRead: to.Ptr(true)}}); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.UpdateTagProperties(ctx, repo, "wrong-tag", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
			Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false)}})
		sdkWantError(t, "UpdateTagProperties wrong-tag", err, http.StatusNotFound, "TAG_UNKNOWN")
	})

	t.Run("UpdateManifestProperties", func(t *testing.T) {
		for _, list := range []bool{false, true} {
			what := "UpdateManifestProperties CanList=" + map[bool]string{true: "true", false: "false"}[list]
			resp, err := e.client.UpdateManifestProperties(ctx, repo, untagged.digest, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
				Value: &azcontainerregistry.ManifestWriteableProperties{CanList: to.Ptr(list)}})
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if sdkStr(resp.RepositoryName) != repo || sdkStr(resp.RegistryLoginServer) != host || resp.Manifest == nil || sdkStr(resp.Manifest.Digest) != untagged.digest {
				t.Fatalf("%s: got %+v", what, resp.ArtifactManifestProperties)
			}
			a := resp.Manifest.ChangeableAttributes
			sdkAttrs(t, what, a.CanDelete, a.CanWrite, a.CanRead, a.CanList, [4]bool{true, true, true, list})
			got, err := e.client.GetManifestProperties(ctx, repo, untagged.digest, nil)
			if err != nil {
				t.Fatal(err)
			}
			a = got.Manifest.ChangeableAttributes
			sdkAttrs(t, "GetManifestProperties after "+what, a.CanDelete, a.CanWrite, a.CanRead, a.CanList, [4]bool{true, true, true, list})
			var listed []string
			for _, p := range sdkPages(t, "manifests", e.client.NewListManifestsPager(repo, nil), ctx) {
				for _, m := range p.Attributes {
					listed = append(listed, sdkStr(m.Digest))
				}
			}
			if slices.Contains(listed, untagged.digest) != list {
				t.Errorf("with listEnabled=%v the manifests listed are %v", list, listed)
			}
		}
		_, err := e.client.UpdateManifestProperties(ctx, repo, notFound, &azcontainerregistry.ClientUpdateManifestPropertiesOptions{
			Value: &azcontainerregistry.ManifestWriteableProperties{CanWrite: to.Ptr(false)}})
		sdkWantError(t, "UpdateManifestProperties of an unknown digest", err, http.StatusNotFound, "MANIFEST_UNKNOWN")
	})

	t.Run("DeleteTag", func(t *testing.T) {
		var raw *http.Response
		if _, err := e.client.DeleteTag(policy.WithCaptureResponse(ctx, &raw), repo, "v3", nil); err != nil {
			t.Fatalf("DeleteTag v3: %v", err)
		}
		sdkWantCaptured(t, "DeleteTag v3", raw, http.StatusAccepted, "")
		if got := raw.Header.Get("X-Ms-Int-Docker-Content-Digest"); got != latest.digest {
			t.Errorf("DeleteTag v3: got X-Ms-Int-Docker-Content-Digest %q, want %s (G TestClient_DeleteTag)", got, latest.digest)
		}
		if b := sdkBody(raw); b != "" {
			t.Errorf("DeleteTag v3: got body %q, want none", b)
		}
		_, err := e.client.GetTagProperties(ctx, repo, "v3", nil)
		sdkWantError(t, "GetTagProperties v3 after its delete", err, http.StatusNotFound, "TAG_UNKNOWN")
		m, err := e.client.GetManifestProperties(ctx, repo, latest.digest, nil)
		if err != nil || !slices.Equal(sdkStrs(m.Manifest.Tags), []string{"latest"}) {
			t.Errorf("the manifest of v3 after the tag's delete: %v %v; want it kept with tag latest", err, m.Manifest)
		}
		// The SDK takes ACR's 404 for success.
		raw = nil
		if _, err := e.client.DeleteTag(policy.WithCaptureResponse(ctx, &raw), repo, "v3", nil); err != nil {
			t.Fatalf("DeleteTag v3 again: %v", err)
		}
		sdkWantCaptured(t, "DeleteTag v3 again", raw, http.StatusNotFound, "TAG_UNKNOWN")
	})

	t.Run("DeleteManifest", func(t *testing.T) {
		_, err := e.client.DeleteManifest(ctx, repo, "v2", nil)
		msg, _ := sdkWantError(t, "DeleteManifest by tag", err, http.StatusMethodNotAllowed, "UNSUPPORTED")
		if msg != "A manifest can only be deleted by digest." {
			t.Errorf("DeleteManifest by tag: got message %q, want ACR's (G TestClient_DeleteManifest_wrongDigest)", msg)
		}
		for _, im := range []sdkImage{untagged, index} {
			what := "DeleteManifest " + im.digest
			var raw *http.Response
			if _, err := e.client.DeleteManifest(policy.WithCaptureResponse(ctx, &raw), repo, im.digest, nil); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			sdkWantCaptured(t, what, raw, http.StatusAccepted, "")
			_, err := e.client.GetManifestProperties(ctx, repo, im.digest, nil)
			sdkWantError(t, "GetManifestProperties after "+what, err, http.StatusNotFound, "MANIFEST_UNKNOWN")
			_, err = e.client.GetManifest(ctx, repo, im.digest, &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(string(im.mediaType))})
			sdkWantError(t, "GetManifest after "+what, err, http.StatusNotFound, "MANIFEST_UNKNOWN")
			raw = nil
			if _, err := e.client.DeleteManifest(policy.WithCaptureResponse(ctx, &raw), repo, im.digest, nil); err != nil {
				t.Fatalf("%s again: %v", what, err)
			}
			sdkWantCaptured(t, what+" again", raw, http.StatusNotFound, "MANIFEST_UNKNOWN")
		}
		// Deleting a manifest deletes its tags.
		_, err = e.client.GetTagProperties(ctx, repo, "multi", nil)
		sdkWantError(t, "GetTagProperties multi after its manifest's delete", err, http.StatusNotFound, "TAG_UNKNOWN")
		props, err := e.client.GetRepositoryProperties(ctx, repo, nil)
		if err != nil || *props.ManifestCount != 3 || *props.TagCount != 3 {
			t.Errorf("after the deletes: %v, %v manifests, %v tags; want 3, 3", err, props.ManifestCount, props.TagCount)
		}
	})

	t.Run("DeleteRepository", func(t *testing.T) {
		var raw *http.Response
		if _, err := e.client.DeleteRepository(policy.WithCaptureResponse(ctx, &raw), "alpine", nil); err != nil {
			t.Fatalf("DeleteRepository alpine: %v", err)
		}
		sdkWantCaptured(t, "DeleteRepository alpine", raw, http.StatusAccepted, "")
		var body struct {
			ManifestsDeleted []string `json:"manifestsDeleted"`
			TagsDeleted      []string `json:"tagsDeleted"`
		}
		if err := json.Unmarshal([]byte(sdkBody(raw)), &body); err != nil ||
			!slices.Equal(body.ManifestsDeleted, []string{alpine.digest}) || !slices.Equal(body.TagsDeleted, []string{"1.0"}) {
			t.Errorf("DeleteRepository alpine: got body %s, want the deleted manifest and tag (G TestClient_DeleteRepository)", sdkBody(raw))
		}
		_, err := e.client.GetRepositoryProperties(ctx, "alpine", nil)
		sdkWantError(t, "GetRepositoryProperties after DeleteRepository", err, http.StatusNotFound, "NAME_UNKNOWN")
		var names []string
		for _, p := range sdkPages(t, "catalog", e.client.NewListRepositoriesPager(nil), ctx) {
			names = append(names, sdkStrs(p.Names)...)
		}
		if want := []string{"busybox", repo, "nginx/nginx"}; !slices.Equal(names, want) {
			t.Errorf("catalog after DeleteRepository: got %v, want %v", names, want)
		}
		raw = nil
		if _, err := e.client.DeleteRepository(policy.WithCaptureResponse(ctx, &raw), "alpine", nil); err != nil {
			t.Fatalf("DeleteRepository alpine again: %v", err)
		}
		sdkWantCaptured(t, "DeleteRepository alpine again", raw, http.StatusNotFound, "NAME_UNKNOWN")
	})

	t.Run("UploadManifest as Microsoft's live test", func(t *testing.T) {
		// The SDK's TestClient_UploadManifest, which passes against ACR:
		// read an image's manifest asking for an index, put the same bytes
		// back with an index Content-Type, and validate the digest. It
		// runs last because it moves tag v2's update time.
		get, err := e.client.GetManifest(ctx, repo, "v2", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(ocispec.MediaTypeImageIndex)})
		if err != nil {
			t.Fatalf("GetManifest v2 with Accept index: %v", err)
		}
		b := sdkReadAll(t, "GetManifest v2", get.ManifestData)
		up, err := e.client.UploadManifest(ctx, repo, "v2", ocispec.MediaTypeImageIndex, streaming.NopCloser(bytes.NewReader(b)), nil)
		if err != nil {
			t.Fatalf("UploadManifest of a Docker v2 manifest as an index: %v", err)
		}
		if sdkStr(up.DockerContentDigest) != v2.digest {
			t.Errorf("UploadManifest: got digest %s, want %s", sdkStr(up.DockerContentDigest), v2.digest)
		}
		sdkValidated(t, "the uploaded bytes", sdkStr(up.DockerContentDigest), io.NopCloser(bytes.NewReader(b)))
		if tag, err := e.client.GetTagProperties(ctx, repo, "v2", nil); err != nil || sdkStr(tag.Tag.Digest) != v2.digest {
			t.Errorf("tag v2 after the upload: %v", err)
		}
	})
}

// sdkCheckManifest checks manifest attributes against the pushed image.
func sdkCheckManifest(t *testing.T, what string, m *azcontainerregistry.ManifestAttributes, im sdkImage, tags []string) {
	t.Helper()
	if sdkStr(m.Digest) != im.digest || sdkStr(m.MediaType) != string(im.mediaType) {
		t.Errorf("%s: got digest %s, media type %s; want %s, %s", what, sdkStr(m.Digest), sdkStr(m.MediaType), im.digest, im.mediaType)
	}
	got := sdkStrs(m.Tags)
	slices.Sort(got)
	if want := append([]string{}, tags...); !slices.Equal(got, want) {
		t.Errorf("%s: got tags %v, want %v", what, got, want)
	}
	sdkTimes(t, what, m.CreatedOn, m.LastUpdatedOn)
	if a := m.ChangeableAttributes; a == nil {
		t.Errorf("%s: no changeable attributes", what)
	} else {
		sdkAttrs(t, what, a.CanDelete, a.CanWrite, a.CanRead, a.CanList, [4]bool{true, true, true, true})
	}
	if im.mediaType == ocispec.MediaTypeImageIndex {
		if m.Architecture != nil || m.OperatingSystem != nil || m.Size == nil || *m.Size <= 0 {
			t.Errorf("%s: an index got architecture %v, os %v, size %v; want none, none, > 0", what, m.Architecture, m.OperatingSystem, m.Size)
		}
		return
	}
	if m.Size == nil || *m.Size != im.size() {
		t.Errorf("%s: got size %v, want %d (config and layers)", what, m.Size, im.size())
	}
	if m.Architecture == nil || string(*m.Architecture) != im.arch || !slices.Contains(azcontainerregistry.PossibleArtifactArchitectureValues(), *m.Architecture) {
		t.Errorf("%s: got architecture %v, want %s", what, m.Architecture, im.arch)
	}
	if m.OperatingSystem == nil || string(*m.OperatingSystem) != im.os || !slices.Contains(azcontainerregistry.PossibleArtifactOperatingSystemValues(), *m.OperatingSystem) {
		t.Errorf("%s: got os %v, want %s", what, m.OperatingSystem, im.os)
	}
	if sdkStr(m.ConfigMediaType) != sdkConfigType[im.mediaType] {
		t.Errorf("%s: got config media type %s, want %s", what, sdkStr(m.ConfigMediaType), sdkConfigType[im.mediaType])
	}
}

// sdkCheckTag checks a tag's attributes.
func sdkCheckTag(t *testing.T, what string, tag *azcontainerregistry.TagAttributes, name, d string, attrs [4]bool) {
	t.Helper()
	if tag == nil {
		t.Errorf("%s: no tag attributes", what)
		return
	}
	if sdkStr(tag.Name) != name || sdkStr(tag.Digest) != d {
		t.Errorf("%s: got tag %s -> %s, want %s -> %s", what, sdkStr(tag.Name), sdkStr(tag.Digest), name, d)
	}
	sdkTimes(t, what, tag.CreatedOn, tag.LastUpdatedOn)
	if a := tag.ChangeableAttributes; a == nil {
		t.Errorf("%s: no changeable attributes", what)
	} else {
		sdkAttrs(t, what, a.CanDelete, a.CanWrite, a.CanRead, a.CanList, attrs)
	}
}

// sdkTagPages runs a tags pager and returns the names on each page,
// checking each page's envelope, each tag against byTag (when given) and
// that time orders are kept.
func sdkTagPages(t *testing.T, what string, pager *runtime.Pager[azcontainerregistry.ClientListTagsResponse], repo, host string, byTag map[string]sdkImage) [][]string {
	t.Helper()
	var out [][]string
	pages := sdkPages(t, what, pager, t.Context())
	for i, p := range pages {
		if sdkStr(p.Repository) != repo || sdkStr(p.RegistryLoginServer) != host {
			t.Errorf("%s: page %d names repository %s, registry %s", what, i+1, sdkStr(p.Repository), sdkStr(p.RegistryLoginServer))
		}
		if last := i == len(pages)-1; (p.Link == nil) != last {
			t.Errorf("%s: page %d has Link %v; want one on every page but the last", what, i+1, sdkStr(p.Link))
		}
		names := []string{}
		for _, tag := range p.Tags {
			names = append(names, sdkStr(tag.Name))
			if im, ok := byTag[sdkStr(tag.Name)]; ok {
				sdkCheckTag(t, what, tag, sdkStr(tag.Name), im.digest, [4]bool{true, true, true, true})
			}
		}
		out = append(out, names)
	}
	return out
}

// sdkManifestPages runs a manifests pager and returns the digests on each
// page, checking each page's envelope and each manifest against images.
func sdkManifestPages(t *testing.T, what string, pager *runtime.Pager[azcontainerregistry.ClientListManifestsResponse], repo, host string, images []sdkImage, tagsOf map[string][]string) [][]string {
	t.Helper()
	var out [][]string
	pages := sdkPages(t, what, pager, t.Context())
	for i, p := range pages {
		if sdkStr(p.Repository) != repo || sdkStr(p.RegistryLoginServer) != host {
			t.Errorf("%s: page %d names repository %s, registry %s", what, i+1, sdkStr(p.Repository), sdkStr(p.RegistryLoginServer))
		}
		if last := i == len(pages)-1; (p.Link == nil) != last {
			t.Errorf("%s: page %d has Link %v; want one on every page but the last", what, i+1, sdkStr(p.Link))
		}
		ds := []string{}
		for _, m := range p.Attributes {
			ds = append(ds, sdkStr(m.Digest))
			if j := slices.IndexFunc(images, func(im sdkImage) bool { return im.digest == sdkStr(m.Digest) }); j >= 0 {
				sdkCheckManifest(t, what, m, images[j], tagsOf[images[j].digest])
			}
		}
		out = append(out, ds)
	}
	return out
}

// sdkWantRouter404 checks ACR's answer to a path its router does not
// match: 404, text/plain, "404 page not found\n"
// (G TestClient_GetManifestProperties_wrongDigest, TestBlobClient_GetBlob_fail).
func sdkWantRouter404(t *testing.T, what string, err error) {
	t.Helper()
	resp := sdkRawOf(err)
	if resp == nil {
		return // sdkWantError has reported it
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; charset=utf-8" || sdkBody(resp) != "404 page not found\n" {
		t.Errorf("%s: got %s %q, want ACR's router 404 (text/plain, \"404 page not found\\n\")", what, ct, sdkBody(resp))
	}
}
