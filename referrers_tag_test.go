package acr_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// referrersTagOf is the referrers tag schema's tag for a sha256 subject.
func referrersTagOf(d digest.Digest) string { return "sha256-" + d.Encoded() }

// withoutReferrersAPI starts an in-process registry that hides the
// referrers API (acrtest.WithoutReferrersAPI), with wrap, when not nil,
// in front of that, and returns its URL.
func withoutReferrersAPI(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	srv := acrtest.NewServer(t, nil)
	h := acrtest.WithoutReferrersAPI(srv.Registry)
	if wrap != nil {
		h = wrap(h)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}

func newTestClient(t *testing.T, u string) *acr.Client {
	t.Helper()
	c, err := acr.NewClient(u, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// pushSubjectImage pushes a small image tagged v1 and returns its
// descriptor.
func pushSubjectImage(t *testing.T, c *acr.Client, repo string) ocispec.Descriptor {
	t.Helper()
	ctx := t.Context()
	cfg, err := c.UploadBlob(ctx, repo, bytes.NewReader([]byte(`{"architecture":"amd64","os":"linux"}`)), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageConfig})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := c.UploadBlob(ctx, repo, bytes.NewReader([]byte("subject layer "+repo)), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeImageLayer})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: []ocispec.Descriptor{layer}}
	m.SchemaVersion = 2
	desc, err := c.SetImage(ctx, repo, m, &acr.SetManifestOptions{Tag: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// referrerManifest builds a referrer of subject: with artifactType set, a
// signature-like artifact with an empty config; without, an SBOM-like one
// whose config media type is configType. It uploads the blobs.
func referrerManifest(t *testing.T, c *acr.Client, repo string, subject ocispec.Descriptor, artifactType, configType, payload string, annotations map[string]string) ocispec.Manifest {
	t.Helper()
	ctx := t.Context()
	cfgBytes, cfgType := []byte("{}"), ocispec.MediaTypeEmptyJSON
	if configType != "" {
		cfgBytes, cfgType = []byte(`{"payload":`+fmt.Sprintf("%q", payload)+`}`), configType
	}
	cfg, err := c.UploadBlob(ctx, repo, bytes.NewReader(cfgBytes), &acr.UploadBlobOptions{MediaType: cfgType})
	if err != nil {
		t.Fatal(err)
	}
	layer, err := c.UploadBlob(ctx, repo, bytes.NewReader([]byte(payload)), &acr.UploadBlobOptions{MediaType: "application/octet-stream"})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: artifactType, Config: cfg,
		Layers: []ocispec.Descriptor{layer}, Subject: &subject, Annotations: annotations}
	m.SchemaVersion = 2
	return m
}

// wantEntry is the descriptor the referrers index must hold for m pushed
// as desc: artifactType falls back to the config media type.
func wantEntry(m ocispec.Manifest, desc ocispec.Descriptor) ocispec.Descriptor {
	at := m.ArtifactType
	if at == "" {
		at = m.Config.MediaType
	}
	return ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, ArtifactType: at, Annotations: m.Annotations}
}

// rawReferrersIndex reads the referrers tag of subject with a plain HTTP
// GET, not through the client under test, and returns the index and the
// status (404: no tag).
func rawReferrersIndex(t *testing.T, base, repo string, subject digest.Digest, user, pass string) (ocispec.Index, int) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/v2/"+repo+"/manifests/"+referrersTagOf(subject), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", ocispec.MediaTypeImageIndex)
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var idx ocispec.Index
	if resp.StatusCode != http.StatusOK {
		return idx, resp.StatusCode
	}
	if ct := resp.Header.Get("Content-Type"); ct != ocispec.MediaTypeImageIndex {
		t.Errorf("referrers tag Content-Type: got %q, want %q", ct, ocispec.MediaTypeImageIndex)
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		t.Fatalf("referrers index: %v: %s", err, body)
	}
	if idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex || idx.Manifests == nil {
		t.Errorf("referrers index: got %s, want schemaVersion 2, the index media type and a manifests array", body)
	}
	return idx, resp.StatusCode
}

// rawManifestStatus sends a plain HTTP HEAD of the manifest ref (a tag or
// a digest) in repo, not through the client under test, and returns the
// status and the Docker-Content-Digest.
func rawManifestStatus(t *testing.T, base, repo, ref, user, pass string) (int, digest.Digest) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodHead, base+"/v2/"+repo+"/manifests/"+ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", ocispec.MediaTypeImageIndex+", "+ocispec.MediaTypeImageManifest)
	if user != "" {
		req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, digest.Digest(resp.Header.Get("Docker-Content-Digest"))
}

