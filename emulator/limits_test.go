package emulator_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/internal/spec"
	"github.com/opencontainers/go-digest"
)

// slowRequest sends method path with body over a new connection to host:
// the header and the first piece at once, then a further piece every gap,
// and stalls after sent pieces (all of them when sent <= 0). It returns
// the response, its body and how long it took after the last byte sent.
func slowRequest(t *testing.T, host, method, path string, hdr string, pieces [][]byte, sent int, gap time.Duration) (*http.Response, string, time.Duration) {
	t.Helper()
	conn, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	if sent <= 0 || sent > len(pieces) {
		sent = len(pieces)
	}
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n", method, path, host, n, hdr)
	for i, p := range pieces[:sent] {
		if i > 0 {
			time.Sleep(gap)
		}
		if _, err := conn.Write(p); err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
	}
	last := time.Now()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: no response after %v: %v", method, path, time.Since(last), err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b), time.Since(last)
}

// split cuts data into n pieces.
func split(data []byte, n int) [][]byte {
	var out [][]byte
	size := (len(data) + n - 1) / n
	for len(data) > 0 {
		k := min(size, len(data))
		out = append(out, data[:k])
		data = data[k:]
	}
	return out
}

// TestBodyIdleTimeout sends request bodies slowly. A body that stalls is
// cut after Options.BodyIdleTimeout with a clear 4xx, stores nothing
// partial under a digest, and leaves a chunked session resumable; a body
// that keeps making progress, however slowly and for however long
// altogether, succeeds.
func TestBodyIdleTimeout(t *testing.T) {
	// Each gap is a tenth of the timeout: a loaded machine (CI's race
	// suite beside other go test processes) delayed the sender's 100 ms
	// sleeps by up to 700 ms, past a timeout of 300 ms.
	const idle = 1500 * time.Millisecond
	c, srv := newClient(t, &emulator.Options{BodyIdleTimeout: idle})
	host := srv.Host
	data := []byte(strings.Repeat("0123456789abcdef", 256)) // 4 KiB
	d := digest.FromBytes(data)
	pieces := split(data, 12)
	const gap = idle / 10 // 12 pieces: the body takes 11/10 of the timeout

	t.Run("monolithic, progressing", func(t *testing.T) {
		resp, body, _ := slowRequest(t, host, "POST", "/v2/slow/blobs/uploads/?digest="+d.String(), "", pieces, 0, gap)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("got %d %s, want 201", resp.StatusCode, body)
		}
		c.do("GET", "/v2/slow/blobs/"+d.String(), nil).want(t, http.StatusOK)
	})
	t.Run("monolithic, stalled", func(t *testing.T) {
		other := append([]byte("x"), data...)
		od := digest.FromBytes(other)
		resp, body, took := slowRequest(t, host, "POST", "/v2/stall/blobs/uploads/?digest="+od.String(), "", split(other, 12), 3, gap)
		checkCut(t, resp, body, took, idle)
		c.do("HEAD", "/v2/stall/blobs/"+od.String(), nil).want(t, http.StatusNotFound)
	})
	t.Run("chunk, progressing", func(t *testing.T) {
		loc := c.do("POST", "/v2/chunks/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
		resp, body, _ := slowRequest(t, host, "PATCH", loc, "Content-Range: 0-4095\r\n", pieces, 0, gap)
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != "0-4095" {
			t.Fatalf("got %d, Range %q, %s; want 202 with Range 0-4095", resp.StatusCode, resp.Header.Get("Range"), body)
		}
	})
	t.Run("chunk, stalled", func(t *testing.T) {
		loc := c.do("POST", "/v2/chunks/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
		resp, body, took := slowRequest(t, host, "PATCH", loc, "Content-Range: 0-4095\r\n", pieces, 3, gap)
		checkCut(t, resp, body, took, idle)
		// The session kept what arrived and resumes from there.
		st := c.do("GET", loc, nil).want(t, http.StatusNoContent)
		held := st.Header.Get("Range")
		_, end, err := spec.ParseUploadRange(held)
		if err != nil || end+1 > int64(len(data)) {
			t.Fatalf("the session's Range after a stalled chunk is %q (%v)", held, err)
		}
		loc = st.Header.Get("Location")
		from := end + 1
		if held == "0-0" {
			from = 0 // an empty session
		}
		c.do("PUT", loc+"&digest="+d.String(), data[from:], "Content-Range", fmt.Sprintf("%d-%d", from, len(data)-1)).want(t, http.StatusCreated)
	})
}

// checkCut checks that a stalled request was answered with a 4xx that says
// why, about the idle timeout after its last byte.
func checkCut(t *testing.T, resp *http.Response, body string, took, idle time.Duration) {
	t.Helper()
	if resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Errorf("got %d %s, want a 4xx: the client stalled, the registry is fine", resp.StatusCode, body)
	}
	if !strings.Contains(body, "timed out") && !strings.Contains(body, "timeout") {
		t.Errorf("the error %s does not say the request timed out", body)
	}
	if took < idle/2 || took > idle+5*time.Second {
		t.Errorf("the registry answered %v after the body stalled, want about %v", took, idle)
	}
	t.Logf("stalled body: %d after %v: %s", resp.StatusCode, took, strings.TrimSpace(body))
}

