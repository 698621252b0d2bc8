package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

// script answers the n-th request (0-based) with step(n) and counts them.
type script struct {
	n    atomic.Int64
	step func(n int, w http.ResponseWriter, r *http.Request)
}

func (s *script) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(s.n.Add(1) - 1)
	io.Copy(io.Discard, r.Body)
	s.step(n, w, r)
}

// failFirst answers the first k requests with status and headers h.
func failFirst(k, status int, h map[string]string) *script {
	return &script{step: func(n int, w http.ResponseWriter, r *http.Request) {
		if n < k {
			for name, v := range h {
				w.Header().Set(name, v)
			}
			w.WriteHeader(status)
			return
		}
		w.WriteHeader(http.StatusOK)
	}}
}

const testURL = "https://registry.example.com/v2/a/manifests/latest"

func TestRetryAfterSeconds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1, http.StatusTooManyRequests, map[string]string{"Retry-After": "3"})
		c := newTestClient(t, &Options{HTTPClient: memClient(s)})
		start := time.Now()
		mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
		if got := time.Since(start); got < 3*time.Second || got > 3300*time.Millisecond+time.Millisecond {
			t.Errorf("waited %v, want 3 s plus at most 10%% jitter", got)
		}
		if s.n.Load() != 2 {
			t.Errorf("got %d requests, want 2", s.n.Load())
		}
	})
}

func TestRetryAfterDate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &script{}
		s.step = func(n int, w http.ResponseWriter, r *http.Request) {
			if n == 0 {
				w.Header().Set("Retry-After", time.Now().Add(5*time.Second).UTC().Format(http.TimeFormat))
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
		c := newTestClient(t, &Options{HTTPClient: memClient(s)})
		start := time.Now()
		mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
		if got := time.Since(start); got < 5*time.Second || got > 5500*time.Millisecond+time.Millisecond {
			t.Errorf("waited %v, want 5 s plus at most 10%% jitter", got)
		}
	})
}

func TestRetryAfterCapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1, http.StatusTooManyRequests, map[string]string{"Retry-After": "86400"})
		c := newTestClient(t, &Options{HTTPClient: memClient(s)})
		start := time.Now()
		mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
		if got := time.Since(start); got < time.Minute || got > 66*time.Second+time.Millisecond {
			t.Errorf("waited %v, want the 60 s cap plus jitter", got)
		}
	})
}

func TestRetryStormEnds(t *testing.T) {
	for _, status := range []int{408, 429, 500, 502, 503, 504} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := failFirst(3, status, nil)
				c := newTestClient(t, &Options{HTTPClient: memClient(s)})
				mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
				if s.n.Load() != 4 {
					t.Errorf("got %d requests, want 4", s.n.Load())
				}
			})
		})
	}
}

func TestNoRetryForOtherStatuses(t *testing.T) {
	for _, status := range []int{400, 403, 404, 405, 409, 416, 501} {
		synctest.Test(t, func(t *testing.T) {
			s := failFirst(1, status, nil)
			c := newTestClient(t, &Options{HTTPClient: memClient(s)})
			mustDo(t, c, http.MethodGet, testURL, status)
			if s.n.Load() != 1 {
				t.Errorf("status %d: got %d requests, want 1", status, s.n.Load())
			}
		})
	}
}

func TestRetryForeverBoundedByMaxRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1<<30, http.StatusServiceUnavailable, nil)
		c := newTestClient(t, &Options{HTTPClient: memClient(s), MaxRetries: 5})
		start := time.Now()
		mustDo(t, c, http.MethodGet, testURL, http.StatusServiceUnavailable)
		if s.n.Load() != 6 {
			t.Errorf("got %d requests, want 6", s.n.Load())
		}
		// Full jitter: at most 200+400+800+1600+3200 ms.
		if got := time.Since(start); got > 6200*time.Millisecond {
			t.Errorf("took %v, want at most 6.2 s of backoff", got)
		}
	})
}

func TestRetryForeverBoundedByContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1<<30, http.StatusServiceUnavailable, nil)
		c := newTestClient(t, &Options{HTTPClient: memClient(s), MaxRetries: 1000})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, testURL, nil)
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Errorf("got %d, want the last 503", resp.StatusCode)
			}
		} else if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the last 503 or a deadline error", err)
		}
		if got := time.Since(start); got > 30*time.Second {
			t.Errorf("took %v, beyond the context's 30 s", got)
		}
	})
}

func TestRetryAfterBeyondDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1<<30, http.StatusTooManyRequests, map[string]string{"Retry-After": "20"})
		c := newTestClient(t, &Options{HTTPClient: memClient(s)})
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, testURL, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("got %v, want the 429 handed back at once", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || time.Since(start) != 0 || s.n.Load() != 1 {
			t.Errorf("got %d after %v and %d requests; want the 429 at once: the wait would outlive the context",
				resp.StatusCode, time.Since(start), s.n.Load())
		}
	})
}

func TestRetryStopsWhenCallerCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1<<30, http.StatusServiceUnavailable, map[string]string{"Retry-After": "10"})
		c := newTestClient(t, &Options{HTTPClient: memClient(s), MaxRetries: 1000})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(15*time.Second, cancel)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, testURL, nil)
		_, err := c.Do(req)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		if !strings.Contains(err.Error(), "503") {
			t.Errorf("error %q does not name the last status", err)
		}
		if s.n.Load() != 2 {
			t.Errorf("got %d requests, want 2", s.n.Load())
		}
	})
}

func TestRetryNegativeMaxRetries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := failFirst(1, http.StatusServiceUnavailable, nil)
		c := newTestClient(t, &Options{HTTPClient: memClient(s), MaxRetries: -1})
		mustDo(t, c, http.MethodGet, testURL, http.StatusServiceUnavailable)
	})
}

func TestRetryBodies(t *testing.T) {
	tests := []struct {
		name   string
		method string
		body   func() (io.Reader, bool) // reader, whether GetBody is kept
		want   int
		reqs   int64
	}{
		{"POST without body", http.MethodPost, func() (io.Reader, bool) { return nil, false }, 200, 2},
		{"POST with GetBody", http.MethodPost, func() (io.Reader, bool) { return strings.NewReader("x"), true }, 200, 2},
		{"POST stream", http.MethodPost, func() (io.Reader, bool) { return strings.NewReader("x"), false }, 503, 1},
		{"PUT stream", http.MethodPut, func() (io.Reader, bool) { return strings.NewReader("x"), false }, 503, 1},
		{"PUT with GetBody", http.MethodPut, func() (io.Reader, bool) { return strings.NewReader("x"), true }, 200, 2},
		{"PATCH with GetBody", http.MethodPatch, func() (io.Reader, bool) { return strings.NewReader("x"), true }, 200, 2},
		{"PATCH without body", http.MethodPatch, func() (io.Reader, bool) { return nil, false }, 503, 1},
		{"DELETE", http.MethodDelete, func() (io.Reader, bool) { return nil, false }, 200, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := failFirst(1, http.StatusServiceUnavailable, nil)
				c := newTestClient(t, &Options{HTTPClient: memClient(s)})
				body, keep := tt.body()
				req, _ := http.NewRequestWithContext(t.Context(), tt.method, testURL, body)
				if !keep {
					req.GetBody = nil
				}
				resp, err := c.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.want || s.n.Load() != tt.reqs {
					t.Errorf("got %d after %d requests, want %d after %d", resp.StatusCode, s.n.Load(), tt.want, tt.reqs)
				}
			})
		})
	}
}

// flakyTransport fails the first len(errs) round trips with errs.
type flakyTransport struct {
	errs []error
	n    atomic.Int64
	next http.RoundTripper
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	n := int(f.n.Add(1) - 1)
	if n < len(f.errs) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, f.errs[n]
	}
	return f.next.RoundTrip(r)
}

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func TestRetryTransientErrors(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
	}{
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"connection refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"EOF before response", io.EOF, true},
		{"unexpected EOF", io.ErrUnexpectedEOF, true},
		{"timeout", timeoutError{}, true},
		{"certificate", errors.New("x509: certificate signed by unknown authority"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ft := &flakyTransport{errs: []error{tt.err}, next: handlerTransport{failFirst(0, 0, nil)}}
				c := newTestClient(t, &Options{HTTPClient: &http.Client{Transport: ft}})
				got, err := do(t, c, http.MethodGet, testURL)
				if tt.retry && (err != nil || got != http.StatusOK) {
					t.Errorf("got %d, %v; want 200 after a retry", got, err)
				}
				if !tt.retry && err == nil {
					t.Errorf("got %d, want the error", got)
				}
			})
		})
	}
}

// cutTransport reads `read` bytes of the first request's body, then fails
// it with a connection reset; later requests go to next.
type cutTransport struct {
	read int64
	n    atomic.Int64
	next http.RoundTripper
}

func (c *cutTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.n.Add(1) == 1 {
		if r.Body != nil {
			io.CopyN(io.Discard, r.Body, c.read)
			r.Body.Close()
		}
		return nil, fmt.Errorf("write: %w", syscall.ECONNRESET)
	}
	return c.next.RoundTrip(r)
}

