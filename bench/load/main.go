// Command load is W6 of bench/run.sh: many clients at once against one
// registry, as a team's CI loads it. Each of -clients clients pushes then
// pulls -images small images in turn: a config and two layers of
// -min..-max bytes (random, incompressible), each uploaded with POST then
// PUT ?digest=, and a manifest PUT by tag; then the manifest GET by tag and
// the three blobs GET by digest, each body checked against its digest.
//
//	load -url http://127.0.0.1:5000 -pid 1234
//
// It records every request's latency and prints one line of
// tab-separated key=value fields: the wall time, images and requests per
// second, p50, p99 and the slowest request, and (with -pid) the server's
// peak resident set (VmHWM in /proc/PID/status) after the run. Any failed
// request or corrupt body makes it exit 1 after printing the first few.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	manifestType = "application/vnd.oci.image.manifest.v1+json"
	configType   = "application/vnd.oci.image.config.v1+json"
	layerType    = "application/vnd.oci.image.layer.v1.tar"
)

type config struct {
	url              string
	pid              int
	clients, images  int
	minSize, maxSize int
	repos            int
	timeout          time.Duration
	latencies        string
}

func main() {
	var c config
	flag.StringVar(&c.url, "url", "", "registry base URL, http://HOST:PORT")
	flag.IntVar(&c.pid, "pid", 0, "the server's process id, to read its peak RSS after the run")
	flag.IntVar(&c.clients, "clients", 32, "concurrent clients")
	flag.IntVar(&c.images, "images", 50, "images each client pushes then pulls")
	flag.IntVar(&c.minSize, "min", 4<<10, "smallest layer, bytes")
	flag.IntVar(&c.maxSize, "max", 64<<10, "largest layer, bytes")
	flag.IntVar(&c.repos, "repos", 8, "repositories the clients share (client i pushes to load/r<i mod repos>)")
	flag.DurationVar(&c.timeout, "timeout", 5*time.Minute, "the whole run's time limit")
	flag.StringVar(&c.latencies, "latencies", "", "write every request's method, kind and milliseconds to this file")
	flag.Parse()
	if !strings.HasPrefix(c.url, "http://") {
		log.Fatal("load: -url must be http://HOST:PORT (a loopback benchmark registry)")
	}
	if c.clients < 1 || c.images < 1 || c.repos < 1 || c.minSize < 1 || c.maxSize < c.minSize {
		log.Fatal("load: -clients, -images and -repos must be at least 1, and 1 <= -min <= -max")
	}
	c.url = strings.TrimSuffix(c.url, "/")
	if err := run(c); err != nil {
		log.Fatalf("load: %v", err)
	}
}

// sample is one request's outcome.
type sample struct {
	kind string
	d    time.Duration
}

// image is one image of the load, with its blobs' digests.
type image struct {
	repo, tag string
	blobs     [][]byte // config, layer, layer
	digests   []string
	manifest  []byte
	mdigest   string
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func makeImage(c config, i, j int, rng *rand.Rand) image {
	im := image{repo: fmt.Sprintf("load/r%d", i%c.repos), tag: fmt.Sprintf("c%02d-i%03d", i, j)}
	cfg := fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{"Labels":{"client":"%d","image":"%d","nonce":"%d"}}}`,
		i, j, rng.Uint64())
	im.blobs = [][]byte{cfg}
	for range 2 {
		b := make([]byte, c.minSize+rng.IntN(c.maxSize-c.minSize+1))
		for k := 0; k+8 <= len(b); k += 8 {
			v := rng.Uint64()
			for x := range 8 {
				b[k+x] = byte(v >> (8 * x))
			}
		}
		im.blobs = append(im.blobs, b)
	}
	for _, b := range im.blobs {
		im.digests = append(im.digests, digestOf(b))
	}
	var m strings.Builder
	fmt.Fprintf(&m, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[`,
		manifestType, configType, im.digests[0], len(cfg))
	for k := 1; k < 3; k++ {
		if k > 1 {
			m.WriteByte(',')
		}
		fmt.Fprintf(&m, `{"mediaType":%q,"digest":%q,"size":%d}`, layerType, im.digests[k], len(im.blobs[k]))
	}
	m.WriteString(`]}`)
	im.manifest = []byte(m.String())
	im.mdigest = digestOf(im.manifest)
	return im
}

// worker is one client: its own samples, so that recording takes no lock.
type worker struct {
	c       config
	hc      *http.Client
	samples []sample
}

// do sends one request and reads the whole response, recording the time
// from sending to the last byte of the body.
func (w *worker) do(ctx context.Context, kind, method, url string, body []byte, hdr ...string) (*http.Response, []byte, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, r)
	if err != nil {
		return nil, nil, err
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	t0 := time.Now()
	resp, err := w.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	w.samples = append(w.samples, sample{kind, time.Since(t0)})
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: reading the body: %w", method, url, err)
	}
	return resp, b, nil
}

