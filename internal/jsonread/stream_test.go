package jsonread

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// chunked delivers b in pieces of 1 to 7 bytes, as a network might.
type chunked struct {
	b []byte
	k int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	c.k = c.k%7 + 1
	n := copy(p[:min(len(p), c.k)], c.b)
	c.b = c.b[n:]
	return n, nil
}

var streamSeeds = []string{`{}`, `[]`, `null`, `true`, `-0.5e+3`, `"a\u00e9\ud83d\ude00"`, `{"a":[1,{"b":null}],"c":"\""}`,
	`{"a":}`, `[1,]`, `01`, `1.`, `"\x01"`, `"\q"`, `{"a" 1}`, `[1 2]`, ` {} x`, `"\ud800"`, "\"\xff\"", `nul`, ``, `{"a":1,}`,
	`1+`, `[-]`, `"\u12"`, `{"tags":["a","b\n",null]}`, `  [ 1 , 2 ]  `}

// FuzzStream checks that a Stream, fed in small pieces, accepts exactly the
// documents that Reader accepts (and so json.Valid), and decodes the
// strings of an array of strings as Reader does.
func FuzzStream(f *testing.F) {
	for _, s := range streamSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewStream(&chunked{b: b}, 1<<20)
		err := s.Skip()
		if err == nil {
			err = s.End()
		}
		if got, want := err == nil, json.Valid(b); got != want {
			t.Fatalf("Stream Skip+End on %q: error %v; json.Valid says %v", b, err, want)
		}
		var re *ReadError
		if errors.As(err, &re) {
			t.Fatalf("Stream on %q: %v; want a syntax error, the reader did not fail", b, err)
		}

		// An array of strings, read both ways.
		read := func(array func(elem func() error) error, str func(dst []byte) ([]byte, bool, error), end func() error) ([]string, error) {
			var out []string
			err := array(func() error {
				v, _, err := str(nil)
				out = append(out, string(v))
				return err
			})
			if err == nil {
				err = end()
			}
			return out, err
		}
		r := New(b)
		want, werr := read(r.Array, r.AppendString, r.End)
		st := NewStream(&chunked{b: b}, 1<<20)
		got, err := read(st.Array, st.AppendString, st.End)
		if (err == nil) != (werr == nil) {
			t.Fatalf("array of strings %q: Stream error %v; Reader error %v", b, err, werr)
		}
		if err == nil && strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Fatalf("array of strings %q: Stream %q; Reader %q", b, got, want)
		}
	})
}

// TestStreamObject reads keys and values across buffer boundaries: a
// document much larger than the Stream's buffer, one byte at a time.
func TestStreamObject(t *testing.T) {
	var doc bytes.Buffer
	doc.WriteString(`{"name":"repo/x","skip":{"a":[1,2.5e3,true,false,null,"\"x\""]},"Tags":[`)
	want := 5000
	for i := range want {
		if i > 0 {
			doc.WriteString(" , ")
		}
		doc.WriteString(`"tag-\u00e9-` + strings.Repeat("x", i%50) + `"`)
	}
	doc.WriteString("]}\n")
	s := NewStream(iotest.OneByteReader(bytes.NewReader(doc.Bytes())), 1<<10)
	n := 0
	err := s.Object(func(key []byte) error {
		if !Match(key, "tags") {
			return s.Skip()
		}
		return s.Array(func() error {
			v, set, err := s.AppendString(nil)
			if err == nil && (!set || !strings.HasPrefix(string(v), "tag-é-") || len(v) != len("tag-é-")+n%50) {
				t.Fatalf("tag %d: got %q", n, v)
			}
			n++
			return err
		})
	})
	if err == nil {
		err = s.End()
	}
	if err != nil || n != want {
		t.Fatalf("got %d tags, %v; want %d, nil", n, err, want)
	}
	if s.Offset() != int64(doc.Len()) {
		t.Errorf("Offset %d at the end; want %d", s.Offset(), doc.Len())
	}
}

// TestStreamErrors checks the errors a Stream tells apart: the reader
// failing, the document cut short, and a string over the limit.
func TestStreamErrors(t *testing.T) {
	cut := errors.New("connection reset")
	doc := `{"tags":["a","b","c"]}`
	for _, tc := range []struct {
		name  string
		r     io.Reader
		max   int
		check func(error) bool
	}{
		{"reader fails", io.MultiReader(strings.NewReader(doc[:12]), iotest.ErrReader(cut)), 100, func(err error) bool {
			var re *ReadError
			return errors.As(err, &re) && errors.Is(err, cut) && re.Offset == 12
		}},
		{"reader fails inside a number", io.MultiReader(strings.NewReader(`[12`), iotest.ErrReader(cut)), 100, func(err error) bool {
			return errors.Is(err, cut)
		}},
		{"document cut short", strings.NewReader(doc[:12]), 100, func(err error) bool {
			var se *SyntaxError
			return errors.As(err, &se)
		}},
		{"string too long", strings.NewReader(`{"tags":["` + strings.Repeat("a", 100) + `"]}`), 50, func(err error) bool {
			return errors.Is(err, ErrTooLong)
		}},
		{"number too long", strings.NewReader(`{"n":` + strings.Repeat("1", 100) + `}`), 50, func(err error) bool {
			return errors.Is(err, ErrTooLong)
		}},
		{"data after the document", strings.NewReader(doc + ` {}`), 100, func(err error) bool {
			var se *SyntaxError
			return errors.As(err, &se)
		}},
		{"wrong type", strings.NewReader(`{"tags":{"a":1}}`), 100, func(err error) bool {
			var te *TypeError
			return errors.As(err, &te)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStream(tc.r, tc.max)
			err := s.Object(func(key []byte) error {
				if string(key) != "tags" {
					return s.Skip()
				}
				return s.Array(func() error { _, _, err := s.AppendString(nil); return err })
			})
			if err == nil {
				err = s.End()
			}
			if err == nil || !tc.check(err) {
				t.Errorf("got %v (%T)", err, err)
			}
		})
	}
}
