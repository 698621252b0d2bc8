package acr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The listings decode their pages with internal/jsonread; these fuzz tests
// hold them to encoding/json's decoding of the wire structs they replaced.

// hasDuplicateKeys reports whether an object of the document repeats a key
// (compared as encoding/json matches them, case-insensitively): there
// encoding/json merges what it decoded, which the page decoders need not do.
func hasDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	type frame struct {
		object bool
		keys   map[string]bool
		key    bool // the next token is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.key {
			if s, ok := tok.(string); ok {
				k := strings.ToLower(s)
				if top.keys[k] {
					return true
				}
				top.keys[k] = true
				top.key = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.key = true
			}
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, key: true})
		case json.Delim('['):
			if top != nil && top.object {
				top.key = true
			}
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		default:
			if top != nil && top.object {
				top.key = true
			}
		}
	}
}

var pageSeeds = []string{
	`{"registry":"r.example","imageName":"app","tags":[{"name":"v1","digest":"sha256:` + strings.Repeat("a", 64) + `","createdTime":"2026-12-06T02:42:44.4319543Z","lastUpdateTime":"2026-12-06T02:42:45Z","signed":false,"changeableAttributes":{"deleteEnabled":false,"writeEnabled":true,"readEnabled":true,"listEnabled":null}}]}`,
	`{"registry":"r.example","imageName":"app","tags":[{"name":"v\u0031","digest":"sha256:` + strings.Repeat("a", 64) + `","createdTime":"2026-12-06T02:42:44.4319543Z","lastUpdateTime":"2026-12-06T02:42:44.4319543Z","signed":false,"changeableAttributes":{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}},` +
		`{"name":"v2","digest":"sha256:` + strings.Repeat("b", 64) + `","createdTime":null,"lastUpdateTime":null,"signed":true,"changeableAttributes":{"deleteEnabled":true,"writeEnabled":false,"readEnabled":true,"listEnabled":true,"extra":1}}]}`,
	`{"registry":"r","manifests":[{"digest":"sha256:` + strings.Repeat("b", 64) + `","imageSize":1234,"createdTime":"2024-01-24T06:16:24.927259Z","lastUpdateTime":"2024-01-24T06:16:24.927259Z","architecture":"amd64","os":"linux","mediaType":"application/vnd.oci.image.index.v1+json","tags":["v1",null],"references":[{"digest":"sha256:` + strings.Repeat("c", 64) + `","architecture":"arm64","os":"linux"},null],"changeableAttributes":{"readEnabled":false}}]}`,
	`{"repositories":["a","b/c"],"name":"x","tags":["v1","v2"]}`,
	`{"tags":null,"manifests":[],"repositories":null}`,
	`{"TAGS":[{"NAME":"v\u0031","Digest":"sha256:` + strings.Repeat("d", 64) + `","changeableattributes":null}],"Registry":"\ud83d\ude00"}`,
	`{"tags":[{"name":"x\u001b]0;pwned\u0007","digest":"sha256:` + strings.Repeat("a", 64) + `"}]}`, `{"tags":[{"name":"v1","digest":"sha256:../x"}]}`,
	`{"repositories":["a/../b"],"tags":["x\ny"]}`,
	`{"tags":[{"name":1}]}`, `{"manifests":[{"imageSize":1.5}]}`, `{"tags":[{"createdTime":"yesterday"}]}`,
	`[]`, `null`, `{"tags":[{}]} x`, `{"tags":[{"name":"a"},]}`,
}

// FuzzDecodeTagPage compares decodeTagPage with encoding/json.
func FuzzDecodeTagPage(f *testing.F) {
	for _, s := range pageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if hasDuplicateKeys(body) {
			t.Skip()
		}
		got, err := decodeTagPage(nil, body, "repo")
		var page struct {
			Registry string    `json:"registry"`
			Tags     []wireTag `json:"tags"`
		}
		werr := json.Unmarshal(body, &page)
		for _, w := range page.Tags {
			// decodeTagPage refuses what the grammar does not allow.
			if werr == nil {
				werr = checkListed(listedTag, w.Name)
			}
			if werr == nil {
				werr = checkListedDigest(string(w.Digest))
			}
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeTagPage(%q): error %v; encoding/json: %v", body, err, werr)
		}
		if err != nil {
			return
		}
		var want []TagProperties
		for _, w := range page.Tags {
			want = append(want, w.properties(page.Registry, "repo"))
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("decodeTagPage(%q) differs from encoding/json (-want +got):\n%s", body, d)
		}
	})
}

