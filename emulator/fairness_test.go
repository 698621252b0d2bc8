package emulator_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acrgo/acr/acrtest"
	"github.com/acrgo/acr/emulator"
	"github.com/opencontainers/go-digest"
)

// TestUploadSessionsPerClient: one client's open sessions are capped, so
// another can still upload (the 1,024-session cap was global: one client
// could lock everyone out for up to an hour).
func TestUploadSessionsPerClient(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"a": "pa", "b": "pb"},
		MaxUploadSessions: 8, MaxUploadSessionsPerClient: 3})
	c.auth = basic("a", "pa")
	var locs []string
	for range 3 {
		locs = append(locs, c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location"))
	}
	r := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || !strings.Contains(string(r.body), "for this client") {
		t.Errorf("a's fourth session: %v %s", r.Header, r.body)
	}
	// b is not locked out, with a token as with Basic.
	c.auth = "Bearer " + c.token(basic("b", "pb"), "repository:app:pull,push")
	for range 3 {
		c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted)
	}
	// Ending a session, by cancel or completion, gives its place back.
	c.auth = basic("a", "pa")
	c.do("DELETE", locs[0], nil).want(t, http.StatusNoContent)
	data := []byte("done")
	c.do("PUT", locs[1]+"&digest=sha256:"+sha256hex(data), data, "Content-Type", "application/octet-stream").want(t, http.StatusCreated)
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted)
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted)
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusTooManyRequests)
}

// TestSignInThrottle: after 10 failed sign-ins from one address as one
// user, that pair gets 429 with Retry-After, even with the right password,
// until the window ends; another user is not affected. The token endpoint
// counts the same failures.
func TestSignInThrottle(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"admin": "right", "ci": "ci-pass"}})
	for i := range 10 {
		c.auth = basic("admin", "wrong")
		path := "/v2/"
		if i%2 == 1 {
			path = "/oauth2/token?scope=registry:catalog:*"
		}
		c.do("GET", path, nil).want(t, http.StatusUnauthorized)
	}
	c.auth = basic("admin", "right")
	r := c.do("GET", "/v2/", nil).want(t, http.StatusTooManyRequests)
	if r.Header.Get("Retry-After") == "" || r.errorCode() != "TOOMANYREQUESTS" {
		t.Errorf("throttled sign-in: %v %s", r.Header, r.body)
	}
	c.do("GET", "/oauth2/token?scope=registry:catalog:*", nil).want(t, http.StatusTooManyRequests)
	c.auth = basic("ci", "ci-pass")
	c.do("GET", "/v2/", nil).want(t, http.StatusOK)
}

func sha256hex(b []byte) string {
	return digest.FromBytes(b).Encoded()
}

// TestUploadSessionsPerClientReclaimed: a client at its cap whose sessions
// went stale (a crashed CI job's) gets them reclaimed instead of a 429.
func TestUploadSessionsPerClientReclaimed(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{MaxUploadSessions: 8, MaxUploadSessionsPerClient: 2})
	var stale []string
	for range 2 {
		stale = append(stale, c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location"))
	}
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusTooManyRequests)
	srv.Registry.SetUploadIdleTimeout(0)
	c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted)
	for _, loc := range stale {
		c.do("GET", loc, nil).want(t, http.StatusNotFound)
	}
}

