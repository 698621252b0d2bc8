package purge_test

import (
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/purge"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "0", want: 0},
		{in: "+0", want: 0},
		{in: "0d", want: 0},
		{in: "30d", want: 30 * purge.Day},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "12h1d", want: 36 * time.Hour},
		{in: "1.5d", want: 36 * time.Hour},
		{in: ".5d", want: 12 * time.Hour},
		{in: "90m", want: 90 * time.Minute},
		{in: "1h30m10s", want: time.Hour + 30*time.Minute + 10*time.Second},
		{in: "10ms", want: 10 * time.Millisecond},
		{in: "3us", want: 3 * time.Microsecond},
		{in: "3µs", want: 3 * time.Microsecond},
		{in: "3μs", want: 3 * time.Microsecond},
		{in: "7ns", want: 7},
		{in: "106751d", want: 106751 * purge.Day},                       // 292 years: representable
		{in: "106752d", want: purge.Forever},                            // one day more: not
		{in: "100000000d", want: purge.Forever},                         // acr-cli#560
		{in: "999999999999999999999999999999d", want: purge.Forever},    // beyond uint64
		{in: "9223372036854775807ns", want: purge.Forever},              // exactly MaxInt64
		{in: "9223372036854775808ns", want: purge.Forever},              // one more
		{in: "2562047h47m16.854775807s", want: purge.Forever},           // MaxInt64 again
		{in: "2562047h47m16.854775808s", want: purge.Forever},           // over, by the fraction
		{in: "1d" + strings.Repeat("9", 40) + "h", want: purge.Forever}, // overflow mid-way
		{in: "0.000000000000000000000000001d", want: 0},                 // long fraction
		{in: "-1d", err: true},
		{in: "-0", err: true},
		{in: "", err: true},
		{in: "d", err: true},
		{in: "30", err: true},
		{in: "30 d", err: true},
		{in: "30days", err: true},
		{in: "1y", err: true},
		{in: ".d", err: true},
		{in: "1..5d", err: true},
		{in: "100000000dx", err: true}, // overflowing and invalid: invalid wins
		{in: "+", err: true},
	}
	for _, tt := range tests {
		got, err := purge.ParseDuration(tt.in)
		if tt.err {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                "0s",
		90 * time.Minute: "1h30m0s",
		30 * purge.Day:   "30d",
		36 * time.Hour:   "1d12h0m0s",
		purge.Forever:    "forever",
		-30 * purge.Day:  "-30d",
		purge.Day + 1:    "1d1ns",
	} {
		if got := purge.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %q, want %q", d, got, want)
		}
		if d >= 0 && d != purge.Forever {
			if back, err := purge.ParseDuration(purge.FormatDuration(d)); err != nil || back != d {
				t.Errorf("ParseDuration(FormatDuration(%v)) = %v, %v", d, back, err)
			}
		}
	}
}

// FuzzParseDuration: never a panic, never a negative value; Go's syntax
// means what Go says, overflow means Forever, and days are 24 hours.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"0", "30d", "1d12h", "1.5h", "100000000d", "9223372036854775807ns", "-1h", ".5d", "1µs", "+3m", "2562047h47m16.854775808s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := purge.ParseDuration(s)
		if err != nil {
			return
		}
		if got < 0 {
			t.Fatalf("ParseDuration(%q) = %v: negative", s, got)
		}
		if strings.ContainsRune(s, 'd') {
			// Replacing each day by 24h must agree, up to overflow.
			return
		}
		want, goErr := time.ParseDuration(s)
		switch {
		case goErr == nil && want != got:
			t.Fatalf("ParseDuration(%q) = %v, time.ParseDuration says %v", s, got, want)
		case goErr != nil && got != purge.Forever:
			t.Fatalf("ParseDuration(%q) = %v, but time.ParseDuration refuses it (%v)", s, got, goErr)
		}
	})
}

// FuzzParseDurationDays: a number of days means that many 24 hours, or
// Forever when that does not fit.
func FuzzParseDurationDays(f *testing.F) {
	f.Add(uint64(30), "12h")
	f.Add(uint64(100000000), "")
	f.Add(uint64(106751), "23h47m16.854775807s")
	f.Fuzz(func(t *testing.T, days uint64, rest string) {
		s := uintString(days) + "d" + rest
		got, err := purge.ParseDuration(s)
		if rest == "" && err != nil {
			t.Fatalf("ParseDuration(%q): %v", s, err)
		}
		if err != nil {
			return
		}
		restD := time.Duration(0)
		if rest != "" {
			var err error
			if restD, err = purge.ParseDuration(rest); err != nil {
				return // rest alone is invalid, e.g. a leading '+'
			}
		}
		const maxDays = uint64(purge.Forever / purge.Day)
		if days > maxDays || restD == purge.Forever || time.Duration(days)*purge.Day > purge.Forever-restD {
			if got != purge.Forever {
				t.Fatalf("ParseDuration(%q) = %v, want Forever", s, got)
			}
			return
		}
		if want := time.Duration(days)*purge.Day + restD; got != want && !(want == purge.Forever && got == purge.Forever) {
			t.Fatalf("ParseDuration(%q) = %v, want %v", s, got, want)
		}
	})
}

func uintString(n uint64) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}
