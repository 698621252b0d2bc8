package transfer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestLayoutRefusesDigestsOutsideTheGrammar checks that a digest in
// index.json that is not a digest, such as sha256:../../../outside.json,
// never becomes a path: Referrers read the file it named, outside the
// layout. Every use of the index now fails with an error naming the entry,
// and the file outside is never read.
func TestLayoutRefusesDigestsOutsideTheGrammar(t *testing.T) {
	const secret = "read from outside the layout"
	for _, bad := range []string{"sha256:../../../outside.json", "sha256/../../../outside.json:x", "../outside.json", "sha256:a\x1b]0;x", ""} {
		t.Run(bad, func(t *testing.T) {
			root := t.TempDir()
			subject := digest.FromString("subject")
			outside := `{"mediaType":"application/vnd.oci.image.manifest.v1+json","subject":{"digest":"` + subject.String() + `"},"annotations":{"secret":"` + secret + `"}}`
			if err := os.WriteFile(filepath.Join(root, "outside.json"), []byte(outside), 0o600); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "layout")
			if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
			q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\x1b", `\u001b`).Replace(bad)
			index := `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + q +
				`","size":1,"annotations":{"org.opencontainers.image.ref.name":"v1"}}]}`
			if err := os.WriteFile(filepath.Join(dir, "index.json"), []byte(index), 0o644); err != nil {
				t.Fatal(err)
			}
			l, err := transfer.OpenLayout(dir)
			if err != nil {
				t.Fatal(err)
			}
			wantErr := func(what string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), "entry 0") || !strings.Contains(err.Error(), "not a digest") {
					t.Errorf("%s: got %v, want an error naming index.json's entry 0 as not a digest", what, err)
				}
				if err != nil && strings.ContainsRune(err.Error(), '\x1b') {
					t.Errorf("%s: the error holds a raw control character: %q", what, err)
				}
			}
			n := 0
			for d, err := range l.Referrers(t.Context(), ocispec.Descriptor{Digest: subject}, "") {
				n++
				if d.Annotations["secret"] != "" {
					t.Errorf("Referrers read the file outside the layout: %v", d.Annotations)
				}
				wantErr("Referrers", err)
			}
			if n != 1 {
				t.Errorf("Referrers yielded %d times, want once (the error)", n)
			}
			_, err = l.Resolve(t.Context(), "v1")
			wantErr("Resolve by tag", err)
			_, err = l.Resolve(t.Context(), "")
			wantErr("Resolve of the only manifest", err)
			wantErr("Tag", l.Tag(t.Context(), ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: subject, Size: 7}, "v2"))
			dst, err := transfer.OpenLayout(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = transfer.Copy(t.Context(), l, "v1", dst, "v1", nil)
			wantErr("Copy from the layout", err)
		})
	}
}