// TestUploadSessionReclaimKeepsActive: at the cap, a session counts as
// stale by the last bytes it received, not by its start. One streaming a
// PATCH for longer than the stale age is kept, and reclaiming does not
// wait for its append (the new session is answered at once), while an
// idle one is reclaimed; the long upload then completes.
func TestUploadSessionReclaimKeepsActive(t *testing.T) {
	c, srv := newClient(t, &emulator.Options{MaxUploadSessions: 8, MaxUploadSessionsPerClient: 2})
	idle := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	busy := c.do("POST", "/v2/app/blobs/uploads/", nil).want(t, http.StatusAccepted).Header.Get("Location")
	const stale = 50 * time.Millisecond
	srv.Registry.SetUploadIdleTimeout(stale)

	// A PATCH that keeps sending, past the stale age.
	pr, pw := io.Pipe()
	req, err := http.NewRequestWithContext(t.Context(), "PATCH", c.base+busy, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	patched := make(chan *http.Response, 1)
	go func() {
		resp, err := c.hc.Do(req)
		if err != nil {
			t.Error(err)
			close(patched)
			return
		}
		resp.Body.Close()
		patched <- resp
	}()
	data := bytes.Repeat([]byte("layer"), 1000)
	if _, err := pw.Write(data[:2500]); err != nil {
		t.Fatal(err)
	}
	// The registry is appending the PATCH's body once the session reads
	// as active later than now (an append under way is active now; one
	// ended would leave its end). Waited for, not assumed after a sleep:
	// on a loaded machine the handler may start late.
	writing := time.Now()
	for deadline := time.Now().Add(30 * time.Second); !activeAfter(t, srv, busy, writing); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the registry did not start appending the PATCH's body in 30 s")
		}
	}
	// Both sessions are older than the stale age, only the idle one idle.
	time.Sleep(3 * stale)

	started := make(chan response, 1)
	go func() { started <- c.do("POST", "/v2/app/blobs/uploads/", nil) }()
	select {
	case r := <-started:
		r.want(t, http.StatusAccepted)
	case <-time.After(10 * time.Second):
		t.Fatal("a new session at the cap waited for another session's append in progress")
	}
	c.do("GET", idle, nil).want(t, http.StatusNotFound)

	if _, err := pw.Write(data[2500:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	resp := <-patched
	if resp == nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("the long PATCH: %v, want 202", resp)
	}
	d := digest.FromBytes(data)
	loc := resp.Header.Get("Location")
	sep := "?"
	if strings.Contains(loc, "?") {
		sep = "&"
	}
	c.do("PUT", loc+sep+"digest="+d.String(), nil).want(t, http.StatusCreated)
	c.do("HEAD", "/v2/app/blobs/"+d.String(), nil).want(t, http.StatusOK)
}

// activeAfter reports whether the registry's upload session at loc (its
// Location) was active after t.
func activeAfter(tb testing.TB, srv *acrtest.Server, loc string, t time.Time) bool {
	tb.Helper()
	for u, err := range srv.Registry.Store().Uploads(tb.Context()) {
		if err != nil {
			tb.Fatal(err)
		}
		if strings.Contains(loc, "/uploads/"+u.ID) {
			return u.ActiveAt.After(t)
		}
	}
	tb.Fatalf("no upload session at %s", loc)
	return false
}

// TestSignInThrottleConcurrent: guesses sent at once get no more tries
// than guesses sent one by one (a sign-in under way counts until it
// succeeds).
func TestSignInThrottleConcurrent(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"admin": "right"}})
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := c.do("GET", "/v2/", nil, "Authorization", basic("admin", "wrong"))
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] > 10 || codes[http.StatusUnauthorized]+codes[http.StatusTooManyRequests] != 40 {
		t.Errorf("40 concurrent wrong passwords: %v; want at most 10 checked (401), the rest 429", codes)
	}
}

// TestSignInThrottleFlood: failures under ten thousand user names do not
// reset the throttle; new names then share ten tries a window, and a name
// already tracked keeps its own count.
func TestSignInThrottleFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("ten thousand sign-ins")
	}
	// The registry's clock stands still: ten thousand sign-ins take 20 s
	// under -race on a loaded machine, and must not outlast the window.
	now := time.Now()
	c, _ := newClient(t, &emulator.Options{Users: map[string]string{"admin": "right"}, Now: func() time.Time { return now }})
	for range 9 {
		c.do("GET", "/v2/", nil, "Authorization", basic("admin", "wrong")).want(t, http.StatusUnauthorized)
	}
	for i := range 10000 {
		c.do("GET", "/v2/", nil, "Authorization", basic(fmt.Sprintf("u%d", i), "x"))
	}
	c.do("GET", "/v2/", nil, "Authorization", basic("admin", "wrong")).want(t, http.StatusUnauthorized)
	c.do("GET", "/v2/", nil, "Authorization", basic("admin", "right")).want(t, http.StatusTooManyRequests)
	refused := 0
	for i := range 20 {
		if c.do("GET", "/v2/", nil, "Authorization", basic(fmt.Sprintf("new%d", i), "guess")).StatusCode == http.StatusUnauthorized {
			refused++
		}
	}
	if refused > 10 {
		t.Errorf("while the table is full, %d guesses under new names were checked; want at most 10 a window", refused)
	}
}
