package emulator

import "testing"

func TestParseRoute(t *testing.T) {
	tests := []struct {
		path string
		want route
	}{
		{"/v2/", route{kind: routeBase}},
		{"/v2", route{kind: routeBase}},
		{"/v2/_catalog", route{kind: routeCatalog}},
		{"/v2/a/tags/list", route{routeTagsList, "a", ""}},
		{"/v2/a/b/c/tags/list", route{routeTagsList, "a/b/c", ""}},
		{"/v2/library%2Fhello/manifests/latest", route{routeManifest, "library/hello", "latest"}},
		{"/v2/a/manifests/sha256:abc", route{routeManifest, "a", "sha256:abc"}},
		{"/v2/a/manifests/manifests/x", route{routeManifest, "a/manifests", "x"}},
		{"/v2/a/blobs/sha256:abc", route{routeBlob, "a", "sha256:abc"}},
		{"/v2/a/blobs/blobs/sha256:abc", route{routeBlob, "a/blobs", "sha256:abc"}},
		{"/v2/a/b/blobs/uploads/", route{routeUploadStart, "a/b", ""}},
		{"/v2/a/b/blobs/uploads", route{routeUploadStart, "a/b", ""}},
		{"/v2/a/blobs/uploads/123-abc", route{routeUpload, "a", "123-abc"}},
		{"/v2/a/referrers/sha256:abc", route{routeReferrers, "a", "sha256:abc"}},
		{"/acr/v1/_catalog", route{kind: routeACRCatalog}},
		{"/acr/v1/a%2Fb", route{routeACRRepo, "a/b", ""}},
		{"/acr/v1/a/b", route{routeACRRepo, "a/b", ""}},
		{"/acr/v1/a%2Fb/_tags", route{routeACRTags, "a/b", ""}},
		{"/acr/v1/a/b/_tags/v1", route{routeACRTag, "a/b", "v1"}},
		{"/acr/v1/a/_manifests", route{routeACRManifests, "a", ""}},
		{"/acr/v1/a/_manifests/sha256:abc", route{routeACRManifest, "a", "sha256:abc"}},
		{"/oauth2/token", route{kind: routeOAuthToken}},
		{"/oauth2/exchange", route{kind: routeOAuthExchange}},
		{"/v2/a/nothing/x", route{}},
		{"/v2/manifests/x", route{}},
		{"/v2//manifests/x", route{}},
		{"/v2/a%zz/manifests/x", route{}},
		{"/other", route{}},
	}
	for _, tt := range tests {
		if got := parseRoute(tt.path); got != tt.want {
			t.Errorf("parseRoute(%q): got %+v, want %+v", tt.path, got, tt.want)
		}
	}
}

func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/a/b/manifests/x", "/v2/a/blobs/uploads/", "/acr/v1/a%2Fb/_tags/x", "/v2/%", "/acr/v1//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r := parseRoute(p)
		if r.kind != routeUnknown && r.kind != routeBase && r.kind != routeCatalog && r.kind != routeACRCatalog &&
			r.kind != routeOAuthExchange && r.kind != routeOAuthToken && r.repo == "" {
			t.Fatalf("parseRoute(%q) = %+v: a repository route with an empty name", p, r)
		}
	})
}