// referrersIndexDigest returns the digest of the index the referrers tag
// of subject names, read raw, or "" when there is no such tag.
func referrersIndexDigest(t *testing.T, base, repo string, subject digest.Digest, user, pass string) digest.Digest {
	t.Helper()
	status, d := rawManifestStatus(t, base, repo, referrersTagOf(subject), user, pass)
	switch status {
	case http.StatusOK:
		if d == "" {
			t.Fatalf("HEAD of the referrers tag of %s: no Docker-Content-Digest", subject)
		}
		return d
	case http.StatusNotFound:
		return ""
	}
	t.Fatalf("HEAD of the referrers tag of %s: status %d", subject, status)
	return ""
}

// listReferrers collects Client.Referrers.
func listReferrers(t *testing.T, c *acr.Client, repo string, subject digest.Digest, artifactType string) []digest.Digest {
	t.Helper()
	var out []digest.Digest
	for r, err := range c.Referrers(t.Context(), repo, subject, artifactType) {
		if err != nil {
			t.Fatalf("Referrers: %v", err)
		}
		out = append(out, r.Digest)
	}
	slices.Sort(out)
	return out
}

func sortedDigests(ds ...digest.Digest) []digest.Digest {
	slices.Sort(ds)
	return ds
}

// TestReferrersTagNotWrittenWithAPI pushes referrers to the emulator,
// which serves the referrers API and answers OCI-Subject: the client must
// leave the tag schema alone there.
func TestReferrersTagNotWrittenWithAPI(t *testing.T) {
	srv := acrtest.NewServer(t, nil)
	c := newTestClient(t, srv.URL)
	subject := pushSubjectImage(t, c, "img")
	sig := referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", "sig", nil)
	if _, err := c.SetImage(t.Context(), "img", sig, nil); err != nil {
		t.Fatal(err)
	}
	if _, status := rawReferrersIndex(t, srv.URL, "img", subject.Digest, "", ""); status != http.StatusNotFound {
		t.Fatalf("GET of the referrers tag on a registry with the referrers API: got status %d, want 404", status)
	}
	for tp, err := range c.Tags(t.Context(), "img", nil) {
		if err != nil {
			t.Fatal(err)
		}
		if tp.Name != "v1" {
			t.Errorf("tag %q appeared; want only v1", tp.Name)
		}
	}
	if got := listReferrers(t, c, "img", subject.Digest, ""); len(got) != 1 {
		t.Fatalf("Referrers: got %v, want the signature", got)
	}
}

