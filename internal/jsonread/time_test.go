package jsonread

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// checkTime compares ReadTime on s (the contents of a JSON string) with
// time.Time.UnmarshalText, which encoding/json uses.
func checkTime(t *testing.T, s string) {
	t.Helper()
	var want time.Time
	werr := want.UnmarshalText([]byte(s))
	var got time.Time
	err := New([]byte(`"` + s + `"`)).ReadTime(&got)
	if (err == nil) != (werr == nil) {
		t.Fatalf("ReadTime(%q) = %v, %v; UnmarshalText: %v, %v", s, got, err, want, werr)
	}
	if err != nil {
		return
	}
	gotZone, gotOffset := got.Zone()
	wantZone, wantOffset := want.Zone()
	// In UTC (parseUTC's times) == rather than Equal: the location and the
	// monotonic reading must match too. Other offsets get a new
	// *time.Location each time.
	if want.Location() == time.UTC && got != want || !got.Equal(want) || gotZone != wantZone || gotOffset != wantOffset {
		t.Fatalf("ReadTime(%q) = %#v; UnmarshalText: %#v", s, got, want)
	}
}

func TestReadTimeMatchesUnmarshalText(t *testing.T) {
	for _, s := range []string{
		"2024-01-24T06:16:01.7676267Z", "2024-01-24T06:16:01Z", "2024-01-24T06:16:01.1Z", "2024-01-24T06:16:01.123456789Z",
		"2024-01-24T06:16:01.1234567891Z", "2024-01-24T06:16:01.Z", "2024-01-24T06:16:01,5Z", "2024-01-24T06:16:01z",
		"2024-01-24t06:16:01Z", "2024-01-24T06:16:01+00:00", "2024-01-24T06:16:01.5+02:00", "2024-01-24 06:16:01Z",
		"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1969-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2000-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2100-02-29T00:00:00Z",
		"2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2024-04-31T00:00:00Z", "2024-13-01T00:00:00Z", "2024-00-01T00:00:00Z",
		"2024-01-00T00:00:00Z", "2024-01-32T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:60Z",
		"2024-1-01T00:00:00Z", "20240-01-01T00:00:00Z", "+024-01-01T00:00:00Z", "2024-01-01T00:00:0aZ", "2024-01-01T00:00:00.1a2Z",
		"", "Z", "2024-01-01T00:00:00",
	} {
		checkTime(t, s)
	}
}

// TestReadTimeRandom compares every form parseUTC reads with
// UnmarshalText over random dates, fractions of every length and a few
// out-of-range fields.
func TestReadTimeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		s := fmt.Sprintf("%04d-%02d-%02dT%02d:%02d:%02d", rng.IntN(10000), rng.IntN(14), rng.IntN(33), rng.IntN(25), rng.IntN(61), rng.IntN(61))
		if k := rng.IntN(11); k > 0 {
			s += "." + fmt.Sprintf("%010d", rng.Uint64N(1e10))[:k]
		}
		checkTime(t, s+"Z")
	}
}

func FuzzReadTime(f *testing.F) {
	for _, s := range []string{"2024-01-24T06:16:01.7676267Z", "2024-02-29T00:00:00Z", "2024-01-24T06:16:01+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range []byte(s) {
			if c < 0x20 || c == '"' || c == '\\' {
				return // not the contents of a plain JSON string
			}
		}
		checkTime(t, s)
	})
}

func BenchmarkReadTime(b *testing.B) {
	doc := []byte(`"2024-01-24T06:16:01.7676267Z"`)
	b.Run("parseUTC", func(b *testing.B) {
		var tm time.Time
		for b.Loop() {
			if err := New(doc).ReadTime(&tm); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("UnmarshalText", func(b *testing.B) {
		var tm time.Time
		for b.Loop() {
			if err := tm.UnmarshalText(doc[1 : len(doc)-1]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestParseUTCForms checks which forms take the fast path; the others are
// left to UnmarshalText.
func TestParseUTCForms(t *testing.T) {
	for s, want := range map[string]bool{
		"2024-01-24T06:16:01.7676267Z": true, "2024-01-24T06:16:01Z": true, "2024-01-24T06:16:01.123456789Z": true,
		"2024-01-24T06:16:01.1234567891Z": false, "2024-01-24T06:16:01+00:00": false, "2024-02-30T06:16:01Z": false,
	} {
		if _, ok := parseUTC([]byte(s)); ok != want {
			t.Errorf("parseUTC(%q) ok = %v, want %v", s, ok, want)
		}
	}
}
