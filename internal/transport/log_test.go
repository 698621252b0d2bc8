package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/acrgo/acr/emulator"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// records decodes the JSON log lines in s.
func records(t *testing.T, s string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// TestLogsNeverContainSecrets captures all debug output of full Entra ID,
// Basic, refresh token and lookup flows, their failures, and a redirect to
// signed storage, and checks that no secret appears in a log or an error.
func TestLogsNeverContainSecrets(t *testing.T) {
	const (
		sas          = "SAS-SIGNATURE-SECRET"
		wrongPass    = "wrong-password-abcdef"
		wrongAAD     = "unknown-aad-token-abcdef"
		wrongRefresh = "bogus.refresh.token-abcdef"
	)
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var clk serverClock
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}, AADTokens: []string{testAAD}, Now: clk.now})
	anonReg := newRegistry(t, &emulator.Options{AnonymousPull: true})
	rt := exchangeRefreshToken(t, reg, testAAD)

	var errs []error
	run := func(cred Credential, base string, calls ...[2]string) {
		c := newTestClient(t, &Options{Logger: logger, Credential: cred})
		for _, call := range calls {
			if _, err := do(t, c, http.MethodGet, base+call[0], call[1]); err != nil {
				errs = append(errs, err)
			}
		}
	}
	catalog := [2]string{"/acr/v1/_catalog", "registry:catalog:*"}
	tags := [2]string{"/v2/a/tags/list", "repository:a:pull"}

	run(Credential{TokenCredential: &fakeAAD{token: testAAD}}, reg.URL, catalog, tags)
	run(Credential{Username: testUser, Password: testPassword}, reg.URL, catalog, tags)
	run(Credential{RefreshToken: rt}, reg.URL, catalog, tags)
	run(Credential{Lookup: func(context.Context, string) (string, string, error) { return testUser, testPassword, nil }}, reg.URL, catalog)
	run(Credential{Lookup: func(context.Context, string) (string, string, error) { return RefreshTokenUser, rt, nil }}, reg.URL, catalog)
	run(Credential{}, anonReg.URL, tags, catalog)

	// Expiry on the server: cached tokens and the refresh token are
	// refused, and the client re-challenges and exchanges again.
	entra := newTestClient(t, &Options{Logger: logger, Credential: Credential{TokenCredential: &fakeAAD{token: testAAD}}})
	mustDo(t, entra, http.MethodGet, reg.URL+tags[0], http.StatusNotFound, tags[1])
	clk.advance(4 * time.Hour)
	mustDo(t, entra, http.MethodGet, reg.URL+tags[0], http.StatusNotFound, tags[1])

	// Failures.
	run(Credential{Username: testUser, Password: wrongPass}, reg.URL, catalog)
	run(Credential{TokenCredential: &fakeAAD{token: wrongAAD}}, reg.URL, catalog)
	run(Credential{RefreshToken: wrongRefresh}, reg.URL, catalog)
	if len(errs) != 3 {
		t.Errorf("got %d errors, want 3 from the failing credentials: %v", len(errs), errs)
	}

	// A blob redirect to signed storage, and a network error on a signed URL.
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/blob?sig="+sas+"&se=2030-01-01", http.StatusTemporaryRedirect)
		}
	}))
	c := newTestClient(t, &Options{Logger: logger, MaxRetries: -1})
	mustDo(t, c, http.MethodGet, store.URL+"/start", http.StatusOK)
	store.Close()
	if _, err := do(t, c, http.MethodGet, store.URL+"/blob?sig="+sas); err != nil {
		errs = append(errs, err)
	} else {
		t.Error("request to a closed server succeeded")
	}

	secrets := append(reg.allSecrets(), anonReg.allSecrets()...)
	secrets = append(secrets, testPassword, testAAD, rt, wrongPass, wrongAAD, wrongRefresh, sas)
	out := logs.String()
	if len(records(t, out)) < 20 {
		t.Fatalf("got %d log records, want a record per exchange", len(records(t, out)))
	}
	for _, s := range secrets {
		if len(s) < 8 {
			continue
		}
		if strings.Contains(out, s) {
			t.Errorf("the log contains a secret %.12q…", s)
		}
		for _, err := range errs {
			if strings.Contains(err.Error(), s) {
				t.Errorf("error %q contains a secret %.12q…", err, s)
			}
		}
	}
	for _, forbidden := range []string{"Authorization", "Bearer ", "Basic "} {
		if strings.Contains(out, forbidden) {
			t.Errorf("the log mentions %q", forbidden)
		}
	}
}