func (w *worker) push(ctx context.Context, im image) error {
	for k, b := range im.blobs {
		resp, _, err := w.do(ctx, "blob-post", "POST", w.c.url+"/v2/"+im.repo+"/blobs/uploads/", nil)
		if err != nil {
			return err
		}
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusAccepted || loc == "" {
			return fmt.Errorf("POST upload in %s: %s (Location %q)", im.repo, resp.Status, loc)
		}
		if strings.HasPrefix(loc, "/") {
			loc = w.c.url + loc
		}
		sep := "?"
		if strings.Contains(loc, "?") {
			sep = "&"
		}
		resp, _, err = w.do(ctx, "blob-put", "PUT", loc+sep+"digest="+im.digests[k], b, "Content-Type", "application/octet-stream")
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("PUT blob %s: %s", im.digests[k], resp.Status)
		}
	}
	resp, _, err := w.do(ctx, "manifest-put", "PUT", w.c.url+"/v2/"+im.repo+"/manifests/"+im.tag, im.manifest, "Content-Type", manifestType)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated || resp.Header.Get("Docker-Content-Digest") != im.mdigest {
		return fmt.Errorf("PUT manifest %s:%s: %s (digest %q, want %s)", im.repo, im.tag, resp.Status,
			resp.Header.Get("Docker-Content-Digest"), im.mdigest)
	}
	return nil
}

func (w *worker) pull(ctx context.Context, im image) error {
	resp, b, err := w.do(ctx, "manifest-get", "GET", w.c.url+"/v2/"+im.repo+"/manifests/"+im.tag, nil, "Accept", manifestType)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !bytes.Equal(b, im.manifest) {
		return fmt.Errorf("GET manifest %s:%s: %s (body identical: %v)", im.repo, im.tag, resp.Status, bytes.Equal(b, im.manifest))
	}
	for k, d := range im.digests {
		resp, b, err := w.do(ctx, "blob-get", "GET", w.c.url+"/v2/"+im.repo+"/blobs/"+d, nil)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK || !bytes.Equal(b, im.blobs[k]) {
			return fmt.Errorf("GET blob %s: %s, body digest %s", d, resp.Status, digestOf(b))
		}
	}
	return nil
}

func run(c config) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		MaxIdleConns:        2 * c.clients,
		MaxIdleConnsPerHost: 2 * c.clients,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	defer tr.CloseIdleConnections()
	// Check the registry answers before the clock starts.
	resp, err := tr.RoundTrip(must(http.NewRequestWithContext(ctx, "GET", c.url+"/v2/", nil)))
	if err != nil {
		return fmt.Errorf("the registry at %s does not answer: %w", c.url, err)
	}
	resp.Body.Close()

	// Images are made before the clock starts: hashing is the client's
	// work, not the registry's.
	images := make([][]image, c.clients)
	for i := range c.clients {
		rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
		for j := range c.images {
			images[i] = append(images[i], makeImage(c, i, j, rng))
		}
	}
	workers := make([]*worker, c.clients)
	errs := make([]error, c.clients)
	var done atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range c.clients {
		workers[i] = &worker{c: c, hc: &http.Client{Transport: tr}}
		wg.Go(func() {
			<-start
			for _, im := range images[i] {
				if err := workers[i].push(ctx, im); err != nil {
					errs[i] = fmt.Errorf("client %d: %w", i, err)
					return
				}
				if err := workers[i].pull(ctx, im); err != nil {
					errs[i] = fmt.Errorf("client %d: %w", i, err)
					return
				}
				done.Add(1)
			}
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)
	if err := errors.Join(errs...); err != nil {
		return err
	}

	var all []time.Duration
	byKind := map[string][]time.Duration{}
	for _, w := range workers {
		for _, s := range w.samples {
			all = append(all, s.d)
			byKind[s.kind] = append(byKind[s.kind], s.d)
		}
	}
	if c.latencies != "" {
		var b bytes.Buffer
		for _, w := range workers {
			for _, s := range w.samples {
				fmt.Fprintf(&b, "%s\t%.3f\n", s.kind, float64(s.d)/float64(time.Millisecond))
			}
		}
		if err := os.WriteFile(c.latencies, b.Bytes(), 0o644); err != nil {
			return err
		}
	}
	slices.Sort(all)
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }
	fields := []string{
		"secs=" + fmt.Sprintf("%.2f", wall.Seconds()),
		"images=" + fmt.Sprint(done.Load()),
		"requests=" + fmt.Sprint(len(all)),
		"images_per_s=" + fmt.Sprintf("%.0f", float64(done.Load())/wall.Seconds()),
		"requests_per_s=" + fmt.Sprintf("%.0f", float64(len(all))/wall.Seconds()),
		"p50_ms=" + ms(quantile(all, 0.50)),
		"p99_ms=" + ms(quantile(all, 0.99)),
		"max_ms=" + ms(all[len(all)-1]),
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		v := byKind[k]
		slices.Sort(v)
		fields = append(fields, k+"_p99_ms="+ms(quantile(v, 0.99)))
	}
	if c.pid > 0 {
		kib, err := peakRSS(c.pid)
		if err != nil {
			return err
		}
		fields = append(fields, "server_peak_kib="+fmt.Sprint(kib))
	}
	fmt.Println(strings.Join(fields, "\t"))
	return nil
}

// quantile returns the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// peakRSS reads VmHWM, in KiB, from /proc/PID/status.
func peakRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading the server's peak RSS: %w", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib); err != nil {
				return 0, fmt.Errorf("VmHWM line %q: %w", line, err)
			}
			return kib, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status has no VmHWM line", pid)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