// FuzzDecodeManifestPage compares decodeManifestPage with encoding/json.
func FuzzDecodeManifestPage(f *testing.F) {
	for _, s := range pageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if hasDuplicateKeys(body) {
			t.Skip()
		}
		got, err := decodeManifestPage(body, "repo")
		var page struct {
			Registry  string         `json:"registry"`
			Manifests []wireManifest `json:"manifests"`
		}
		werr := json.Unmarshal(body, &page)
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeManifestPage(%q): error %v; encoding/json: %v", body, err, werr)
		}
		if err != nil {
			return
		}
		var want []ManifestProperties
		for _, w := range page.Manifests {
			want = append(want, w.properties(page.Registry, "repo"))
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("decodeManifestPage(%q) differs from encoding/json (-want +got):\n%s", body, d)
		}
	})
}

// FuzzDecodeNames compares decodeNames with encoding/json.
func FuzzDecodeNames(f *testing.F) {
	for _, s := range pageSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if hasDuplicateKeys(body) {
			t.Skip()
		}
		got, err := decodeNames(body, "tags")
		var page struct {
			Tags []string `json:"tags"`
		}
		werr := json.Unmarshal(body, &page)
		if werr == nil {
			// decodeNames refuses what the grammar does not allow.
			werr = checkListedTags(page.Tags)
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeNames(%q): error %v; encoding/json: %v", body, err, werr)
		}
		if d := cmp.Diff(page.Tags, got, cmpopts.EquateEmpty()); err == nil && d != "" {
			t.Fatalf("decodeNames(%q) differs from encoding/json (-want +got):\n%s", body, d)
		}
	})
}

// FuzzDecodeNameStream compares decodeNameStream, fed in small pieces, with
// decodeNames, which decodes a body held whole.
func FuzzDecodeNameStream(f *testing.F) {
	for _, s := range pageSeeds {
		f.Add([]byte(s), uint8(3))
	}
	f.Add([]byte(`{"tags":["a","b"],"Tags":["c"]}`), uint8(1))
	f.Fuzz(func(t *testing.T, body []byte, piece uint8) {
		want, werr := decodeNames(body, "tags")
		var got []string
		_, _, err := decodeNameStream(&pieces{b: body, n: int(piece%16) + 1}, "tags", func(name string, _ error) bool {
			got = append(got, name)
			return true
		})
		if hasDuplicateKeys(body) {
			// decodeNames keeps the last list; the stream, which has
			// yielded the first already, refuses the document, unless the
			// repeated key is not the names' key.
			if werr != nil && err == nil {
				t.Fatalf("decodeNameStream(%q) accepted what decodeNames refuses: %v", body, werr)
			}
			return
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("decodeNameStream(%q): error %v; decodeNames: %v", body, err, werr)
		}
		if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); err == nil && d != "" {
			t.Fatalf("decodeNameStream(%q) differs from decodeNames (-want +got):\n%s", body, d)
		}
	})
}

// pieces delivers b n bytes at a time.
type pieces struct {
	b []byte
	n int
}

func (p *pieces) Read(buf []byte) (int, error) {
	if len(p.b) == 0 {
		return 0, io.EOF
	}
	k := copy(buf[:min(len(buf), p.n)], p.b)
	p.b = p.b[k:]
	return k, nil
}

// tagPage1000 is a page of 1,000 tags as ACR (and the emulator) sends it.
var tagPage1000 = func() []byte {
	var b bytes.Buffer
	b.WriteString(`{"registry":"myregistry.azurecr.io","imageName":"bench/tags","tags":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"t%05d","digest":"sha256:%064x","createdTime":"2026-12-06T02:42:44.%07dZ","lastUpdateTime":"2026-12-06T02:42:44.%07dZ","signed":false,"changeableAttributes":{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}}`,
			i, i, i*37, i*37)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}()

