package store

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
)

// FuzzDecodeTag holds decodeTag to json.Unmarshal's decoding of a Tag.
func FuzzDecodeTag(f *testing.F) {
	at := time.Date(2026, 12, 6, 2, 42, 44, 431954300, time.UTC)
	for _, tag := range []Tag{
		{Name: "v1", Digest: digest.FromString("x"), CreatedAt: at, UpdatedAt: at.Add(time.Hour), Attrs: DefaultAttributes()},
		{Name: "v1.0_rc-2", Attrs: Attributes{ReadEnabled: true}},
		{},
	} {
		b, err := json.Marshal(tag)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{`{"NAME":"a","attrs":null,"Attrs":{"listenabled":true},"createdAt":null}`, `{"name":1}`, `{"updatedAt":"now"}`, `[]`, `{"name":"a"} {}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want Tag
		werr := json.Unmarshal(b, &want)
		got, err := decodeTag(b)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeTag(%q): error %v; encoding/json: %v", b, err, werr)
		}
		if d := cmp.Diff(want, got); err == nil && d != "" {
			t.Fatalf("decodeTag(%q) differs from encoding/json (-want +got):\n%s", b, d)
		}
	})
}
