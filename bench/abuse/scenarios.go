package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// rawHTTP sends what net/http's client refuses to: lengths that lie,
// malformed framing and oversized headers.
func (h *hostileRun) rawHTTP() {
	s, base, ctx := h.s, h.base, h.ctx
	c := s.c
	chunk := []byte(strings.Repeat("z", 64<<10))
	d := digestOf(chunk)
	h.inputs++
	r := c.raw(ctx, fmt.Sprintf("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nContent-Length: %d", base, d, int64(1)<<50), chunk)
	s.refusedAny("monolithic upload claiming 1 PiB, 64 KiB sent, then EOF", r, []int{400, 413})
	h.absent("monolithic upload claiming 1 PiB: nothing stored", base, d)

	rs := c.do(ctx, "POST", "/v2/"+base+"/blobs/uploads/", nil)
	loc := rs.header.Get("Location")
	if rs.status != http.StatusAccepted || loc == "" {
		s.fail("start an upload session: %s", rs)
	} else {
		h.sessions = append(h.sessions, loc)
		h.inputs++
		r = c.raw(ctx, fmt.Sprintf("PATCH %s HTTP/1.1\r\nContent-Length: 9223372036854775807\r\nContent-Range: 0-9223372036854775806", loc), chunk)
		s.refusedAny("chunk claiming 2^63-1 bytes, 64 KiB sent, then EOF", r, []int{400, 413, 416})
		st := c.do(ctx, "GET", loc, nil)
		s.check(st.status == http.StatusNoContent && (st.header.Get("Range") == "0-0" || st.header.Get("Range") == "0-65535"),
			"chunk claiming 2^63-1 bytes: the session holds nothing, or what arrived", "%s (Range %q)", st, st.header.Get("Range"))
	}
	h.inputs++
	r = c.raw(ctx, fmt.Sprintf("PUT /v2/%s/manifests/huge HTTP/1.1\r\nContent-Type: %s\r\nContent-Length: %d", base, ociManifest, int64(1)<<40),
		[]byte(`{"schemaVersion":2,`))
	s.refusedAny("manifest claiming 1 TiB", r, []int{400, 413}, "MANIFEST_INVALID", "SIZE_INVALID")
	h.inputs++
	r = c.raw(ctx, fmt.Sprintf("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nTransfer-Encoding: chunked", base, d),
		[]byte("zz\r\nnot a chunk\r\n"))
	s.refusedAny("monolithic upload with a malformed chunk size", r, []int{400})
	h.inputs++
	s.exception("Content-Length: abc", exceptionHTTP,
		c.raw(ctx, fmt.Sprintf("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nContent-Length: abc", base, d), []byte("abc")))
	h.inputs++
	s.exception("two different Content-Lengths", exceptionHTTP,
		c.raw(ctx, fmt.Sprintf("POST /v2/%s/blobs/uploads/?digest=%s HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4", base, d), []byte("abcd")))
	h.inputs++
	s.exception("a 1.1 MB header", exceptionHTTP,
		c.raw(ctx, "GET /v2/ HTTP/1.1\r\nX-Pad: "+strings.Repeat("p", 1100<<10), nil))
}

