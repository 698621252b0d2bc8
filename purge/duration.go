package purge

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
)

// Forever is the age that nothing reaches: Options.Ago set to Forever
// deletes no tag and no manifest by age. ParseDuration returns it for
// values too large to represent.
const Forever = time.Duration(math.MaxInt64)

// Day is 24 hours, the unit "d" of ParseDuration. Calendar days with
// daylight-saving shifts are not modelled.
const Day = 24 * time.Hour

var units = map[string]uint64{
	"ns": uint64(time.Nanosecond),
	"us": uint64(time.Microsecond),
	"µs": uint64(time.Microsecond), // U+00B5 micro sign
	"μs": uint64(time.Microsecond), // U+03BC Greek mu
	"ms": uint64(time.Millisecond),
	"s":  uint64(time.Second),
	"m":  uint64(time.Minute),
	"h":  uint64(time.Hour),
	"d":  uint64(Day),
}

// ParseDuration parses an age such as "30d", "1d12h", "90m" or "0": Go's
// time.ParseDuration syntax plus the unit d for 24 hours. A value too large
// for a time.Duration (about 292 years), such as "100000000d", returns
// Forever, never a wrapped or negative value: acr-cli's --ago 999999d once
// overflowed into "delete everything" (acr-cli#560). Negative ages are an
// error.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func(why string) (time.Duration, error) {
		return 0, errors.New("invalid duration " + strconv.Quote(orig) + ": " + why)
	}
	if strings.HasPrefix(s, "-") {
		return bad("ages cannot be negative")
	}
	s = strings.TrimPrefix(s, "+")
	if s == "0" {
		return 0, nil
	}
	if s == "" {
		return bad("want a number and a unit, such as 30d, 1d12h or 90m")
	}
	var total uint64
	overflow := false
	for s != "" {
		if s[0] != '.' && (s[0] < '0' || s[0] > '9') {
			return bad("want a number before each unit")
		}
		// The integer part.
		var v uint64
		i := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if v > (math.MaxUint64-9)/10 {
				overflow = true
			}
			if !overflow {
				v = v*10 + uint64(s[i]-'0')
			}
		}
		pre := i > 0
		s = s[i:]
		// The fraction, as time.ParseDuration reads it: digits beyond what
		// fits in 63 bits are ignored.
		var f uint64
		scale := 1.0
		post := false
		if s != "" && s[0] == '.' {
			s = s[1:]
			j := 0
			full := false
			for ; j < len(s) && s[j] >= '0' && s[j] <= '9'; j++ {
				if full {
					continue
				}
				if f > (math.MaxInt64)/10 {
					full = true
					continue
				}
				y := f*10 + uint64(s[j]-'0')
				if y > 1<<63 {
					full = true
					continue
				}
				f = y
				scale *= 10
			}
			post = j > 0
			s = s[j:]
		}
		if !pre && !post {
			return bad("want digits around the decimal point")
		}
		j := 0
		for ; j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9'); j++ {
		}
		if j == 0 {
			return bad("missing unit (d, h, m, s, ms, us or ns)")
		}
		unit, ok := units[s[:j]]
		if !ok {
			return bad("unknown unit " + strconv.Quote(s[:j]) + " (use d, h, m, s, ms, us or ns)")
		}
		s = s[j:]
		if overflow {
			continue // keep validating the syntax
		}
		if v > math.MaxInt64/unit {
			overflow = true
			continue
		}
		v *= unit
		if f > 0 {
			v += uint64(float64(f) * (float64(unit) / scale))
			if v > math.MaxInt64 {
				overflow = true
				continue
			}
		}
		total += v
		if total > math.MaxInt64 {
			overflow = true
		}
	}
	if overflow {
		return Forever, nil
	}
	return time.Duration(total), nil
}

// FormatDuration formats an age the way ParseDuration reads it, with days:
// 30d, 1d12h, 90m, 0s, or "forever".
func FormatDuration(d time.Duration) string {
	if d == Forever {
		return "forever"
	}
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	days := d / Day
	rest := d % Day
	switch {
	case days == 0:
		return rest.String()
	case rest == 0:
		return strconv.FormatInt(int64(days), 10) + "d"
	}
	return strconv.FormatInt(int64(days), 10) + "d" + rest.String()
}