// TestReferrersTagWritten pushes a signature and an SBOM to a registry
// without the referrers API and reads the sha256-HEX index back raw: both
// listed with the descriptor fields the spec names, no duplicate on a
// second push, and the deleted one removed.
func TestReferrersTagWritten(t *testing.T) {
	u := withoutReferrersAPI(t, nil)
	c := newTestClient(t, u)
	ctx := t.Context()
	subject := pushSubjectImage(t, c, "img")
	sig := referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", "sig",
		map[string]string{"org.example.signer": "alice", ocispec.AnnotationCreated: "2026-12-06T00:00:00Z"})
	sigDesc, err := c.SetImage(ctx, "img", sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	sbom := referrerManifest(t, c, "img", subject, "", "application/vnd.example.sbom.v1+json", "sbom", nil)
	sbomDesc, err := c.SetImage(ctx, "img", sbom, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ocispec.Descriptor{wantEntry(sig, sigDesc), wantEntry(sbom, sbomDesc)}
	idx, status := rawReferrersIndex(t, u, "img", subject.Digest, "", "")
	if status != http.StatusOK {
		t.Fatalf("GET of the referrers tag: status %d, want 200", status)
	}
	if diff := cmp.Diff(want, idx.Manifests); diff != "" {
		t.Fatalf("referrers index (-want +got):\n%s", diff)
	}

	// The same referrer again: no duplicate entry.
	if _, err := c.SetImage(ctx, "img", sig, nil); err != nil {
		t.Fatal(err)
	}
	if idx, _ := rawReferrersIndex(t, u, "img", subject.Digest, "", ""); len(idx.Manifests) != 2 {
		t.Fatalf("after pushing the signature twice the index lists %d entries, want 2", len(idx.Manifests))
	}

	// Another client, knowing nothing, finds them through the fallback.
	other := newTestClient(t, u)
	if got, want := listReferrers(t, other, "img", subject.Digest, ""), sortedDigests(sigDesc.Digest, sbomDesc.Digest); !slices.Equal(got, want) {
		t.Fatalf("Referrers: got %v, want %v", got, want)
	}
	if got := listReferrers(t, other, "img", subject.Digest, "application/vnd.example.sbom.v1+json"); !slices.Equal(got, []digest.Digest{sbomDesc.Digest}) {
		t.Fatalf("Referrers filtered by the SBOM's config type: got %v, want %s", got, sbomDesc.Digest)
	}

	// Deleting a referrer removes its entry.
	if _, err := c.DeleteManifest(ctx, "img", sigDesc.Digest.String()); err != nil {
		t.Fatal(err)
	}
	idx, _ = rawReferrersIndex(t, u, "img", subject.Digest, "", "")
	if diff := cmp.Diff(want[1:], idx.Manifests); diff != "" {
		t.Fatalf("referrers index after deleting the signature (-want +got):\n%s", diff)
	}
	if got := listReferrers(t, other, "img", subject.Digest, ""); !slices.Equal(got, []digest.Digest{sbomDesc.Digest}) {
		t.Fatalf("Referrers after deleting the signature: got %v, want %s", got, sbomDesc.Digest)
	}
	// The other client learned from its listing that the API is missing,
	// so its deletion maintains the index too, down to none: the tag goes.
	if _, err := other.DeleteManifest(ctx, "img", sbomDesc.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if idx, status := rawReferrersIndex(t, u, "img", subject.Digest, "", ""); status != http.StatusNotFound {
		t.Fatalf("referrers tag after deleting both: status %d, %v; want 404, no tag", status, idx.Manifests)
	}
}

// TestReferrersTagFailure makes the index update fail after the referrer
// itself is stored: SetManifest returns the digest and a
// *ReferrersTagError, and the referrer is in the registry.
func TestReferrersTagFailure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		wrap  func(http.Handler) http.Handler
		setup func(t *testing.T, c *acr.Client, subject ocispec.Descriptor) // before the referrer is pushed
		cause string
	}{
		{name: "tag holds an image", cause: "not the OCI image index",
			setup: func(t *testing.T, c *acr.Client, subject ocispec.Descriptor) {
				m, err := c.GetManifest(t.Context(), "img", subject.Digest.String(), nil)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := c.SetManifest(t.Context(), "img", m.Bytes, m.MediaType, &acr.SetManifestOptions{Tag: referrersTagOf(subject.Digest)}); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "index push refused", cause: "DENIED",
			wrap: func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/sha256-") {
						w.Header().Set("Content-Type", "application/json")
						w.WriteHeader(http.StatusForbidden)
						io.WriteString(w, `{"errors":[{"code":"DENIED","message":"tag writes are refused"}]}`)
						return
					}
					next.ServeHTTP(w, r)
				})
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := withoutReferrersAPI(t, tc.wrap)
			c := newTestClient(t, u)
			subject := pushSubjectImage(t, c, "img")
			if tc.setup != nil {
				tc.setup(t, c, subject)
			}
			sig := referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", "sig", nil)
			b, _ := json.Marshal(sig)
			d, err := c.SetManifest(t.Context(), "img", b, ocispec.MediaTypeImageManifest, nil)
			var rte *acr.ReferrersTagError
			if !errors.As(err, &rte) {
				t.Fatalf("SetManifest: got error %v, want a *acr.ReferrersTagError", err)
			}
			if d != digest.FromBytes(b) {
				t.Errorf("SetManifest returned digest %q with the error, want %s (the push succeeded)", d, digest.FromBytes(b))
			}
			if rte.Referrer != d || rte.Subject != subject.Digest || rte.Tag != referrersTagOf(subject.Digest) || rte.Repository != "img" || rte.Deleted {
				t.Errorf("error fields: got %+v", rte)
			}
			if msg := err.Error(); !strings.Contains(msg, "pushed referrer "+d.String()) || !strings.Contains(msg, "could not add it to the referrers index") || !strings.Contains(msg, tc.cause) {
				t.Errorf("error message %q does not say the referrer was pushed but not indexed, or lacks %q", msg, tc.cause)
			}
			if ok, err := c.ManifestExists(t.Context(), "img", d.String()); err != nil || !ok {
				t.Fatalf("the referrer is not in the registry after the failed index update: %v %v", ok, err)
			}
		})
	}
}

