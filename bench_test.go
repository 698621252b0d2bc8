package acr_test

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// The benchmarks run the client against the in-process emulator with its
// memory store. Run them with
//
//	go test -run '^$' -bench . -benchtime 3x .
//
// Besides time and MB/s they report:
//   - requests/op: HTTP requests the registry served per listing;
//   - peak-heap-MiB: the most the Go heap (live and not yet collected
//     objects, client and registry together) grew during one transfer,
//     beyond what the registry still holds afterwards (the stored blob);
//   - x-sha256: throughput as a fraction of this machine's single-core
//     SHA-256 throughput (BenchmarkSHA256), the ceiling of a transfer
//     that hashes every byte once.

// benchRegistry serves a fresh emulator, counting requests, until b ends
// or stop is called.
type benchRegistry struct {
	URL      string
	requests atomic.Int64
	stop     func()
}

func newBenchRegistry(b *testing.B, opts *emulator.Options) *benchRegistry {
	b.Helper()
	reg, err := emulator.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	br := &benchRegistry{}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		br.requests.Add(1)
		reg.ServeHTTP(w, r)
	}))
	var once sync.Once
	br.stop = func() { once.Do(func() { hs.Close(); reg.Close() }) }
	b.Cleanup(br.stop)
	br.URL = hs.URL
	return br
}

// BenchmarkListTags lists a repository of 10,000 tags, on the memory and
// the disk store: with their metadata (Tags, /acr/v1, 1,000 a page, ACR's
// most) and names only (TagNames, the OCI tag list), at the default page
// size and at 100 a page (ACR's own default, as acr-cli asks). Besides
// requests/op it reports cpu-ms/op, the CPU time of the process (client
// and registry together) per listing, which a loaded machine inflates less
// than the wall time.
func BenchmarkListTags(b *testing.B) {
	const ntags = 10_000
	for _, st := range []string{"memory", "disk"} {
		b.Run("store="+st, func(b *testing.B) {
			opts := &emulator.Options{Users: map[string]string{authUser: authPassword}}
			if st == "disk" {
				opts.Dir = b.TempDir()
			}
			br := newBenchRegistry(b, opts)
			seed := &seeder{t: b, base: br.URL, user: authUser, pass: authPassword}
			d := seed.image("bench/tags", "amd64", "one")
			m, err := acr.NewClient(br.URL, acr.BasicCredential(authUser, authPassword), nil)
			if err != nil {
				b.Fatal(err)
			}
			img, err := m.GetManifest(b.Context(), "bench/tags", d.String(), nil)
			if err != nil {
				b.Fatal(err)
			}
			for i := range ntags {
				if _, err := m.SetManifest(b.Context(), "bench/tags", img.Bytes, img.MediaType, &acr.SetManifestOptions{Tag: fmt.Sprintf("t%05d", i)}); err != nil {
					b.Fatal(err)
				}
			}
			for _, lc := range []struct {
				name string
				list func(c *acr.Client, pageSize int) iter.Seq2[string, error]
			}{
				{"Tags", func(c *acr.Client, n int) iter.Seq2[string, error] {
					return func(yield func(string, error) bool) {
						for t, err := range c.Tags(b.Context(), "bench/tags", &acr.TagsOptions{PageSize: n}) {
							if !yield(t.Name, err) {
								return
							}
						}
					}
				}},
				{"TagsReadAhead", func(c *acr.Client, n int) iter.Seq2[string, error] {
					return func(yield func(string, error) bool) {
						for t, err := range c.Tags(b.Context(), "bench/tags", &acr.TagsOptions{PageSize: n, ReadAhead: true}) {
							if !yield(t.Name, err) {
								return
							}
						}
					}
				}},
				{"TagNames", func(c *acr.Client, n int) iter.Seq2[string, error] {
					return c.TagNames(b.Context(), "bench/tags", &acr.ListOptions{PageSize: n})
				}},
			} {
				for _, pageSize := range []int{0, 100} {
					b.Run(fmt.Sprintf("%s/PageSize=%d", lc.name, cmp.Or(pageSize, acr.DefaultPageSize)), func(b *testing.B) {
						client, err := acr.NewClient(br.URL, acr.BasicCredential(authUser, authPassword), nil)
						if err != nil {
							b.Fatal(err)
						}
						listAll(b, lc.list(client, pageSize), ntags) // warm: challenge, token
						br.requests.Store(0)
						cpu0 := cpuTime()
						for b.Loop() {
							listAll(b, lc.list(client, pageSize), ntags)
						}
						b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
						b.ReportMetric(float64(br.requests.Load())/float64(b.N), "requests/op")
					})
				}
			}
		})
	}
}

