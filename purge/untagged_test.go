package purge_test

import (
	"testing"

	"github.com/acrgo/acr/purge"
	"github.com/opencontainers/go-digest"
)

// TestUntagged: --untagged deletes what the tag deletions leave untagged
// and what was untagged already, if old enough; --untagged-only only the
// latter; neither, no manifest (acr-cli#579, #584).
func TestUntagged(t *testing.T) {
	populate := func(e *env) map[string]string {
		d := map[string]string{}
		e.at(1)
		d["old"] = e.image("app", "old").Digest.String()        // untagged, old
		d["v1"] = e.image("app", "v1", "v1").Digest.String()    // tagged, old
		d["v1b"] = e.image("app", "v1b", "v1b").Digest.String() // tagged, old, excluded
		e.at(28)
		d["young"] = e.image("app", "young").Digest.String() // untagged, young
		d["v2"] = e.image("app", "v2", "v2").Digest.String() // tagged, young
		d["both"] = e.at(1).image("app", "both", "b1").Digest.String()
		e.at(2).image("app", "both", "b2") // b1 (old) and b2 point at the same manifest
		return d
	}
	tests := []struct {
		name   string
		filter string
		opts   purge.Options
		want   func(d map[string]string) []string
	}{
		{"tags only", "app:.*", purge.Options{}, func(d map[string]string) []string {
			return tagRefs("app", "b1", "b2", "v1")
		}},
		{"untagged", "app:.*", purge.Options{Untagged: true}, func(d map[string]string) []string {
			return append(tagRefs("app", "b1", "b2", "v1"), "manifest app@"+d["both"], "manifest app@"+d["old"], "manifest app@"+d["v1"])
		}},
		{"untagged-only", "app:.*", purge.Options{UntaggedOnly: true}, func(d map[string]string) []string {
			return []string{"manifest app@" + d["old"]}
		}},
		{"untagged, empty tag filter", "app:", purge.Options{Untagged: true}, func(d map[string]string) []string {
			return []string{"manifest app@" + d["old"]}
		}},
		{"one of two tags", "app:b1", purge.Options{Untagged: true}, func(d map[string]string) []string {
			// b2 still points at b1's manifest; the untagged one goes.
			return append(tagRefs("app", "b1"), "manifest app@"+d["old"])
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			d := populate(e)
			opts := tt.opts
			opts.Filters, opts.Excludes, opts.Ago = filters(tt.filter), filters("app:v1b"), 10*purge.Day
			res := e.run(30, opts)
			want := tt.want(d)
			diff(t, "deleted", sorted(refs(res.Deleted)), sorted(want))
			if !e.has("app", digest.Digest(d["young"])) || !e.has("app", digest.Digest(d["v2"])) || !e.has("app", digest.Digest(d["v1b"])) {
				t.Error("deleted a young or excluded manifest")
			}
			// Tags are deleted before manifests.
			seenManifest := false
			for _, it := range res.Deleted {
				if it.Kind == purge.KindTag && seenManifest {
					t.Errorf("tag %s deleted after a manifest", it.Tag)
				}
				seenManifest = seenManifest || it.Kind != purge.KindTag
			}
		})
	}
}
