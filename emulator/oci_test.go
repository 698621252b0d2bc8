package emulator_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

func TestChunkedUploadWithAndWithoutUnit(t *testing.T) {
	c, _ := newClient(t, nil)
	data := bytes.Repeat([]byte("0123456789"), 1000)
	for _, unit := range []string{"", "bytes "} {
		t.Run("unit="+unit, func(t *testing.T) {
			r := c.do("POST", "/v2/a/b/blobs/uploads/", nil).want(t, http.StatusAccepted)
			loc := r.Header.Get("Location")
			if !strings.HasPrefix(loc, "/v2/a/b/blobs/uploads/") || !strings.Contains(loc, "?") {
				t.Fatalf("got Location %q, want a relative session URL with a query", loc)
			}
			if got := r.Header.Get("Range"); got != "0-0" {
				t.Errorf("got Range %q, want 0-0", got)
			}
			for off := 0; off < len(data); off += 3000 {
				end := min(off+3000, len(data))
				r = c.do("PATCH", loc, data[off:end], "Content-Range", fmt.Sprintf("%s%d-%d", unit, off, end-1)).want(t, http.StatusAccepted)
				if got, want := r.Header.Get("Range"), fmt.Sprintf("0-%d", end-1); got != want {
					t.Errorf("got Range %q, want %q", got, want)
				}
				loc = r.Header.Get("Location")
			}
			d := digest.FromBytes(data)
			r = c.do("PUT", loc+"&digest="+d.String(), nil).want(t, http.StatusCreated)
			if got := r.Header.Get("Docker-Content-Digest"); got != d.String() {
				t.Errorf("got digest %q, want %q", got, d)
			}
			got := c.do("GET", "/v2/a/b/blobs/"+d.String(), nil).want(t, http.StatusOK)
			if !bytes.Equal(got.body, data) {
				t.Fatal("blob content differs from what was uploaded")
			}
		})
	}
}

func TestStreamedUploadAndStatus(t *testing.T) {
	c, _ := newClient(t, nil)
	data := []byte("streamed body")
	loc := c.do("POST", "/v2/s/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	loc = c.do("PATCH", loc, data[:5]).want(t, http.StatusAccepted).Header.Get("Location")
	st := c.do("GET", loc, nil).want(t, http.StatusNoContent)
	if got := st.Header.Get("Range"); got != "0-4" {
		t.Fatalf("status: got Range %q, want 0-4", got)
	}
	d := digest.FromBytes(data)
	c.do("PUT", loc+"&digest="+d.String(), data[5:]).want(t, http.StatusCreated)
	c.do("HEAD", "/v2/s/blobs/"+d.String(), nil).want(t, http.StatusOK)
}

func TestRangeRead(t *testing.T) {
	c, _ := newClient(t, nil)
	data := []byte("abcdefghijklmnopqrstuvwxyz")
	d := c.pushBlob("r", data)
	r := c.do("GET", "/v2/r/blobs/"+d.String(), nil, "Range", "bytes=2-5").want(t, http.StatusPartialContent)
	if string(r.body) != "cdef" || r.Header.Get("Content-Range") != "bytes 2-5/26" {
		t.Fatalf("got %q with Content-Range %q, want cdef with bytes 2-5/26", r.body, r.Header.Get("Content-Range"))
	}
	r = c.do("GET", "/v2/r/blobs/"+d.String(), nil, "Range", "bytes=20-").want(t, http.StatusPartialContent)
	if string(r.body) != "uvwxyz" {
		t.Fatalf("open range: got %q, want uvwxyz", r.body)
	}
}

func TestSHA512Blob(t *testing.T) {
	c, _ := newClient(t, nil)
	data := []byte("sha512 content")
	d := digest.SHA512.FromBytes(data)
	c.do("POST", "/v2/x/blobs/uploads/?digest="+d.String(), data).want(t, http.StatusCreated)
	if got := c.do("GET", "/v2/x/blobs/"+d.String(), nil).want(t, http.StatusOK); !bytes.Equal(got.body, data) {
		t.Fatal("sha512 blob content differs")
	}
}

func TestCrossRepositoryMount(t *testing.T) {
	c, _ := newClient(t, nil)
	d := c.pushBlob("src", []byte("shared layer"))
	r := c.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil).want(t, http.StatusCreated)
	if got := r.Header.Get("Location"); got != "/v2/dst/blobs/"+d.String() {
		t.Errorf("got Location %q", got)
	}
	c.do("HEAD", "/v2/dst/blobs/"+d.String(), nil).want(t, http.StatusOK)
	// Without from, a blob the caller can read elsewhere is mounted too.
	c.do("POST", "/v2/dst2/blobs/uploads/?mount="+d.String(), nil).want(t, http.StatusCreated)
	// An unknown blob falls back to an upload session.
	other := digest.FromString("nowhere")
	c.do("POST", "/v2/dst/blobs/uploads/?mount="+other.String()+"&from=src", nil).want(t, http.StatusAccepted)
}

