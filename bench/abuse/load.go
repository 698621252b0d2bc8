package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	ociManifest = "application/vnd.oci.image.manifest.v1+json"
	ociIndex    = "application/vnd.oci.image.index.v1+json"
	ociConfig   = "application/vnd.oci.image.config.v1+json"
	ociLayer    = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// ackImage is an image whose manifest the registry acknowledged (201),
// with the blobs it acknowledged for it.
type ackImage struct {
	Repo     string   `json:"repo"`
	Tag      string   `json:"tag"`
	Manifest string   `json:"manifest"`
	Blobs    []string `json:"blobs"`
}

// ledger is every acknowledged write of a run, to be read back at its end
// (and, with -ledger/-verify, after a restart).
type ledger struct {
	mu     sync.Mutex
	Images []ackImage `json:"images"`
}

func (l *ledger) add(a ackImage) {
	l.mu.Lock()
	l.Images = append(l.Images, a)
	l.mu.Unlock()
}

func (l *ledger) write(path string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func readLedger(path string) (*ledger, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var l ledger
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if len(l.Images) == 0 {
		return nil, fmt.Errorf("%s holds no acknowledged images", path)
	}
	return &l, nil
}

// image is one small image of the load: a config, two layers and a
// manifest naming them.
type image struct {
	repo, tag      string
	config         []byte
	layers         [][]byte
	manifest       []byte
	manifestDigest string
}

// makeImage builds client i's image j. The first layer is shared by every
// fourth client, so that several clients upload the same blob at about the
// same time; the second is random and the client's own.
func makeImage(i, j, layerMax int, rng *rand.Rand) image {
	im := image{repo: fmt.Sprintf("load/r%d", i%8), tag: fmt.Sprintf("c%02d-i%03d", i, j)}
	im.config = fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{"Labels":{"client":"%d","image":"%d","nonce":"%d"}}}`,
		i, j, rng.Uint64())
	shared := make([]byte, layerMax/2+1)
	seed := rand.New(rand.NewPCG(uint64(i%4), uint64(j)))
	for k := range shared {
		shared[k] = byte(seed.Uint32())
	}
	own := make([]byte, 1+rng.IntN(layerMax))
	for k := range own {
		own[k] = byte(rng.Uint32())
	}
	im.layers = [][]byte{shared, own}
	var b strings.Builder
	fmt.Fprintf(&b, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[`,
		ociManifest, ociConfig, digestOf(im.config), len(im.config))
	for k, l := range im.layers {
		if k > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"mediaType":%q,"digest":%q,"size":%d}`, ociLayer, digestOf(l), len(l))
	}
	fmt.Fprintf(&b, `],"annotations":{"org.opencontainers.image.ref.name":%q}}`, im.tag)
	im.manifest = []byte(b.String())
	im.manifestDigest = digestOf(im.manifest)
	return im
}

// loadFailures collects the load's failures: the first few are printed in
// full, the rest counted.
type loadFailures struct {
	n       atomic.Int64
	mu      sync.Mutex
	printed []string
}

func (f *loadFailures) add(format string, args ...any) {
	f.n.Add(1)
	f.mu.Lock()
	if len(f.printed) < 12 {
		f.printed = append(f.printed, fmt.Sprintf(format, args...))
	}
	f.mu.Unlock()
}

func (s *suite) loadPhase(ctx context.Context) {
	var fails loadFailures
	var pushed, pulled, verifiedBytes atomic.Int64
	var before, after [6]int64
	var took time.Duration
	row := s.measure(fmt.Sprintf("load: %d clients x %d images", s.cfg.clients, s.cfg.images), time.Second, func() {
		before = s.counts.snapshot()
		t0 := time.Now()
		defer func() { took, after = time.Since(t0), s.counts.snapshot() }()
		var wg sync.WaitGroup
		for i := range s.cfg.clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
				for j := range s.cfg.images {
					if ctx.Err() != nil {
						return
					}
					im := makeImage(i, j, s.cfg.layerMax, rng)
					if !s.push(ctx, im, j, &fails) {
						continue
					}
					pushed.Add(1)
					if n, ok := s.pull(ctx, im, j, &fails); ok {
						pulled.Add(1)
						verifiedBytes.Add(n)
					}
				}
			})
		}
		wg.Wait()
	})
	want := int64(s.cfg.clients * s.cfg.images)
	reqs := after[0] - before[0]
	s.check(fails.n.Load() == 0 && pushed.Load() == want && pulled.Load() == want,
		fmt.Sprintf("load: %d of %d images pushed, %d pulled back byte-exact (%.1f MiB checked against their digests)",
			pushed.Load(), want, pulled.Load(), float64(verifiedBytes.Load())/(1<<20)),
		"%d failures", fails.n.Load())
	for _, p := range fails.printed {
		fmt.Println("       ", p)
	}
	s.check(after[4]-before[4] == 0 && after[5]-before[5] == 0,
		fmt.Sprintf("load: %d requests (%.0f/s), no 5xx, no transport error", reqs, float64(reqs)/took.Seconds()),
		"%d 5xx, %d transport errors", after[4]-before[4], after[5]-before[5])
	s.check(after[3]-before[3] == s.headMisses.Load(),
		fmt.Sprintf("load: the only 4xx answers are the %d HEADs of shared layers not pushed yet", s.headMisses.Load()),
		"%d 4xx answers", after[3]-before[3])
	row.limitKiB, row.limitOf = int64(s.cfg.rssLimitMiB)<<10, "peak"
	s.check(row.peak <= row.limitKiB, fmt.Sprintf("load: server peak RSS %s, at most %d MiB", mib(row.peak), s.cfg.rssLimitMiB),
		"over the limit")
	s.addMem(row)
	s.note("load: %d requests in %.1f s (%.0f/s)", reqs, took.Seconds(), float64(reqs)/took.Seconds())
}

// push uploads im's blobs in three styles (monolithic POST, POST then PUT,
// POST, two PATCHes and an empty PUT) and then its manifest by tag.
func (s *suite) push(ctx context.Context, im image, j int, f *loadFailures) bool {
	c := s.c
	var acked []string
	// The config: one monolithic POST.
	d := digestOf(im.config)
	if r := c.do(ctx, "POST", "/v2/"+im.repo+"/blobs/uploads/?digest="+d, im.config, "Content-Type", "application/octet-stream"); r.status != http.StatusCreated {
		f.add("monolithic upload of %s: %s", d, r)
		return false
	}
	acked = append(acked, d)
	// The shared layer: HEAD first, as docker does; POST then PUT with the
	// body when absent.
	d = digestOf(im.layers[0])
	if r := c.do(ctx, "HEAD", "/v2/"+im.repo+"/blobs/"+d, nil); r.status == http.StatusNotFound {
		s.headMisses.Add(1)
		r := c.do(ctx, "POST", "/v2/"+im.repo+"/blobs/uploads/", nil)
		loc := r.header.Get("Location")
		if r.status != http.StatusAccepted || loc == "" {
			f.add("start upload: %s", r)
			return false
		}
		r = c.do(ctx, "PUT", withDigest(loc, d), im.layers[0], "Content-Type", "application/octet-stream")
		if r.status != http.StatusCreated || r.header.Get("Docker-Content-Digest") != d {
			f.add("complete upload of %s: %s", d, r)
			return false
		}
	} else if r.status != http.StatusOK {
		f.add("HEAD blob %s: %s", d, r)
		return false
	}
	acked = append(acked, d)
	// The client's own layer in two chunks.
	l := im.layers[1]
	d = digestOf(l)
	r := c.do(ctx, "POST", "/v2/"+im.repo+"/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusAccepted || loc == "" {
		f.add("start upload: %s", r)
		return false
	}
	half := len(l) / 2
	for _, part := range [][2]int{{0, half}, {half, len(l)}} {
		if part[0] == part[1] {
			continue
		}
		r = c.do(ctx, "PATCH", loc, l[part[0]:part[1]], "Content-Type", "application/octet-stream",
			"Content-Range", fmt.Sprintf("%d-%d", part[0], part[1]-1))
		want := fmt.Sprintf("0-%d", part[1]-1)
		if r.status != http.StatusAccepted || r.header.Get("Range") != want || r.header.Get("Location") == "" {
			f.add("chunk %d-%d of %s: %s (Range %q, want %q)", part[0], part[1]-1, d, r, r.header.Get("Range"), want)
			return false
		}
		loc = r.header.Get("Location")
	}
	r = c.do(ctx, "PUT", withDigest(loc, d), nil)
	if r.status != http.StatusCreated || r.header.Get("Docker-Content-Digest") != d {
		f.add("complete chunked upload of %s: %s", d, r)
		return false
	}
	acked = append(acked, d)
	r = c.do(ctx, "PUT", "/v2/"+im.repo+"/manifests/"+im.tag, im.manifest, "Content-Type", ociManifest)
	if r.status != http.StatusCreated || r.header.Get("Docker-Content-Digest") != im.manifestDigest {
		f.add("PUT manifest %s:%s: %s (digest %q, want %s)", im.repo, im.tag, r, r.header.Get("Docker-Content-Digest"), im.manifestDigest)
		return false
	}
	s.ack.add(ackImage{Repo: im.repo, Tag: im.tag, Manifest: im.manifestDigest, Blobs: acked})
	return true
}

func withDigest(loc, d string) string {
	if strings.Contains(loc, "?") {
		return loc + "&digest=" + d
	}
	return loc + "?digest=" + d
}

// pull reads im back by tag and every blob by digest, checking each body
// against its digest and the bytes pushed. It returns the bytes checked.
func (s *suite) pull(ctx context.Context, im image, j int, f *loadFailures) (int64, bool) {
	c := s.c
	var n int64
	r := c.do(ctx, "GET", "/v2/"+im.repo+"/manifests/"+im.tag, nil, "Accept", ociManifest+", "+ociIndex)
	if r.status != http.StatusOK || !bytes.Equal(r.body, im.manifest) || r.header.Get("Docker-Content-Digest") != im.manifestDigest {
		f.add("GET manifest %s:%s: %s (digest %q, want %s; body %s)", im.repo, im.tag, r, r.header.Get("Docker-Content-Digest"),
			im.manifestDigest, map[bool]string{true: "identical", false: "differs"}[bytes.Equal(r.body, im.manifest)])
		return n, false
	}
	n += int64(len(r.body))
	if r := c.do(ctx, "HEAD", "/v2/"+im.repo+"/manifests/"+im.manifestDigest, nil, "Accept", ociManifest); r.status != http.StatusOK ||
		r.header.Get("Content-Length") != strconv.Itoa(len(im.manifest)) {
		f.add("HEAD manifest %s@%s: %s (Content-Length %q)", im.repo, im.manifestDigest, r, r.header.Get("Content-Length"))
		return n, false
	}
	for k, b := range append([][]byte{im.config}, im.layers...) {
		d := digestOf(b)
		r := c.do(ctx, "GET", "/v2/"+im.repo+"/blobs/"+d, nil)
		if r.status != http.StatusOK || digestOf(r.body) != d {
			f.add("GET blob %d of %s:%s (%s): %s, body digest %s", k, im.repo, im.tag, d, r, digestOf(r.body))
			return n, false
		}
		n += int64(len(r.body))
	}
	if l := im.layers[1]; j%5 == 0 && len(l) > 10 {
		// A ranged read, as resuming clients do.
		d := digestOf(l)
		r := c.do(ctx, "GET", "/v2/"+im.repo+"/blobs/"+d, nil, "Range", "bytes=1-9")
		if r.status != http.StatusPartialContent || !bytes.Equal(r.body, l[1:10]) ||
			r.header.Get("Content-Range") != fmt.Sprintf("bytes 1-9/%d", len(l)) {
			f.add("GET blob %s Range bytes=1-9: %s (Content-Range %q)", d, r, r.header.Get("Content-Range"))
			return n, false
		}
	}
	return n, true
}

// verifyLedger reads back every acknowledged write: each tag still names
// its manifest, each manifest and blob reads back whole under its digest,
// and each tag is listed.
func (s *suite) verifyLedger(ctx context.Context, l *ledger) {
	var lost, read atomic.Int64
	var mu sync.Mutex
	var examples []string
	lose := func(format string, args ...any) {
		lost.Add(1)
		mu.Lock()
		if len(examples) < 12 {
			examples = append(examples, fmt.Sprintf(format, args...))
		}
		mu.Unlock()
	}
	work := make(chan ackImage)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for a := range work {
				r := s.c.do(ctx, "GET", "/v2/"+a.Repo+"/manifests/"+a.Tag, nil, "Accept", ociManifest+", "+ociIndex)
				if r.status != http.StatusOK || digestOf(r.body) != a.Manifest {
					lose("tag %s:%s (acknowledged as %s): %s, body digest %s", a.Repo, a.Tag, a.Manifest, r, digestOf(r.body))
					continue
				}
				r = s.c.do(ctx, "GET", "/v2/"+a.Repo+"/manifests/"+a.Manifest, nil, "Accept", ociManifest+", "+ociIndex)
				if r.status != http.StatusOK || digestOf(r.body) != a.Manifest {
					lose("manifest %s@%s: %s", a.Repo, a.Manifest, r)
					continue
				}
				read.Add(2)
				for _, d := range a.Blobs {
					r := s.c.do(ctx, "GET", "/v2/"+a.Repo+"/blobs/"+d, nil)
					if r.status != http.StatusOK || digestOf(r.body) != d {
						lose("blob %s@%s: %s, body digest %s", a.Repo, d, r, digestOf(r.body))
						continue
					}
					read.Add(1)
				}
			}
		})
	}
	for _, a := range l.Images {
		work <- a
	}
	close(work)
	wg.Wait()
	// Every acknowledged tag is listed.
	want := map[string]map[string]bool{}
	for _, a := range l.Images {
		if want[a.Repo] == nil {
			want[a.Repo] = map[string]bool{}
		}
		want[a.Repo][a.Tag] = true
	}
	for repo, tags := range want {
		got, err := s.listTags(ctx, repo)
		if err != nil {
			lose("list tags of %s: %v", repo, err)
			continue
		}
		for t := range tags {
			if !got[t] {
				lose("tag %s:%s is not in its repository's tag list", repo, t)
			}
		}
	}
	s.check(lost.Load() == 0, fmt.Sprintf("verify: %d acknowledged images (%d tags, manifests and blobs) read back intact and listed",
		len(l.Images), read.Load()), "%d acknowledged writes lost or changed", lost.Load())
	for _, e := range examples {
		fmt.Println("       ", e)
	}
}

// listTags returns a repository's tags, following every page.
func (s *suite) listTags(ctx context.Context, repo string) (map[string]bool, error) {
	tags := map[string]bool{}
	path := "/v2/" + repo + "/tags/list?n=1000"
	for range 10000 {
		r := s.c.do(ctx, "GET", path, nil)
		if r.status != http.StatusOK {
			return nil, fmt.Errorf("%s", r)
		}
		var body struct{ Tags []string }
		if err := json.Unmarshal(r.body, &body); err != nil {
			return nil, fmt.Errorf("%s: %v", r, err)
		}
		for _, t := range body.Tags {
			tags[t] = true
		}
		if path = nextLink(r.header); path == "" {
			return tags, nil
		}
	}
	return nil, fmt.Errorf("tags of %s: more than 10,000 pages", repo)
}
