package purge_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/purge"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// epoch is day 0 of the scenarios; day(n) is n days later.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func day(n int) time.Time { return epoch.Add(time.Duration(n) * purge.Day) }

// clock is the registry's and the purge's clock; tests move it to push
// content with chosen ages.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// counter counts the requests a client sends, by method.
type counter struct {
	next http.RoundTripper
	n    atomic.Int64
	mu   sync.Mutex
	by   map[string]int
	// before, when set, runs before each request and may fail it.
	before func(*http.Request) error
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.before != nil {
		if err := c.before(r); err != nil {
			return nil, err
		}
	}
	c.n.Add(1)
	c.mu.Lock()
	if c.by == nil {
		c.by = map[string]int{}
	}
	c.by[r.Method]++
	c.by[r.Method+" "+route(r.URL.Path)]++
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// route names the API a path belongs to: "manifests", "referrers",
// "tags", "_tags", "_manifests" or "other".
func route(path string) string {
	for _, r := range []string{"/_tags", "/_manifests", "/manifests/", "/referrers/", "/tags/"} {
		if strings.Contains(path, r) {
			return strings.Trim(r, "/")
		}
	}
	return "other"
}

// count returns the number of requests with method ("GET") or method and
// route ("GET manifests").
func (c *counter) count(method string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.by[method]
}

// env is a registry with a clock and a client.
type env struct {
	t      testing.TB
	srv    *acrtest.Server
	clock  *clock
	client *acr.Client
	reqs   *counter
}

func newEnv(t testing.TB) *env {
	t.Helper()
	clk := &clock{t: day(0)}
	srv := acrtest.NewServer(t, &emulator.Options{Now: clk.Now})
	e := &env{t: t, srv: srv, clock: clk}
	e.client, e.reqs = e.newClient(nil)
	return e
}

// newClient returns a client that counts its requests, with small pages so
// that paging is exercised.
func (e *env) newClient(before func(*http.Request) error) (*acr.Client, *counter) {
	e.t.Helper()
	c := &counter{next: http.DefaultTransport, before: before}
	client, err := acr.NewClient(e.srv.URL, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: c}, PageSize: 7, MaxRetries: -1})
	if err != nil {
		e.t.Fatal(err)
	}
	return client, c
}

// at moves the clock to day n, for the pushes that follow.
func (e *env) at(n int) *env {
	e.clock.Set(day(n))
	return e
}

