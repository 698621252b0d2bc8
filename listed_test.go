package acr_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acrgo/acr"
	"github.com/opencontainers/go-digest"
)

// TestListingsRefuseNamesOutsideTheGrammar checks that every listing
// iterator checks what the registry lists against the distribution spec's
// grammar: a repository name, tag or digest holding a terminal escape, a
// newline or a path traversal is never yielded, and the listing ends with
// an error that quotes it (%q, so the error itself carries no control
// character).
func TestListingsRefuseNamesOutsideTheGrammar(t *testing.T) {
	dg := "sha256:" + strings.Repeat("a", 64)
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	for _, bad := range []string{"x\x1b]0;pwned\x07\x1b[2J\x1b[1A\rfake", "v1\nv2", "../../etc", "", "UPPER/case"} {
		// body answers each path the listings ask for, with bad where a
		// name, tag or digest goes.
		body := func(path string) (string, bool) {
			switch {
			case path == "/v2/" || path == "/v2":
				return `{}`, true
			case path == "/acr/v1/_catalog", path == "/v2/_catalog", path == "/acr/v1/_deleted/_catalog":
				return `{"repositories":["ok",` + q(bad) + `]}`, true
			case path == "/v2/r/tags/list":
				return `{"name":"r","tags":["ok",` + q(bad) + `]}`, true
			case path == "/acr/v1/r/_tags":
				return `{"registry":"x","imageName":"r","tags":[{"name":` + q(bad) + `,"digest":` + q(dg) + `}]}`, true
			case path == "/acr/v1/bad-digest/_tags":
				return `{"registry":"x","imageName":"r","tags":[{"name":"v1","digest":` + q("sha256:"+bad) + `}]}`, true
			case path == "/acr/v1/r/_manifests":
				return `{"registry":"x","imageName":"r","manifests":[{"digest":` + q(dg) + `,"tags":["ok",` + q(bad) + `]}]}`, true
			case path == "/acr/v1/bad-digest/_manifests":
				return `{"registry":"x","imageName":"r","manifests":[{"digest":` + q("sha256:"+bad) + `}]}`, true
			case path == "/acr/v1/_deleted/r/_tags":
				return `{"registry":"x","tags":[{"tag":` + q(bad) + `,"digest":` + q(dg) + `}]}`, true
			case path == "/acr/v1/_deleted/r/_manifests":
				return `{"registry":"x","manifests":[{"digest":` + q(dg) + `,"tags":[` + q(bad) + `]}]}`, true
			case strings.HasPrefix(path, "/v2/r/referrers/"):
				return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":` + q("sha256:"+bad) + `,"size":2}]}`, true
			}
			return "", false
		}
		// acrAPI serves /acr/v1 too; a registry without it, only /v2.
		server := func(acrAPI bool) *httptest.Server {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, ok := body(r.URL.Path)
				if !ok || !acrAPI && strings.HasPrefix(r.URL.Path, "/acr/") {
					http.NotFound(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprint(w, b)
			}))
			t.Cleanup(srv.Close)
			return srv
		}
		withACR, withoutACR := server(true), server(false)
		client := func(srv *httptest.Server) *acr.Client {
			c, err := acr.NewClient(srv.URL, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		newClient := func() *acr.Client { return client(withACR) }
		ctx := t.Context()
		// each lists with a fresh client and returns what was yielded
		// (as strings) and the error that ended the listing.
		for name, list := range map[string]func() ([]string, error){
			"Repositories":               func() ([]string, error) { return collectNames(newClient().Repositories(ctx, nil)) },
			"Repositories (OCI catalog)": func() ([]string, error) { return collectNames(client(withoutACR).Repositories(ctx, nil)) },
			"TagNames (paged)": func() ([]string, error) {
				return collectNames(newClient().TagNames(ctx, "r", &acr.ListOptions{PageSize: 10}))
			},
			"TagNames (streamed)": func() ([]string, error) { return collectNames(newClient().TagNames(ctx, "r", nil)) },
			"Tags": func() ([]string, error) {
				return listedStrings(newClient().Tags(ctx, "r", nil), func(tp acr.TagProperties) string { return tp.Name })
			},
			"Tags (digest)": func() ([]string, error) {
				return listedStrings(newClient().Tags(ctx, "bad-digest", nil), func(tp acr.TagProperties) string { return string(tp.Digest) })
			},
			"Manifests (tags)": func() ([]string, error) {
				return listedStrings(newClient().Manifests(ctx, "r", nil), func(m acr.ManifestProperties) string { return strings.Join(m.Tags, ",") })
			},
			"Manifests (digest)": func() ([]string, error) {
				return listedStrings(newClient().Manifests(ctx, "bad-digest", nil), func(m acr.ManifestProperties) string { return string(m.Digest) })
			},
			"DeletedRepositories": func() ([]string, error) { return collectNames(newClient().DeletedRepositories(ctx, nil)) },
			"DeletedTags": func() ([]string, error) {
				return listedStrings(newClient().DeletedTags(ctx, "r", nil), func(d acr.DeletedTag) string { return d.Name })
			},
			"DeletedManifests": func() ([]string, error) {
				return listedStrings(newClient().DeletedManifests(ctx, "r", nil), func(d acr.DeletedManifest) string { return strings.Join(d.Tags, ",") })
			},
		} {
			t.Run(fmt.Sprintf("%s/%q", name, bad), func(t *testing.T) {
				got, err := list()
				for _, g := range got {
					if strings.Contains(g, bad) && bad != "" || g == bad {
						t.Errorf("yielded %q", g)
					}
				}
				want := bad
				if strings.HasSuffix(name, "(digest)") {
					want = "sha256:" + bad
				}
				checkRefusal(t, err, want)
			})
		}
		t.Run(fmt.Sprintf("Referrers/%q", bad), func(t *testing.T) {
			var n int
			var err error
			for d, e := range newClient().Referrers(ctx, "r", digest.FromString("s"), "") {
				if e != nil {
					err = e
					break
				}
				n++
				t.Errorf("yielded %q", d.Digest)
			}
			checkRefusal(t, err, "sha256:"+bad)
		})
	}
}

// checkRefusal checks that a listing ended with an error quoting bad.
func checkRefusal(t *testing.T, err error, bad string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one quoting %q", bad)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) || !strings.Contains(err.Error(), "grammar") {
		t.Errorf("got %v, want an error quoting %q and naming the grammar", err, bad)
	}
	if strings.ContainsAny(err.Error(), "\x1b\x07\n\r") {
		t.Errorf("the error carries a control character: %q", err.Error())
	}
}

func collectNames(seq func(func(string, error) bool)) ([]string, error) {
	return listedStrings(seq, func(s string) string { return s })
}

func listedStrings[T any](seq func(func(T, error) bool), f func(T) string) ([]string, error) {
	var out []string
	for v, err := range seq {
		if err != nil {
			return out, err
		}
		out = append(out, f(v))
	}
	return out, nil
}
