// Command reqcount is a counting reverse proxy for bench/run.sh: it forwards
// every request to one registry and counts them by method, so that the
// listing and purge workloads can report how many requests each client
// issues.
//
//	reqcount -to http://127.0.0.1:5000
//
// It prints "listening on http://ADDR" once it accepts connections. GET
// /-/count answers the counts so far as "TOTAL GET=n HEAD=n ..." and resets
// them; GET /-/count?by=kind splits each method by what the request was
// for ("HEAD:blob=1000 POST:upload=1000 PUT:upload=1000 PUT:manifest=1"),
// to tell where the round trips of a push go. The Host header is passed
// through, so registries that build absolute URLs send clients back through
// the proxy.
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
	counts := map[[2]string]int{} // {method, kind}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/-/count" {
			byKind := r.URL.Query().Get("by") == "kind"
			mu.Lock()
			total, sums := 0, map[string]int{}
			for k, n := range counts {
				total += n
				key := k[0]
				if byKind {
					key += ":" + k[1]
				}
				sums[key] += n
			}
			clear(counts)
			mu.Unlock()
			parts := []string{}
			for k, n := range sums {
				parts = append(parts, fmt.Sprintf("%s=%d", k, n))
			}
			slices.Sort(parts)
			fmt.Fprintf(w, "%d %s\n", total, strings.Join(parts, " "))
			return
		}
		mu.Lock()
		counts[[2]string{r.Method, kind(r.URL.Path)}]++
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

// kind names what a request is for, from its path: blob, upload, manifest,
// tags, referrers, catalog, acr (ACR's /acr/v1 API), ping, or other.
func kind(path string) string {
	switch {
	case path == "/v2/" || path == "/v2":
		return "ping"
	case path == "/v2/_catalog":
		return "catalog"
	case strings.HasPrefix(path, "/acr/"):
		return "acr"
	case !strings.HasPrefix(path, "/v2/"):
		return "other"
	case strings.Contains(path, "/blobs/uploads"):
		return "upload"
	case strings.Contains(path, "/blobs/"):
		return "blob"
	case strings.Contains(path, "/manifests/"):
		return "manifest"
	case strings.HasSuffix(path, "/tags/list"):
		return "tags"
	case strings.Contains(path, "/referrers/"):
		return "referrers"
	}
	return "other"
}