func TestLogRecord(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := newRegistry(t, &emulator.Options{Users: map[string]string{testUser: testPassword}})
	c := newTestClient(t, &Options{Logger: logger, Credential: Credential{Username: testUser, Password: testPassword}})
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/a/tags/list?n=10&_state=opaque", http.StatusNotFound, "repository:a:pull")

	recs := records(t, logs.String())
	if len(recs) != 3 {
		t.Fatalf("got %d records, want 3 (401, token, retry):\n%s", len(recs), logs.String())
	}
	want := []struct {
		kind   string
		status float64
	}{{"registry", 401}, {"token", 200}, {"registry", 404}}
	for i, r := range recs {
		if r["level"] != "DEBUG" || r["msg"] != "http" || r["kind"] != want[i].kind || r["status"] != want[i].status ||
			r["method"] != "GET" || r["attempt"] != float64(1) || r["request_id"] == "" || r["request_id"] == nil || r["duration"] == nil {
			t.Errorf("record %d = %v, want a DEBUG http record of kind %s, status %v, attempt 1, with request id and duration", i, r, want[i].kind, want[i].status)
		}
	}
	if u := recs[0]["url"]; u != reg.URL+"/v2/a/tags/list?_state=REDACTED&n=10" {
		t.Errorf("url = %v, want the query redacted except n", u)
	}
}

func TestSilentByDefault(t *testing.T) {
	var buf syncBuffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(old)
	reg := newRegistry(t, nil)
	c := newTestClient(t, nil)
	mustDo(t, c, http.MethodGet, reg.URL+"/v2/", http.StatusOK)
	if buf.String() != "" {
		t.Errorf("a nil Logger logged to the default logger: %s", buf.String())
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://r.io/v2/a/blobs/sha256:x", "https://r.io/v2/a/blobs/sha256:x"},
		{"https://user:pw@r.io/v2/", "https://r.io/v2/"},
		{"https://acct.blob.core.windows.net/c/b?sv=2020&sig=SECRET&se=x", "https://acct.blob.core.windows.net/c/b?se=REDACTED&sig=REDACTED&sv=REDACTED"},
		{"https://r.io/oauth2/token?scope=repository%3Aa%3Apull&service=r.io", "https://r.io/oauth2/token?scope=repository%3Aa%3Apull&service=r.io"},
		{"https://r.io/v2/a/blobs/uploads/u?_state=abc&digest=sha256:1", "https://r.io/v2/a/blobs/uploads/u?_state=REDACTED&digest=sha256%3A1"},
		{"https://r.io/x?X-Amz-Signature=s&last=t&n=5", "https://r.io/x?X-Amz-Signature=REDACTED&last=t&n=5"},
		{"https://r.io/x?%zz=secret", "https://r.io/x?REDACTED"},
		{"https://r.io/x#frag", "https://r.io/x"},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := Redact(u); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	if Redact(nil) != "" {
		t.Error("Redact(nil) is not empty")
	}
	err := redactError(&url.Error{Op: "Get", URL: "https://s.io/b?sig=SECRET", Err: errors.New("boom")})
	if strings.Contains(err.Error(), "SECRET") {
		t.Errorf("redactError left the signature: %v", err)
	}
}

func TestRequestID(t *testing.T) {
	h := http.Header{}
	if RequestID(h) != "" {
		t.Error("RequestID of empty headers is not empty")
	}
	h.Set("X-Request-Id", "b")
	h.Set("X-Ms-Request-Id", "a")
	if got := RequestID(h); got != "a" {
		t.Errorf("RequestID = %q, want the ACR header first", got)
	}
}

// TestLongRetryLoggedAtInfo: a retry that waits NoticeDelay or more (a
// 429's Retry-After) is an Info record with its delay and reason, so that
// a logger at Info level can say why nothing happens; a short backoff
// (a 503 without Retry-After) stays at Debug.
func TestLongRetryLoggedAtInfo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs syncBuffer
		logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		s := &script{step: func(n int, w http.ResponseWriter, r *http.Request) {
			switch n {
			case 0:
				w.Header().Set("Retry-After", "3")
				w.WriteHeader(http.StatusTooManyRequests)
			case 1:
				w.WriteHeader(http.StatusServiceUnavailable)
			default:
				w.WriteHeader(http.StatusOK)
			}
		}}
		c := newTestClient(t, &Options{HTTPClient: memClient(s), Logger: logger})
		c.jitter = func(n int64) int64 { return n / 2 } // 503's backoff: 100 ms
		mustDo(t, c, http.MethodGet, testURL, http.StatusOK)
		var retries []map[string]any
		for _, r := range records(t, logs.String()) {
			if r["msg"] == "retry" {
				retries = append(retries, r)
			}
		}
		if len(retries) != 2 {
			t.Fatalf("got %d retry records, want 2:\n%s", len(retries), logs.String())
		}
		if r := retries[0]; r["level"] != "INFO" || r["reason"] != "429 Too Many Requests" || r["delay"].(float64) < float64(3*time.Second) {
			t.Errorf("the 429's retry record = %v, want INFO with reason 429 Too Many Requests and a delay of 3 s or more", r)
		}
		if r := retries[1]; r["level"] != "DEBUG" || r["reason"] != "503 Service Unavailable" {
			t.Errorf("the 503's retry record = %v, want DEBUG with reason 503 Service Unavailable", r)
		}
	})
}
