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
	return start, end, nil
}

// FormatUploadRange formats the Range header a registry returns for an
// upload session holding size bytes: "0-<size-1>", or "0-0" when empty, as
// the distribution spec and ACR do.
func FormatUploadRange(size int64) string {
	if size <= 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
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
