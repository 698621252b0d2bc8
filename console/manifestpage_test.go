package console

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestManifestPageArtifact: an OCI artifact manifest (pushed by oras 1.0
// and older notation, kept by ACR) shows its blobs, its subject and its
// annotations, escaped, as an image shows its layers; on the subject's
// page it is a referrer. Artifacts (this one, or a signature in an image
// manifest) get no docker pull command, which cannot pull them; images do.
func TestManifestPageArtifact(t *testing.T) {
	r := localRegistry(t, nil)
	subject := r.seed.image("app/web", "v1", "amd64", "base", nil)
	subject.Platform = nil
	blob := r.seed.blob("app/web", []byte("signature bytes"), "application/vnd.example.sig")
	blob.Annotations = map[string]string{"org.opencontainers.image.title": "sig.bin"}
	body, err := json.Marshal(map[string]any{
		"mediaType":    acr.MediaTypeArtifactManifest,
		"artifactType": "application/vnd.example.signature",
		"blobs":        []ocispec.Descriptor{blob},
		"subject":      subject,
		"annotations":  map[string]string{"com.example.note": xssImg},
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.seed.c.SetManifest(t.Context(), "app/web", body, acr.MediaTypeArtifactManifest, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())

	resp, page := get(t, hc, r.URL+"manifest?"+url.Values{"repo": {"app/web"}, "ref": {d.String()}}.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the artifact's page: %d, want 200: %.600s", resp.StatusCode, page)
	}
	for _, want := range []string{
		`id="blobs"`, shortDigest(blob.Digest), "sig.bin", "application/vnd.example.sig", // the blobs table
		"ref=" + strings.ToLower(url.QueryEscape(subject.Digest.String())), // the subject's link (html/template writes %3a)
		`id="annotations"`, "com.example.note", "&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;", // escaped
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the artifact's page lacks %q", want)
		}
	}
	if strings.Contains(page, xssImg) {
		t.Errorf("the artifact's page carries the annotation unescaped")
	}
	if strings.Contains(page, "docker pull") {
		t.Errorf("the artifact's page offers docker pull, which cannot pull an artifact")
	}

	_, page = get(t, hc, r.URL+"manifest?"+url.Values{"repo": {"app/web"}, "ref": {"v1"}}.Encode())
	if !strings.Contains(page, `id="pull-docker"`) {
		t.Errorf("the image's page lacks docker pull")
	}
	if !strings.Contains(page, "ref="+strings.ToLower(url.QueryEscape(d.String()))) {
		t.Errorf("the subject's page does not list the artifact %s among its referrers", d)
	}
	// An artifact in an image manifest (a signature: the empty config).
	sig := r.seed.referrer("app/web", "application/vnd.example.signature", subject, nil)
	if _, page = get(t, hc, r.URL+"manifest?"+url.Values{"repo": {"app/web"}, "ref": {sig.Digest.String()}}.Encode()); strings.Contains(page, "docker pull") {
		t.Errorf("a signature's page offers docker pull, which cannot pull it")
	}
}

// TestManifestPageTagLock: a manifest opened by tag shows the tag's own
// lock beside the manifest's (a locked tag read "unlocked" there, the
// manifest's flags), and its button locks or unlocks that tag and comes
// back to the page.
func TestManifestPageTagLock(t *testing.T) {
	r := localRegistry(t, nil)
	r.seed.image("app/web", "v1", "amd64", "base", nil)
	if _, err := r.seed.c.UpdateTagProperties(t.Context(), "app/web", "v1", acr.PermissionsUpdate{CanWrite: new(false), CanDelete: new(false)}); err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	page := r.URL + "manifest?" + url.Values{"repo": {"app/web"}, "ref": {"v1"}}.Encode()
	_, body := get(t, hc, page)
	i := strings.Index(body, `id="tag-lock"`)
	if i < 0 || !strings.Contains(body[i:i+200], "locked</span>") {
		t.Fatalf("the manifest page opened by tag v1 does not show the tag locked: %.2000s", body)
	}
	resp, err := hc.PostForm(r.URL+"lock", url.Values{"csrf": {field(t, body, "csrf")}, "repo": {"app/web"}, "tag": {"v1"}, "lock": {"0"}, "back": {"manifest"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "ref=v1") {
		t.Errorf("unlocking the tag: %d to %q, want 303 back to the page opened by v1", resp.StatusCode, loc)
	}
	if tp, err := r.seed.c.GetTagProperties(t.Context(), "app/web", "v1"); err != nil || !tp.Permissions.CanDelete {
		t.Errorf("after Unlock, v1: %+v, %v; want deletable", tp.Permissions, err)
	}
}

// TestManifestPageBigManifest: a manifest of many layers and a large
// annotation draws the first rows, the start of the value and of the raw
// JSON, each with a note of how much more there is (a 4 MiB manifest of
// 9,000 layers made a 7.7 MB page, 371,000 pixels tall).
func TestManifestPageBigManifest(t *testing.T) {
	r := localRegistry(t, nil)
	cfg := r.seed.blob("big", []byte(`{"architecture":"amd64","os":"linux"}`), ocispec.MediaTypeImageConfig)
	var layers []ocispec.Descriptor
	for i := range maxRows + 20 {
		layers = append(layers, r.seed.blob("big", []byte(fmt.Sprint("layer ", i)), ocispec.MediaTypeImageLayer))
	}
	long := strings.Repeat("x", 300<<10)
	m := ocispec.Manifest{MediaType: ocispec.MediaTypeImageManifest, Config: cfg, Layers: layers, Annotations: map[string]string{"com.example.long": long}}
	m.SchemaVersion = 2
	d, err := r.seed.c.SetImage(t.Context(), "big", m, nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := browserless(t)
	get(t, hc, r.URL+"?token="+r.console.NewToken())
	resp, body := get(t, hc, r.URL+"manifest?"+url.Values{"repo": {"big"}, "ref": {d.Digest.String()}}.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the page: %d", resp.StatusCode)
	}
	layersTable := body[strings.Index(body, `id="layers"`):]
	layersTable = layersTable[:strings.Index(layersTable, "</table>")]
	if n := strings.Count(layersTable, "<tr>") - 1; n != maxRows { // less the header row
		t.Errorf("the page draws %d layer rows, want %d", n, maxRows)
	}
	if !strings.Contains(body, `id="more-layers"`) || !strings.Contains(body, "and 20 more layers") {
		t.Errorf("no note of the 20 layers not drawn")
	}
	if !strings.Contains(body, `id="raw-clipped"`) || !strings.Contains(body, "acrctl manifest get") {
		t.Errorf("no note that the raw manifest is clipped")
	}
	if len(body) > 600<<10 {
		t.Errorf("the page is %d bytes for a manifest of %d: the large annotation is drawn whole", len(body), len(long))
	}
}