// referrerChain pushes an image and a chain of referrers, each the
// subject of the next, then deletes the image: 202 and everything gone
// (issue 16: 500 past 16 levels). via is "acr" (DELETE
// /acr/v1/{name}/_manifests/{digest}) or "v2" (DELETE
// /v2/{name}/manifests/{digest}).
func (h *hostileRun) referrerChain(via string) {
	s, ctx := h.s, h.ctx
	repo := "abuse/chain-" + via
	what := fmt.Sprintf("referrer chain of %d, root deleted through /%s", s.cfg.chain, via)
	empty := []byte("{}")
	for _, b := range [][]byte{h.config, h.layer, empty} {
		if r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(b), b); r.status != http.StatusCreated {
			s.fail("%s: upload a blob: %s", what, r)
			return
		}
	}
	if r := s.c.do(ctx, "PUT", "/v2/"+repo+"/manifests/root", h.manifest, "Content-Type", ociManifest); r.status != http.StatusCreated {
		s.fail("%s: push the root: %s", what, r)
		return
	}
	subject, size := h.mdigest, len(h.manifest)
	chain := []string{h.mdigest}
	for i := range s.cfg.chain {
		m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"artifactType":"application/vnd.example.signature",`+
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],`+
			`"subject":{"mediaType":%q,"digest":%q,"size":%d},"annotations":{"n":"%d"}}`,
			ociManifest, digestOf(empty), ociManifest, subject, size, i)
		d := digestOf(m)
		if r := s.c.do(ctx, "PUT", "/v2/"+repo+"/manifests/"+d, m, "Content-Type", ociManifest); r.status != http.StatusCreated {
			s.fail("%s: push referrer %d: %s", what, i, r)
			return
		}
		chain = append(chain, d)
		subject, size = d, len(m)
	}
	r := s.c.do(ctx, "GET", "/v2/"+repo+"/referrers/"+chain[len(chain)-2], nil)
	var idx struct{ Manifests []struct{ Digest string } }
	s.check(r.status == http.StatusOK && json.Unmarshal(r.body, &idx) == nil && len(idx.Manifests) == 1 && idx.Manifests[0].Digest == chain[len(chain)-1],
		what+": the deepest link is listed as its subject's referrer", "%s", r)
	h.inputs++
	if via == "acr" {
		r = s.c.do(ctx, "DELETE", "/acr/v1/"+repo+"/_manifests/"+h.mdigest, nil)
	} else {
		r = s.c.do(ctx, "DELETE", "/v2/"+repo+"/manifests/"+h.mdigest, nil)
	}
	if !s.check(r.status == http.StatusAccepted, what+": DELETE of the root answers 202", "%s", r) {
		return
	}
	if via == "acr" {
		var del struct{ ManifestsDeleted, TagsDeleted []string }
		s.check(json.Unmarshal(r.body, &del) == nil && len(del.ManifestsDeleted) == len(chain) && slices.Equal(del.TagsDeleted, []string{"root"}),
			fmt.Sprintf("%s: the answer lists %d manifests and the tag root", what, len(chain)), "%s", r)
	}
	left := 0
	for _, d := range append(chain, "root") {
		if r := s.c.do(ctx, "GET", "/v2/"+repo+"/manifests/"+d, nil, "Accept", ociManifest); r.status != http.StatusNotFound {
			left++
			if left <= 3 {
				fmt.Printf("        still there: %s\n", r)
			}
		}
	}
	s.check(left == 0, fmt.Sprintf("%s: all %d manifests and the tag are gone", what, len(chain)), "%d still answer", left)
}

// concurrentCompletion: 8 completions of one session at once (a client
// retrying a completion whose answer it missed) give one 201 and 404
// BLOB_UPLOAD_UNKNOWN for the rest (issue 16: a 500).
func (h *hostileRun) concurrentCompletion() {
	s, ctx := h.s, h.ctx
	const repo, racers, rounds = "abuse/race", 8, 5
	bad := []string{}
	created := 0
	for round := range rounds {
		data := fmt.Appendf(nil, "concurrent completion %d of this run %s", round, h.mdigest)
		d := digestOf(data)
		r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/", nil)
		loc := r.header.Get("Location")
		if r.status != http.StatusAccepted {
			s.fail("completion race: start a session: %s", r)
			return
		}
		r = s.c.do(ctx, "PATCH", loc, data, "Content-Type", "application/octet-stream")
		if r.status != http.StatusAccepted {
			s.fail("completion race: PATCH: %s", r)
			return
		}
		loc = r.header.Get("Location")
		answers := make([]response, racers)
		var wg sync.WaitGroup
		for k := range racers {
			wg.Go(func() { answers[k] = s.c.do(ctx, "PUT", withDigest(loc, d), nil) })
		}
		wg.Wait()
		h.inputs += racers
		for _, a := range answers {
			switch {
			case a.status == http.StatusCreated:
				created++
			case refusal(a, []int{404}, []string{"BLOB_UPLOAD_UNKNOWN"}) == "":
			default:
				bad = append(bad, a.String())
			}
		}
		if r := s.c.do(ctx, "GET", "/v2/"+repo+"/blobs/"+d, nil); r.status != http.StatusOK || digestOf(r.body) != d {
			bad = append(bad, "the blob after the race: "+r.String())
		}
	}
	s.check(created == rounds && len(bad) == 0,
		fmt.Sprintf("%d rounds of %d parallel completions of one session: one 201 each, the rest 404 BLOB_UPLOAD_UNKNOWN, the blob intact", rounds, racers),
		"%d created; %s", created, strings.Join(bad, "; "))
}

