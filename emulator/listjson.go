package emulator

import (
	"encoding/binary"
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
		created := len(b)
		b = appendTime(b, t.CreatedAt)
		createdEnd := len(b)
		b = append(b, `","lastUpdateTime":"`...)
		if t.UpdatedAt.Equal(t.CreatedAt) {
			b = append(b, b[created:createdEnd]...) // most tags never moved
		} else {
			b = appendTime(b, t.UpdatedAt)
		}
		if a := t.Attrs; a.DeleteEnabled && a.WriteEnabled && a.ReadEnabled && a.ListEnabled {
			// Most tags have every lock flag on.
			b = append(b, `","signed":false,"changeableAttributes":{"deleteEnabled":true,"writeEnabled":true,"readEnabled":true,"listEnabled":true}}`...)
			continue
		}
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
	secs := t.Unix()
	// Days since 1970-01-01 and the second of the day, rounded down.
	days, sod := secs/86400, secs%86400
	if sod < 0 {
		days, sod = days-1, sod+86400
	}
	year, month, day := civil(days)
	if year < 0 || year > 9999 {
		return append(b, spec.FormatTime(t)...)
	}
	var d [28]byte // 2006-01-02T15:04:05.9999999Z
	put2 := func(i, v int) { d[i], d[i+1] = byte('0'+v/10), byte('0'+v%10) }
	put2(0, year/100)
	put2(2, year%100)
	d[4] = '-'
	put2(5, month)
	d[7] = '-'
	put2(8, day)
	d[10] = 'T'
	put2(11, int(sod/3600))
	d[13] = ':'
	put2(14, int(sod/60%60))
	d[16] = ':'
	put2(17, int(sod%60))
	n := 19
	if ticks := t.Nanosecond() / 100; ticks > 0 {
		d[19] = '.'
		for i := 26; i > 19; i-- {
			d[i] = byte('0' + ticks%10)
			ticks /= 10
		}
		n = 27
		for d[n-1] == '0' {
			n--
		}
	}
	d[n] = 'Z'
	return append(b, d[:n+1]...)
}

// civil returns the date of a day counted from 1970-01-01 in the
// proleptic Gregorian calendar (Howard Hinnant's civil_from_days).
func civil(days int64) (year, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 {
		era = (z - 146096) / 146097
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	month = int(mp + 3)
	if month > 12 {
		month -= 12
	}
	year = int(yoe + era*400)
	if month <= 2 {
		year++
	}
	return year, month, day
}

// appendJSONString appends s as encoding/json renders a string: quoted,
// with <, > and & escaped for HTML, U+2028 and U+2029 escaped, and invalid
// UTF-8 replaced by U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	// Most strings (tag names, digests) need no escape: one pass to tell,
	// eight bytes at a time.
	i := 0
	for i+8 <= len(s) && !needsEscape(binary.LittleEndian.Uint64([]byte(s[i:i+8]))) {
		i += 8
	}
	for i < len(s) && jsonSafe[s[i]] {
		i++
	}
	if i == len(s) {
		b = append(b, s...)
		return append(b, '"')
	}
	start := 0
	for i < len(s) {
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

// needsEscape reports whether any of the eight bytes in w is one that
// jsonSafe does not mark: a control character, not ASCII, a quote, a
// backslash, <, > or &.
func needsEscape(w uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	has := func(c byte) uint64 { x := w ^ (ones * uint64(c)); return (x - ones) &^ x }
	return ((w-ones*0x20)|w|has('"')|has('\\')|has('<')|has('>')|has('&'))&highs != 0
}

// jsonSafe marks the bytes encoding/json writes as they are: ASCII but for
// control characters, the quote, the backslash and <, > and &.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// writeJSONBytes writes a rendered JSON body as writeJSON writes one.
func writeJSONBytes(w http.ResponseWriter, r *http.Request, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}
