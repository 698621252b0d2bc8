package transport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/acrgo/acr/emulator"
)

// fakeAAD is an azcore.TokenCredential that returns a fixed Entra ID token.
type fakeAAD struct {
	token  string
	calls  atomic.Int64
	mu     sync.Mutex
	scopes []string
}

func (f *fakeAAD) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	f.calls.Add(1)
	f.mu.Lock()
	f.scopes = append(f.scopes, opts.Scopes...)
	f.mu.Unlock()
	return azcore.AccessToken{Token: f.token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// seen is one request as a recorder saw it.
type seen struct {
	Method, Path, Host string
	Authorization      string
	Form               url.Values // POST form or GET query
	Status             int
}

// recorder wraps a handler and records every request and the secrets that
// pass through it (Authorization headers, tokens in /oauth2 responses).
type recorder struct {
	h       http.Handler
	mu      sync.Mutex
	reqs    []seen
	secrets []string
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := seen{Method: r.Method, Path: r.URL.Path, Host: r.Host, Authorization: r.Header.Get("Authorization"), Form: r.URL.Query()}
	if r.Method == http.MethodPost && strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		s.Form, _ = url.ParseQuery(string(b))
	}
	cw := &captureWriter{ResponseWriter: w}
	rec.h.ServeHTTP(cw, r)
	s.Status = cw.status
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	var found []string
	if a := s.Authorization; a != "" {
		_, cred, _ := strings.Cut(a, " ")
		found = append(found, a, cred)
	}
	for _, k := range []string{"access_token", "refresh_token", "password"} {
		if v := s.Form.Get(k); v != "" {
			found = append(found, v)
		}
	}
	if strings.HasPrefix(r.URL.Path, "/oauth2/") {
		var body map[string]any
		if json.Unmarshal(cw.body.Bytes(), &body) == nil {
			for _, k := range []string{"token", "access_token", "refresh_token"} {
				if v, ok := body[k].(string); ok && v != "" {
					found = append(found, v)
				}
			}
		}
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, s)
	rec.secrets = append(rec.secrets, found...)
	rec.mu.Unlock()
}

// requests returns the recorded requests that match.
func (rec *recorder) requests(match func(seen) bool) []seen {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var out []seen
	for _, s := range rec.reqs {
		if match == nil || match(s) {
			out = append(out, s)
		}
	}
	return out
}

func (rec *recorder) count(method, path string) int {
	return len(rec.requests(func(s seen) bool { return s.Method == method && s.Path == path }))
}

func (rec *recorder) allSecrets() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.secrets...)
}

type captureWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (w *captureWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *captureWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if w.body.Len() < 64<<10 {
		w.body.Write(p)
	}
	return w.ResponseWriter.Write(p)
}

// registry is an emulator served over loopback http through a recorder.
type registry struct {
	*recorder
	URL  string
	Host string
	Reg  *emulator.Server
}

// newRegistry starts an emulator with opts behind a recorder.
func newRegistry(t testing.TB, opts *emulator.Options) *registry {
	t.Helper()
	reg, err := emulator.New(opts)
	if err != nil {
		t.Fatalf("emulator.New: %v", err)
	}
	rec := &recorder{h: reg}
	hs := httptest.NewServer(rec)
	t.Cleanup(func() {
		hs.Close()
		reg.Close()
	})
	return &registry{recorder: rec, URL: hs.URL, Host: hs.Listener.Addr().String(), Reg: reg}
}

// newTestClient builds a Client or fails the test.
func newTestClient(t testing.TB, opts *Options) *Client {
	t.Helper()
	c, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// do sends method url through c and returns the status, closing the body.
func do(t testing.TB, c *Client, method, u string, scopes ...string) (int, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req, scopes...)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// mustDo is do that fails the test on error or an unexpected status.
func mustDo(t testing.TB, c *Client, method, u string, want int, scopes ...string) {
	t.Helper()
	got, err := do(t, c, method, u, scopes...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if got != want {
		t.Fatalf("%s %s: got status %d, want %d", method, u, got, want)
	}
}

// handlerTransport serves requests in memory with a handler, so tests can
// run inside a synctest bubble, where network I/O would stall fake time.
type handlerTransport struct {
	h http.Handler
}

func (ht handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		defer r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	sr := r.Clone(r.Context())
	sr.Host = r.URL.Host
	sr.RequestURI = r.URL.RequestURI()
	sr.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	sr.RemoteAddr = "192.0.2.1:1234"
	if r.URL.Scheme == "https" {
		sr.TLS = &tls.ConnectionState{HandshakeComplete: true, ServerName: r.URL.Hostname()}
	}
	if r.Body == nil {
		sr.Body = http.NoBody
	} else {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		sr.Body = io.NopCloser(bytes.NewReader(b))
	}
	w := httptest.NewRecorder()
	ht.h.ServeHTTP(w, sr)
	resp := w.Result()
	resp.Request = r
	return resp, nil
}

// memClient is an http.Client that serves every host with h in memory.
func memClient(h http.Handler) *http.Client { return &http.Client{Transport: handlerTransport{h}} }

// hostMap is an http.Client whose connections to the named host:port
// addresses go to test servers instead, so tests can use host names such as
// registry.example.com (covered by httptest's certificate) that are not
// loopback. TLS trusts httptest's certificate.
func hostMap(t testing.TB, tlsServer *httptest.Server, routes map[string]string) *http.Client {
	t.Helper()
	var tr *http.Transport
	if tlsServer != nil {
		tr = tlsServer.Client().Transport.(*http.Transport).Clone()
	} else {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	tr.Proxy = nil
	d := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if to, ok := routes[addr]; ok {
			addr = to
		}
		return d.DialContext(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// serverAddr returns the host:port a test server listens on.
func serverAddr(s *httptest.Server) string { return s.Listener.Addr().String() }

// exchangeRefreshToken gets an ACR refresh token from reg directly, for
// tests of the RefreshToken credential.
func exchangeRefreshToken(t testing.TB, reg *registry, aad string) string {
	t.Helper()
	form := url.Values{"grant_type": {"access_token"}, "service": {reg.Host}, "access_token": {aad}}
	resp, err := http.PostForm(reg.URL+"/oauth2/exchange", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.RefreshToken == "" {
		t.Fatalf("exchange: status %d, err %v", resp.StatusCode, err)
	}
	return body.RefreshToken
}
