package emulator_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/opencontainers/go-digest"
)

// blobsOnlyView is what a registry shows of a repository at one step of
// TestBlobsOnlyRepository.
type blobsOnlyView struct {
	listed   bool   // in /v2/_catalog
	tags     int    // status of /v2/REPO/tags/list
	tagsCode string // its error code, if any
	blob     int    // status of HEAD of the pushed blob
}

// viewBlobsOnly reads what c shows of repo, whose blob d was pushed.
func viewBlobsOnly(t *testing.T, c *client, repo string, d digest.Digest) blobsOnlyView {
	t.Helper()
	cat := decode[struct{ Repositories []string }](t, c.do("GET", "/v2/_catalog?n=1000", nil).want(t, http.StatusOK))
	tags := c.do("GET", "/v2/"+repo+"/tags/list", nil)
	return blobsOnlyView{
		listed:   slices.Contains(cat.Repositories, repo),
		tags:     tags.StatusCode,
		tagsCode: tags.errorCode(),
		blob:     c.do("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil).StatusCode,
	}
}

// pushBlobInSession pushes data as a blob with a POST and a PUT, which
// every registry takes (the reference registry does not take a blob in
// the POST alone).
func pushBlobInSession(t *testing.T, c *client, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	r := c.do("POST", "/v2/"+repo+"/blobs/uploads/", nil).want(t, http.StatusAccepted)
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	q.Set("digest", d.String())
	loc.RawQuery = q.Encode()
	c.do("PUT", loc.RequestURI(), data, "Content-Type", "application/octet-stream").want(t, http.StatusCreated)
	return d
}

// blobsOnlySteps pushes a blob into a new repository, then an image, and
// returns what c showed of the repository after each.
func blobsOnlySteps(t *testing.T, c *client, repo string) (blobsOnly, withManifest blobsOnlyView) {
	t.Helper()
	d := pushBlobInSession(t, c, repo, []byte("a layer pushed before any manifest "+repo))
	blobsOnly = viewBlobsOnly(t, c, repo, d)
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + pushBlobInSession(t, c, repo, cfg).String() +
		`","size":` + itoa(len(cfg)) + `},"layers":[]}`
	c.do("PUT", "/v2/"+repo+"/manifests/v1", []byte(manifest), "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	return blobsOnly, viewBlobsOnly(t, c, repo, d)
}

// TestBlobsOnlyRepository checks that a repository that holds only blobs
// (a push that stopped before its manifest) is listed and shown nowhere,
// its blobs still served, until its first manifest; and that the ACR API
// does not know it either.
func TestBlobsOnlyRepository(t *testing.T) {
	c, _ := newClient(t, nil)
	repo := "staging/app"
	before, after := blobsOnlySteps(t, c, repo)
	if want := (blobsOnlyView{listed: false, tags: 404, tagsCode: "NAME_UNKNOWN", blob: 200}); before != want {
		t.Errorf("blobs only: got %+v, want %+v", before, want)
	}
	if want := (blobsOnlyView{listed: true, tags: 200, blob: 200}); after != want {
		t.Errorf("after a manifest: got %+v, want %+v", after, want)
	}

	other := "staging/other"
	d := pushBlobInSession(t, c, other, []byte("only a blob"))
	acrCat := decode[struct{ Repositories []string }](t, c.do("GET", "/acr/v1/_catalog", nil).want(t, http.StatusOK))
	if !slices.Equal(acrCat.Repositories, []string{repo}) {
		t.Errorf("/acr/v1/_catalog lists %v, want only %s", acrCat.Repositories, repo)
	}
	for _, path := range []string{"/acr/v1/" + other, "/acr/v1/" + other + "/_tags", "/acr/v1/" + other + "/_manifests"} {
		if r := c.do("GET", path, nil); r.StatusCode != http.StatusNotFound || r.errorCode() != "NAME_UNKNOWN" {
			t.Errorf("GET %s: got %d %s, want 404 NAME_UNKNOWN", path, r.StatusCode, r.body)
		}
	}
	// Its blob can still be mounted from it, as from any repository that
	// holds it.
	c.do("POST", "/v2/"+repo+"/blobs/uploads/?mount="+d.String()+"&from="+other, nil).want(t, http.StatusCreated)
}

// TestReferenceRegistryBlobsOnlyRepository runs TestBlobsOnlyRepository's
// steps on the reference registry and the emulator side by side: the
// emulator must show what the reference shows.
func TestReferenceRegistryBlobsOnlyRepository(t *testing.T) {
	ref := acrtest.ReferenceRegistry(t)
	emu, _ := newClient(t, nil)
	dist := referenceClient(t, ref)
	repo := fmt.Sprintf("blobsonly/r%d", rand.Uint32())
	eBefore, eAfter := blobsOnlySteps(t, emu, repo)
	dBefore, dAfter := blobsOnlySteps(t, dist, repo)
	if eBefore != dBefore {
		t.Errorf("blobs only: the emulator shows %+v, the reference %+v", eBefore, dBefore)
	}
	if eAfter != dAfter {
		t.Errorf("after a manifest: the emulator shows %+v, the reference %+v", eAfter, dAfter)
	}
}
