package purge_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/purge"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// TestMultiArch: the untagged platform images of a kept index stay however
// old (acr-cli#131); those of a deleted index go after it, except the ones
// another kept index shares.
func TestMultiArch(t *testing.T) {
	e := newEnv(t)
	idx1, ch1 := e.at(1).multiArch("multi", "one", "v1")
	idx2, ch2 := e.at(2).multiArch("multi", "two", "v2")
	// v3 shares v1's amd64 image.
	e.at(3)
	arm3 := e.platformImage("multi", "three-arm64", "arm64")
	idx3 := e.index("multi", []ocispec.Descriptor{ch1[0], arm3}, "v3")
	// A nested index: outer (tagged) holds inner (untagged) holds images.
	e.at(4)
	inner, innerCh := e.multiArch("multi", "inner")
	outer := e.index("multi", []ocispec.Descriptor{inner}, "nested")

	t.Run("untagged-only keeps children of tagged indexes", func(t *testing.T) {
		e := e
		before := e.state()
		res := e.run(30, purge.Options{Filters: filters("multi:.*"), Ago: 10 * purge.Day, UntaggedOnly: true})
		diff(t, "deleted", refs(res.Deleted), []string{})
		diff(t, "state", e.state(), before)
	})

	t.Run("v1 deleted", func(t *testing.T) {
		res := e.run(30, purge.Options{Filters: filters("multi:v1"), Ago: 10 * purge.Day, Untagged: true})
		want := []string{"tag multi:v1", manifestRef(purge.KindManifest, "multi", idx1), manifestRef(purge.KindManifest, "multi", ch1[1])}
		diff(t, "deleted", refs(res.Deleted), want)
		// The arm64 child goes after its index, and says so.
		if got := res.Deleted[2].Index; got != idx1.Digest {
			t.Errorf("child's index: got %s, want %s", got, idx1.Digest)
		}
		for _, d := range []ocispec.Descriptor{idx2, ch2[0], ch2[1], idx3, ch1[0], arm3, inner, innerCh[0], innerCh[1], outer} {
			if !e.has("multi", d.Digest) {
				t.Errorf("%s was deleted; a kept index references it", d.Digest)
			}
		}
		for _, d := range []ocispec.Descriptor{idx1, ch1[1]} {
			if e.has("multi", d.Digest) {
				t.Errorf("%s is still there", d.Digest)
			}
		}
	})

	t.Run("nested index deleted with everything under it", func(t *testing.T) {
		res := e.run(30, purge.Options{Filters: filters("multi:nested"), Ago: 10 * purge.Day, Untagged: true})
		want := []string{"tag multi:nested", manifestRef(purge.KindManifest, "multi", outer), manifestRef(purge.KindManifest, "multi", inner),
			manifestRef(purge.KindManifest, "multi", innerCh[0]), manifestRef(purge.KindManifest, "multi", innerCh[1])}
		diff(t, "deleted", sorted(refs(res.Deleted)), sorted(want))
		// Order: outer, then inner, then inner's children.
		pos := map[string]int{}
		for i, r := range refs(res.Deleted) {
			pos[r] = i
		}
		if !(pos[want[1]] < pos[want[2]] && pos[want[2]] < pos[want[3]] && pos[want[2]] < pos[want[4]]) {
			t.Errorf("deletion order does not put indexes before children: %v", refs(res.Deleted))
		}
		if !e.has("multi", idx2.Digest) || !e.has("multi", ch1[0].Digest) {
			t.Error("deleted what a kept index references")
		}
	})
}

// TestDockerManifestList: indexes protect their children from the metadata
// alone, without manifest GETs.
func TestDockerManifestList(t *testing.T) {
	e := newEnv(t)
	e.at(1)
	a := e.platformImage("dl", "a", "amd64")
	b := e.platformImage("dl", "b", "arm64")
	idx := ocispec.Index{Manifests: []ocispec.Descriptor{a, b}, MediaType: "application/vnd.docker.distribution.manifest.list.v2+json"}
	idx.SchemaVersion = 2
	e.push("dl", idx, "latest")
	e.reqs.n.Store(0)
	before := e.state()
	res := e.run(30, purge.Options{Filters: filters("dl:"), Ago: purge.Day, Untagged: true})
	diff(t, "deleted", refs(res.Deleted), []string{})
	diff(t, "state", e.state(), before)
	if n := e.reqs.count("GET manifests"); n != 0 {
		t.Errorf("%d manifest GETs, want 0: the metadata lists the children", n)
	}
}

// TestIndexWithoutReferences: when the registry's metadata does not list
// an index's children, purge reads the index to find them.
func TestIndexWithoutReferences(t *testing.T) {
	e := newEnv(t)
	idx1, ch1 := e.at(1).multiArch("multi", "one", "v1")
	idx2, ch2 := e.at(2).multiArch("multi", "two", "v2")
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.srv.Registry.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if strings.HasSuffix(r.URL.Path, "/_manifests") && rec.Code == http.StatusOK {
			var page map[string]any
			if err := json.Unmarshal(body, &page); err != nil {
				t.Error(err)
			}
			for _, m := range page["manifests"].([]any) {
				delete(m.(map[string]any), "references")
			}
			body, _ = json.Marshal(page)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		w.Write(body)
	}))
	defer hs.Close()
	client, err := acr.NewClient(hs.URL, nil, &acr.ClientOptions{PageSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(day(30))
	res, err := purge.Run(t.Context(), client, &purge.Options{Filters: filters("multi:v1"), Ago: purge.Day, Untagged: true, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"tag multi:v1", manifestRef(purge.KindManifest, "multi", idx1),
		manifestRef(purge.KindManifest, "multi", ch1[0]), manifestRef(purge.KindManifest, "multi", ch1[1])}
	diff(t, "deleted", sorted(refs(res.Deleted)), sorted(want))
	for _, d := range []ocispec.Descriptor{idx2, ch2[0], ch2[1]} {
		if !e.has("multi", d.Digest) {
			t.Errorf("%s was deleted; the kept index v2 references it", d.Digest)
		}
	}
}
