// Command reqcount is a counting reverse proxy for bench/run.sh: it forwards
// every request to one registry and counts them by method, so that the
// listing and purge workloads can report how many requests each client
// issues.
//
//	reqcount -to http://127.0.0.1:5000
//
// It prints "listening on http://ADDR" once it accepts connections. GET
// /-/count answers the counts so far as "TOTAL GET=n HEAD=n ..." and resets
// them. The Host header is passed through, so registries that build absolute
// URLs send clients back through the proxy.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
)

func main() {
	to := flag.String("to", "", "registry base URL to forward to")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()
	target, err := url.Parse(*to)
	if err != nil || target.Scheme != "http" || target.Host == "" {
		log.Fatalf("reqcount: -to must be an http://HOST:PORT URL, got %q", *to)
	}
	var mu sync.Mutex
	counts := map[string]int{}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/-/count" {
			mu.Lock()
			total, parts := 0, []string{}
			for m, n := range counts {
				total += n
				parts = append(parts, fmt.Sprintf("%s=%d", m, n))
			}
			clear(counts)
			mu.Unlock()
			slices.Sort(parts)
			fmt.Fprintf(w, "%d %s\n", total, strings.Join(parts, " "))
			return
		}
		mu.Lock()
		counts[r.Method]++
		mu.Unlock()
		proxy.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, h))
}
