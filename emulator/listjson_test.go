package emulator

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// TestAppendTagPage checks the hand-made rendering of a tag page against
// encoding/json's rendering of the wire structs.
func TestAppendTagPage(t *testing.T) {
	at := time.Date(2026, 12, 6, 2, 42, 44, 431954300, time.UTC)
	tags := []tagItem{
		{store.Tag{Name: "v1", Digest: digest.FromString("a"), CreatedAt: at, UpdatedAt: at.Add(time.Second),
			Attrs: store.Attributes{DeleteEnabled: true, WriteEnabled: false, ReadEnabled: true, ListEnabled: true}}},
		{store.Tag{Name: "v2.0_rc-1", Digest: digest.FromString("b"), CreatedAt: at.Truncate(time.Second), UpdatedAt: time.Time{}}},
		{store.Tag{Name: "same-time", Digest: digest.FromString("c"), CreatedAt: at, UpdatedAt: at.In(time.FixedZone("y", -7200)),
			Attrs: store.Attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}}},
	}
	for _, pg := range [][]tagItem{nil, tags[:1], tags[:2], tags} {
		list := make([]wireTag, 0, len(pg))
		for _, t := range pg {
			list = append(list, wireTagOf(t.Tag))
		}
		want, err := json.Marshal(struct {
			Registry  string    `json:"registry"`
			ImageName string    `json:"imageName"`
			Tags      []wireTag `json:"tags"`
		}{"reg<&>.example:5000", "team/app", list})
		if err != nil {
			t.Fatal(err)
		}
		if got := appendTagPage(nil, "reg<&>.example:5000", "team/app", pg); string(got) != string(want) {
			t.Errorf("appendTagPage:\n got %s\nwant %s", got, want)
		}
	}
}

// FuzzAppendJSONString checks strings render as encoding/json renders them.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "q\"b\\", "<&>", "\u2028\u2029", "\x00\x1f\t\n", "\xff\xfe", "é😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
		}
	})
}

// TestAppendTime checks appendTime against spec.FormatTime.
func TestAppendTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	times := []time.Time{{}, time.Unix(0, 0), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, time.FixedZone("x", 3600)), time.Date(2026, 1, 2, 3, 4, 5, 99, time.UTC)}
	for range 10000 {
		times = append(times, time.Unix(rng.Int64N(1<<36), rng.Int64N(1e9)))
	}
	// Every year from 0 to 9999, before 1970 too.
	const year0, year10000 = -62167219200, 253402300800
	for range 10000 {
		times = append(times, time.Unix(year0+rng.Int64N(year10000-year0), rng.Int64N(1e9)))
	}
	for _, tm := range times {
		if got, want := string(appendTime(nil, tm)), spec.FormatTime(tm); got != want {
			t.Fatalf("appendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

// TestAppendJSONStringPositions puts each byte that needs an escape (and a
// few that do not) at every offset of strings up to 20 bytes, so that each
// lands in every lane of the eight-byte scan.
func TestAppendJSONStringPositions(t *testing.T) {
	for _, ins := range []string{`"`, `\`, "<", ">", "&", "\x00", "\x1f", "\x7f", "é", "\xff", "\u2028", " ", "~"} {
		for n := range 20 {
			for pre := 0; pre <= n; pre++ {
				s := strings.Repeat("a", pre) + ins + strings.Repeat("b", n-pre)
				want, _ := json.Marshal(s)
				if got := appendJSONString(nil, s); string(got) != string(want) {
					t.Fatalf("appendJSONString(%q) = %s, want %s", s, got, want)
				}
			}
		}
	}
}