func (e *env) blob(repo string, data []byte, mediaType string) ocispec.Descriptor {
	e.t.Helper()
	d, err := e.client.UploadBlob(context.Background(), repo, bytes.NewReader(data), &acr.UploadBlobOptions{MediaType: mediaType})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// push pushes a manifest (ocispec.Manifest or ocispec.Index) by digest
// or, with tags, under each tag.
func (e *env) push(repo string, v any, tags ...string) ocispec.Descriptor {
	e.t.Helper()
	ctx := context.Background()
	set := func(o *acr.SetManifestOptions) (ocispec.Descriptor, error) {
		switch m := v.(type) {
		case ocispec.Manifest:
			return e.client.SetImage(ctx, repo, m, o)
		case ocispec.Index:
			return e.client.SetIndex(ctx, repo, m, o)
		}
		e.t.Fatalf("push: %T is neither an ocispec.Manifest nor an ocispec.Index", v)
		return ocispec.Descriptor{}, nil
	}
	if len(tags) == 0 {
		d, err := set(nil)
		if err != nil {
			e.t.Fatal(err)
		}
		return d
	}
	var d ocispec.Descriptor
	for _, tag := range tags {
		var err error
		if d, err = set(&acr.SetManifestOptions{Tag: tag}); err != nil {
			e.t.Fatal(err)
		}
	}
	return d
}

// image pushes a distinct image for arch at the current time.
func (e *env) image(repo, seed string, tags ...string) ocispec.Descriptor {
	return e.platformImage(repo, seed, "amd64", tags...)
}

func (e *env) platformImage(repo, seed, arch string, tags ...string) ocispec.Descriptor {
	e.t.Helper()
	cfg := e.blob(repo, fmt.Appendf(nil, `{"architecture":%q,"os":"linux","seed":%q}`, arch, seed), ocispec.MediaTypeImageConfig)
	layer := e.blob(repo, []byte("layer "+seed), ocispec.MediaTypeImageLayer)
	m := ocispec.Manifest{Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	d := e.push(repo, m, tags...)
	d.Platform = &ocispec.Platform{Architecture: arch, OS: "linux"}
	return d
}

// index pushes an index of children.
func (e *env) index(repo string, children []ocispec.Descriptor, tags ...string) ocispec.Descriptor {
	e.t.Helper()
	idx := ocispec.Index{Manifests: children}
	idx.SchemaVersion = 2
	return e.push(repo, idx, tags...)
}

// multiArch pushes an amd64 and an arm64 image and an index of both.
func (e *env) multiArch(repo, seed string, tags ...string) (index ocispec.Descriptor, children []ocispec.Descriptor) {
	children = []ocispec.Descriptor{e.platformImage(repo, seed+"-amd64", "amd64"), e.platformImage(repo, seed+"-arm64", "arm64")}
	return e.index(repo, children, tags...), children
}

// referrer pushes an artifact of artifactType about subject: a signature,
// an SBOM, an attestation.
func (e *env) referrer(repo string, subject ocispec.Descriptor, artifactType, seed string, tags ...string) ocispec.Descriptor {
	e.t.Helper()
	empty := e.blob(repo, []byte("{}"), ocispec.MediaTypeEmptyJSON)
	layer := e.blob(repo, []byte(artifactType+" "+seed), "application/octet-stream")
	subj := ocispec.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size}
	m := ocispec.Manifest{Config: empty, Layers: []ocispec.Descriptor{layer}, Subject: &subj, ArtifactType: artifactType}
	m.SchemaVersion = 2
	return e.push(repo, m, tags...)
}

const (
	signature = "application/vnd.cncf.notary.signature"
	sbom      = "application/spdx+json"
)

// lockTag and friends set lock flags.
func (e *env) lockTag(repo, tag string, update acr.PermissionsUpdate) {
	e.t.Helper()
	if _, err := e.client.UpdateTagProperties(context.Background(), repo, tag, update); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) lockManifest(repo string, d digest.Digest, update acr.PermissionsUpdate) {
	e.t.Helper()
	if _, err := e.client.UpdateManifestProperties(context.Background(), repo, d.String(), update); err != nil {
		e.t.Fatal(err)
	}
}

func noDelete() acr.PermissionsUpdate {
	f := false
	return acr.PermissionsUpdate{CanDelete: &f}
}

func noWrite() acr.PermissionsUpdate {
	f := false
	return acr.PermissionsUpdate{CanWrite: &f}
}

// state is what a registry holds: "repo:tag -> digest" and "repo@digest"
// lines, sorted.
func (e *env) state() []string {
	e.t.Helper()
	ctx := context.Background()
	var out []string
	for repo, err := range e.client.Repositories(ctx, nil) {
		if err != nil {
			e.t.Fatal(err)
		}
		for tp, err := range e.client.Tags(ctx, repo, nil) {
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, repo+":"+tp.Name+" -> "+tp.Digest.String())
		}
		for m, err := range e.client.Manifests(ctx, repo, nil) {
			if err != nil {
				e.t.Fatal(err)
			}
			out = append(out, repo+"@"+m.Digest.String())
		}
	}
	slices.Sort(out)
	return out
}

func (e *env) has(repo string, d digest.Digest) bool {
	e.t.Helper()
	_, err := e.client.GetManifestProperties(context.Background(), repo, d.String())
	return err == nil
}

func (e *env) hasTag(repo, tag string) bool {
	e.t.Helper()
	_, err := e.client.GetTagProperties(context.Background(), repo, tag)
	return err == nil
}

// run runs a purge at day now with opts.
func (e *env) run(now int, opts purge.Options) *purge.Result {
	e.t.Helper()
	e.clock.Set(day(now))
	opts.Now = e.clock.Now
	res, err := purge.Run(context.Background(), e.client, &opts)
	if err != nil {
		e.t.Fatalf("Run: %v", err)
	}
	for _, f := range res.Failed {
		e.t.Errorf("failed: %s: %s", f.Item.Ref(), f.Detail)
	}
	return res
}

// refs renders items as "kind ref" lines.
func refs(items []purge.Item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, string(it.Kind)+" "+it.Ref())
	}
	return out
}

func tagRefs(repo string, tags ...string) []string {
	out := []string{}
	for _, t := range tags {
		out = append(out, "tag "+repo+":"+t)
	}
	return out
}

func manifestRef(kind purge.Kind, repo string, d ocispec.Descriptor) string {
	return string(kind) + " " + repo + "@" + d.Digest.String()
}

func filters(ss ...string) []purge.Filter {
	var fs []purge.Filter
	for _, s := range ss {
		fs = append(fs, purge.MustParseFilter(s))
	}
	return fs
}

func diff(t testing.TB, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func sorted(ss []string) []string {
	ss = slices.Clone(ss)
	slices.Sort(ss)
	return ss
}

func hasReason(items []purge.Item, ref, substr string) bool {
	for _, it := range items {
		if it.Ref() == ref && strings.Contains(it.Reason, substr) {
			return true
		}
	}
	return false
}
