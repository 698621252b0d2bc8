package transfer_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/acrgo/acr"
	"github.com/acrgo/acr/emulator"
	"github.com/acrgo/acr/transfer"
)

// TestCopyRelaysBlobsWithoutLowWater checks that a copy between registries
// streams its blobs to the destination on connections without the
// low-water mark (the source's connection paces them), while what the
// client sends from memory (the manifest) goes with it. The destination,
// in this process, reads the option of the client's end of each request's
// connection while it handles the request.
func TestCopyRelaysBlobsWithoutLowWater(t *testing.T) {
	src := newRegistry(t)
	img := pushImage(t, src, "app", "amd64", 2<<20, 3<<20) // over 1 MiB: streamed, not buffered
	reg, err := emulator.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	var mu sync.Mutex
	marks := map[string][]int{} // "PUT blob", "PUT manifest": the client's mark per request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			kind := "PUT blob"
			if strings.Contains(r.URL.Path, "/manifests/") {
				kind = "PUT manifest"
			}
			mark := clientLowWater(t, r.RemoteAddr)
			mu.Lock()
			marks[kind] = append(marks[kind], mark)
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	dst, err := acr.NewClient(srv.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := transfer.Copy(t.Context(), transfer.Repository(src, "app"), img.Digest.String(), transfer.Repository(dst, "app"), "v1", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := marks["PUT blob"]; len(got) != 2 || got[0] != 0 || got[1] != 0 {
		t.Errorf("the client's TCP_NOTSENT_LOWAT during the two layers' PUTs: %v, want [0 0] (none)", got)
	}
	if got := marks["PUT manifest"]; len(got) != 1 || got[0] == 0 {
		t.Errorf("the client's TCP_NOTSENT_LOWAT during the manifest's PUT: %v, want the mark", got)
	}
}

// clientLowWater returns TCP_NOTSENT_LOWAT of this process's socket whose
// local address is addr (the client's end of a loopback connection).
func clientLowWater(t *testing.T, addr string) int {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Error(err)
		return -1
	}
	want, _ := strconv.Atoi(port)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Error(err)
		return -1
	}
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		if in, ok := sa.(*unix.SockaddrInet4); !ok || in.Port != want {
			continue
		}
		n, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT)
		if err != nil {
			t.Error(err)
			return -1
		}
		return n
	}
	t.Errorf("no socket of this process has the local address %s", addr)
	return -1
}
