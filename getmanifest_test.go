package acr_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

const (
	dockerManifestType = "application/vnd.docker.distribution.manifest.v2+json"
	dockerListType     = "application/vnd.docker.distribution.manifest.list.v2+json"
	dockerConfigType   = "application/vnd.docker.container.image.v1+json"
	dockerLayerType    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// pushDockerImage pushes a Docker v2 schema 2 image and a manifest list of
// it, tagged v1 and list, and returns the manifest's and the list's bytes.
func pushDockerImage(t *testing.T, client *acr.Client, repo string) (manifest, list []byte) {
	t.Helper()
	ctx := t.Context()
	cfg, err := client.UploadBlob(ctx, repo, strings.NewReader(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := client.UploadBlob(ctx, repo, strings.NewReader("docker layer"), nil)
	if err != nil {
		t.Fatal(err)
	}
	manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"size":%d,"digest":%q},"layers":[{"mediaType":%q,"size":%d,"digest":%q}]}`,
		dockerManifestType, dockerConfigType, cfg.Size, cfg.Digest, dockerLayerType, layer.Size, layer.Digest)
	d, err := client.SetManifest(ctx, repo, manifest, "", &acr.SetManifestOptions{Tag: "v1"})
	if err != nil || d != digest.FromBytes(manifest) {
		t.Fatalf("SetManifest of a Docker manifest = %s, %v; want %s", d, err, digest.FromBytes(manifest))
	}
	list = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"size":%d,"digest":%q,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		dockerListType, dockerManifestType, len(manifest), d)
	if _, err := client.SetManifest(ctx, repo, list, dockerListType, &acr.SetManifestOptions{Tag: "list"}); err != nil {
		t.Fatal(err)
	}
	return manifest, list
}

// TestDockerSchema2RoundTrip pushes Docker v2 schema 2 manifests and
// reads them back by tag and digest, and in the listings, with their media
// types and bytes kept.
func TestDockerSchema2RoundTrip(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	manifest, list := pushDockerImage(t, client, "docker/app")
	for _, tc := range []struct {
		ref, mediaType string
		body           []byte
	}{
		{"v1", dockerManifestType, manifest},
		{digest.FromBytes(manifest).String(), dockerManifestType, manifest},
		{"list", dockerListType, list},
	} {
		m, err := client.GetManifest(ctx, "docker/app", tc.ref, nil)
		if err != nil {
			t.Fatalf("GetManifest %s: %v", tc.ref, err)
		}
		if m.MediaType != tc.mediaType || !bytes.Equal(m.Bytes, tc.body) || m.Digest != digest.FromBytes(tc.body) {
			t.Errorf("GetManifest %s = %s %s (%d bytes), want %s %s (%d bytes)", tc.ref, m.MediaType, m.Digest, len(m.Bytes),
				tc.mediaType, digest.FromBytes(tc.body), len(tc.body))
		}
	}
	m, _ := client.GetManifest(ctx, "docker/app", "v1", nil)
	img, err := m.Image()
	if err != nil || img.Config.MediaType != dockerConfigType || len(img.Layers) != 1 || img.Layers[0].MediaType != dockerLayerType {
		t.Errorf("Image() of a Docker manifest = %+v, %v", img, err)
	}
	l, _ := client.GetManifest(ctx, "docker/app", "list", nil)
	if idx, err := l.Index(); err != nil || len(idx.Manifests) != 1 || idx.Manifests[0].Platform.Architecture != "arm64" {
		t.Errorf("Index() of a Docker manifest list = %+v, %v", idx, err)
	}
	types := map[digest.Digest]string{}
	for mp, err := range client.Manifests(ctx, "docker/app", nil) {
		if err != nil {
			t.Fatal(err)
		}
		types[mp.Digest] = mp.MediaType
		if mp.Digest == digest.FromBytes(manifest) && (mp.Architecture != "arm64" || !slices.Equal(mp.Tags, []string{"v1"})) {
			t.Errorf("Manifests lists the Docker manifest as %+v", mp)
		}
	}
	if types[digest.FromBytes(manifest)] != dockerManifestType || types[digest.FromBytes(list)] != dockerListType {
		t.Errorf("Manifests media types: %v", types)
	}
	tp, err := client.GetTagProperties(ctx, "docker/app", "v1")
	if err != nil || tp.Digest != digest.FromBytes(manifest) {
		t.Errorf("GetTagProperties v1 = %+v, %v", tp, err)
	}
}

// TestGetManifestMediaTypes checks that GetManifestOptions.MediaTypes is
// the Accept header sent, and that a malformed one is refused.
func TestGetManifestMediaTypes(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	var accept []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") {
			accept = append(accept, r.Header.Get("Accept"))
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	client, _ := acr.NewClient(proxy.URL, nil, nil)
	manifest, _ := pushDockerImage(t, client, "docker/app")
	m, err := client.GetManifest(t.Context(), "docker/app", "v1", &acr.GetManifestOptions{MediaTypes: []string{dockerManifestType}})
	if err != nil || !bytes.Equal(m.Bytes, manifest) {
		t.Fatalf("GetManifest with Docker's type = %v", err)
	}
	if _, err := client.GetManifest(t.Context(), "docker/app", "v1", nil); err != nil {
		t.Fatal(err)
	}
	if len(accept) != 2 || accept[0] != dockerManifestType || !strings.Contains(accept[1], "application/vnd.oci.image.index.v1+json") ||
		!strings.Contains(accept[1], dockerManifestType) {
		t.Errorf("Accept headers sent: %q; want Docker's type alone, then every type", accept)
	}
	for _, bad := range []string{"", "not a type", "a/b, c/d", "a/b;q=0.5"} {
		_, err := client.GetManifest(t.Context(), "docker/app", "v1", &acr.GetManifestOptions{MediaTypes: []string{bad}})
		if err == nil || !strings.Contains(err.Error(), "is not a media type") {
			t.Errorf("MediaTypes [%q]: error %v, want one saying it is not a media type", bad, err)
		}
	}
}

// TestManifestRequestsAcceptEveryType checks that every manifest GET and
// HEAD the client makes by default names every manifest type in Accept: a
// registry, ACR as distribution, serves no OCI manifest or index to a
// request that names no manifest type (Azure/acr#764), a Docker manifest
// list by tag only to one that names lists, and ACR no OCI artifact
// manifest to one that does not name it (go-containerregistry#1697), which
// an artifact pushed here, fetched, resolved and checked for, proves
// against the emulator.
func TestManifestRequestsAcceptEveryType(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	var accept []string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.Contains(r.URL.Path, "/manifests/") {
			accept = append(accept, r.Method+" "+strings.Join(r.Header.Values("Accept"), ", "))
		}
		srv.Registry.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	client, _ := acr.NewClient(proxy.URL, nil, nil)
	ctx := t.Context()
	pushDockerImage(t, client, "docker/app")
	oci := newSeeder(t, srv, "", "").image("oci/app", "amd64", "accept", "v1")
	const mtArtifact = "application/vnd.oci.artifact.manifest.v1+json"
	artifact := fmt.Sprintf(`{"mediaType":%q,"artifactType":"application/vnd.example.scan","blobs":[]}`, mtArtifact)
	if _, err := client.SetManifest(ctx, "oci/app", []byte(artifact), mtArtifact, &acr.SetManifestOptions{Tag: "scan"}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []struct{ repo, ref string }{{"docker/app", "v1"}, {"docker/app", "list"}, {"oci/app", "v1"}, {"oci/app", oci.String()}, {"oci/app", "scan"}} {
		if _, err := client.GetManifest(ctx, ref.repo, ref.ref, nil); err != nil {
			t.Errorf("GetManifest %s:%s: %v", ref.repo, ref.ref, err)
		}
		if _, err := client.ResolveDigest(ctx, ref.repo, ref.ref); err != nil {
			t.Errorf("ResolveDigest %s:%s: %v", ref.repo, ref.ref, err)
		}
		if ok, err := client.ManifestExists(ctx, ref.repo, ref.ref); !ok || err != nil {
			t.Errorf("ManifestExists %s:%s = %v, %v", ref.repo, ref.ref, ok, err)
		}
	}
	if len(accept) == 0 {
		t.Fatal("no manifest request went through the proxy")
	}
	for _, a := range accept {
		for _, mt := range []string{"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json", dockerManifestType, dockerListType, mtArtifact} {
			if !strings.Contains(a, mt) {
				t.Errorf("%s: Accept does not name %s", a, mt)
			}
		}
	}
}

// TestGetManifestTampered puts a proxy that alters manifest bodies in front
// of the emulator: GetManifest refuses them with ErrDigestMismatch, by
// digest (against the digest asked for) and by tag (against the registry's
// Docker-Content-Digest).
func TestGetManifestTampered(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	client, _ := acr.NewClient(srv.URL, nil, nil)
	manifest, _ := pushDockerImage(t, client, "docker/app")
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		srv.Registry.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/manifests/") && rec.Code == http.StatusOK {
			// Same length, one byte changed: only the digest can tell.
			body = bytes.Replace(body, []byte(`"size":`), []byte(`"Size":`), 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer proxy.Close()
	tampered, _ := acr.NewClient(proxy.URL, nil, nil)
	d := digest.FromBytes(manifest)
	for _, ref := range []string{"v1", d.String()} {
		m, err := tampered.GetManifest(t.Context(), "docker/app", ref, nil)
		if !errors.Is(err, acr.ErrDigestMismatch) {
			t.Errorf("GetManifest %s through a tampering proxy = %d bytes, %v; want ErrDigestMismatch", ref, len(m.Bytes), err)
			continue
		}
		if !strings.Contains(err.Error(), d.String()) {
			t.Errorf("GetManifest %s: error %q does not name the expected digest %s", ref, err, d)
		}
	}
	// The same reads straight from the registry pass: the proxy is the
	// cause.
	if m, err := client.GetManifest(t.Context(), "docker/app", d.String(), nil); err != nil || m.Digest != d {
		t.Errorf("GetManifest without the proxy = %v", err)
	}
}

// TestGetManifestErrors checks the errors GetManifest's documentation
// promises, against the emulator: ErrNotFound for a missing repository,
// tag or digest, ErrLocked for a manifest whose readEnabled flag is off
// (from GetManifest, and from the HEADs of ManifestExists and ResolveDigest),
// ErrInvalidReference for a malformed tag before any request; and
// ErrNotFound from the property calls for what the registry does not hold.
func TestGetManifestErrors(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	d := newSeeder(t, srv, "", "").image("app", "amd64", "errors", "v1")
	client, _ := acr.NewClient(srv.URL, nil, nil)
	ctx := t.Context()
	missing := digest.FromString("missing").String()
	for _, ref := range []struct{ repo, ref string }{{"nope", "v1"}, {"app", "v2"}, {"app", missing}} {
		if _, err := client.GetManifest(ctx, ref.repo, ref.ref, nil); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("GetManifest %s:%s: got %v, want ErrNotFound", ref.repo, ref.ref, err)
		}
		if _, err := client.GetManifestProperties(ctx, ref.repo, ref.ref); !errors.Is(err, acr.ErrNotFound) {
			t.Errorf("GetManifestProperties %s:%s: got %v, want ErrNotFound", ref.repo, ref.ref, err)
		}
	}
	if _, err := client.GetTagProperties(ctx, "app", "v2"); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("GetTagProperties of a missing tag: got %v, want ErrNotFound", err)
	}
	if _, err := client.GetRepositoryProperties(ctx, "nope"); !errors.Is(err, acr.ErrNotFound) {
		t.Errorf("GetRepositoryProperties of a missing repository: got %v, want ErrNotFound", err)
	}
	if _, err := client.GetManifest(ctx, "app", "bad tag", nil); !errors.Is(err, acr.ErrInvalidReference) {
		t.Errorf("GetManifest of a malformed tag: got %v, want ErrInvalidReference", err)
	}
	off := false
	if _, err := client.UpdateManifestProperties(ctx, "app", d.String(), acr.PermissionsUpdate{CanRead: &off}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"v1", d.String()} {
		_, err := client.GetManifest(ctx, "app", ref, nil)
		if !errors.Is(err, acr.ErrLocked) {
			t.Errorf("GetManifest %s with readEnabled off: got %v, want ErrLocked", ref, err)
		}
		// The registry's whole sentence, its fix at the end included.
		if err == nil || !strings.HasSuffix(err.Error(), "az acr manifest update-metadata --read-enabled true)") && !strings.Contains(err.Error(), "--read-enabled true) (request id") {
			t.Errorf("GetManifest %s with readEnabled off: %v; want the registry's message whole, to its fix", ref, err)
		}
		// A HEAD's refusal has no body to say why; the client asks again.
		if _, err := client.ManifestExists(ctx, "app", ref); !errors.Is(err, acr.ErrLocked) {
			t.Errorf("ManifestExists %s with readEnabled off: got %v, want ErrLocked", ref, err)
		}
	}
	if _, err := client.ResolveDigest(ctx, "app", "v1"); !errors.Is(err, acr.ErrLocked) {
		t.Errorf("ResolveDigest v1 with readEnabled off: got %v, want ErrLocked", err)
	}
}