// TestReferrersTagConcurrentClients has two clients, as two processes
// would, push a referrer each to the same subject, with their index writes
// forced to race: both read the index before either writes, and the second
// write replaces the first before the first writer reads again. The first
// writer must find its entry gone and add it again.
func TestReferrersTagConcurrentClients(t *testing.T) {
	var puts atomic.Int32
	firstIn, secondIn := make(chan struct{}), make(chan struct{})
	firstDone, secondDone := make(chan struct{}), make(chan struct{})
	wait := func(ch chan struct{}) bool {
		select {
		case <-ch:
			return true
		case <-time.After(20 * time.Second):
			t.Error("the racing index writes did not meet")
			return false
		}
	}
	u := withoutReferrersAPI(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPut || !strings.Contains(r.URL.Path, "/manifests/sha256-") {
				next.ServeHTTP(w, r)
				return
			}
			switch puts.Add(1) {
			case 1: // held until the second arrives; answered after it is stored
				close(firstIn)
				wait(secondIn)
				next.ServeHTTP(w, r)
				close(firstDone)
				wait(secondDone)
			case 2:
				close(secondIn)
				wait(firstDone)
				next.ServeHTTP(w, r)
				close(secondDone)
			default:
				next.ServeHTTP(w, r)
			}
		})
	})
	setup := newTestClient(t, u)
	subject := pushSubjectImage(t, setup, "img")
	sig := referrerManifest(t, setup, "img", subject, "application/vnd.example.signature", "", "sig", nil)
	sbom := referrerManifest(t, setup, "img", subject, "", "application/vnd.example.sbom.v1+json", "sbom", nil)
	descs := make([]ocispec.Descriptor, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, m := range []ocispec.Manifest{sig, sbom} {
		wg.Go(func() {
			descs[i], errs[i] = newTestClient(t, u).SetImage(t.Context(), "img", m, nil)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	idx, _ := rawReferrersIndex(t, u, "img", subject.Digest, "", "")
	var got []digest.Digest
	for _, d := range idx.Manifests {
		got = append(got, d.Digest)
	}
	if want := sortedDigests(descs[0].Digest, descs[1].Digest); !slices.Equal(sortedDigests(got...), want) {
		t.Fatalf("after two racing writers the index lists %v, want %v", got, want)
	}
	if n := puts.Load(); n < 3 {
		t.Fatalf("%d index writes; the race needs a third (the retry)", n)
	}
}

// TestReferrersTagConcurrentOneClient pushes referrers of one subject
// from many goroutines through one client: its lock serialises the
// index updates, so none is lost.
func TestReferrersTagConcurrentOneClient(t *testing.T) {
	u := withoutReferrersAPI(t, nil)
	c := newTestClient(t, u)
	subject := pushSubjectImage(t, c, "img")
	const n = 8
	ms := make([]ocispec.Manifest, n)
	for i := range ms {
		ms[i] = referrerManifest(t, c, "img", subject, "application/vnd.example.signature", "", fmt.Sprint("sig ", i), nil)
	}
	want := make([]digest.Digest, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, m := range ms {
		wg.Go(func() {
			var d ocispec.Descriptor
			d, errs[i] = c.SetImage(t.Context(), "img", m, nil)
			want[i] = d.Digest
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	idx, _ := rawReferrersIndex(t, u, "img", subject.Digest, "", "")
	var got []digest.Digest
	for _, d := range idx.Manifests {
		got = append(got, d.Digest)
	}
	if !slices.Equal(sortedDigests(got...), sortedDigests(want...)) {
		t.Fatalf("the index lists %d of %d referrers pushed concurrently: %v", len(got), n, got)
	}
}

// TestReferenceRegistryReferrersTag pushes a signature and an SBOM to the
// reference registry (distribution v3.1.2, which has no referrers API) and
// checks that the referrers tag index lists both, read raw, by the client
// and, when .tools holds it, by oras discover; that deleting them, by a
// fresh client too, removes them from it, and the last one the tag; and
// that each index replaced is deleted from the repository.
func TestReferenceRegistryReferrersTag(t *testing.T) {
	c := referenceClient(t)
	ref := acrtest.ReferenceRegistry(t)
	base, user, pass := ref.URL, ref.User, ref.Password
	ctx := t.Context()
	repo := "acrgo/referrers-" + digest.FromString(t.Name() + time.Now().String()).Encoded()[:8]
	if referenceDeletesRefused(t, repo) {
		t.Skip("the reference registry refuses to delete manifests (storage: delete: enabled: false); TestReferenceRegistryReferrersTagDeleteRefused covers it")
	}
	subject := pushSubjectImage(t, c, repo)
	sig := referrerManifest(t, c, repo, subject, "application/vnd.example.signature", "", "sig", map[string]string{"org.example.signer": "alice"})
	sigDesc, err := c.SetImage(ctx, repo, sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	first := referrersIndexDigest(t, base, repo, subject.Digest, user, pass)
	// deleted checks that the replaced index d is gone from the repository.
	deleted := func(what string, d digest.Digest) {
		t.Helper()
		if status, _ := rawManifestStatus(t, base, repo, d.String(), user, pass); status != http.StatusNotFound {
			t.Errorf("%s: HEAD of the replaced referrers index %s: status %d, want 404 (deleted)", what, d, status)
		}
	}
	sbom := referrerManifest(t, c, repo, subject, "", "application/vnd.example.sbom.v1+json", "sbom", nil)
	sbomDesc, err := c.SetImage(ctx, repo, sbom, nil)
	if err != nil {
		t.Fatal(err)
	}
	deleted("after pushing the SBOM", first)
	second := referrersIndexDigest(t, base, repo, subject.Digest, user, pass)
	idx, status := rawReferrersIndex(t, base, repo, subject.Digest, user, pass)
	if status != http.StatusOK {
		t.Fatalf("GET of the referrers tag: status %d, want 200", status)
	}
	if diff := cmp.Diff([]ocispec.Descriptor{wantEntry(sig, sigDesc), wantEntry(sbom, sbomDesc)}, idx.Manifests); diff != "" {
		t.Fatalf("referrers index (-want +got):\n%s", diff)
	}
	if got, want := listReferrers(t, referenceClient(t), repo, subject.Digest, ""), sortedDigests(sigDesc.Digest, sbomDesc.Digest); !slices.Equal(got, want) {
		t.Fatalf("Referrers: got %v, want %v", got, want)
	}
	oras, err := exec.LookPath("./.tools/oras")
	if err != nil {
		oras = ""
		t.Log("no .tools/oras (ACRCTL=skip bash .ci/tools.sh installs it): oras discover not checked")
	}
	discover := func() []byte {
		t.Helper()
		args := []string{"discover", "--format", "json", "--plain-http"}
		if user != "" {
			args = append(args, "-u", user, "-p", pass)
		}
		args = append(args, strings.TrimPrefix(strings.TrimPrefix(base, "http://"), "https://")+"/"+repo+"@"+subject.Digest.String())
		out, err := exec.CommandContext(ctx, oras, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("oras discover: %v\n%s", err, out)
		}
		return out
	}
	if oras != "" {
		out := discover()
		for _, d := range []digest.Digest{sigDesc.Digest, sbomDesc.Digest} {
			if !bytes.Contains(out, []byte(d)) {
				t.Errorf("oras discover does not list %s:\n%s", d, out)
			}
		}
	}
	// A fresh client, which knows nothing of the registry yet, as every
	// acrctl run: it learns that the API is missing and updates the index.
	del, err := referenceClient(t).DeleteManifest(ctx, repo, sigDesc.Digest.String())
	if err != nil {
		t.Fatal(err)
	}
	if del.UnindexedFrom != subject.Digest {
		t.Errorf("DeleteManifest: got %+v, want UnindexedFrom %s", del, subject.Digest)
	}
	idx, _ = rawReferrersIndex(t, base, repo, subject.Digest, user, pass)
	if len(idx.Manifests) != 1 || idx.Manifests[0].Digest != sbomDesc.Digest {
		t.Fatalf("after deleting the signature the index lists %v, want only %s", idx.Manifests, sbomDesc.Digest)
	}
	deleted("after deleting the signature", second)
	third := referrersIndexDigest(t, base, repo, subject.Digest, user, pass)
	if oras != "" {
		if out := discover(); bytes.Contains(out, []byte(sigDesc.Digest)) || !bytes.Contains(out, []byte(sbomDesc.Digest)) {
			t.Errorf("after deleting the signature oras discover lists:\n%s\nwant the SBOM %s and not the signature %s", out, sbomDesc.Digest, sigDesc.Digest)
		}
	}
	// And the client that pushed, which knows the API is missing.
	if _, err := c.DeleteManifest(ctx, repo, sbomDesc.Digest.String()); err != nil {
		t.Fatal(err)
	}
	if idx, status := rawReferrersIndex(t, base, repo, subject.Digest, user, pass); status != http.StatusNotFound {
		t.Fatalf("after deleting both referrers: status %d, index %v; want 404, the tag gone", status, idx.Manifests)
	}
	deleted("after deleting both referrers", third)
	if got := listReferrers(t, referenceClient(t), repo, subject.Digest, ""); len(got) != 0 {
		t.Errorf("Referrers after deleting both: got %v, want none", got)
	}
	if oras != "" {
		if out := discover(); bytes.Contains(out, []byte(sigDesc.Digest)) || bytes.Contains(out, []byte(sbomDesc.Digest)) {
			t.Errorf("after deleting both referrers oras discover lists:\n%s\nwant neither", out)
		}
	}
}
