package emulator_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/acrgo/acr/emulator"
)

// TestThrottle: past the rate, requests get 429 TOOMANYREQUESTS with
// Retry-After; every answer carries ACR's remaining-calls header.
func TestThrottle(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Throttle: 5})
	var ok, throttled int
	for range 20 {
		r := c.do("GET", "/v2/", nil)
		if r.Header.Get("X-Ms-Ratelimit-Remaining-Calls-Per-Second") == "" {
			t.Fatalf("no X-Ms-Ratelimit-Remaining-Calls-Per-Second on %d", r.StatusCode)
		}
		switch r.StatusCode {
		case http.StatusOK:
			ok++
		case http.StatusTooManyRequests:
			throttled++
			if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 || r.errorCode() != "TOOMANYREQUESTS" {
				t.Fatalf("429 with Retry-After %q and %s", r.Header.Get("Retry-After"), r.body)
			}
		default:
			t.Fatalf("status %d", r.StatusCode)
		}
	}
	// A burst of 5, then at most what 5 per second refill meanwhile.
	if ok < 5 || throttled == 0 {
		t.Errorf("%d answered, %d throttled", ok, throttled)
	}
}

// TestFailRate: with a fail rate of 1 every request fails, as a 503 with
// an OCI error or a cut connection.
func TestFailRate(t *testing.T) {
	_, srv := newClient(t, &emulator.Options{FailRate: 1})
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var unavailable, cut int
	for range 40 {
		resp, err := hc.Get(srv.URL + "/v2/")
		if err != nil {
			cut++
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d", resp.StatusCode)
		}
		unavailable++
	}
	if unavailable == 0 || cut == 0 {
		t.Errorf("%d answered 503, %d cut: want both", unavailable, cut)
	}
	if _, err := emulator.New(&emulator.Options{FailRate: 1.5}); err == nil {
		t.Error("FailRate 1.5 accepted")
	}
}

// TestLatency: every answer waits at least the latency.
func TestLatency(t *testing.T) {
	c, _ := newClient(t, &emulator.Options{Latency: 50 * time.Millisecond})
	start := time.Now()
	c.do("GET", "/v2/", nil).want(t, http.StatusOK)
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("answered after %v", d)
	}
}
