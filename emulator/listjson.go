package emulator

import (
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/acrgo/acr/internal/spec"
)

// The /acr/v1 tag listing is rendered by hand: a page of 1,000 tags took
// about 1.2 µs a tag through encoding/json and time.Format, most of a
// page's cost (BenchmarkListTags in the root package), and the renderings
// below are byte for byte what encoding/json makes of the wire structs
// (listjson_test.go checks it).

// appendTagPage appends the JSON of a page of ACR's tag listing: the
// encoding/json rendering of struct{Registry, ImageName, Tags []wireTag}.
func appendTagPage(b []byte, registry, repo string, tags []tagItem) []byte {
	b = append(b, `{"registry":`...)
	b = appendJSONString(b, registry)
	b = append(b, `,"imageName":`...)
	b = appendJSONString(b, repo)
	b = append(b, `,"tags":[`...)
	for i, t := range tags {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":`...)
		b = appendJSONString(b, t.Name)
		b = append(b, `,"digest":`...)
		b = appendJSONString(b, t.Digest.String())
		b = append(b, `,"createdTime":"`...)
		b = appendTime(b, t.CreatedAt)
		b = append(b, `","lastUpdateTime":"`...)
		b = appendTime(b, t.UpdatedAt)
		b = append(b, `","signed":false,"changeableAttributes":{"deleteEnabled":`...)
		b = strconv.AppendBool(b, t.Attrs.DeleteEnabled)
		b = append(b, `,"writeEnabled":`...)
		b = strconv.AppendBool(b, t.Attrs.WriteEnabled)
		b = append(b, `,"readEnabled":`...)
		b = strconv.AppendBool(b, t.Attrs.ReadEnabled)
		b = append(b, `,"listEnabled":`...)
		b = strconv.AppendBool(b, t.Attrs.ListEnabled)
		b = append(b, "}}"...)
	}
	return append(b, "]}"...)
}

// appendTime appends spec.FormatTime(t) without time.Format's layout
// interpretation: UTC, 100 ns ticks, trailing zeros of the fraction cut.
func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return append(b, spec.FormatTime(t)...)
	}
	hour, minute, sec := t.Clock()
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	if ticks := t.Nanosecond() / 100; ticks > 0 {
		width := 7
		for ticks%10 == 0 {
			ticks /= 10
			width--
		}
		b = append(b, '.')
		b = appendDigits(b, ticks, width)
	}
	return append(b, 'Z')
}

// appendDigits appends n, which has at most width digits, zero-padded to
// width.
func appendDigits(b []byte, n, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	return append(b, buf[:width]...)
}

// appendJSONString appends s as encoding/json renders a string: quoted,
// with <, > and & escaped for HTML, U+2028 and U+2029 escaped, and invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// writeJSONBytes writes a rendered JSON body as writeJSON writes one.
func writeJSONBytes(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
