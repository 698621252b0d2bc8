// Command floor is the loopback floor for bench/run.sh: the least work
// an HTTP server can do to take a blob upload and serve it back, so the
// registries' numbers can be read against it.
//
// It speaks just enough of the OCI blob protocol for curl to use the same
// requests as against a registry, and none of a registry's work (no hashing,
// no fsync, no metadata):
//
//	POST /v2/<name>/blobs/uploads/       202, Location: /uploads/<n>
//	PUT  /uploads/<n>?digest=<digest>    body written to DIR/<digest>, 201
//	GET  /v2/<name>/blobs/<digest>       DIR/<digest> (sendfile)
//	GET  /files/<path>                   http.FileServer(DIR)
//
// It prints "listening on http://ADDR" once it accepts connections.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync/atomic"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	dir := flag.String("dir", ".", "directory that holds the blobs")
	flag.Parse()

	var uploads atomic.Int64
	mux := http.NewServeMux()
	mux.Handle("GET /files/", http.StripPrefix("/files/", http.FileServer(http.Dir(*dir))))
	mux.HandleFunc("GET /v2/", func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		if !strings.Contains(r.URL.Path, "/blobs/") || !validDigest(name) {
			http.NotFound(w, r)
			return
		}
		// ServeFile reaches the response's ReadFrom, which uses sendfile.
		http.ServeFile(w, r, filepath.Join(*dir, name))
	})
	mux.HandleFunc("POST /v2/", func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/blobs/uploads/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Location", fmt.Sprintf("/uploads/%d", uploads.Add(1)))
		w.WriteHeader(http.StatusAccepted)
	})
	mux.HandleFunc("PUT /uploads/", func(w http.ResponseWriter, r *http.Request) {
		dgst := r.URL.Query().Get("digest")
		if !validDigest(dgst) {
			http.Error(w, "bad digest", http.StatusBadRequest)
			return
		}
		if err := store(filepath.Join(*dir, dgst), r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusCreated)
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// validDigest accepts "algorithm:hex" with nothing that could leave the directory.
func validDigest(s string) bool {
	alg, hex, ok := strings.Cut(s, ":")
	return ok && alg != "" && hex != "" && !strings.ContainsAny(s, "/\\") && !strings.Contains(s, "..")
}

// store writes body to name with 1 MiB writes: io.Copy would use 32 KiB
// writes, which cost ~0.3 s per GiB more on this machine.
func store(name string, body io.Reader) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(struct{ io.Writer }{f}, struct{ io.Reader }{body}, buf)
	return errors.Join(err, f.Close())
}
