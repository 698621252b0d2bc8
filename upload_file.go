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
// sendfile was tried before the connections' low-water mark
// (internal/transport's notSentLowWater) and reverted: filling the socket's
// queue as fast as the disk allowed made the registry spend more CPU than
// the client saved. With the mark it saves on both sides against acrctl
// serve: bench/pushcpu.sh, 5 alternating runs of W2 (8 x 64 MiB) to
// --memory, client CPU 0.20-0.26 s through a buffer and 0.09-0.14 s
// sent this way, server 0.68-0.75 s and 0.61-0.71 s, wall 0.52-0.54 s
// and 0.41-0.46 s (crane 0.49-0.54 s); W1 (1 GiB) to --memory 0.90-0.98 s
// against 1.01-1.10 s. The distribution registry still spends more:
// W1 1.66-1.73 s of its CPU against 1.43-1.52 s, wall 2.12-2.19 s against
// 1.93-2.03 s (regctl 2.11-2.33 s), and W2 the same within noise. Its
// cost follows how fast the client refills the socket, not sendfile as
// such: writing from an mmap of the file costs it as much, a read before
// each write least (bench/RESULTS.md, "The two rows still under 1.0x").
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
