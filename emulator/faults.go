package emulator

import (
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/acrgo/acr/internal/spec"
)

// faults injects ACR's throttling, failures and latency into answers, so
// that users can prove their code survives them (Options.Throttle,
// FailRate and Latency).
type faults struct {
	rate     float64 // requests per second; 0 for no throttling
	failRate float64
	latency  time.Duration

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newFaults(o Options) *faults {
	if o.Throttle <= 0 && o.FailRate <= 0 && o.Latency <= 0 {
		return nil
	}
	return &faults{rate: o.Throttle, failRate: o.FailRate, latency: o.Latency, tokens: burst(o.Throttle)}
}

// burst is the token bucket's size: one second of requests, at least one.
func burst(rate float64) float64 { return math.Max(1, rate) }

// take takes a token for one request; it reports false and how long to
// wait when none is left, and the tokens that remain.
func (f *faults) take(now time.Time) (ok bool, wait time.Duration, remaining float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.last.IsZero() {
		f.tokens = math.Min(burst(f.rate), f.tokens+now.Sub(f.last).Seconds()*f.rate)
	}
	f.last = now
	if f.tokens >= 1 {
		f.tokens--
		return true, 0, f.tokens
	}
	return false, time.Duration((1 - f.tokens) / f.rate * float64(time.Second)), f.tokens
}

// inject applies the faults to one request. It returns true when it
// answered the request itself (429 or 503) and panics with
// http.ErrAbortHandler to cut the connection.
func (f *faults) inject(w http.ResponseWriter, r *http.Request) (answered bool) {
	if f.latency > 0 {
		t := time.NewTimer(f.latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}
	if f.rate > 0 {
		ok, wait, remaining := f.take(time.Now())
		// ACR's header on every answer of a throttled API.
		w.Header().Set("X-Ms-Ratelimit-Remaining-Calls-Per-Second", strconv.FormatFloat(remaining, 'f', 2, 64))
		if !ok {
			secs := int(math.Ceil(wait.Seconds()))
			w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
			writeFault(w, http.StatusTooManyRequests, spec.ErrorCodeTooManyRequests,
				"too many requests: this registry answers "+strconv.FormatFloat(f.rate, 'g', -1, 64)+" per second (--throttle); retry after Retry-After")
			return true
		}
	}
	if f.failRate > 0 && rand.Float64() < f.failRate {
		if rand.IntN(2) == 0 {
			panic(http.ErrAbortHandler) // the connection is cut, no answer
		}
		writeFault(w, http.StatusServiceUnavailable, "UNAVAILABLE", "service unavailable (--fail-rate): retry")
		return true
	}
	return false
}

func writeFault(w http.ResponseWriter, status int, code spec.ErrorCode, msg string) {
	body := `{"errors":[{"code":"` + string(code) + `","message":"` + msg + `"}]}`
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write([]byte(body))
}