// TestNameLengthLimit checks the limit on repository names at its edge: a
// name of spec.MaxNameLength bytes is served, one byte more is refused
// with NAME_INVALID before anything is stored.
func TestNameLengthLimit(t *testing.T) {
	c, _ := newClient(t, nil)
	longest := strings.Repeat("a/", spec.MaxNameLength/2-1) + strings.Repeat("b", spec.MaxNameLength-2*(spec.MaxNameLength/2-1))
	if len(longest) != spec.MaxNameLength {
		t.Fatalf("test name is %d bytes", len(longest))
	}
	c.pushImage(longest, "v1", "x")
	r := c.do("POST", "/v2/"+longest+"c/blobs/uploads/?digest="+digest.FromString("y").String(), []byte("y"))
	if r.StatusCode != http.StatusBadRequest || r.errorCode() != "NAME_INVALID" {
		t.Fatalf("a %d-byte name: got %d %s, want 400 NAME_INVALID", len(longest)+1, r.StatusCode, r.body)
	}
	cat := decode[struct{ Repositories []string }](t, c.do("GET", "/v2/_catalog", nil).want(t, http.StatusOK))
	if len(cat.Repositories) != 1 || cat.Repositories[0] != longest {
		t.Fatalf("catalog %v, want only the %d-byte name", cat.Repositories, spec.MaxNameLength)
	}
}

// TestOversizeContentLength sends uploads whose Content-Length (and
// Content-Range) claim huge sizes, then a little content, then hangs up:
// the registry sizes nothing by the claim, allocating little, and stores
// nothing.
func TestOversizeContentLength(t *testing.T) {
	done := make(chan string, 16)
	logger := slog.New(slogFunc(func(r slog.Record) {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "method" {
				done <- a.Value.String()
			}
			return true
		})
	}))
	c, srv := newClient(t, &emulator.Options{Logger: logger})
	data := []byte(strings.Repeat("x", 64<<10))
	for _, claim := range []int64{1 << 50, math.MaxInt64} {
		loc := c.do("POST", "/v2/big/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
		<-done
		for _, req := range []struct{ method, path, hdr string }{
			{"POST", "/v2/big/blobs/uploads/?digest=" + digest.FromBytes(data).String(), ""},
			{"PATCH", loc, fmt.Sprintf("Content-Range: 0-%d\r\n", claim-1)},
		} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			conn, err := net.Dial("tcp", srv.Host)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n", req.method, req.path, srv.Host, claim, req.hdr)
			conn.Write(data)
			conn.Close()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("%s claiming %d bytes: the registry did not finish the request", req.method, claim)
			}
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("%s claiming %d bytes: the registry allocated %d MiB", req.method, claim, alloc>>20)
			} else {
				t.Logf("%s claiming %d bytes: %d KiB allocated", req.method, claim, alloc>>10)
			}
		}
		c.do("HEAD", "/v2/big/blobs/"+digest.FromBytes(data).String(), nil).want(t, http.StatusNotFound)
		<-done
		rg := c.do("GET", loc, nil).want(t, http.StatusNoContent).Header.Get("Range")
		if _, end, err := spec.ParseUploadRange(rg); err != nil || end >= int64(len(data)) {
			t.Errorf("the session holds %q after a broken chunk of %d bytes (%v)", rg, len(data), err)
		}
		<-done
	}
}

