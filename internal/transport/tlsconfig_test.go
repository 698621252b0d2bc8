package transport

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// trustOnly returns a TLS configuration that trusts srv's certificate and
// nothing else.
func trustOnly(srv *httptest.Server) *tls.Config {
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return &tls.Config{RootCAs: pool}
}

// TestTLSConfig checks Options.TLSConfig against real TLS servers: the
// client trusts the private certificate it names and, without it, refuses
// the server; HTTP/2 is still negotiated where the server offers it; the
// caller's configuration is not modified; and setting it together with
// HTTPClient is refused.
func TestTLSConfig(t *testing.T) {
	for _, h2 := range []bool{false, true} {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Proto", r.Proto)
		}))
		srv.EnableHTTP2 = h2
		srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
		srv.StartTLS()
		defer srv.Close()

		conf := trustOnly(srv)
		c := newTestClient(t, &Options{TLSConfig: conf})
		resp, err := c.hc.Get(srv.URL + "/v2/")
		if err != nil {
			t.Fatalf("HTTP/2 offered %v: a request trusting the server's certificate: %v", h2, err)
		}
		resp.Body.Close()
		if got := resp.ProtoMajor; (got == 2) != h2 {
			t.Fatalf("HTTP/2 offered %v: the request went over HTTP/%d", h2, got)
		}
		if conf.NextProtos != nil {
			t.Fatalf("the caller's TLS configuration was modified: NextProtos %v", conf.NextProtos)
		}
		c.hc.CloseIdleConnections()

		var unknown x509.UnknownAuthorityError
		_, err = do(t, newTestClient(t, nil), http.MethodGet, srv.URL+"/v2/")
		if !errors.As(err, &unknown) {
			t.Fatalf("HTTP/2 offered %v: without TLSConfig the request returned %v, want x509.UnknownAuthorityError", h2, err)
		}
	}

	// The pool stays the tuned one: parallel transfers reuse their
	// connections instead of a new TLS handshake per request.
	var dials atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(10 * time.Millisecond) // so that the requests of a round overlap
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			dials.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	c := newTestClient(t, &Options{TLSConfig: trustOnly(srv)})
	for range 3 {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				if _, err := do(t, c, http.MethodGet, srv.URL+"/v2/"); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		// Let the round's connections go back to the pool before the next
		// round asks for them (a busy machine returns them late).
		time.Sleep(50 * time.Millisecond)
	}
	// Go's default pool keeps 2 idle connections per host: 8 + 6 + 6 = 20
	// dials. The tuned pool keeps all 8; a few more on a busy machine, where
	// a round may ask before every connection of the last one is back.
	if n := dials.Load(); n > 12 {
		t.Fatalf("three rounds of 8 parallel requests opened %d connections, want at most 12 (Go's default pool opens 20)", n)
	}

	_, err := New(&Options{TLSConfig: &tls.Config{}, HTTPClient: &http.Client{}})
	if err == nil || !strings.Contains(err.Error(), "both HTTPClient and TLSConfig") {
		t.Fatalf("New with HTTPClient and TLSConfig returned %v, want a refusal naming both", err)
	}
	if tr := defaultTransport(&tls.Config{NextProtos: []string{"x"}}); !slices.Equal(tr.TLSClientConfig.NextProtos, []string{"x"}) {
		t.Fatalf("the default transport's TLS configuration is %+v, want a clone of the caller's", tr.TLSClientConfig)
	}
}
