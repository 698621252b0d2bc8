package acr_test

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// direction names one half of a proxied connection.
type direction int

const (
	upstream   direction = iota // client to server: request bodies
	downstream                  // server to client: response bodies
)

// faultProxy is a TCP proxy between the client and a server that breaks
// connections on purpose. It counts the bytes it forwards in each
// direction, so tests can tell a resumed transfer from a restarted one.
type faultProxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:PORT: a loopback host,
	// so that the client sends credentials over it.
	URL string

	ln     net.Listener
	target string

	mu        sync.Mutex
	dir       direction
	cutAt     int64 // cut when this many bytes have gone in dir; <= 0 never
	firstOnly bool  // cut only once, counting bytes across connections
	cut       bool  // a firstOnly cut has happened
	conns     map[net.Conn]bool

	up, down atomic.Int64 // bytes forwarded
	cuts     atomic.Int32 // connections cut
	wg       sync.WaitGroup
}

// newFaultProxy starts a proxy to the server at target (host:port) and
// stops it when t ends.
func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{URL: "http://" + ln.Addr().String(), ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(p.close)
	return p
}

// cutAfter arms the proxy: the connection carrying byte n in direction d
// is closed after forwarding n bytes. With once, bytes are counted across
// all connections from now on and only the first cut happens; otherwise
// every connection is cut after n bytes of its own.
func (p *faultProxy) cutAfter(d direction, n int64, once bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.dir, p.cutAt, p.firstOnly, p.cut = d, n, once, false
	p.up.Store(0)
	p.down.Store(0)
	p.cuts.Store(0)
}

func (p *faultProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *faultProxy) serve() {
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
		p.conns[c], p.conns[s] = true, true
		p.mu.Unlock()
		pc := &proxiedConn{p: p, client: c, server: s}
		p.wg.Add(2)
		go pc.pipe(upstream, s, c)
		go pc.pipe(downstream, c, s)
	}
}

// proxiedConn is one client connection and its server connection.
type proxiedConn struct {
	p              *faultProxy
	client, server net.Conn
	n              [2]int64 // bytes forwarded on this connection, by direction
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
// before a cut, and whether the connection is to be cut after them.
func (pc *proxiedConn) allow(d direction, n int) (int, bool) {
	p := pc.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cutAt <= 0 || d != p.dir || (p.firstOnly && p.cut) {
		return n, false
	}
	done := pc.n[d]
	if p.firstOnly {
		done = p.up.Load()
		if d == downstream {
			done = p.down.Load()
		}
	}
	if left := p.cutAt - done; int64(n) >= left {
		p.cut = true
		return int(max(left, 0)), true
	}
	return n, false
}

func (pc *proxiedConn) pipe(d direction, dst, src net.Conn) {
	defer pc.p.wg.Done()
	counter := &pc.p.up
	if d == downstream {
		counter = &pc.p.down
	}
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			m, cut := pc.allow(d, n)
			if m > 0 {
				w, werr := dst.Write(buf[:m])
				counter.Add(int64(w))
				pc.n[d] += int64(w)
				if werr != nil {
					pc.kill()
					return
				}
			}
			if cut {
				pc.p.cuts.Add(1)
				pc.kill()
				return
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
