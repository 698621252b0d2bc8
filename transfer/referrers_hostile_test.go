package transfer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// rewritingRegistry is the emulator behind a handler that answers the
// referrers of chosen digests with a list of its own, as a hostile or
// broken registry would.
type rewritingRegistry struct {
	mu   sync.Mutex
	lies map[digest.Digest][]ocispec.Descriptor
}

func (rr *rewritingRegistry) lie(subject digest.Digest, listed ...ocispec.Descriptor) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	rr.lies[subject] = listed
}

func newRewritingRegistry(t *testing.T) (*rewritingRegistry, *acr.Client) {
	t.Helper()
	reg := acrtest.NewServer(t, nil)
	rr := &rewritingRegistry{lies: map[digest.Digest][]ocispec.Descriptor{}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/referrers/"); i >= 0 {
			rr.mu.Lock()
			listed, ok := rr.lies[digest.Digest(r.URL.Path[i+len("/referrers/"):])]
			rr.mu.Unlock()
			if ok {
				b, _ := json.Marshal(ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: listed, Versioned: specs.Versioned{SchemaVersion: 2}})
				w.Header().Set("Content-Type", ocispec.MediaTypeImageIndex)
				w.Write(b)
				return
			}
		}
		reg.Registry.ServeHTTP(w, r)
	}))
	t.Cleanup(hs.Close)
	c, err := acr.NewClient(hs.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rr, c
}

// pushReferrer pushes an artifact manifest whose subject is subject.
func pushReferrer(t *testing.T, c *acr.Client, repo string, subject ocispec.Descriptor, artifactType string) ocispec.Descriptor {
	t.Helper()
	empty, err := c.UploadBlob(t.Context(), repo, bytes.NewReader([]byte("{}")), &acr.UploadBlobOptions{MediaType: ocispec.MediaTypeEmptyJSON})
	if err != nil {
		t.Fatal(err)
	}
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, ArtifactType: artifactType, Config: empty, Layers: []ocispec.Descriptor{empty}, Subject: &subject}
	m.SchemaVersion = 2
	d, err := c.SetImage(t.Context(), repo, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.ArtifactType = artifactType
	return d
}

func plainDesc(d ocispec.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size}
}

// copyWithReferrers copies app@root with Referrers under a deadline that
// only a hang reaches.
func copyWithReferrers(t *testing.T, src *acr.Client, root ocispec.Descriptor, dst *acr.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	_, err := transfer.Copy(ctx, transfer.Repository(src, "app"), root.Digest.String(), transfer.Repository(dst, "mirror"), "v1", &transfer.CopyOptions{Referrers: true})
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Copy hung until the deadline: %v", err)
	}
	return err
}

// TestCopyRefusesReferrersOfAnotherSubject checks what Copy with Referrers
// does with a source whose referrers answer lies: it listed the manifest
// itself (Copy waited for its own node, forever), a cycle A -> B -> A, a
// manifest of another subject or of none, or a blob. Each fails the copy,
// promptly, with an error naming the listing, and what the lie named is
// not copied.
func TestCopyRefusesReferrersOfAnotherSubject(t *testing.T) {
	for _, tc := range []struct {
		name string
		lie  func(rr *rewritingRegistry, src *acr.Client, a ocispec.Descriptor) (unwanted digest.Digest)
		want string
	}{
		{"itself", func(rr *rewritingRegistry, src *acr.Client, a ocispec.Descriptor) digest.Digest {
			rr.lie(a.Digest, plainDesc(a))
			return ""
		}, "but it has no subject"},
		{"cycle", func(rr *rewritingRegistry, src *acr.Client, a ocispec.Descriptor) digest.Digest {
			b := pushReferrer(t, src, "app", plainDesc(a), "application/vnd.example.sig")
			rr.lie(b.Digest, plainDesc(a))
			return ""
		}, "but it has no subject"},
		{"another subject", func(rr *rewritingRegistry, src *acr.Client, a ocispec.Descriptor) digest.Digest {
			other := pushImage(t, src, "app", "arm64", 50)
			sig := pushReferrer(t, src, "app", plainDesc(other), "application/vnd.example.sig")
			rr.lie(a.Digest, sig)
			return sig.Digest
		}, "but its subject is"},
		{"no subject", func(rr *rewritingRegistry, src *acr.Client, a ocispec.Descriptor) digest.Digest {
			other := pushImage(t, src, "app", "arm64", 60)
			rr.lie(a.Digest, plainDesc(other))
			return other.Digest
		}, "but it has no subject"},
		{"a blob", func(rr *rewritingRegistry, src *acr.Client, a ocispec.Descriptor) digest.Digest {
			blob, err := src.UploadBlob(t.Context(), "app", strings.NewReader("not a manifest"), nil)
			if err != nil {
				t.Fatal(err)
			}
			rr.lie(a.Digest, blob)
			return blob.Digest
		}, "but a referrer is a manifest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, src := newRewritingRegistry(t)
			dst := newRegistry(t)
			a := pushImage(t, src, "app", "amd64", 100)
			unwanted := tc.lie(rr, src, a)
			err := copyWithReferrers(t, src, a, dst)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
			if unwanted != "" {
				if ok, _ := dst.ManifestExists(t.Context(), "mirror", unwanted.String()); ok {
					t.Errorf("the manifest the lie listed, %s, was copied", unwanted)
				}
				if _, ok, _ := dst.BlobExists(t.Context(), "mirror", unwanted); ok {
					t.Errorf("the blob the lie listed, %s, was copied", unwanted)
				}
			}
		})
	}
}

// TestCopyReferrerThatLeadsBack checks that a true referrer that leads
// back to its subject, an index whose subject is A and which lists A,
// copies without waiting on itself: the graph has the cycle A (referrer)
// -> R (child) -> A.
func TestCopyReferrerThatLeadsBack(t *testing.T) {
	src, dst := newRegistry(t), newRegistry(t)
	a := pushImage(t, src, "app", "amd64", 100)
	idx := ocispec.Index{MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{plainDesc(a)}, Subject: ptr(plainDesc(a))}
	idx.SchemaVersion = 2
	r, err := src.SetIndex(t.Context(), "app", idx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := copyWithReferrers(t, src, a, dst); err != nil {
		t.Fatal(err)
	}
	if ok, err := dst.ManifestExists(t.Context(), "mirror", r.Digest.String()); !ok || err != nil {
		t.Fatalf("the referrer %s is not in the destination (%v)", r.Digest, err)
	}
}

// TestCopyReferrersDepthIsBounded checks that a chain of referrers of
// referrers, which a source could make up without end, is followed 16
// levels deep and refused beyond.
func TestCopyReferrersDepthIsBounded(t *testing.T) {
	src := newRegistry(t)
	a := pushImage(t, src, "app", "amd64", 100)
	chain := []ocispec.Descriptor{a}
	for i := range 17 {
		chain = append(chain, pushReferrer(t, src, "app", plainDesc(chain[i]), "application/vnd.example.sig"))
	}
	// 16 levels below the root copy; the 17th is refused.
	if err := copyWithReferrers(t, src, chain[1], newRegistry(t)); err != nil {
		t.Fatalf("a chain of 16 referrers: %v", err)
	}
	if err := copyWithReferrers(t, src, a, newRegistry(t)); err == nil || !strings.Contains(err.Error(), "nest deeper than 16 levels") {
		t.Fatalf("a chain of 17 referrers: got %v, want an error saying they nest deeper than 16 levels", err)
	}
}

func ptr[T any](v T) *T { return &v }
