package faulttest

import (
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Direction names one half of a proxied connection.
type Direction int

const (
	// Upstream is client to server: requests and their bodies.
	Upstream Direction = iota
	// Downstream is server to client: responses and their bodies.
	Downstream
)

// StallForever, as the length of a stall, holds the connection until
// either side closes it or the proxy stops.
const StallForever time.Duration = -1

// Proxy is a TCP proxy between the client and a server that breaks
// or stalls connections on purpose. It counts the bytes it forwards in
// each direction, so tests can tell a resumed transfer from a restarted
// one.
type Proxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:PORT: a loopback host,
	// so that the client sends credentials over it.
	URL string

	ln     net.Listener
	target string

	mu        sync.Mutex
	dir       Direction
	at        int64         // break when this many bytes have gone in dir; <= 0 never
	stall     time.Duration // 0: break by cutting; else stall this long, or StallForever
	firstOnly bool          // break only once, counting bytes across connections
	fired     bool          // a firstOnly break has happened
	armed     int           // arm calls so far, to stall a connection once per arming
	conns     map[net.Conn]bool
	closed    bool

	up, down atomic.Int64 // bytes forwarded since the last arming
	cuts     atomic.Int32 // connections cut since the last arming
	stalls   atomic.Int32 // stalls begun since the last arming
	wg       sync.WaitGroup
}

// NewProxy starts a proxy to the server at target (host:port) and
// stops it when t ends.
func NewProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{URL: "http://" + ln.Addr().String(), ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.Close)
	return p
}

// CutAfter arms the proxy: the connection carrying byte n in direction d
// is closed after forwarding n bytes. With once, bytes are counted across
// all connections from now on and only the first cut happens; otherwise
// every connection is cut after n bytes of its own.
func (p *Proxy) CutAfter(d Direction, n int64, once bool) {
	p.arm(d, n, 0, once)
}

// StallAfter arms the proxy like CutAfter, but instead of closing the
// connection it stops forwarding in direction d after byte n, for dur or,
// with StallForever, until the connection ends. While stalled the proxy
// goes on reading what the sender sends, so that it notices when either
// side gives up and closes; it forwards none of it until the stall is
// over, then all of it. The other direction flows on. A connection
// stalls at most once in each direction per call.
func (p *Proxy) StallAfter(d Direction, n int64, dur time.Duration, once bool) {
	if dur == 0 {
		panic("faulttest: StallAfter: a stall of 0 is no stall; use StallForever to stall until the connection ends")
	}
	p.arm(d, n, dur, once)
}

// Forwarded returns how many bytes the proxy has forwarded in direction d
// since it was last armed (or started), over all connections.
func (p *Proxy) Forwarded(d Direction) int64 {
	if d == Downstream {
		return p.down.Load()
	}
	return p.up.Load()
}

// Cuts returns how many connections the proxy has cut since it was last
// armed.
func (p *Proxy) Cuts() int { return int(p.cuts.Load()) }

// Stalls returns how many stalls have begun since the proxy was last armed.
func (p *Proxy) Stalls() int { return int(p.stalls.Load()) }

func (p *Proxy) arm(d Direction, n int64, stall time.Duration, once bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dir, p.at, p.stall, p.firstOnly, p.fired = d, n, stall, once, false
	p.armed++
	p.up.Store(0)
	p.down.Store(0)
	p.cuts.Store(0)
	p.stalls.Store(0)
}

// Close stops the proxy and closes every connection through it. NewProxy
// arranges for it to run when the test ends; calling it earlier is safe.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			// Accepted as the proxy closed: close would not see it.
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		pc := &proxiedConn{p: p, client: c, server: s}
		p.wg.Add(2)
		go pc.pipe(Upstream, s, c)
		go pc.pipe(Downstream, c, s)
	}
}

// proxiedConn is one client connection and its server connection.
type proxiedConn struct {
	p              *Proxy
	client, server net.Conn
	n              [2]int64 // bytes forwarded on this connection, by direction
	stalled        [2]int   // the arming under which this connection last stalled, by direction
	once           sync.Once
}

// kill closes both sides. It does not reset them: the bytes forwarded
// before a cut arrive, as the counters say, and then the stream ends in
// the middle of a message.
func (pc *proxiedConn) kill() {
	pc.once.Do(func() {
		pc.client.Close()
		pc.server.Close()
		pc.p.mu.Lock()
		delete(pc.p.conns, pc.client)
		delete(pc.p.conns, pc.server)
		pc.p.mu.Unlock()
	})
}

// allow returns how many of n bytes in direction d may still be forwarded
// before the armed fault, and what to do after them: cut the connection,
// or stall it for the duration returned (non-zero).
func (pc *proxiedConn) allow(d Direction, n int) (m int, cut bool, stall time.Duration) {
	p := pc.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.at <= 0 || d != p.dir || (p.firstOnly && p.fired) || pc.stalled[d] == p.armed {
		return n, false, 0
	}
	done := pc.n[d]
	if p.firstOnly {
		done = p.up.Load()
		if d == Downstream {
			done = p.down.Load()
		}
	}
	if left := p.at - done; int64(n) >= left {
		p.fired = true
		if p.stall != 0 {
			pc.stalled[d] = p.armed
			return int(max(left, 0)), false, p.stall
		}
		return int(max(left, 0)), true, 0
	}
	return n, false, 0
}

// forward writes b to dst, counting what went. It kills the connection
// and returns false when the write fails.
func (pc *proxiedConn) forward(d Direction, dst net.Conn, b []byte) bool {
	if len(b) == 0 {
		return true
	}
	counter := &pc.p.up
	if d == Downstream {
		counter = &pc.p.down
	}
	// Count before writing, so that the counters include every byte the
	// receiver may have read by now, and take back what did not go.
	counter.Add(int64(len(b)))
	w, err := dst.Write(b)
	counter.Add(int64(w - len(b)))
	pc.n[d] += int64(w)
	if err != nil {
		pc.kill()
		return false
	}
	return true
}

func (pc *proxiedConn) pipe(d Direction, dst, src net.Conn) {
	defer pc.p.wg.Done()
	buf := make([]byte, 64<<10)
	stalled := false
	var held []byte // read during a stall, forwarded when it ends
	for {
		n, err := src.Read(buf)
		switch {
		case stalled:
			held = append(held, buf[:n]...)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The stall is over: deliver what it held back, go on.
				stalled = false
				src.SetReadDeadline(time.Time{})
				if !pc.forward(d, dst, held) {
					return
				}
				held, err = nil, nil
			}
		case n > 0:
			m, cut, stall := pc.allow(d, n)
			if !pc.forward(d, dst, buf[:m]) {
				return
			}
			if cut {
				pc.p.cuts.Add(1)
				pc.kill()
				return
			}
			if stall != 0 {
				pc.p.stalls.Add(1)
				stalled = true
				held = append(held[:0], buf[m:n]...)
				if stall != StallForever {
					// The read that is due when the stall ends fails
					// with a timeout, which ends it.
					src.SetReadDeadline(time.Now().Add(stall))
				}
			}
		}
		if err != nil {
			// Either side ended or failed: HTTP/1.1 peers do not
			// half-close, so end the whole connection.
			pc.kill()
			return
		}
	}
}