// slogFunc is a slog.Handler that calls a function with each record.
type slogFunc func(slog.Record)

func (f slogFunc) Enabled(context.Context, slog.Level) bool      { return true }
func (f slogFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }
func (f slogFunc) WithAttrs([]slog.Attr) slog.Handler            { return f }
func (f slogFunc) WithGroup(string) slog.Handler                 { return f }

// allocated returns the bytes fn allocates in this process, which serves
// the registry in tests.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestWideJSONBomb: a 4 MiB manifest whose layers hold 1.4 million empty
// descriptors is refused without decoding them all (one cost 250-430 MiB
// of heap and seconds of CPU).
func TestWideJSONBomb(t *testing.T) {
	c, _ := newClient(t, nil)
	var b strings.Builder
	b.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digest.FromString("c").String() + `","size":1},"layers":[{}`)
	for b.Len() < spec.MaxManifestSize-8 {
		b.WriteString(",{}")
	}
	b.WriteString("]}")
	bomb := []byte(b.String())
	var r response
	n := allocated(func() {
		r = c.do("PUT", "/v2/app/manifests/bomb", bomb, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	})
	if r.StatusCode != http.StatusBadRequest || r.errorCode() != "MANIFEST_INVALID" || !strings.Contains(string(r.body), "10000") {
		t.Fatalf("bomb: %d %s", r.StatusCode, r.body)
	}
	// The body itself is 4 MiB, held once by the client and once by the
	// server; the descriptors decoded before the limit are a few MiB more.
	if n > 32<<20 {
		t.Errorf("one bomb allocated %d MiB", n>>20)
	}
}

// TestListingsHoldNoAnnotations: listings and repository properties cost
// memory in proportion to a page, not to the manifests' annotations (40
// manifests with 4 MB of annotations each held 400-560 MiB after three
// listings, and GET /acr/v1/R decoded them all to count them).
func TestListingsHoldNoAnnotations(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Dir: t.TempDir()})
	cfg := c.pushBlob("app", []byte(`{"architecture":"amd64","os":"linux"}`))
	big := strings.Repeat("a", 1<<20)
	for i := range 10 {
		m := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + cfg.String() + `","size":37},"layers":[],` +
			`"annotations":{"n":"` + itoa(i) + `","big":"` + big + `"}}`)
		c.do("PUT", "/v2/app/manifests/v"+itoa(i), m, "Content-Type", "application/vnd.oci.image.manifest.v1+json").want(t, http.StatusCreated)
	}
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	h0 := heap()
	for _, order := range []string{"", "&orderby=timedesc", "&orderby=timeasc"} {
		c.do("GET", "/acr/v1/app/_manifests?n=1"+order, nil).want(t, http.StatusOK)
	}
	if h1 := heap(); h1 > h0+4<<20 {
		t.Errorf("three listings keep %d MiB", (h1-h0)>>20)
	}
	if n := allocated(func() { c.do("GET", "/acr/v1/app", nil).want(t, http.StatusOK) }); n > 2<<20 {
		t.Errorf("repository properties allocated %d MiB to count 10 manifests", n>>20)
	}
}
