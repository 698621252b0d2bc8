package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// jsonKeys returns the keys of the JSON object doc, sorted; with path, of
// the object at that path (a key, or "key[]" for the first element of a
// list).
func jsonKeys(t *testing.T, doc string, path ...string) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("not one JSON document: %v\n%s", err, doc)
	}
	for _, p := range path {
		name, list := strings.CutSuffix(p, "[]")
		m, _ := v.(map[string]any)
		v = m[name]
		if list {
			l, _ := v.([]any)
			if len(l) == 0 {
				t.Fatalf("%s: no element to read keys from in\n%s", p, doc)
			}
			v = l[0]
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is no JSON object in\n%s", path, doc)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// walkKeys calls fn with every key of every object in the JSON document
// doc, at any depth.
func walkKeys(doc string, fn func(key string)) {
	var v any
	if json.Unmarshal([]byte(doc), &v) != nil {
		return
	}
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				fn(k)
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
}

// TestJSONNames pins the keys of every command's --output json. The rule:
// one thing has one name in every command, and where ACR's API (which az
// acr prints as is) names it, that name: the repository is imageName,
// never repository; times are createdTime and lastUpdateTime; a
// manifest's size is imageSize where ACR gives it and an OCI descriptor's
// size elsewhere; lists of manifests are manifests (as in an OCI index
// and az acr manifest list-referrers).
func TestJSONNames(t *testing.T) {
	f := newSoftDeleteFixture(t, false)
	f.pushImage("hello", "one", "v1")
	f.pushImage("hello", "two", "v2")
	dir := t.TempDir()
	file := filepath.Join(dir, "sig.txt")
	if err := os.WriteFile(file, []byte("signature"), 0o644); err != nil {
		t.Fatal(err)
	}
	blob := strings.TrimSpace(f.run("", "blob", "put", f.ref("hello"), file).ok(t).stdout)
	f.run("", "attach", f.ref("hello:v1"), file, "--artifact-type", "application/vnd.example.sig").ok(t)
	f.pushImage("gone", "three", "t")
	f.run("", "tag", "delete", f.ref("gone:t")).ok(t)

	props := []string{"changeableAttributes", "createdTime", "lastUpdateTime"}
	with := func(keys ...string) []string {
		keys = append(keys, props...)
		slices.Sort(keys)
		return keys
	}
	manifest := with("architecture", "configMediaType", "digest", "imageSize", "mediaType", "os", "tags")
	for _, tc := range []struct {
		name string
		args []string
		path []string
		want []string
	}{
		{"repo list", []string{"repo", "list", f.srv.Host}, nil, []string{"registry", "repositories"}},
		{"repo show", []string{"repo", "show", f.ref("hello")}, nil, with("imageName", "manifestCount", "registry", "tagCount")},
		{"repo update", []string{"repo", "update", f.ref("hello"), "--unlock"}, nil, with("imageName", "manifestCount", "registry", "tagCount")},
		{"repo list-deleted", []string{"repo", "list-deleted", f.srv.Host}, nil, []string{"registry", "repositories"}},
		{"tag list", []string{"tag", "list", f.ref("hello")}, nil, []string{"imageName", "registry", "tags"}},
		{"tag list: a tag", []string{"tag", "list", f.ref("hello")}, []string{"tags[]"}, with("digest", "name")},
		{"tag show", []string{"tag", "show", f.ref("hello:v1")}, nil, with("digest", "imageName", "name", "registry")},
		{"tag update", []string{"tag", "update", f.ref("hello:v1"), "--unlock"}, nil, with("digest", "imageName", "name", "registry")},
		{"tag list-deleted", []string{"tag", "list-deleted", f.ref("gone")}, nil, []string{"imageName", "registry", "tags"}},
		{"tag list-deleted: a tag", []string{"tag", "list-deleted", f.ref("gone")}, []string{"tags[]"}, []string{"deletedAt", "digest", "expiresAfter", "tag"}},
		{"manifest list", []string{"manifest", "list", f.ref("hello"), "--order", "time-asc"}, nil, []string{"imageName", "manifests", "registry"}},
		{"manifest list: a manifest", []string{"manifest", "list", f.ref("hello"), "--order", "time-asc"}, []string{"manifests[]"}, manifest},
		{"manifest show", []string{"manifest", "show", f.ref("hello:v1")}, nil, with("architecture", "configMediaType", "digest", "imageName", "imageSize", "mediaType", "os", "registry", "tags")},
		{"manifest update", []string{"manifest", "update", f.ref("hello:v1"), "--unlock"}, nil, with("architecture", "configMediaType", "digest", "imageName", "imageSize", "mediaType", "os", "registry", "tags")},
		{"manifest exists", []string{"manifest", "exists", f.ref("hello:v1")}, nil, []string{"digest", "exists", "imageName", "registry", "tag"}},
		{"manifest referrers", []string{"manifest", "referrers", f.ref("hello:v1")}, nil, []string{"imageName", "manifests", "registry", "subject"}},
		{"manifest referrers: a referrer", []string{"manifest", "referrers", f.ref("hello:v1")}, []string{"manifests[]"}, []string{"artifactType", "digest", "mediaType", "size"}},
		{"manifest list-deleted", []string{"manifest", "list-deleted", f.ref("gone")}, nil, []string{"imageName", "manifests", "registry"}},
		{"blob exists", []string{"blob", "exists", f.ref("hello@" + blob)}, nil, []string{"digest", "exists", "imageName", "registry", "size"}},
		{"push", []string{"push", f.ref("pushed:v1"), file}, nil, []string{"artifactType", "digest", "imageName", "mediaType", "registry", "size", "tags"}},
		{"copy", []string{"copy", f.ref("hello:v1"), f.ref("copied:v1")}, nil, []string{"digest", "imageName", "mediaType", "registry", "size", "tags"}},
		{"attach", []string{"attach", f.ref("hello:v2"), file, "--artifact-type", "application/vnd.example.sig"}, nil,
			[]string{"artifactType", "digest", "imageName", "mediaType", "registry", "size", "subject", "tags"}},
		{"pull", []string{"pull", f.ref("pushed:v1"), "--output-dir", filepath.Join(dir, "out")}, nil, []string{"files", "imageName", "reference", "registry"}},
		{"tag delete", []string{"tag", "delete", f.ref("copied:v1")}, nil, []string{"imageName", "registry", "tagsDeleted"}},
		{"manifest delete", []string{"manifest", "delete", f.ref("pushed:v1"), "--yes"}, nil,
			[]string{"imageName", "manifestsDeleted", "registry", "tagsDeleted"}},
		{"manifest restore", []string{"manifest", "restore", f.ref("pushed:v1")}, nil,
			with("artifactType", "configMediaType", "digest", "imageName", "imageSize", "mediaType", "registry", "tags")},
		{"repo delete", []string{"repo", "delete", f.ref("pushed"), "--yes"}, nil, []string{"imageName", "manifestsDeleted", "registry", "tagsDeleted"}},
		{"purge", []string{"purge", f.srv.Host, "--filter", "hello:.*", "--ago", "0", "--dry-run"}, nil, []string{"deleted", "dryRun", "registry", "repositories"}},
		{"purge: an item", []string{"purge", f.srv.Host, "--filter", "hello:.*", "--ago", "0", "--dry-run"}, []string{"deleted[]"},
			[]string{"digest", "imageName", "kind", "lastUpdateTime", "reason", "tag"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := f.run("", append(tc.args, "-o", "json")...).ok(t)
			if got := jsonKeys(t, r.stdout, tc.path...); !slices.Equal(got, tc.want) {
				t.Errorf("acrctl %s -o json: keys %v, want %v\n%s", strings.Join(tc.args[:2], " "), got, tc.want, r.stdout)
			}
			walkKeys(r.stdout, func(k string) {
				switch k {
				case "repository", "repositoryName", "lastUpdated", "lastUpdatedOn", "createdOn", "referrers":
					t.Errorf("acrctl %s -o json names %q, which acrctl's other commands and ACR name otherwise", strings.Join(tc.args[:2], " "), k)
				}
			})
		})
	}
}
