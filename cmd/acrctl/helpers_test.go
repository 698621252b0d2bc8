package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ with the current output")

// result is what one acrctl invocation printed and returned.
type result struct {
	stdout, stderr string
	code           int
}

// acrctl runs the CLI in process with args and stdin.
func acrctl(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(t.Context(), args, strings.NewReader(stdin), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// ok fails the test unless the command succeeded.
func (r result) ok(t *testing.T) result {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", r.code, r.stderr)
	}
	return r
}

// fails checks the exit code and that stderr is one line naming the
// problem with every want substring.
func (r result) fails(t *testing.T, code int, want ...string) result {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d; stdout: %s; stderr: %s", r.code, code, r.stdout, r.stderr)
	}
	if n := strings.Count(strings.TrimRight(r.stderr, "\n"), "\n"); n != 0 {
		t.Errorf("stderr has %d lines, want one:\n%s", n+1, r.stderr)
	}
	if !strings.HasPrefix(r.stderr, "acrctl: ") {
		t.Errorf("stderr %q does not start with \"acrctl: \"", r.stderr)
	}
	if strings.Contains(r.stderr, ".;") || strings.Contains(r.stderr, ".:") {
		t.Errorf("stderr %q ends a sentence in the middle of a clause", r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	return r
}

// Credentials of the registries with authentication on.
const (
	testUser     = "admin"
	testPassword = "s3cret-Pa55word"
)

// fixture is a registry for a test, with or without authentication, and a
// private docker config directory.
type fixture struct {
	t      *testing.T
	srv    *acrtest.Server
	auth   bool
	client *acr.Client // authenticated client for seeding and checks
	config string      // DOCKER_CONFIG directory
}

// newFixture starts a registry; with auth, it has a user and allows
// anonymous pull, and acrctl login stores the user's credentials in the
// fixture's docker config, which every later command then reads.
func newFixture(t *testing.T, auth bool) *fixture {
	t.Helper()
	f := &fixture{t: t, auth: auth, config: t.TempDir()}
	t.Setenv("DOCKER_CONFIG", f.config)
	var opts *emulator.Options
	var cred acr.Credential
	if auth {
		opts = &emulator.Options{Users: map[string]string{testUser: testPassword}, AnonymousPull: true}
		cred = acr.BasicCredential(testUser, testPassword)
	}
	f.srv = acrtest.NewServer(t, opts)
	c, err := acr.NewClient(f.srv.Host, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	f.client = c
	if auth {
		acrctl(t, testPassword+"\n", "login", f.srv.Host, "-u", testUser, "--password-stdin").ok(t)
	}
	return f
}

// forEachMode runs fn against a registry without and with authentication.
func forEachMode(t *testing.T, fn func(t *testing.T, f *fixture)) {
	for _, mode := range []string{"open", "auth"} {
		t.Run(mode, func(t *testing.T) { fn(t, newFixture(t, mode == "auth")) })
	}
}

// run runs acrctl against the fixture.
func (f *fixture) run(stdin string, args ...string) result {
	f.t.Helper()
	return acrctl(f.t, stdin, args...)
}

// ref prefixes a repository (and tag or digest) with the registry host.
func (f *fixture) ref(s string) string { return f.srv.Host + "/" + s }

// testImage is an image the tests pushed.
type testImage struct {
	digest digest.Digest
	config digest.Digest
	layers []digest.Digest
	bytes  []byte
}

// pushImage pushes a small, reproducible image under tags, so that digests
// are the same in every run.
func (f *fixture) pushImage(repo, seed string, tags ...string) testImage {
	f.t.Helper()
	ctx := f.t.Context()
	var img testImage
	layer := []byte("layer of " + seed + "\n")
	ld, err := f.client.UploadBlob(ctx, repo, bytes.NewReader(layer), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer})
	if err != nil {
		f.t.Fatal(err)
	}
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[%q]},"seed":%q}`, ld.Digest, seed))
	cd, err := f.client.UploadBlob(ctx, repo, bytes.NewReader(cfg), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		f.t.Fatal(err)
	}
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Config: cd, Layers: []ocispec.Descriptor{ld}}
	img.bytes, _ = json.Marshal(m)
	img.config, img.layers = cd.Digest, []digest.Digest{ld.Digest}
	if len(tags) == 0 {
		tags = []string{""}
	}
	for _, tag := range tags {
		desc, err := f.client.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: tag})
		if err != nil {
			f.t.Fatal(err)
		}
		img.digest = desc.Digest
	}
	return img
}

var (
	timeRE      = regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?Z?`)
	clockRE     = regexp.MustCompile(`\b\d{2}:\d{2}:\d{2}\.\d{3}\b`)
	requestIDRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	tmpRE       = regexp.MustCompile(regexp.QuoteMeta(os.TempDir()) + `/[A-Za-z0-9._/-]+`)
)

// normalize replaces what varies between runs: the registry's host and
// port, timestamps, request ids and temporary paths.
func normalize(s, host string) string {
	if host != "" {
		s = strings.ReplaceAll(s, host, "REGISTRY")
	}
	s = timeRE.ReplaceAllString(s, "TIME")
	s = clockRE.ReplaceAllString(s, "HH:MM:SS.mmm")
	s = requestIDRE.ReplaceAllString(s, "REQUEST-ID")
	s = tmpRE.ReplaceAllString(s, "TMPDIR")
	return s
}

// golden compares got, normalized, with testdata/name, or rewrites the file
// with -update. JSON goldens must hold one valid JSON document.
func golden(t *testing.T, name, got, host string) {
	t.Helper()
	got = normalize(got, host)
	if strings.HasSuffix(name, ".json") && !json.Valid([]byte(got)) {
		t.Errorf("%s: output is not one JSON document:\n%s", name, got)
	}
	path := filepath.Join("testdata", name)
	if *update {
		goldenMu.Lock()
		defer goldenMu.Unlock()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got; go test -update rewrites it):\n%s", name, diff)
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing in one goroutine
// while the test reads in another.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var goldenMu sync.Mutex

var _ io.Writer = (*syncBuffer)(nil)
