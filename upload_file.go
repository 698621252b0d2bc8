package acr

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"
)

// fileBody is the body of a PUT that streams a blob from a regular file.
// Through its SyscallConn, net/http's transport sends it with sendfile(2)
// on a plain-HTTP connection: the bytes go from the page cache to the
// socket without being copied through the process (crane and oras push
// the same way). Over TLS the transport reads it like any reader.
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

// SyscallConn hands net/http the file for sendfile.
func (b *fileBody) SyscallConn() (syscall.RawConn, error) { return b.f.SyscallConn() }

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
