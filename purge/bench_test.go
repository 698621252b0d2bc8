package purge_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/emulator/store"
	"github.com/acrgo/acr/purge"
	"github.com/opencontainers/go-digest"
)

// benchServeEnv makes the test binary serve a populated registry instead
// of running tests, so that the benchmark measures the purge's memory
// without the registry's.
const benchServeEnv = "PURGE_BENCH_SERVE_TAGS"

func TestMain(m *testing.M) {
	if n := os.Getenv(benchServeEnv); n != "" {
		tags, err := strconv.Atoi(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		if err := benchServe(tags); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchServe serves repository "big" with n tags, each on its own image
// manifest, updated ten minutes apart from day 0 on; it prints the URL and
// serves until stdin closes.
func benchServe(n int) error {
	reg, err := emulator.New(&emulator.Options{Now: func() time.Time { return day(200) }})
	if err != nil {
		return err
	}
	defer reg.Close()
	ctx := context.Background()
	s := reg.Store()
	type man struct {
		d    digest.Digest
		body []byte
	}
	mans := make([]man, n)
	for i := range mans {
		body := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[],"annotations":{"n":"%d"}}`, i)
		mans[i] = man{digest.FromBytes(body), body}
		if _, err := s.PutBlob(ctx, mans[i].d, int64(len(body)), bytesReader(body)); err != nil {
			return err
		}
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.PutRepo(store.Repository{Name: "big", CreatedAt: day(0), UpdatedAt: day(0), Attrs: store.DefaultAttributes()}); err != nil {
			return err
		}
		for i, m := range mans {
			at := day(0).Add(time.Duration(i) * 10 * time.Minute)
			if err := tx.PutManifest("big", store.Manifest{Digest: m.d, MediaType: "application/vnd.oci.image.manifest.v1+json",
				Size: int64(len(m.body)), ConfigMediaType: "application/vnd.oci.image.config.v1+json", CreatedAt: at, UpdatedAt: at,
				Attrs: store.DefaultAttributes()}); err != nil {
				return err
			}
			if err := tx.PutTag("big", store.Tag{Name: fmt.Sprintf("build-%05d", i), Digest: m.d, CreatedAt: at, UpdatedAt: at,
				Attrs: store.DefaultAttributes()}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, reg)
	fmt.Println("http://" + ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

type bytesReaderT struct {
	b []byte
	i int
}

func (r *bytesReaderT) Read(p []byte) (int, error) {
	if r.i >= len(r.b) {
		return 0, io.EOF
	}
	n := copy(p, r.b[r.i:])
	r.i += n
	return n, nil
}

func bytesReader(b []byte) io.Reader { return &bytesReaderT{b: b} }

// startBenchServer runs the test binary as a registry with n tags.
func startBenchServer(b *testing.B, n int) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), benchServeEnv+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("bench server: %v", err)
	}
	return line[:len(line)-1]
}

// peakHeap samples the live heap until stop is closed and returns the
// highest reading.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		var peak uint64
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-stop:
				out <- peak
				return
			case <-t.C:
			}
		}
	}()
	return out
}

type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// BenchmarkDryRun20000Tags plans a purge of a repository of 20,000 tags
// (19,990 older than --ago 30d, keep 10) against a registry in another
// process, and reports requests and the purge's peak heap per run.
//
//	go test -run '^$' -bench DryRun20000 -benchtime 3x ./purge/
func BenchmarkDryRun20000Tags(b *testing.B) {
	const tags = 20000
	url := startBenchServer(b, tags)
	for _, tc := range []struct {
		name     string
		untagged bool
		pageSize int
	}{
		{"tags", false, 0},
		{"tags/page=1000", false, 1000},
		{"tags+untagged", true, 0},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ct := &countingTransport{}
			client, err := acr.NewClient(url, nil, &acr.ClientOptions{HTTPClient: &http.Client{Transport: ct}, PageSize: tc.pageSize})
			if err != nil {
				b.Fatal(err)
			}
			// The purge runs at day 150: builds 0..~17,280 are older than 30d.
			opts := purge.Options{Filters: filters("big:build-.*"), Ago: 30 * purge.Day, Keep: 10, Untagged: tc.untagged, DryRun: true,
				Concurrency: 8, Now: func() time.Time { return day(150) }}
			runtime.GC()
			var base metrics.Sample
			base.Name = "/memory/classes/heap/objects:bytes"
			ss := []metrics.Sample{base}
			metrics.Read(ss)
			baseline := ss[0].Value.Uint64()
			stop := make(chan struct{})
			peak := peakHeap(stop)
			var res *purge.Result
			ct.n.Store(0)
			cpu0 := cpuTime()
			for b.Loop() {
				res = nil
				if res, err = purge.Run(context.Background(), client, &opts); err != nil {
					b.Fatal(err)
				}
			}
			cpu := cpuTime() - cpu0
			close(stop)
			p := <-peak
			// What stays live is the Result: the list of what would go.
			runtime.GC()
			metrics.Read(ss)
			retained := ss[0].Value.Uint64()
			b.ReportMetric(float64(ct.n.Load())/float64(b.N), "requests/op")
			b.ReportMetric(float64(p-min(p, baseline))/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(retained-min(retained, baseline))/(1<<20), "result-MB")
			b.ReportMetric(float64(len(res.Deleted)), "deletes/op")
			// The registry runs in another process: this is the purge's CPU.
			b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "client-cpu-ms/op")
		})
	}
}