func TestManifestPushPullDelete(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("app", "v1", "one")
	r := c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusOK)
	if !bytes.Equal(r.body, im.manifest) {
		t.Fatal("manifest bytes are not returned verbatim")
	}
	if r.Header.Get("Content-Type") != "application/vnd.oci.image.manifest.v1+json" || r.Header.Get("Docker-Content-Digest") != im.digest.String() {
		t.Fatalf("got headers %v", r.Header)
	}
	c.do("HEAD", "/v2/app/manifests/"+im.digest.String(), nil, acceptAll...).want(t, http.StatusOK)
	tags := decode[struct{ Tags []string }](t, c.do("GET", "/v2/app/tags/list", nil).want(t, http.StatusOK))
	if len(tags.Tags) != 1 || tags.Tags[0] != "v1" {
		t.Fatalf("got tags %v, want [v1]", tags.Tags)
	}
	c.do("DELETE", "/v2/app/manifests/"+im.digest.String(), nil).want(t, http.StatusAccepted)
	c.do("GET", "/v2/app/manifests/v1", nil, acceptAll...).want(t, http.StatusNotFound)
	c.do("GET", "/v2/app/manifests/"+im.digest.String(), nil, acceptAll...).want(t, http.StatusNotFound)
}

// TestTagParamsAndDeleteByTag pushes with ?tag= and checks that a DELETE by
// tag is refused, as ACR refuses it, and deletes nothing.
func TestTagParamsAndDeleteByTag(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("app", "v1", "one")
	r := c.do("PUT", "/v2/app/manifests/"+im.digest.String()+"?tag=a&tag=b", im.manifest,
		"Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	if got := r.Header.Values("OCI-Tag"); len(got) != 2 {
		t.Fatalf("got OCI-Tag %v, want a and b", got)
	}
	c.do("DELETE", "/v2/app/manifests/a", nil).want(t, http.StatusMethodNotAllowed)
	c.do("GET", "/v2/app/manifests/a", nil, acceptAll...).want(t, http.StatusOK)
	c.do("DELETE", "/acr/v1/app/_tags/a", nil).want(t, http.StatusAccepted)
	c.do("GET", "/v2/app/manifests/a", nil, acceptAll...).want(t, http.StatusNotFound)
	c.do("GET", "/v2/app/manifests/b", nil, acceptAll...).want(t, http.StatusOK)
}

