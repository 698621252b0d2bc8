package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Backoff parameters: full jitter over an exponential ceiling. A 429
// without Retry-After starts from a larger base: the registry is
// throttling this client, and ACR's throttling windows last seconds, so
// retries within the first second (200 + 400 ms at most) only add to the
// count it is throttling on.
const (
	backoffBase         = 200 * time.Millisecond
	throttleBackoffBase = time.Second
	backoffCap          = 10 * time.Second
	maxRetryAfter       = 60 * time.Second
)

// retryStatus reports whether a status is worth retrying.
func retryStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryDelay decides whether the outcome of attempt n (1-based) should be
// retried, and after how long.
func (c *Client) retryDelay(ctx context.Context, resp *http.Response, err error, n int) (time.Duration, bool) {
	if ctx.Err() != nil {
		return 0, false
	}
	if err != nil {
		var te *TokenError
		if errors.As(err, &te) && te.StatusCode != 0 {
			if !retryStatus(te.StatusCode) {
				return 0, false
			}
			if d, ok := parseRetryAfter(te.RetryAfter, c.now()); ok {
				return c.withJitter(d), true
			}
			return c.backoffFor(te.StatusCode, n), true
		}
		if !transient(err) {
			return 0, false
		}
		return c.backoff(n), true
	}
	if !retryStatus(resp.StatusCode) {
		return 0, false
	}
	if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), c.now()); ok {
		return c.withJitter(d), true
	}
	return c.backoffFor(resp.StatusCode, n), true
}

// backoffFor is the delay before retry n after a response with status
// code that named no delay: from throttleBackoffBase for a 429, else from
// backoffBase.
func (c *Client) backoffFor(code, n int) time.Duration {
	if code == http.StatusTooManyRequests {
		return c.backoffFrom(throttleBackoffBase, n)
	}
	return c.backoff(n)
}

// backoff returns a delay uniform in [0, min(cap, base·2^(n-1))): "full
// jitter", which spreads clients that failed together.
func (c *Client) backoff(n int) time.Duration { return c.backoffFrom(backoffBase, n) }

func (c *Client) backoffFrom(base time.Duration, n int) time.Duration {
	ceil := backoffCap
	if n < 16 {
		if d := base << (n - 1); d < ceil {
			ceil = d
		}
	}
	return time.Duration(c.jitter(int64(ceil)))
}

// withJitter adds up to a tenth to a server-given delay, so that clients
// told the same Retry-After do not return in lockstep.
func (c *Client) withJitter(d time.Duration) time.Duration {
	return d + time.Duration(c.jitter(int64(d/10)+1))
}

// RetryAfter returns the delay a Retry-After value asks for, capped at a
// minute, or 0 when it has none or does not parse. The Client waits it out
// before its own retries; callers that retry on their own use it too.
func RetryAfter(v string, now time.Time) time.Duration {
	d, _ := parseRetryAfter(v, now)
	return d
}

// parseRetryAfter reads a Retry-After value (RFC 9110 section 10.2.3),
// delay-seconds or an HTTP date, capped at maxRetryAfter.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter, true
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
		if d < 0 {
			d = 0
		}
	} else {
		return 0, false
	}
	return min(d, maxRetryAfter), true
}

// transient reports whether a transport error is likely to go away:
// resets, refusals, a connection closed before or during the response
// headers, and timeouts. The caller's own context ending is checked before
// this.
func transient(err error) bool {
	if errors.Is(err, ErrInsecure) || errors.Is(err, errNotRewindable) {
		return false
	}
	for _, target := range []error{io.EOF, io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED,
		syscall.ECONNABORTED, syscall.EPIPE, syscall.ETIMEDOUT, net.ErrClosed} {
		if errors.Is(err, target) {
			return true
		}
	}
	// A connection that drops in the middle of the response headers leaves
	// a truncated line, which net/http reports as a malformed response
	// ("malformed HTTP status code", "malformed MIME header: missing
	// colon") on a connection it calls broken, not as an EOF. The error's
	// type is unexported, so its text is matched (TestListingSurvivesCuts,
	// which cuts responses inside their headers, fails without this).
	if strings.Contains(err.Error(), "net/http: HTTP/1.x transport connection broken") {
		return true
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns.IsTimeout || dns.IsTemporary
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// sleepContext waits for d or until ctx ends.
func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
