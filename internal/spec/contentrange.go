package spec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidRange reports a malformed Content-Range or Range header.
var ErrInvalidRange = errors.New("invalid range")

// ParseUploadRange parses the Content-Range of an upload PATCH. The OCI spec
// writes it as "<start>-<end>" (inclusive); ACR and several clients prefix the
// "bytes " unit and some append "/<total>" or "/*". It returns the inclusive
// range.
func ParseUploadRange(s string) (start, end int64, err error) {
	v := strings.TrimSpace(s)
	if u, ok := strings.CutPrefix(v, "bytes"); ok {
		v = strings.TrimLeft(u, " =")
	}
	if i := strings.IndexByte(v, '/'); i >= 0 {
		total := v[i+1:]
		v = v[:i]
		if total != "*" {
			if _, err := parseUint(total); err != nil {
				return 0, 0, fmt.Errorf("%w %q: total length is not a number", ErrInvalidRange, truncate(s))
			}
		}
	}
	a, b, ok := strings.Cut(v, "-")
	if !ok {
		return 0, 0, fmt.Errorf("%w %q: want START-END, such as 0-1023", ErrInvalidRange, truncate(s))
	}
	if start, err = parseUint(a); err != nil {
		return 0, 0, fmt.Errorf("%w %q: start is not a number", ErrInvalidRange, truncate(s))
	}
	if end, err = parseUint(b); err != nil {
		return 0, 0, fmt.Errorf("%w %q: end is not a number", ErrInvalidRange, truncate(s))
	}
	if end < start {
		return 0, 0, fmt.Errorf("%w %q: end is before start", ErrInvalidRange, truncate(s))
	}
	if end >= MaxRangeEnd {
		// end-start+1 must not overflow: a range this long names no
		// real chunk.
		return 0, 0, fmt.Errorf("%w %q: end is beyond %d", ErrInvalidRange, truncate(s), int64(MaxRangeEnd))
	}
	return start, end, nil
}

// MaxRangeEnd bounds the end of a parsed upload range (4 EiB), so that its
// length end-start+1 is always a positive int64.
const MaxRangeEnd = 1 << 62

// FormatUploadRange formats the Range header a registry returns for an
// upload session holding size bytes: "0-<size-1>", or "0-0" when empty, as
// the distribution spec and ACR do.
func FormatUploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

// ParseContentRange parses the Content-Range of a 206 answer to a download's
// Range request, RFC 9110's "bytes <first>-<last>/<complete-length>", and
// returns the inclusive range and the complete length, or -1 for "*".
func ParseContentRange(s string) (first, last, total int64, err error) {
	v, ok := strings.CutPrefix(s, "bytes ")
	r, t, ok2 := strings.Cut(v, "/")
	a, b, ok3 := strings.Cut(r, "-")
	if !ok || !ok2 || !ok3 {
		return 0, 0, 0, fmt.Errorf("%w %q: want bytes FIRST-LAST/TOTAL", ErrInvalidRange, truncate(s))
	}
	if first, err = parseUint(a); err != nil {
		return 0, 0, 0, fmt.Errorf("%w %q: first byte is not a number", ErrInvalidRange, truncate(s))
	}
	if last, err = parseUint(b); err != nil || last < first {
		return 0, 0, 0, fmt.Errorf("%w %q: last byte is not a number from the first on", ErrInvalidRange, truncate(s))
	}
	if t == "*" {
		return first, last, -1, nil
	}
	if total, err = parseUint(t); err != nil || total <= last {
		return 0, 0, 0, fmt.Errorf("%w %q: complete length is not a number past the last byte", ErrInvalidRange, truncate(s))
	}
	return first, last, total, nil
}

func parseUint(s string) (int64, error) {
	if s == "" || len(s) > 19 {
		return 0, ErrInvalidRange
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, ErrInvalidRange
		}
	}
	return strconv.ParseInt(s, 10, 64)
}
