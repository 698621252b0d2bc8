package jsonread

import (
	"errors"
	"fmt"
	"io"
)

// Stream reads one JSON document from an io.Reader as it arrives, in
// bounded memory: a listing of a million names is decoded without being
// held whole. It offers the reads of [Reader] that such listings need
// (objects, arrays, strings, null, skipped values), with the same grammar
// checks and the same decoding. Strings and numbers are held whole while
// they are read, up to the Stream's maximum token length.
//
// A failure of the underlying reader is returned as a *ReadError, so that
// callers can tell a body that broke off from a malformed document (a
// *SyntaxError, *TypeError or ErrDepth). The reader ending (io.EOF) inside
// the document is a syntax error: the document is cut short. A Stream is
// not safe for concurrent use.
type Stream struct {
	rd   io.Reader
	buf  []byte // buf[i:n] is read and not yet consumed
	i, n int
	off  int64 // the document offset of buf[0]
	eof  bool  // the reader returned io.EOF
	err  error // the reader's other error, once returned
	tok  []byte
	str  []byte
	max  int
}

// ReadError is a failure of the reader under a Stream: the document broke
// off for a reason other than its syntax.
type ReadError struct {
	Offset int64 // bytes of the document read before the failure
	Err    error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("jsonread: reading the document failed at byte %d: %v", e.Offset, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// ErrTooLong reports a string or number longer than the Stream's maximum
// token length.
var ErrTooLong = errors.New("jsonread: a string or number is longer than the limit")

// streamBuf is the size of a Stream's read buffer.
const streamBuf = 16 << 10

// NewStream returns a Stream of the document rd delivers. maxToken bounds
// the bytes of one string or number (as sent, escapes included); longer
// ones fail with ErrTooLong.
func NewStream(rd io.Reader, maxToken int) *Stream {
	return &Stream{rd: rd, buf: make([]byte, streamBuf), max: maxToken}
}

// Offset returns the number of the document's bytes consumed so far.
func (s *Stream) Offset() int64 { return s.off + int64(s.i) }

// more reads more of the document into the buffer, keeping buf[i:n], and
// reports whether it got any. It returns false at the
// document's end and after a read error (s.err).
func (s *Stream) more() bool {
	if s.eof || s.err != nil {
		return false
	}
	if s.i == s.n {
		s.off += int64(s.n)
		s.i, s.n = 0, 0
	}
	if s.n == len(s.buf) {
		// Every read consumes what it scans before asking for more, so
		// this keeps at most a few bytes of whitespace.
		copy(s.buf, s.buf[s.i:s.n])
		s.off += int64(s.i)
		s.n -= s.i
		s.i = 0
	}
	for range 100 {
		k, err := s.rd.Read(s.buf[s.n:])
		s.n += k
		if err == io.EOF {
			s.eof = true
		} else if err != nil {
			s.err = err
		}
		if k > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	s.err = io.ErrNoProgress
	return false
}

// fail returns the error for the document ending where a value was due:
// the reader's error, or a syntax error when the document is cut short.
func (s *Stream) fail(msg string) error {
	if s.err != nil {
		return &ReadError{Offset: s.Offset(), Err: s.err}
	}
	return s.syntax(msg)
}

func (s *Stream) syntax(msg string) error {
	return &SyntaxError{Offset: int(s.Offset()), msg: "jsonread: " + msg}
}

// peek skips whitespace and returns the next byte, without consuming it;
// ok is false at the document's end or after a read error.
func (s *Stream) peek() (c byte, ok bool) {
	for {
		for s.i < s.n {
			if c := s.buf[s.i]; c > ' ' || c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				return c, true
			}
			s.i++
		}
		if !s.more() {
			return 0, false
		}
	}
}

// expect returns the next byte, failing with msg at the document's end.
func (s *Stream) expect(msg string) (byte, error) {
	c, ok := s.peek()
	if !ok {
		return 0, s.fail(msg)
	}
	return c, nil
}

// End checks that nothing but whitespace follows the document, reading the
// reader to its end.
func (s *Stream) End() error {
	if _, ok := s.peek(); ok {
		return s.syntax("data after the top-level value")
	}
	if s.err != nil {
		return &ReadError{Offset: s.Offset(), Err: s.err}
	}
	return nil
}

// Null consumes a null and reports whether the next value was one.
func (s *Stream) Null() (bool, error) {
	c, err := s.expect("unexpected end of the document")
	if err != nil || c != 'n' {
		return false, err
	}
	return true, s.literal("null")
}

func (s *Stream) literal(lit string) error {
	for j := 0; j < len(lit); j++ {
		if s.i == s.n && !s.more() {
			return s.fail("invalid literal")
		}
		if s.buf[s.i] != lit[j] {
			return s.syntax("invalid literal")
		}
		s.i++
	}
	return nil
}

// Object reads an object, calling member for each key; member must read or
// skip the value. A null is read as an empty object. The key is valid only
// until member reads the value.
func (s *Stream) Object(member func(key []byte) error) error {
	if null, err := s.Null(); null || err != nil {
		return err
	}
	c, _ := s.peek()
	if c != '{' {
		return s.typeErr("an object")
	}
	s.i++
	if c, err := s.expect("unexpected end in an object"); err != nil || c == '}' {
		if err == nil {
			s.i++
		}
		return err
	}
	for {
		c, err := s.expect("unexpected end in an object")
		if err != nil {
			return err
		}
		if c != '"' {
			return s.syntax("want a string key")
		}
		if err := s.scanString(); err != nil {
			return err
		}
		s.str = unquote(s.str[:0], s.tok)
		if c, err := s.expect("unexpected end in an object"); err != nil || c != ':' {
			if err == nil {
				err = s.syntax("want ':' after an object key")
			}
			return err
		}
		s.i++
		if err := member(s.str); err != nil {
			return err
		}
		switch c, err := s.expect("unexpected end in an object"); {
		case err != nil:
			return err
		case c == ',':
			s.i++
		case c == '}':
			s.i++
			return nil
		default:
			return s.syntax("want ',' or '}' in an object")
		}
	}
}

// Array reads an array, calling elem for each element; elem must read or
// skip it. A null is read as an empty array: use Null first to tell them
// apart.
func (s *Stream) Array(elem func() error) error {
	if null, err := s.Null(); null || err != nil {
		return err
	}
	c, _ := s.peek()
	if c != '[' {
		return s.typeErr("an array")
	}
	s.i++
	if c, err := s.expect("unexpected end in an array"); err != nil || c == ']' {
		if err == nil {
			s.i++
		}
		return err
	}
	for {
		if _, err := s.expect("unexpected end in an array"); err != nil {
			return err
		}
		if err := elem(); err != nil {
			return err
		}
		switch c, err := s.expect("unexpected end in an array"); {
		case err != nil:
			return err
		case c == ',':
			s.i++
		case c == ']':
			s.i++
			return nil
		default:
			return s.syntax("want ',' or ']' in an array")
		}
	}
}

// typeErr reports a value of the wrong type, after checking that the value
// is at least valid JSON (a syntax error takes precedence).
func (s *Stream) typeErr(want string) error {
	at := s.Offset()
	if err := s.Skip(); err != nil {
		return err
	}
	return &TypeError{Offset: int(at), Want: want}
}

// AppendString appends a string's decoded contents to dst, and reports
// whether there was one: null appends nothing and reports false.
func (s *Stream) AppendString(dst []byte) ([]byte, bool, error) {
	if null, err := s.Null(); null || err != nil {
		return dst, false, err
	}
	if c, _ := s.peek(); c != '"' {
		return dst, false, s.typeErr("a string")
	}
	if err := s.scanString(); err != nil {
		return dst, false, err
	}
	return unquote(dst, s.tok), true, nil
}

// scanString consumes a string at the read position, checking it, and
// leaves its contents between the quotes, escapes as sent, in s.tok.
func (s *Stream) scanString() error {
	s.i++ // the opening quote
	s.tok = s.tok[:0]
	escaped := false
	for {
		start := s.i
		for s.i < s.n {
			c := s.buf[s.i]
			if escaped {
				escaped = false
			} else if c == '\\' {
				escaped = true
			} else if c == '"' {
				s.tok = append(s.tok, s.buf[start:s.i]...)
				s.i++
				return s.checkString()
			} else if c < 0x20 {
				return s.syntax("control character in a string")
			}
			s.i++
		}
		s.tok = append(s.tok, s.buf[start:s.i]...)
		if len(s.tok) > s.max {
			return ErrTooLong
		}
		if !s.more() {
			return s.fail("unterminated string")
		}
	}
}

// checkString checks the escapes of the string in s.tok, which ends just
// before the read position.
func (s *Stream) checkString() error {
	if len(s.tok) > s.max {
		return ErrTooLong
	}
	b := s.tok
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++
		switch b[i] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			if i+4 >= len(b) || !isHex4(b[i+1:i+5]) {
				return &SyntaxError{Offset: int(s.Offset()) - 1 - len(b) + i, msg: "jsonread: invalid \\u escape in a string"}
			}
			i += 4
		default:
			return &SyntaxError{Offset: int(s.Offset()) - 1 - len(b) + i, msg: "jsonread: invalid escape in a string"}
		}
	}
	return nil
}