func TestTagListPaging(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("p", "t0", "x")
	for i := 1; i < 5; i++ {
		c.do("PUT", fmt.Sprintf("/v2/p/manifests/t%d", i), im.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	}
	var all []string
	path := "/v2/p/tags/list?n=2"
	for i := 0; path != "" && i < 10; i++ {
		r := c.do("GET", path, nil).want(t, http.StatusOK)
		all = append(all, decode[struct{ Tags []string }](t, r).Tags...)
		path = ""
		if l := r.Header.Get("Link"); l != "" {
			path = l[1:strings.Index(l, ">")]
		}
	}
	if got := strings.Join(all, ","); got != "t0,t1,t2,t3,t4" {
		t.Fatalf("paged tags: got %s, want t0..t4", got)
	}
	r := c.do("GET", "/v2/p/tags/list?n=2&last=t3", nil).want(t, http.StatusOK)
	if got := decode[struct{ Tags []string }](t, r).Tags; len(got) != 1 || got[0] != "t4" {
		t.Fatalf("after t3: got %v, want [t4]", got)
	}
}

// TestListingsWithoutPageSize checks that /v2/_catalog and tags/list
// without n answer at most the server's page size and link to the rest, so
// that one request's cost stays bounded however large the registry, and
// that following the links lists everything once, as OCI clients (oras,
// crane, regctl, acrctl) do.
func TestListingsWithoutPageSize(t *testing.T) {
	defer emulator.SetMaxPageSize(3)()
	c, _ := newClient(t, nil)
	im := c.pushImage("p", "t0", "x")
	for i := 1; i < 7; i++ {
		c.do("PUT", fmt.Sprintf("/v2/p/manifests/t%d", i), im.manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
		c.pushImage(fmt.Sprintf("r%d", i), "v1", "x")
	}
	follow := func(path, field string) (all []string, pages int) {
		for ; path != "" && pages < 10; pages++ {
			r := c.do("GET", path, nil).want(t, http.StatusOK)
			page := decode[map[string]any](t, r)[field].([]any)
			if len(page) > 3 {
				t.Errorf("GET %s: %d items, more than the page size of 3", path, len(page))
			}
			for _, v := range page {
				all = append(all, v.(string))
			}
			path = ""
			if l := r.Header.Get("Link"); l != "" {
				path = l[1:strings.Index(l, ">")]
			}
		}
		return all, pages
	}
	if tags, pages := follow("/v2/p/tags/list", "tags"); strings.Join(tags, ",") != "t0,t1,t2,t3,t4,t5,t6" || pages != 3 {
		t.Errorf("tags without n: got %v in %d pages, want t0..t6 in 3", tags, pages)
	}
	if repos, pages := follow("/v2/_catalog", "repositories"); strings.Join(repos, ",") != "p,r1,r2,r3,r4,r5,r6" || pages != 3 {
		t.Errorf("catalog without n: got %v in %d pages, want p,r1..r6 in 3", repos, pages)
	}
	// A larger n is capped at the page size too.
	if tags, pages := follow("/v2/p/tags/list?n=100", "tags"); len(tags) != 7 || pages != 3 {
		t.Errorf("tags with n=100: got %v in %d pages, want 7 in 3", tags, pages)
	}
}

func TestReferrers(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("app", "v1", "one")
	empty := c.pushBlob("app", []byte("{}"))
	sig := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig",` +
		`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"` + empty.String() + `","size":2},"layers":[],` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + im.digest.String() + `","size":` + itoa(len(im.manifest)) + `},` +
		`"annotations":{"k":"v"}}`)
	sd := digest.FromBytes(sig)
	r := c.do("PUT", "/v2/app/manifests/"+sd.String(), sig, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	if r.Header.Get("OCI-Subject") != im.digest.String() {
		t.Fatalf("got OCI-Subject %q, want %s", r.Header.Get("OCI-Subject"), im.digest)
	}
	type index struct {
		Manifests []struct {
			Digest       string
			ArtifactType string
			Annotations  map[string]string
		}
	}
	r = c.do("GET", "/v2/app/referrers/"+im.digest.String(), nil).want(t, http.StatusOK)
	if r.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" {
		t.Errorf("got Content-Type %q", r.Header.Get("Content-Type"))
	}
	got := decode[index](t, r)
	if len(got.Manifests) != 1 || got.Manifests[0].Digest != sd.String() || got.Manifests[0].ArtifactType != "application/vnd.example.sig" || got.Manifests[0].Annotations["k"] != "v" {
		t.Fatalf("got referrers %+v", got)
	}
	r = c.do("GET", "/v2/app/referrers/"+im.digest.String()+"?artifactType=other", nil).want(t, http.StatusOK)
	if len(decode[index](t, r).Manifests) != 0 || r.Header.Get("OCI-Filters-Applied") != "artifactType" {
		t.Fatalf("filtered referrers: got %s, %v", r.body, r.Header)
	}
	// Deleting the subject deletes its referrers, as ACR does.
	c.do("DELETE", "/v2/app/manifests/"+im.digest.String(), nil).want(t, http.StatusAccepted)
	c.do("GET", "/v2/app/manifests/"+sd.String(), nil, acceptAll...).want(t, http.StatusNotFound)
}

func TestIndexRequiresChildren(t *testing.T) {
	c, _ := newClient(t, nil)
	im := c.pushImage("multi", im0, "one")
	idx := func(d digest.Digest, size int) []byte {
		return []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + d.String() + `","size":` + itoa(size) + `,"platform":{"architecture":"arm64","os":"linux"}}]}`)
	}
	missing := digest.FromString("missing")
	r := c.do("PUT", "/v2/multi/manifests/latest", idx(missing, 10), "Content-Type", "application/vnd.oci.image.index.v1+json").want(t, http.StatusBadRequest)
	if r.errorCode() != "MANIFEST_BLOB_UNKNOWN" {
		t.Errorf("got code %q, want MANIFEST_BLOB_UNKNOWN", r.errorCode())
	}
	c.do("PUT", "/v2/multi/manifests/latest", idx(im.digest, len(im.manifest)), "Content-Type", "application/vnd.oci.image.index.v1+json").want(t, http.StatusCreated)
}

const im0 = "v0"