// concurrentChunks: 8 PATCHes of the same first chunk of one session at
// once: one is taken, the others are refused, and the session holds the
// chunk once.
func (h *hostileRun) concurrentChunks() {
	s, ctx := h.s, h.ctx
	const repo, racers = "abuse/race", 8
	data := []byte("0123456789")
	r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/", nil)
	loc := r.header.Get("Location")
	if r.status != http.StatusAccepted {
		s.fail("chunk race: start a session: %s", r)
		return
	}
	answers := make([]response, racers)
	var wg sync.WaitGroup
	for k := range racers {
		wg.Go(func() {
			answers[k] = s.c.do(ctx, "PATCH", loc, data, "Content-Range", "0-9", "Content-Type", "application/octet-stream")
		})
	}
	wg.Wait()
	h.inputs += racers
	accepted, bad := 0, []string{}
	for _, a := range answers {
		switch {
		case a.status == http.StatusAccepted:
			accepted++
			loc = a.header.Get("Location")
		case a.status >= 400 && a.status < 500 && refusal(a, []int{a.status}, nil) == "":
		default:
			bad = append(bad, a.String())
		}
	}
	st := s.c.do(ctx, "GET", loc, nil)
	s.check(accepted == 1 && len(bad) == 0 && st.header.Get("Range") == "0-9",
		fmt.Sprintf("%d parallel PATCHes of chunk 0-9 to one session: one 202, the rest refused with an OCI error, the session holds 0-9", racers),
		"%d accepted, session Range %q; %s", accepted, st.header.Get("Range"), strings.Join(bad, "; "))
	r = s.c.do(ctx, "PUT", withDigest(loc, digestOf(data)), nil)
	if r.status != http.StatusCreated {
		h.sessions = append(h.sessions, loc)
	}
	s.check(r.status == http.StatusCreated, "chunk race: the session completes with the chunk's digest", "%s", r)
}