func listAll(b *testing.B, seq iter.Seq2[string, error], want int) {
	n := 0
	for _, err := range seq {
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
	if n != want {
		b.Fatalf("listed %d tags, want %d", n, want)
	}
}

// blobSizes are the sizes of the transfer benchmarks.
var blobSizes = []struct {
	name string
	size int64
}{{"256MiB", 256 << 20}, {"1GiB", 1 << 30}}

// patternReader yields n bytes without holding them: a random 1 MiB block,
// over and over, stamped with a seed so that each blob has its own digest.
type patternReader struct {
	block []byte
	n     int64
	off   int64
}

var patternBlock = func() []byte {
	b := make([]byte, 1<<20)
	r := rand.NewChaCha8([32]byte{1})
	r.Read(b)
	return b
}()

func newPatternReader(n int64, seed uint64) *patternReader {
	block := append([]byte(nil), patternBlock...)
	for i := range 8 {
		block[i] = byte(seed >> (8 * i))
	}
	return &patternReader{block: block, n: n}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	total := 0
	for len(b) > 0 {
		k := copy(b, p.block[p.off%int64(len(p.block)):])
		b, p.off, total = b[k:], p.off+int64(k), total+k
	}
	return total, nil
}

// heapSampler records the peak of the Go heap (live objects and garbage
// not yet collected) while it runs.
type heapSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

const heapMetric = "/memory/classes/heap/objects:bytes"

func heapBytes() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// settledHeap collects garbage and returns the live heap.
func settledHeap() uint64 {
	runtime.GC()
	runtime.GC()
	return heapBytes()
}

func startHeapSampler() *heapSampler {
	hs := &heapSampler{done: make(chan struct{}), peak: heapBytes()}
	hs.wg.Add(1)
	go func() {
		defer hs.wg.Done()
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			if v := heapBytes(); v > hs.peak {
				hs.peak = v
			}
			select {
			case <-hs.done:
				return
			case <-t.C:
			}
		}
	}()
	return hs
}

func (hs *heapSampler) stop() uint64 {
	close(hs.done)
	hs.wg.Wait()
	if v := heapBytes(); v > hs.peak {
		hs.peak = v
	}
	return hs.peak
}

// transferMetrics accumulates the peak heap growth of the iterations.
type transferMetrics struct{ peakGrowth uint64 }

// measure runs one transfer, timed, and records how much the heap grew at
// its peak beyond its baseline and beyond what stays allocated after it.
func (tm *transferMetrics) measure(b *testing.B, transfer func()) {
	base := settledHeap()
	hs := startHeapSampler()
	b.StartTimer()
	transfer()
	b.StopTimer()
	peak := hs.stop()
	after := settledHeap()
	retained := uint64(0)
	if after > base {
		retained = after - base
	}
	if peak > base+retained {
		tm.peakGrowth = max(tm.peakGrowth, peak-base-retained)
	}
}

func (tm *transferMetrics) report(b *testing.B, size int64) {
	b.ReportMetric(float64(tm.peakGrowth)/(1<<20), "peak-heap-MiB")
	if b.Elapsed() > 0 {
		rate := float64(size) * float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(rate/sha256Rate(), "x-sha256")
	}
}

