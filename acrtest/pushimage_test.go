package acrtest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// TestPushImage seeds a registry that requires sign-in and checks over
// HTTP, signed in, that every image is there, distinct, and tagged as
// asked.
func TestPushImage(t *testing.T) {
	t.Parallel()
	srv := acrtest.NewServer(t, &emulator.Options{Users: map[string]string{"admin": "pw"}})
	v1 := srv.PushImage(t, "team/app", "v1", "stable")
	v2 := srv.PushImage(t, "team/app", "v2")
	untagged := srv.PushImage(t, "team/app")
	other := srv.PushImage(t, "other", "v1")
	if ds := []string{v1.Digest.String(), v2.Digest.String(), untagged.Digest.String(), other.Digest.String()}; len(slices.Compact(slices.Sorted(slices.Values(ds)))) != 4 {
		t.Fatalf("got digests %v, want four different ones", ds)
	}

	get := func(path string, v any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		req.SetBasicAuth("admin", "pw")
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
		resp, err := srv.HTTP.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: got status %d, want 200", path, resp.StatusCode)
		}
		if v != nil {
			if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	var tags struct {
		Tags []struct {
			Name   string `json:"name"`
			Digest string `json:"digest"`
		} `json:"tags"`
	}
	get("/acr/v1/team%2Fapp/_tags?orderby=timedesc", &tags)
	var got []string
	for _, tg := range tags.Tags {
		got = append(got, tg.Name+"@"+tg.Digest)
	}
	want := []string{"v2@" + v2.Digest.String(), "stable@" + v1.Digest.String(), "v1@" + v1.Digest.String()}
	if fmt.Sprint(got) != fmt.Sprint(want) && fmt.Sprint(got) != fmt.Sprint([]string{want[0], want[2], want[1]}) {
		t.Errorf("got tags %v, want %v (newest first)", got, want)
	}
	for _, d := range []string{v1.Digest.String(), v2.Digest.String(), untagged.Digest.String()} {
		get("/v2/team/app/manifests/"+d, nil)
	}
	get("/v2/other/manifests/v1", nil)
}

// TestPushImageMany: a listing test can start from thousands of tags.
func TestPushImageMany(t *testing.T) {
	t.Parallel()
	srv := acrtest.NewServer(t, nil)
	for i := range 2000 {
		srv.PushImage(t, "app", fmt.Sprintf("v%04d", i))
	}
	var list struct{ Tags []string }
	resp, err := srv.HTTP.Client().Get(srv.URL + "/v2/app/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	if len(list.Tags) != 2000 || list.Tags[0] != "v0000" || list.Tags[1999] != "v1999" {
		t.Errorf("got %d tags (%v...), want v0000 to v1999", len(list.Tags), list.Tags[:min(3, len(list.Tags))])
	}
}

// BenchmarkSeedImage compares PushImage with pushing the same image over
// HTTP in the fewest requests a client can use (two monolithic blob POSTs
// and a manifest PUT) to an open registry.
func BenchmarkSeedImage(b *testing.B) {
	b.Run("PushImage", func(b *testing.B) {
		srv := acrtest.NewServer(b, nil)
		for i := 0; b.Loop(); i++ {
			srv.PushImage(b, "app", fmt.Sprint("v", i))
		}
	})
	b.Run("HTTP", func(b *testing.B) {
		srv := acrtest.NewServer(b, nil)
		hc := srv.HTTP.Client()
		do := func(method, path, contentType string, body []byte) {
			req, _ := http.NewRequest(method, srv.URL+path, bytes.NewReader(body))
			req.Header.Set("Content-Type", contentType)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Fatalf("%s %s: got status %d, want 201", method, path, resp.StatusCode)
			}
		}
		config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
		for i := 0; b.Loop(); i++ {
			layer := []byte(fmt.Sprintf("image %d\n", i))
			cd, ld := digest.FromBytes(config), digest.FromBytes(layer)
			do("POST", "/v2/app/blobs/uploads/?digest="+cd.String(), "application/octet-stream", config)
			do("POST", "/v2/app/blobs/uploads/?digest="+ld.String(), "application/octet-stream", layer)
			m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
				cd, len(config), ld, len(layer))
			do("PUT", fmt.Sprint("/v2/app/manifests/v", i), "application/vnd.oci.image.manifest.v1+json", []byte(m))
		}
	})
}
