package emulator

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

// BenchmarkACRTagPages serves the ten 1,000-tag pages of ACR's tag listing
// of a repository of 10,000 tags (bench/run.sh's W4), in process, without
// the network: the server's share of a listing. Run it with
//
//	go test -run '^$' -bench ACRTagPages -benchtime 20x -benchmem ./emulator
func BenchmarkACRTagPages(b *testing.B) {
	const ntags = 10_000
	for _, st := range []string{"memory", "disk"} {
		b.Run("store="+st, func(b *testing.B) {
			opts := &Options{}
			if st == "disk" {
				opts.Dir = b.TempDir()
			}
			s, err := New(opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			serve := func(method, target, body string, hdr ...string) *discard {
				r := httptest.NewRequest(method, target, strings.NewReader(body))
				for i := 0; i+1 < len(hdr); i += 2 {
					r.Header.Set(hdr[i], hdr[i+1])
				}
				w := &discard{header: http.Header{}}
				s.ServeHTTP(w, r)
				if w.code >= 300 {
					b.Fatalf("%s %s: status %d", method, target, w.code)
				}
				return w
			}
			cfg := digest.FromString("{}")
			serve("POST", "/v2/bench/tags/blobs/uploads/?digest="+cfg.String(), "{}")
			manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[]}`, cfg)
			for i := range ntags {
				serve("PUT", fmt.Sprintf("/v2/bench/tags/manifests/t%05d", i), manifest, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
			}
			cpu0 := cpuTime()
			for b.Loop() {
				next, pages := "/acr/v1/bench%2Ftags/_tags?n=1000", 0
				for next != "" {
					w := serve("GET", next, "")
					pages++
					next, _, _ = strings.Cut(strings.TrimPrefix(w.Header().Get("Link"), "<"), ">")
				}
				if pages != ntags/1000 {
					b.Fatalf("%d pages, want %d", pages, ntags/1000)
				}
			}
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

// discard is a ResponseWriter that keeps the status and headers and counts
// the body's bytes.
type discard struct {
	header http.Header
	code   int
	n      int
}

func (d *discard) Header() http.Header { return d.header }

func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discard) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += len(b)
	return len(b), nil
}
