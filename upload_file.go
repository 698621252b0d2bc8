package acr

import (
	"context"
	"errors"
	"io"
	"net/url"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// fileBody is the body of a PUT that streams a blob from a regular file.
// Through its SyscallConn, net/http's transport sends it with sendfile(2)
// on a plain-HTTP connection: the bytes go from the page cache to the
// socket without being copied through the process (crane and oras push
// the same way). To a registry on this machine it is copied instead
// while fewer such bodies than GOMAXPROCS are in flight (see
// Client.sendsBy). Over TLS the transport reads it like any
// reader.
//
// Nothing bounds what the socket queues: a low-water mark on the connection
// (TCP_NOTSENT_LOWAT, 16 KiB unsent) went with sendfile until it was found
// to slow the distribution registry's receipt of a 1 GiB blob (4.65 s
// against 3.97 s, medians of 6). Refilled in small steps, the socket ran dry
// under the registry's reads now and then; a short read shifts every later
// write of its file off page alignment, and such a file takes half again as
// long to write into the page cache and a third longer to sync
// (bench/RESULTS.md, "The ties looked at again, and the low-water mark
// removed"). The mark saved our in-memory registry 3-4% and cost the client
// five times the CPU on a slow registry.
//
// The transport closes it, perhaps after Do returned, once it no longer
// reads; a resume waits for that (see waitClosed) before it moves the
// file, whose offset sendfile shares.
type fileBody struct {
	f      *os.File
	once   sync.Once
	closed chan struct{}
	sent   func() // when set, called on Close: the body is sent
	copied bool   // when set, the transport copies the file (no sendfile); see Client.sendsBy
}

// newFileBody returns a body for the n bytes of r from its current offset
// when r is a regular file that holds exactly that many (a longer or
// shorter file goes through exactReader, which reports it), or nil.
func newFileBody(r io.Reader, n int64) *fileBody {
	f, ok := r.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return nil
	}
	at, err := f.Seek(0, io.SeekCurrent)
	if err != nil || fi.Size()-at != n {
		return nil
	}
	return &fileBody{f: f, closed: make(chan struct{})}
}

func (b *fileBody) Read(p []byte) (int, error) { return b.f.Read(p) }

// SyscallConn hands net/http the file for sendfile, unless the body is to
// be copied: then its error makes net/http read the file like any body.
func (b *fileBody) SyscallConn() (syscall.RawConn, error) {
	if b.copied {
		return nil, errCopied
	}
	return b.f.SyscallConn()
}

// errCopied is what SyscallConn tells net/http of a body it is to copy.
var errCopied = errors.New("acr: this upload's file is copied, not sent with sendfile")

// sendsBy decides how fb goes to the registry at u and returns the func
// that ends the send, to be called once the transport is done with fb
// (more calls do nothing). To a registry on this machine over plain HTTP
// the file is copied while this Client sends fewer such bodies than
// GOMAXPROCS (with GOMAXPROCS 1, never): sendfile hands the registry
// page-cache pages no core has touched, and its copy out of them costs it
// more than a copy the client has just made, which leaves the data in the
// cache the registry reads it from. The client pays 0.3 s of CPU a GiB
// for the copy, which a core with nothing else to send can spare; with as
// many bodies as cores, the copies would take the cores the registry
// needs, and sendfile is used. Measured with bench/pushcpu.sh on this
// 2-core machine (medians; bench/RESULTS.md, "A fast-disk day, and
// sendfile for a lone body"): a 1 GiB push to --memory 1.12 s copied
// (client CPU 0.49 s) against 1.21 s with sendfile (0.19 s), the
// registry's CPU 1.42 against 1.79 s; to the reference registry 2.46
// against 2.65 s; 8 x 64 MiB to the reference, every body copied, two at
// once, 0.85 s against 0.78 s with sendfile. The count ends when the PUT
// returns, which may be before the transport lets go of a body the
// registry answered early, so copies may then overlap more than the rule
// says. Elsewhere, and over TLS (where net/http reads the file anyway),
// nothing changes.
func (c *Client) sendsBy(fb *fileBody, u *url.URL) (end func()) {
	if !asksBeforeBody(u) {
		return func() {}
	}
	fb.copied = int(c.localSends.Add(1)) < runtime.GOMAXPROCS(0)
	var once sync.Once
	return func() { once.Do(func() { c.localSends.Add(-1) }) }
}

// Close records that the transport is done with the body; the file is
// the caller's to close.
func (b *fileBody) Close() error {
	b.once.Do(func() {
		close(b.closed)
		if b.sent != nil {
			b.sent()
		}
	})
	return nil
}

// fileBodyCloseWait bounds how long a failed PUT waits for the transport
// to let go of its body before the upload gives up rather than move the
// file under a send still in progress.
const fileBodyCloseWait = 30 * time.Second

// errBodyHeld is the failure of an upload whose body the transport did
// not let go of in time.
var errBodyHeld = errors.New("acr: the HTTP transport still held the upload's file after the request failed; not resuming from it")

// waitClosed waits until the transport has closed the body, so that the
// file can be moved for a resume.
func (b *fileBody) waitClosed(ctx context.Context) error {
	t := time.NewTimer(fileBodyCloseWait)
	defer t.Stop()
	select {
	case <-b.closed:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return errBodyHeld
	}
}