// concurrentTagWrites: 8 manifests pushed to one tag at once all succeed,
// and the tag ends naming exactly one of them.
func (h *hostileRun) concurrentTagWrites() {
	s, ctx := h.s, h.ctx
	const repo, racers = "abuse/tag-race", 8
	for _, b := range [][]byte{h.config, h.layer} {
		if r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(b), b); r.status != http.StatusCreated {
			s.fail("tag race: upload a blob: %s", r)
			return
		}
	}
	digests := make([]string, racers)
	answers := make([]response, racers)
	var wg sync.WaitGroup
	for k := range racers {
		m := fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":%q,"size":%d}],"annotations":{"racer":"%d"}}`,
			ociManifest, ociConfig, digestOf(h.config), len(h.config), ociLayer, digestOf(h.layer), len(h.layer), k)
		digests[k] = digestOf(m)
		wg.Go(func() { answers[k] = s.c.do(ctx, "PUT", "/v2/"+repo+"/manifests/race", m, "Content-Type", ociManifest) })
	}
	wg.Wait()
	h.inputs += racers
	bad := []string{}
	for _, a := range answers {
		if a.status != http.StatusCreated {
			bad = append(bad, a.String())
		}
	}
	r := s.c.do(ctx, "GET", "/v2/"+repo+"/manifests/race", nil, "Accept", ociManifest)
	if !slices.Contains(digests, digestOf(r.body)) {
		bad = append(bad, "the tag names none of them: "+r.String())
	}
	tags, err := s.listTags(ctx, repo)
	if err != nil || len(tags) != 1 || !tags["race"] {
		bad = append(bad, fmt.Sprintf("tags %v (%v)", tags, err))
	}
	ms, err := s.pages(ctx, "/acr/v1/"+repo+"/_manifests?n=100", func(body []byte) ([]string, error) {
		var v struct{ Manifests []struct{ Tags []string } }
		err := json.Unmarshal(body, &v)
		var out []string
		for _, m := range v.Manifests {
			out = append(out, strings.Join(m.Tags, ","))
		}
		return out, err
	})
	tagged := 0
	for _, t := range ms {
		if t != "" {
			tagged++
		}
	}
	if err != nil || len(ms) != racers || tagged != 1 {
		bad = append(bad, fmt.Sprintf("%d manifests listed, %d tagged (%v)", len(ms), tagged, err))
	}
	s.check(len(bad) == 0, fmt.Sprintf("%d parallel pushes to one tag: all 201, the tag names one of them, once", racers), "%s", strings.Join(bad, "; "))
}

// sessionFlood opens upload sessions as -user until refused: the refusal
// is 429 TOOMANYREQUESTS with Retry-After, -user2 can still upload, and
// cancelling gives the places back.
func (h *hostileRun) sessionFlood() {
	s, ctx := h.s, h.ctx
	const repo = "abuse/flood"
	if s.cfg.user2 == "" {
		s.fail("upload-session flood: give -user2 (a second --user of the server) to show another client is not locked out")
		return
	}
	var locs []string
	var refusedAt response
	for range 2048 {
		r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/", nil)
		if r.status != http.StatusAccepted {
			refusedAt = r
			break
		}
		locs = append(locs, r.header.Get("Location"))
	}
	h.inputs += len(locs) + 1
	if s.refused(fmt.Sprintf("upload-session flood: refused after %d open sessions", len(locs)), refusedAt, 429, "TOOMANYREQUESTS") {
		ra, err := strconv.Atoi(refusedAt.header.Get("Retry-After"))
		s.check(err == nil && ra > 0, "upload-session flood: the 429 has a Retry-After", "Retry-After %q", refusedAt.header.Get("Retry-After"))
	}
	other := s.c.withAuth(basicAuth(s.cfg.user2))
	r := other.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/", nil)
	if s.check(r.status == http.StatusAccepted, "upload-session flood: another user can still start a session", "%s", r) {
		other.do(ctx, "DELETE", r.header.Get("Location"), nil)
	}
	bad := 0
	for _, l := range locs {
		if r := s.c.do(ctx, "DELETE", l, nil); r.status != http.StatusNoContent {
			bad++
		}
	}
	s.check(bad == 0, fmt.Sprintf("upload-session flood: the %d sessions cancel with 204", len(locs)), "%d did not", bad)
	r = s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/", nil)
	if s.check(r.status == http.StatusAccepted, "upload-session flood: after cancelling, the flooding user can start a session again", "%s", r) {
		s.c.do(ctx, "DELETE", r.header.Get("Location"), nil)
	}
}