func TestRetryAfterPartlySentBody(t *testing.T) {
	tests := []struct {
		method string
		read   int64
		retry  bool
	}{
		{http.MethodPatch, 0, true},  // nothing sent: safe to send again
		{http.MethodPatch, 3, false}, // the server may hold part of the chunk
		{http.MethodPost, 3, false},  // likewise
		{http.MethodPut, 3, true},    // idempotent
		{http.MethodGet, 0, true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.method, tt.read), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				ct := &cutTransport{read: tt.read, next: handlerTransport{failFirst(0, 0, nil)}}
				c := newTestClient(t, &Options{HTTPClient: &http.Client{Transport: ct}})
				var body io.Reader
				if tt.method != http.MethodGet {
					body = strings.NewReader("chunk bytes")
				}
				req, _ := http.NewRequestWithContext(t.Context(), tt.method, testURL, body)
				resp, err := c.Do(req)
				if tt.retry {
					if err != nil {
						t.Fatalf("got %v, want a retry", err)
					}
					resp.Body.Close()
				} else if !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("got %v, %v; want the connection reset returned", resp, err)
				}
				if want := map[bool]int64{true: 2, false: 1}[tt.retry]; ct.n.Load() != want {
					t.Errorf("got %d round trips, want %d", ct.n.Load(), want)
				}
			})
		})
	}
}

func TestRetryTokenEndpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var tokens atomic.Int64
		s := &script{}
		s.step = func(n int, w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/token" {
				if tokens.Add(1) == 1 {
					w.Header().Set("Retry-After", "2")
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				w.Write([]byte(`{"token":"t","expires_in":300}`))
				return
			}
			if r.Header.Get("Authorization") != "Bearer t" {
				w.Header().Set("Www-Authenticate", `Bearer realm="https://registry.example.com/token",service="s"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusOK)
		}
		c := newTestClient(t, &Options{HTTPClient: memClient(s)})
		start := time.Now()
		mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
		if tokens.Load() != 2 {
			t.Errorf("got %d token requests, want 2", tokens.Load())
		}
		if got := time.Since(start); got < 2*time.Second {
			t.Errorf("waited %v, want the token endpoint's Retry-After of 2 s", got)
		}
	})
}

// TestThrottledBackoff checks the delays between retries of requests the
// registry answers without Retry-After: a 429 (throttling) waits up to 1,
// 2 and 4 s, a 503 up to 200, 400 and 800 ms.
func TestThrottledBackoff(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   time.Duration
	}{
		{http.StatusTooManyRequests, 7 * time.Second},
		{http.StatusServiceUnavailable, 1400 * time.Millisecond},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := failFirst(3, tc.status, nil)
				c := newTestClient(t, &Options{HTTPClient: memClient(s)})
				c.jitter = func(n int64) int64 { return n - 1 } // the top of each range
				start := time.Now()
				mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
				if got := time.Since(start); got != tc.want-3 {
					t.Errorf("3 retries took %v, want %v", got, tc.want-3)
				}
			})
		})
	}
}

func TestBackoff(t *testing.T) {
	c := newTestClient(t, nil)
	c.jitter = func(n int64) int64 { return n - 1 } // the top of each range
	want := []time.Duration{200, 400, 800, 1600, 3200, 6400, 10000, 10000}
	for i, w := range want {
		if got := c.backoff(i + 1); got != w*time.Millisecond-1 {
			t.Errorf("backoff(%d) = %v, want just under %v", i+1, got, w*time.Millisecond)
		}
	}
	if got := c.backoff(100); got != backoffCap-1 {
		t.Errorf("backoff(100) = %v, want just under the cap", got)
	}
	c.jitter = func(n int64) int64 { return 0 }
	if got := c.backoff(3); got != 0 {
		t.Errorf("full jitter may wait 0, got %v", got)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"0", 0, true},
		{"7", 7 * time.Second, true},
		{" 7 ", 7 * time.Second, true},
		{"-1", 0, false},
		{"3600", time.Minute, true},
		{"99999999999999999999", 0, false},
		{now.Add(20 * time.Second).Format(http.TimeFormat), 20 * time.Second, true},
		{now.Add(-20 * time.Second).Format(http.TimeFormat), 0, true},
		{now.Add(time.Hour).Format(http.TimeFormat), time.Minute, true},
		{"Sunday, 01-Mar-26 10:00:30 GMT", 30 * time.Second, true},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.v, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.v, got, ok, tt.want, tt.ok)
		}
	}
}