// number consumes a number literal, checking it.
func (s *Stream) number() error {
	s.tok = s.tok[:0]
	for {
		for s.i < s.n {
			switch c := s.buf[s.i]; {
			case c >= '0' && c <= '9', c == '-', c == '+', c == '.', c == 'e', c == 'E':
				s.tok = append(s.tok, c)
				s.i++
				if len(s.tok) > s.max {
					return ErrTooLong
				}
				continue
			}
			return s.checkNumber()
		}
		if !s.more() {
			if s.err != nil {
				return &ReadError{Offset: s.Offset(), Err: s.err}
			}
			return s.checkNumber()
		}
	}
}

// checkNumber checks the number literal in s.tok with Reader's grammar.
func (s *Stream) checkNumber() error {
	r := Reader{b: s.tok}
	if _, err := r.number(); err != nil || r.i != len(s.tok) {
		return &SyntaxError{Offset: int(s.Offset()) - len(s.tok) + r.i, msg: "jsonread: invalid number"}
	}
	return nil
}

// Skip consumes any one value, checking its syntax.
func (s *Stream) Skip() error { return s.skip(0) }

func (s *Stream) skip(depth int) error {
	if depth > maxDepth {
		return ErrDepth
	}
	c, err := s.expect("unexpected end of the document")
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		return s.Object(func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		return s.Array(func() error { return s.skip(depth + 1) })
	case c == '"':
		return s.scanString()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	}
	return s.syntax("invalid character")
}