// BenchmarkUploadBlob uploads a blob with the default options to a fresh
// registry per iteration, so that the blobs of earlier iterations do not
// weigh on the heap. The registry shares the machine's cores and hashes
// every byte too; the null-registry variants send to a server that
// discards the bytes unhashed, to show what the client alone costs.
func BenchmarkUploadBlob(b *testing.B) {
	sha256Rate()
	for _, bs := range blobSizes {
		b.Run(bs.name+"/null-registry", func(b *testing.B) {
			hs := httptest.NewServer(nullRegistry{})
			defer hs.Close()
			client, err := acr.NewClient(hs.URL, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(bs.size)
			var tm transferMetrics
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				tm.measure(b, func() {
					if _, err := client.UploadBlob(b.Context(), "bench/up", newPatternReader(bs.size, uint64(i)), nil); err != nil {
						b.Fatal(err)
					}
				})
			}
			tm.report(b, bs.size)
		})
		b.Run(bs.name, func(b *testing.B) {
			b.SetBytes(bs.size)
			var tm transferMetrics
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				br := newBenchRegistry(b, nil)
				client, err := acr.NewClient(br.URL, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				tm.measure(b, func() {
					desc, err := client.UploadBlob(b.Context(), "bench/up", newPatternReader(bs.size, uint64(i)), nil)
					if err != nil || desc.Size != bs.size {
						b.Fatalf("upload: %v (%d bytes)", err, desc.Size)
					}
				})
				br.stop()
			}
			tm.report(b, bs.size)
		})
	}
}

// nullRegistry accepts blob uploads and throws the bytes away: a registry
// of infinite speed, for measuring the client alone.
type nullRegistry struct{}

var nullBufs = sync.Pool{New: func() any { return new([1 << 20]byte) }}

func (nullRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPost:
		w.Header().Set("Location", r.URL.Path+"session")
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPatch:
		buf := nullBufs.Get().(*[1 << 20]byte)
		n, _ := io.CopyBuffer(struct{ io.Writer }{io.Discard}, r.Body, buf[:])
		nullBufs.Put(buf)
		w.Header().Set("Location", r.URL.Path)
		w.Header().Set("Range", fmt.Sprintf("0-%d", n-1)) // not tracked: the client only reads it when resuming
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPut:
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Docker-Content-Digest", r.URL.Query().Get("digest"))
		w.WriteHeader(http.StatusCreated)
	default:
		http.NotFound(w, r)
	}
}

// BenchmarkDownloadBlob streams a blob with DownloadBlob into a 1 MiB
// buffer (a caller copying to a file or socket). BenchmarkDownloadBlobTo
// writes to files.
func BenchmarkDownloadBlob(b *testing.B) {
	sha256Rate()
	for _, bs := range blobSizes {
		br := newBenchRegistry(b, nil)
		client, err := acr.NewClient(br.URL, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		desc, err := client.UploadBlob(b.Context(), "bench/down", newPatternReader(bs.size, 7), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bs.name, func(b *testing.B) {
			b.SetBytes(bs.size)
			var tm transferMetrics
			buf := make([]byte, 1<<20)
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				tm.measure(b, func() { streamBlob(b, client, desc.Digest, buf, bs.size) })
			}
			tm.report(b, bs.size)
		})
		br.stop()
	}
}

func streamBlob(b *testing.B, client *acr.Client, d digest.Digest, buf []byte, size int64) {
	rc, err := client.DownloadBlob(b.Context(), "bench/down", d, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	n, err := io.CopyBuffer(struct{ io.Writer }{io.Discard}, rc, buf)
	if err != nil || n != size {
		b.Fatalf("download: %v (%d bytes)", err, n)
	}
}

// BenchmarkSHA256 measures single-core SHA-256 throughput, the yardstick
// of the transfer benchmarks.
func BenchmarkSHA256(b *testing.B) {
	const size = 256 << 20
	b.SetBytes(size)
	for b.Loop() {
		hashPattern(size)
	}
}

func hashPattern(size int64) {
	h := sha256.New()
	for left := size; left > 0; left -= int64(len(patternBlock)) {
		h.Write(patternBlock[:min(left, int64(len(patternBlock)))])
	}
	h.Sum(nil)
}

// sha256Rate returns this machine's single-core SHA-256 throughput in
// bytes per second, measured once (the best of three runs), before any
// transfer benchmark starts its servers.
var sha256Rate = sync.OnceValue(func() float64 {
	const size = 256 << 20
	best := time.Duration(1 << 62)
	for range 3 {
		start := time.Now()
		hashPattern(size)
		best = min(best, time.Since(start))
	}
	return size / best.Seconds()
})
