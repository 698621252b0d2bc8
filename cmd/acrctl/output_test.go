package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// TestJSONListMatchesWriteJSON checks that a listing streamed through
// jsonList is byte for byte the document writeJSON writes for the whole
// list, for empty, single and longer lists, with characters that HTML
// escaping would change, and that the result is valid JSON.
func TestJSONListMatchesWriteJSON(t *testing.T) {
	when := time.Date(2026, 12, 6, 8, 0, 0, 0, time.UTC)
	all := []tagJSON{
		{Name: "v1", Digest: "sha256:0123", CreatedTime: when, LastUpdateTime: when},
		{Name: "<b>&amp;</b>", ChangeableAttributes: &permissionsJSON{DeleteEnabled: true}},
		{Name: "x\u2028y\"z"},
	}
	for n := 0; n <= len(all); n++ {
		items := all[:n]
		var want, got bytes.Buffer
		if err := writeJSON(&want, struct {
			Registry  string    `json:"registry"`
			ImageName string    `json:"imageName"`
			Tags      []tagJSON `json:"tags"`
		}{"reg<1>.example", "a&b", items}); err != nil {
			t.Fatal(err)
		}
		l := newJSONList(&got, "tags", "registry", "reg<1>.example", "imageName", "a&b")
		for _, it := range items {
			l.add(it)
		}
		if err := l.end(); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Errorf("%d items: streamed\n%s\nwant (writeJSON)\n%s", n, got.String(), want.String())
		}
		if !json.Valid(got.Bytes()) {
			t.Errorf("%d items: not valid JSON:\n%s", n, got.String())
		}
	}
}

// FuzzIndentJSON checks indentJSON against json.Indent on any valid JSON
// document, compacted as encoding/json writes it.
func FuzzIndentJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{},[],{"b":"x\"y\\"}],"c":null}`, `"s"`, `[{"k":"\u2028:,{["}]`, `{"a":{"b":{"c":[true,false]}}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		if !json.Valid(doc) {
			return
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, doc); err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if err := json.Indent(&want, compact.Bytes(), "    ", "  "); err != nil {
			t.Fatal(err)
		}
		if got := indentJSON(nil, compact.Bytes(), "    ", "  "); string(got) != want.String() {
			t.Errorf("indentJSON(%s)\n got %s\nwant %s", compact.Bytes(), got, want.Bytes())
		}
	})
}
