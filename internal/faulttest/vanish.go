package faulttest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// VanishingServer is an HTTP server on 127.0.0.1 that can vanish, as a
// registry whose host went down does: after Vanish, every connection to
// it, open or new, is reset, so clients see the errors of a lost
// connection (ECONNRESET, EPIPE) and no answer.
//
// Unlike closing the listener, vanishing keeps the port bound until the
// test ends. A port freed in the middle of a test is free for any process:
// another go test process starting servers of its own (a whole suite runs
// packages side by side) can be given it within the client's retries, and
// then answers them in the vanished server's place.
type VanishingServer struct {
	*httptest.Server
	ln *vanishingListener
}

// NewVanishingServer starts a server for h and closes it when t ends.
func NewVanishingServer(t testing.TB, h http.Handler) *VanishingServer {
	t.Helper()
	s := &VanishingServer{Server: httptest.NewUnstartedServer(h)}
	s.ln = &vanishingListener{Listener: s.Listener, open: map[*net.TCPConn]bool{}}
	s.Listener = s.ln
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Vanish makes the server go away: it resets every open connection, that
// of a request under way too (a handler calling Vanish included), and
// every connection accepted from now on.
func (s *VanishingServer) Vanish() {
	l := s.ln
	l.mu.Lock()
	defer l.mu.Unlock()
	l.gone = true
	for c := range l.open {
		reset(c)
	}
	clear(l.open)
}

// reset closes c with a TCP reset rather than an orderly close.
func reset(c *net.TCPConn) {
	c.SetLinger(0)
	c.Close()
}

// vanishingListener tracks the connections it accepts, to reset them when
// the server vanishes, and resets those it accepts after.
type vanishingListener struct {
	net.Listener

	mu   sync.Mutex
	gone bool
	open map[*net.TCPConn]bool
}

func (l *vanishingListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		tc := c.(*net.TCPConn)
		l.mu.Lock()
		if l.gone {
			l.mu.Unlock()
			reset(tc)
			continue
		}
		l.open[tc] = true
		l.mu.Unlock()
		return &trackedConn{TCPConn: tc, l: l}, nil
	}
}

// trackedConn leaves its listener's set of open connections when closed.
type trackedConn struct {
	*net.TCPConn
	l *vanishingListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.open, c.TCPConn)
	c.l.mu.Unlock()
	return c.TCPConn.Close()
}
