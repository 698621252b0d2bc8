package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// maxManifest is the largest manifest the registry accepts (ACR's and the
// emulator's 4 MiB): a bomb fills it.
const maxManifest = 4 << 20

// wideBomb is a manifest of almost maxManifest bytes whose array (layers
// of an image manifest, or manifests of an index) holds about 1.4 million
// empty descriptors: cheap to send, expensive to decode naively.
func wideBomb(index bool) []byte {
	var b strings.Builder
	b.Grow(maxManifest)
	if index {
		fmt.Fprintf(&b, `{"schemaVersion":2,"mediaType":%q,"manifests":[{}`, ociIndex)
	} else {
		fmt.Fprintf(&b, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":1},"layers":[{}`,
			ociManifest, ociConfig, digestOf([]byte("c")))
	}
	for b.Len() < maxManifest-8 {
		b.WriteString(",{}")
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func (s *suite) bombPhase(ctx context.Context) {
	const repo = "abuse/bomb"
	bombs := [2][]byte{wideBomb(false), wideBomb(true)}
	var mu sync.Mutex
	var bad []string
	refused := 0
	row := s.measure(fmt.Sprintf("bomb: %d rounds of %d x 4 MiB at once", s.cfg.bombRounds, s.cfg.bombs), time.Second, func() {
		for round := range s.cfg.bombRounds {
			var wg sync.WaitGroup
			for k := range s.cfg.bombs {
				wg.Go(func() {
					kind := k % 2
					mt := []string{ociManifest, ociIndex}[kind]
					r := s.c.do(ctx, "PUT", fmt.Sprintf("/v2/%s/manifests/bomb-%d-%d", repo, round, k), bombs[kind], "Content-Type", mt)
					code, isOCI := r.errorCode()
					mu.Lock()
					defer mu.Unlock()
					if r.status >= 400 && r.status < 500 && isOCI && r.err == nil {
						refused++
						return
					}
					bad = append(bad, fmt.Sprintf("%s (code %q)", r, code))
				})
			}
			wg.Wait()
		}
	})
	n := s.cfg.bombs * s.cfg.bombRounds
	s.check(refused == n, fmt.Sprintf("bomb: %d wide JSON bombs (image manifests and indexes of ~1.4 million {}) refused with a 4xx OCI error", n),
		"%d refused properly; %s", refused, strings.Join(bad, "; "))
	r := s.c.do(ctx, "GET", "/v2/"+repo+"/tags/list", nil)
	s.check(r.status == http.StatusNotFound, "bomb: nothing stored (its repository does not exist)", "%s", r)
	row.limitKiB, row.limitOf = int64(s.cfg.deltaLimitMiB)<<10, "peak-before"
	s.check(row.peak-row.before <= row.limitKiB,
		fmt.Sprintf("bomb: server RSS grew %s at its peak (%s -> %s), at most %d MiB; %.1f s of server CPU",
			signedMiB(row.peak-row.before), mib(row.before), mib(row.peak), s.cfg.deltaLimitMiB, row.cpu.Seconds()),
		"over the limit")
	s.addMem(row)
}

// listingPhase stores manifests with large annotations, then lists them
// and reads the repository's properties: what the server holds afterwards
// must not grow with the annotations (issue 16: +400-560 MiB, held).
func (s *suite) listingPhase(ctx context.Context) {
	const repo = "abuse/annotated"
	cfgBlob := []byte(`{"architecture":"amd64","os":"linux"}`)
	cd := digestOf(cfgBlob)
	if r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+cd, cfgBlob); r.status != http.StatusCreated {
		s.fail("listing: upload the config: %s", r)
		return
	}
	pushed := 0
	push := s.measure(fmt.Sprintf("listing setup: push %d x %.1f MB", s.cfg.annotated, float64(s.cfg.annotationBytes)/1e6), 0, func() {
		big := strings.Repeat("a", s.cfg.annotationBytes)
		var mu sync.Mutex
		var wg sync.WaitGroup
		work := make(chan int)
		for range 4 {
			wg.Go(func() {
				for i := range work {
					m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[],`+
						`"annotations":{"n":"%d","big":%q}}`, ociManifest, ociConfig, cd, len(cfgBlob), i, big)
					r := s.c.do(ctx, "PUT", fmt.Sprintf("/v2/%s/manifests/a%03d", repo, i), m, "Content-Type", ociManifest)
					mu.Lock()
					if r.status == http.StatusCreated {
						pushed++
					} else {
						s.fail("listing: push manifest %d (%d bytes): %s", i, len(m), r)
					}
					mu.Unlock()
				}
			})
		}
		for i := range s.cfg.annotated {
			work <- i
		}
		close(work)
		wg.Wait()
	})
	s.addMem(push)
	if pushed != s.cfg.annotated {
		return
	}
	s.ok("listing: %d manifests with %.1f MB of annotations each stored (%.0f MB in all)", pushed,
		float64(s.cfg.annotationBytes)/1e6, float64(pushed*s.cfg.annotationBytes)/1e6)
	row := s.measure(fmt.Sprintf("listing: 3 listings, a walk, properties (%d x %.1f MB)", pushed, float64(s.cfg.annotationBytes)/1e6),
		s.cfg.settle, func() {
			for _, order := range []string{"", "&orderby=timedesc", "&orderby=timeasc"} {
				r := s.c.do(ctx, "GET", "/acr/v1/"+repo+"/_manifests?n=1"+order, nil)
				var body struct {
					Manifests []json.RawMessage `json:"manifests"`
				}
				ok := r.status == http.StatusOK && json.Unmarshal(r.body, &body) == nil && len(body.Manifests) == 1
				s.check(ok, fmt.Sprintf("listing: GET /acr/v1/%s/_manifests?n=1%s answers one manifest (%d bytes)", repo, order, len(r.body)),
					"%s", r)
			}
			seen, pages := map[string]bool{}, 0
			path := "/acr/v1/" + repo + "/_manifests?n=1&orderby=timedesc"
			for path != "" && pages <= pushed+1 {
				r := s.c.do(ctx, "GET", path, nil)
				var body struct {
					Manifests []struct{ Digest string } `json:"manifests"`
				}
				if r.status != http.StatusOK || json.Unmarshal(r.body, &body) != nil {
					s.fail("listing: walk page %d: %s", pages, r)
					break
				}
				for _, m := range body.Manifests {
					seen[m.Digest] = true
				}
				pages++
				path = nextLink(r.header)
			}
			s.check(len(seen) == pushed, fmt.Sprintf("listing: a walk one manifest at a time by timedesc sees all %d (%d pages)", pushed, pages),
				"saw %d distinct manifests in %d pages", len(seen), pages)
			r := s.c.do(ctx, "GET", "/acr/v1/"+repo, nil)
			var props struct {
				ManifestCount, TagCount int
			}
			ok := r.status == http.StatusOK && json.Unmarshal(r.body, &props) == nil
			s.check(ok && props.ManifestCount == pushed && props.TagCount == pushed,
				fmt.Sprintf("listing: GET /acr/v1/%s counts %d manifests and %d tags", repo, pushed, pushed),
				"got %+v: %s", props, r)
		})
	row.limitKiB, row.limitOf = int64(s.cfg.deltaLimitMiB)<<10, "after-before"
	s.check(row.after-row.before <= row.limitKiB,
		fmt.Sprintf("listing: server RSS %s %v after the listings (%s -> %s; peak %s), at most %d MiB",
			signedMiB(row.after-row.before), s.cfg.settle, mib(row.before), mib(row.after), signedMiB(row.peak-row.before), s.cfg.deltaLimitMiB),
		"over the limit")
	s.addMem(row)
}
