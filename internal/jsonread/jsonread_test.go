package jsonread

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzSkip checks that Skip and End accept exactly the documents that
// encoding/json's Valid accepts.
func FuzzSkip(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `null`, `true`, `-0.5e+3`, `"a\u00e9\ud83d\ude00"`, `{"a":[1,{"b":null}],"c":"\""}`,
		`{"a":}`, `[1,]`, `01`, `1.`, `"\x01"`, `"\q"`, `{"a" 1}`, `[1 2]`, ` {} x`, `"\ud800"`, "\"\xff\"", `nul`, ``, `{"a":1,}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := New(b)
		err := r.Skip()
		if err == nil {
			err = r.End()
		}
		if got, want := err == nil, json.Valid(b); got != want {
			t.Fatalf("Skip+End on %q: error %v; json.Valid says %v", b, err, want)
		}
	})
}

// FuzzReadString checks that strings decode as encoding/json decodes them.
func FuzzReadString(f *testing.F) {
	for _, s := range []string{`"plain"`, `"\u00e9\n\t\"\\\/"`, `"\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800"`, "\"\xff\xfe\"", `null`, `"\u0000"`, `5`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want string
		werr := json.Unmarshal(b, &want)
		got := ""
		r := New(b)
		err := r.ReadString(&got)
		if err == nil {
			err = r.End()
		}
		if (err == nil) != (werr == nil) {
			t.Fatalf("ReadString(%q) = %q, %v; encoding/json: %q, %v", b, got, err, want, werr)
		}
		if err == nil && got != want {
			t.Fatalf("ReadString(%q) = %q; encoding/json: %q", b, got, want)
		}
	})
}

func TestReadValues(t *testing.T) {
	doc := `{"n": -42, "t": "2026-12-06T02:42:44.4319543Z", "b": false, "s": "x", "nt": null, "big": 9223372036854775808}`
	r := New([]byte(doc))
	var n int64
	var tm time.Time
	var s string
	var b, bset bool
	var bigErr error
	err := r.Object(func(key []byte) error {
		switch string(key) {
		case "n":
			return r.ReadInt(&n)
		case "t":
			return r.ReadTime(&tm)
		case "b":
			var err error
			b, bset, err = r.Bool()
			return err
		case "S": // matched case-insensitively below
		case "nt":
			tm2 := tm
			if err := r.ReadTime(&tm2); err != nil || !tm2.Equal(tm) {
				t.Errorf("null time: %v, %v; want it left as it was", tm2, err)
			}
			return nil
		case "big":
			var v int64
			bigErr = r.ReadInt(&v)
			return nil
		}
		if Match(key, "S") {
			return r.ReadString(&s)
		}
		return r.Skip()
	})
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2026, 12, 6, 2, 42, 44, 431954300, time.UTC)
	if n != -42 || !tm.Equal(want) || b || !bset || s != "x" {
		t.Errorf("got n=%d t=%v b=%v set=%v s=%q", n, tm, b, bset, s)
	}
	var te *TypeError
	if !errors.As(bigErr, &te) {
		t.Errorf("an integer over 64 bits: %v, want a *TypeError", bigErr)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct {
		doc, want string
		read      func(r *Reader) error
	}{
		{`{"a":1`, "want ',' or '}'", func(r *Reader) error { return r.Object(func([]byte) error { return r.Skip() }) }},
		{`[1,2`, "want ',' or ']'", func(r *Reader) error { return r.Array(r.Skip) }},
		{`"abc`, "unterminated string", func(r *Reader) error { var s string; return r.ReadString(&s) }},
		{`5`, "want a string", func(r *Reader) error { var s string; return r.ReadString(&s) }},
		{`"yesterday"`, "want an RFC 3339 time", func(r *Reader) error { var tm time.Time; return r.ReadTime(&tm) }},
		{`{} {}`, "data after the top-level value", func(r *Reader) error { r.Skip(); return r.End() }},
		{strings.Repeat("[", maxDepth+2), "nested too deep", func(r *Reader) error { return r.Skip() }},
	} {
		err := tc.read(New([]byte(tc.doc)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.20q: error %v, want one saying %q", tc.doc, err, tc.want)
		}
	}
}

// TestStringScanning puts each kind of byte that ends the eight-byte scan
// (quote, backslash escape, control character, non-ASCII, invalid UTF-8)
// at every offset of strings up to 20 bytes, and checks ReadString and
// Skip against encoding/json.
func TestStringScanning(t *testing.T) {
	for _, ins := range []string{`"`, `\"`, `\\`, `\u00e9`, `\ud83d\ude00`, "\x01", "\x1f", "é", "\xff", "\u2028", `\q`, `\u12`, " "} {
		for n := range 20 {
			for pre := 0; pre <= n; pre++ {
				body := strings.Repeat("a", pre) + ins + strings.Repeat("b", n-pre)
				doc := []byte(`"` + body + `"`)
				var want string
				werr := json.Unmarshal(doc, &want)
				var got string
				r := New(doc)
				err := r.ReadString(&got)
				if err == nil {
					err = r.End()
				}
				if (err == nil) != (werr == nil) || err == nil && got != want {
					t.Fatalf("ReadString(%q) = %q, %v; encoding/json: %q, %v", doc, got, err, want, werr)
				}
				r = New(doc)
				app, set, err := r.AppendString([]byte("x"))
				if err == nil {
					err = r.End()
				}
				if (err == nil) != (werr == nil) || err == nil && (string(app) != "x"+want || !set) {
					t.Fatalf("AppendString(%q) = %q, %v, %v; encoding/json: %q, %v", doc, app, set, err, want, werr)
				}
				r = New(doc)
				err = r.Skip()
				if err == nil {
					err = r.End()
				}
				if (err == nil) != json.Valid(doc) {
					t.Fatalf("Skip(%q): %v; json.Valid says %v", doc, err, json.Valid(doc))
				}
			}
		}
	}
}
