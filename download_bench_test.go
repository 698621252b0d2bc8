package acr_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
)

// BenchmarkDownloadBlobTo writes a 256 MiB blob to a file with
// DownloadBlobTo, in one stream and in parallel parts, over three links:
// loopback; loopback with 20 ms before every answer (the emulator's Latency,
// a registry slow to start each response); and a long link, where a proxy
// lets each connection carry one 2 MiB window per 20 ms round trip
// (~100 MiB/s per connection, as TCP's window limits a connection across an
// ocean). The files go to the benchmark's temporary directory (set TMPDIR
// to choose the disk).
func BenchmarkDownloadBlobTo(b *testing.B) {
	sha256Rate()
	const size = 256 << 20
	links := []struct {
		name    string
		latency time.Duration // emulator.Options.Latency
		rtt     time.Duration // windowed proxy round trip
	}{
		{"loopback", 0, 0},
		{"answer-latency=20ms", 20 * time.Millisecond, 0},
		{"window=2MiB/rtt=20ms", 0, 20 * time.Millisecond},
	}
	for _, link := range links {
		br := newBenchRegistry(b, &emulator.Options{Latency: link.latency})
		base := br.URL
		if link.rtt > 0 {
			base = startWindowProxy(b, strings.TrimPrefix(br.URL, "http://"), 2<<20, link.rtt)
		}
		client, err := acr.NewClient(base, nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		desc, err := client.UploadBlob(b.Context(), "bench/to", newPatternReader(size, 11), nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, parts := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("%s/parts=%d", link.name, parts), func(b *testing.B) {
				b.SetBytes(size)
				var tm transferMetrics
				dir := b.TempDir()
				b.StopTimer()
				for i := 0; i < b.N; i++ {
					path := filepath.Join(dir, fmt.Sprint("blob", i))
					tm.measure(b, func() {
						n, err := downloadFile(b.Context(), client, "bench/to", desc.Digest, path, &acr.DownloadBlobToOptions{Parts: parts})
						if err != nil || n != size {
							b.Fatalf("DownloadBlobTo: %v (%d bytes)", err, n)
						}
					})
					os.Remove(path)
				}
				tm.report(b, size)
			})
		}
		br.stop()
	}
}

// startWindowProxy forwards TCP connections to upstream, letting each
// carry at most window bytes towards the client per round trip rtt, and
// delaying what the client sends by half a round trip: one connection's
// throughput is then window/rtt, as on a long link, and more connections
// carry more. It stops with the benchmark.
func startWindowProxy(b *testing.B, upstream string, window int, rtt time.Duration) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", upstream)
				if err != nil {
					return
				}
				defer u.Close()
				go func() {
					buf := make([]byte, 64<<10)
					for {
						n, err := c.Read(buf)
						if n > 0 {
							time.Sleep(rtt / 2)
							if _, werr := u.Write(buf[:n]); werr != nil {
								return
							}
						}
						if err != nil {
							u.(*net.TCPConn).CloseWrite()
							return
						}
					}
				}()
				buf := make([]byte, window)
				for {
					start := time.Now()
					n, err := io.ReadAtLeast(u, buf, 1)
					if n > 0 {
						// Take what else is there, up to a window, then
						// wait out the round trip that window costs.
						if m, _ := readAvailable(u, buf[n:]); m > 0 {
							n += m
						}
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
						time.Sleep(time.Duration(float64(rtt)*float64(n)/float64(window)) - time.Since(start))
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readAvailable reads into buf what arrives within a millisecond.
func readAvailable(c net.Conn, buf []byte) (int, error) {
	c.SetReadDeadline(time.Now().Add(time.Millisecond))
	defer c.SetReadDeadline(time.Time{})
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