// BenchmarkDecodeTagPage compares decoding a page of 1,000 tags with
// decodeTagPage and with encoding/json (the wire structs it replaced).
func BenchmarkDecodeTagPage(b *testing.B) {
	b.Run("jsonread", func(b *testing.B) {
		b.SetBytes(int64(len(tagPage1000)))
		for b.Loop() {
			if tags, err := decodeTagPage(nil, tagPage1000, "bench/tags"); err != nil || len(tags) != 1000 {
				b.Fatal(len(tags), err)
			}
		}
	})
	// check is the part of jsonread spent checking the page's names and
	// digests against the grammar (listed.go).
	b.Run("check", func(b *testing.B) {
		tags, err := decodeTagPage(nil, tagPage1000, "bench/tags")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(tagPage1000)))
		for b.Loop() {
			for _, t := range tags {
				if checkListed(listedTag, t.Name) != nil || checkListedDigest(string(t.Digest)) != nil {
					b.Fatal(t)
				}
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(tagPage1000)))
		for b.Loop() {
			var page struct {
				Registry string    `json:"registry"`
				Tags     []wireTag `json:"tags"`
			}
			if err := json.Unmarshal(tagPage1000, &page); err != nil {
				b.Fatal(err)
			}
			out := make([]TagProperties, len(page.Tags))
			for i, t := range page.Tags {
				out[i] = t.properties(page.Registry, "bench/tags")
			}
		}
	})
}

// TestDecodeTagPageForms decodes a page as ACR writes it (the fast path),
// the same page indented and the same page with its fields reordered (key
// by key), and checks all three against encoding/json.
func TestDecodeTagPageForms(t *testing.T) {
	var indented bytes.Buffer
	if err := json.Indent(&indented, tagPage1000, "", "  "); err != nil {
		t.Fatal(err)
	}
	reordered := bytes.ReplaceAll(tagPage1000, []byte(`"signed":false,`), nil)
	reordered = bytes.ReplaceAll(reordered, []byte(`}}`), []byte(`},"signed":false}`))
	var page struct {
		Registry string    `json:"registry"`
		Tags     []wireTag `json:"tags"`
	}
	if err := json.Unmarshal(tagPage1000, &page); err != nil {
		t.Fatal(err)
	}
	var want []TagProperties
	for _, w := range page.Tags {
		want = append(want, w.properties(page.Registry, "bench/tags"))
	}
	for name, body := range map[string][]byte{"as ACR writes it": tagPage1000, "indented": indented.Bytes(), "reordered": reordered} {
		got, err := decodeTagPage(nil, body, "bench/tags")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("%s: differs from encoding/json (-want +got):\n%s", name, d)
		}
	}
}

// BenchmarkDecodeNames compares decoding the OCI tag list of 10,000 tags
// (distribution's answer without n) held whole, as a page, and as a stream
// from a reader.
func BenchmarkDecodeNames(b *testing.B) {
	var body bytes.Buffer
	body.WriteString(`{"name":"bench/tags","tags":[`)
	for i := range 10000 {
		if i > 0 {
			body.WriteByte(',')
		}
		fmt.Fprintf(&body, `"t%05d"`, i)
	}
	body.WriteString("]}\n")
	b.Run("whole", func(b *testing.B) {
		b.SetBytes(int64(body.Len()))
		for b.Loop() {
			if names, err := decodeNames(body.Bytes(), "tags"); err != nil || len(names) != 10000 {
				b.Fatal(len(names), err)
			}
		}
	})
	// check is the part of both spent checking the names against the
	// grammar (listed.go).
	b.Run("check", func(b *testing.B) {
		names, err := decodeNames(body.Bytes(), "tags")
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(body.Len()))
		for b.Loop() {
			if checkListedTags(names) != nil {
				b.Fatal(names)
			}
		}
	})
	b.Run("stream", func(b *testing.B) {
		b.SetBytes(int64(body.Len()))
		for b.Loop() {
			n, _, err := decodeNameStream(bytes.NewReader(body.Bytes()), "tags", func(string, error) bool { return true })
			if err != nil || n != 10000 {
				b.Fatal(n, err)
			}
		}
	})
}
