package store

import (
	"context"
	"hash"
	"io"
	"os"
	"sync"
	"sync/atomic"
)

const (
	// copyChunk is the piece size of the disk store's copies: large enough
	// that system calls and hash calls cost nothing next to the bytes, small
	// enough that eight uploads at once stay far under 64 MiB of memory
	// (1 MiB pieces: 80 MiB peak RSS for one 8 x 64 MiB push; 512 KiB: 32
	// MiB, at the same 1.5 s of CPU per GiB). The writes go in writePiece
	// pieces of it.
	copyChunk = 256 << 10
	// writePiece is the size of the writes to blob files: writes larger
	// than 32 KiB to a new file are erratic in this machine's kernel, at
	// times 10-25x slower (see the transfer package's writeSize).
	writePiece = 32 << 10
	// copyDepth is the number of pieces in flight per copy: one being read,
	// one being hashed, one being written, and one spare to absorb jitter.
	copyDepth = 4
	// writebackEvery is how much is written between writeback hints, so that
	// the disk works while the content streams in and the final datasync
	// finds little dirty data.
	writebackEvery = 16 << 20
)

var piecePool = sync.Pool{New: func() any { return new([copyChunk]byte) }}

// smallChunk is the size of the first read of a copy, done without the
// pipeline: content that fits (a config, a manifest, a small layer) costs
// one small buffer rather than copyDepth pieces. With 32 clients pushing
// small layers, the pieces made 45 MiB of the registry's 90 MiB peak RSS.
const smallChunk = 64 << 10

var smallPool = sync.Pool{New: func() any { return new([smallChunk]byte) }}

// piece is a buffer travelling through a copy. It returns to the free list
// when both the writer and the hasher are done with it.
type piece struct {
	buf  *[copyChunk]byte
	n    int
	refs atomic.Int32
}

// copyToFile reads r to EOF and writes its bytes to f from offset off while
// feeding them to h. Reading, hashing and writing run concurrently on
// different pieces, so a copy runs at the speed of its slowest stage rather
// than the sum of all three.
//
// It returns the number of bytes read; on success, and after a read error
// (rerr, including ctx's error), all of them have been both written and
// hashed. After a write error (werr) the file and h may disagree and the
// caller must discard or roll back what was written.
func copyToFile(ctx context.Context, f *os.File, off int64, r io.Reader, h hash.Hash) (n int64, rerr, werr error) {
	if err := ctx.Err(); err != nil {
		return 0, err, nil
	}
	buf := smallPool.Get().(*[smallChunk]byte)
	m, err := fill(r, buf[:])
	if m > 0 {
		h.Write(buf[:m])
		werr = writeAt(f, buf[:m], off)
	}
	smallPool.Put(buf)
	switch {
	case werr != nil:
		return int64(m), nil, werr
	case err == io.EOF:
		return int64(m), nil, nil
	case err != nil:
		return int64(m), err, nil
	}
	n, rerr, werr = copyPieces(ctx, f, off+int64(m), r, h)
	return int64(m) + n, rerr, werr
}

// writeAt writes b to f at off in writePiece pieces.
func writeAt(f *os.File, b []byte, off int64) error {
	for len(b) > 0 {
		k := min(len(b), writePiece)
		if _, err := f.WriteAt(b[:k], off); err != nil {
			return err
		}
		b, off = b[k:], off+int64(k)
	}
	return nil
}

// copyPieces is copyToFile's pipeline for what follows the first read.
func copyPieces(ctx context.Context, f *os.File, off int64, r io.Reader, h hash.Hash) (n int64, rerr, werr error) {
	free := make(chan *piece, copyDepth)
	for range copyDepth {
		free <- &piece{buf: piecePool.Get().(*[copyChunk]byte)}
	}
	defer func() {
		for range copyDepth {
			piecePool.Put((<-free).buf)
		}
	}()
	release := func(p *piece) {
		if p.refs.Add(-1) == 0 {
			free <- p
		}
	}

	toWrite := make(chan *piece, copyDepth)
	toHash := make(chan *piece, copyDepth)
	var failed atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		pos, hinted := off, off
		for p := range toWrite {
			if werr == nil {
				if err := writeAt(f, p.buf[:p.n], pos); err != nil {
					werr = err
					failed.Store(true)
				} else {
					pos += int64(p.n)
					if pos-hinted >= writebackEvery {
						startWriteback(f, hinted, pos-hinted)
						hinted = pos
					}
				}
			}
			release(p)
		}
	}()
	go func() {
		defer wg.Done()
		for p := range toHash {
			h.Write(p.buf[:p.n])
			release(p)
		}
	}()

	for !failed.Load() {
		var p *piece
		select {
		case p = <-free:
		case <-ctx.Done():
		}
		if p == nil || ctx.Err() != nil {
			if p != nil {
				free <- p
			}
			rerr = ctx.Err()
			break
		}
		m, err := fill(r, p.buf[:])
		if m > 0 {
			p.n = m
			p.refs.Store(2)
			n += int64(m)
			toWrite <- p
			toHash <- p
		} else {
			free <- p
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(toWrite)
	close(toHash)
	wg.Wait()
	return n, rerr, werr
}

// fill reads into p until it is full or r fails. Unlike io.ReadFull it
// reports a clean EOF as io.EOF whatever was read, so that a reader's own
// io.ErrUnexpectedEOF (a truncated HTTP body) stays an error.
func fill(r io.Reader, p []byte) (int, error) {
	n, empty := 0, 0
	for n < len(p) {
		m, err := r.Read(p[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty >= 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// hashFile feeds the first bytes of f, up to EOF, to h and returns how many.
func hashFile(ctx context.Context, f *os.File, h hash.Hash) (int64, error) {
	buf := piecePool.Get().(*[copyChunk]byte)
	defer piecePool.Put(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := f.ReadAt(buf[:], n)
		h.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// hashReader feeds r to h to EOF and returns how many bytes it read.
func hashReader(ctx context.Context, r io.Reader, h hash.Hash) (int64, error) {
	buf := piecePool.Get().(*[copyChunk]byte)
	defer piecePool.Put(buf)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		m, err := fill(r, buf[:])
		h.Write(buf[:m])
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
