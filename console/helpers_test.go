package console

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Hostile strings a registry may send: they must render as text.
const (
	xssScript = `<script>window.__pwned=1</script>`
	xssImg    = `"><img src=x onerror="window.__pwned=2">`
)

// seeder pushes test content through the library.
type seeder struct {
	t   testing.TB
	c   *acr.Client
	ctx context.Context
}

func newSeeder(t testing.TB, base string, cred acr.Credential) *seeder {
	t.Helper()
	if cred == nil {
		cred = acr.AnonymousCredential()
	}
	c, err := acr.NewClient(base, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &seeder{t: t, c: c, ctx: context.Background()}
}

func (s *seeder) blob(repo string, data []byte, mediaType string) ocispec.Descriptor {
	s.t.Helper()
	d, err := s.c.UploadBlob(s.ctx, repo, bytes.NewReader(data), &acr.UploadBlobOptions{MediaType: mediaType})
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// image pushes an image with one layer (shared between images with the
// same layer text) and returns its descriptor.
func (s *seeder) image(repo, tag, arch, layer string, annotations map[string]string) ocispec.Descriptor {
	s.t.Helper()
	cfg := s.blob(repo, []byte(`{"architecture":"`+arch+`","os":"linux"}`), ocispec.MediaTypeImageConfig)
	l := s.blob(repo, bytes.Repeat([]byte(layer), 1000), ocispec.MediaTypeImageLayerGzip)
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		Config: cfg, Layers: []ocispec.Descriptor{l}, Annotations: annotations}
	d, err := s.c.SetImage(s.ctx, repo, m, &acr.SetManifestOptions{Tag: tag})
	if err != nil {
		s.t.Fatal(err)
	}
	d.Platform = &ocispec.Platform{OS: "linux", Architecture: arch}
	return d
}

// index pushes an index of children.
func (s *seeder) index(repo, tag string, children ...ocispec.Descriptor) ocispec.Descriptor {
	s.t.Helper()
	ix := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: children}
	d, err := s.c.SetIndex(s.ctx, repo, ix, &acr.SetManifestOptions{Tag: tag})
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// referrer pushes an artifact whose subject is subject.
func (s *seeder) referrer(repo, artifactType string, subject ocispec.Descriptor, annotations map[string]string) ocispec.Descriptor {
	s.t.Helper()
	empty := s.blob(repo, []byte("{}"), ocispec.MediaTypeEmptyJSON)
	l := s.blob(repo, []byte("payload of "+artifactType), "application/octet-stream")
	subj := subject
	subj.Platform, subj.Annotations = nil, nil
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: artifactType, Config: empty, Layers: []ocispec.Descriptor{l}, Subject: &subj, Annotations: annotations}
	d, err := s.c.SetImage(s.ctx, repo, m, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	return d
}

// fixture is the content every console test browses: an image with a
// signature that carries an attestation of its own, an index of two
// platforms, and a second repository sharing the image's layer.
type fixture struct {
	image, sig, att, index ocispec.Descriptor
}

func (s *seeder) fixture() fixture {
	s.t.Helper()
	var f fixture
	f.image = s.image("app/web", "v1", "amd64", "base", map[string]string{
		"org.opencontainers.image.title": xssScript,
		"com.example.note":               xssImg,
	})
	s.image("app/web", "v2", "amd64", "base2", nil)
	f.sig = s.referrer("app/web", "application/vnd.cncf.notary.signature", f.image,
		map[string]string{"org.opencontainers.image.created": "2026-01-02T03:04:05Z"})
	f.att = s.referrer("app/web", "application/vnd.in-toto+json", f.sig,
		map[string]string{"org.opencontainers.image.created": xssScript})
	arm := s.image("app/multi", "", "arm64", "armlayer", nil)
	amd := s.image("app/multi", "", "amd64", "base", nil)
	f.index = s.index("app/multi", "latest", amd, arm)
	s.image("tools/cli", "1.0", "amd64", "base", nil)
	return f
}

// registry is a registry under test with a console in front of it.
type registry struct {
	// URL is the console's base URL, ending in the prefix.
	URL     string
	console *Server
	seed    *seeder
	reg     *acrtest.Server
}

// consoleFor serves a console with one client for reg, as acrctl console
// does, on its own loopback server.
func consoleFor(t testing.TB, base string, cred acr.Credential) (*Server, string) {
	t.Helper()
	if cred == nil {
		cred = acr.AnonymousCredential()
	}
	c, err := acr.NewClient(base, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := New(&Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(cs)
	t.Cleanup(hs.Close)
	return cs, hs.URL + "/"
}

// localRegistry starts the local registry with soft delete and a console
// in token mode.
func localRegistry(t testing.TB, opts *emulator.Options) *registry {
	t.Helper()
	reg := acrtest.NewServer(t, opts)
	cs, u := consoleFor(t, reg.URL, nil)
	return &registry{URL: u, console: cs, seed: newSeeder(t, reg.URL, nil), reg: reg}
}

// mounted serves a console under /console/ beside the registry on one
// port, as acrctl serve does: signing in with the registry's users when
// it has them.
func mounted(t testing.TB, opts *emulator.Options) (consoleURL string, reg *httptest.Server) {
	t.Helper()
	em, err := emulator.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { em.Close() })
	mux := http.NewServeMux()
	mux.Handle("/", em)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	o := &Options{Prefix: "/console/"}
	if len(opts.Users) > 0 {
		o.SignIn = func(ctx context.Context, user, pass string) (*acr.Client, error) {
			return acr.NewClient(hs.URL, acr.BasicCredential(user, pass), nil)
		}
	} else {
		c, err := acr.NewClient(hs.URL, acr.AnonymousCredential(), nil)
		if err != nil {
			t.Fatal(err)
		}
		o.Client, o.Open = c, true
	}
	cs, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	mux.Handle("/console/", cs)
	return hs.URL + "/console/", hs
}