// signInThrottle: 10 wrong passwords for -victim from this address, then
// the right one is refused with 429 TOOMANYREQUESTS and Retry-After, while
// -user is not affected. The window is a minute: a second run against the
// same server within it sees 429 from the start.
func (h *hostileRun) signInThrottle() {
	s, ctx := h.s, h.ctx
	if s.cfg.victim == "" {
		s.fail("sign-in throttle: give -victim (a --user of the server kept for this test)")
		return
	}
	name, pass, _ := strings.Cut(s.cfg.victim, ":")
	wrong := s.c.withAuth(basicAuth(name + ":not-" + pass))
	bad := []string{}
	for i := range 10 {
		path := "/v2/"
		if i%2 == 1 {
			path = "/oauth2/token?scope=repository:abuse/base:pull"
		}
		if r := wrong.do(ctx, "GET", path, nil); refusal(r, []int{401}, []string{"UNAUTHORIZED"}) != "" {
			bad = append(bad, r.String())
		}
	}
	h.inputs += 10
	s.check(len(bad) == 0, "sign-in throttle: 10 wrong passwords each get 401 UNAUTHORIZED", "%s", strings.Join(bad, "; "))
	right := s.c.withAuth(basicAuth(s.cfg.victim))
	for _, path := range []string{"/v2/", "/oauth2/token?scope=repository:abuse/base:pull"} {
		r := right.do(ctx, "GET", path, nil)
		if s.refused("sign-in throttle: the right password, GET "+strings.SplitN(path, "?", 2)[0]+" after 10 failures", r, 429, "TOOMANYREQUESTS") {
			ra, err := strconv.Atoi(r.header.Get("Retry-After"))
			s.check(err == nil && ra > 0 && ra <= 60, "sign-in throttle: Retry-After of at most a minute", "Retry-After %q", r.header.Get("Retry-After"))
		}
	}
	r := s.c.do(ctx, "GET", "/v2/", nil)
	s.check(r.status == http.StatusOK, "sign-in throttle: another user from the same address is not affected", "%s", r)
}

// mediaTypes: manifests whose Content-Type disagrees with their body, or
// names a type no registry knows. Neither is refused on purpose: ACR
// accepts a Content-Type that contradicts the body's mediaType and serves
// the body's type (Microsoft's live Go SDK test TestClient_UploadManifest
// PUTs a Docker v2 manifest as an OCI index; see emulator/manifests.go,
// manifestMediaType), and the OCI spec asks clients, not registries, to
// set Content-Type right. What is checked is that the registry then
// serves each manifest under one consistent type: the body's mediaType
// when it has one, else the Content-Type it was pushed with.
func (h *hostileRun) mediaTypes() {
	s, ctx := h.s, h.ctx
	const repo = "abuse/mediatype"
	for _, b := range [][]byte{h.config, h.layer} {
		if r := s.c.do(ctx, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+digestOf(b), b); r.status != http.StatusCreated {
			s.fail("media types: upload a blob: %s", r)
			return
		}
	}
	cfg := fmt.Sprintf(`"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[]`, ociConfig, digestOf(h.config), len(h.config))
	for _, tc := range []struct {
		what, tag, ct, body, served string
	}{
		{"an OCI image manifest pushed as an OCI index", "contradicts", ociIndex,
			`{"schemaVersion":2,"mediaType":"` + ociManifest + `",` + cfg + `}`, ociManifest},
		{"a manifest without mediaType pushed as application/x-nonsense", "nonsense", "application/x-nonsense",
			`{"schemaVersion":2,` + cfg + `}`, "application/x-nonsense"},
	} {
		h.inputs++
		r := s.c.do(ctx, "PUT", "/v2/"+repo+"/manifests/"+tc.tag, []byte(tc.body), "Content-Type", tc.ct)
		if r.status >= 400 && r.status < 500 {
			s.refused(tc.what+": refused", r, r.status)
			continue
		}
		if !s.check(r.status == http.StatusCreated, tc.what+": accepted (the spec allows it)", "%s", r) {
			continue
		}
		// Accept names the type expected: */* alone gets no OCI manifest,
		// from ACR as from distribution.
		g := s.c.do(ctx, "GET", "/v2/"+repo+"/manifests/"+tc.tag, nil, "Accept", tc.served+", */*")
		s.check(g.status == http.StatusOK && g.header.Get("Content-Type") == tc.served && string(g.body) == tc.body,
			fmt.Sprintf("%s: served back as %s", tc.what, tc.served), "%s", g)
	}
}
