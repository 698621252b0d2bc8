package store

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
)

// newHash returns a hash for d's algorithm after checking that d is well
// formed. Both stores compute sha256 and sha512, the algorithms the OCI
// image spec registers; anything else, malformed digests included, wraps
// ErrUnsupportedDigest. A malformed digest is deliberately not a mismatch:
// callers end an upload session on a mismatch, and a typo in the digest
// should not cost the client its upload.
func newHash(d digest.Digest) (hash.Hash, error) {
	if !strings.Contains(string(d), ":") {
		// Checked first: go-digest's Algorithm panics without a separator.
		return nil, fmt.Errorf("%w: malformed digest %q: want ALGORITHM:HEX", ErrUnsupportedDigest, truncate(string(d)))
	}
	var h hash.Hash
	switch d.Algorithm() {
	case digest.SHA256:
		h = sha256.New()
	case digest.SHA512:
		h = sha512.New()
	default:
		return nil, fmt.Errorf("%w: %q (want sha256 or sha512)", ErrUnsupportedDigest, truncate(string(d)))
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%w: malformed digest %q: %v", ErrUnsupportedDigest, truncate(string(d)), err)
	}
	return h, nil
}

// verify checks that n bytes hashed into h match the claimed digest d and,
// when size >= 0, the claimed size.
func verify(d digest.Digest, size, n int64, h hash.Hash) error {
	if size >= 0 && n != size {
		return fmt.Errorf("%w: got %d bytes, want %d", ErrSizeMismatch, n, size)
	}
	if got := digest.NewDigest(d.Algorithm(), h); got != d {
		return fmt.Errorf("%w: content has digest %s, want %s", ErrDigestMismatch, got, d)
	}
	return nil
}

// limitClaimed caps r one byte past a claimed size, so that a body longer
// than claimed is detected without reading it to the end.
func limitClaimed(r io.Reader, size int64) io.Reader {
	if size < 0 {
		return r
	}
	return io.LimitReader(r, size+1)
}

// newUploadID returns a random upload session ID: a version 4 UUID in
// lowercase hex with hyphens, as ACR's session ids are
// (../shared/docs/acr-recordings: "86ee771b-fc38-4e84-84cc-71c7c6ffb347"),
// safe in URLs and as file names.
func newUploadID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// validUploadID reports whether id could have come from newUploadID, or
// from the 32-hex-digit form that earlier versions used (sessions on disk
// survive upgrades). The disk store checks it before using an ID in a path.
func validUploadID(id string) bool {
	switch len(id) {
	case 32:
	case 36:
		if id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
			return false
		}
	default:
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if len(id) == 36 && (i == 8 || i == 13 || i == 18 || i == 23) {
			continue
		}
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func uploadNotFound(id string) error {
	return fmt.Errorf("store: upload session %q: %w", truncate(id), ErrNotFound)
}

func blobNotFound(d digest.Digest) error {
	return fmt.Errorf("store: blob %s: %w", truncate(string(d)), ErrNotFound)
}

// refusesWrites reports whether err means that the file system refuses
// writes: it is read-only, full, over quota, or denies permission.
func refusesWrites(err error) bool {
	return errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.ENOSPC) ||
		errors.Is(err, syscall.EDQUOT) || errors.Is(err, os.ErrPermission)
}

// ioError wraps an I/O error with what the store was doing. Errors of a file
// system that refuses writes also match ErrReadOnly, so that callers can
// report them as such; the original error stays matchable too.
func ioError(what string, err error) error {
	if refusesWrites(err) {
		return fmt.Errorf("store: %s: %w (%w)", what, err, ErrReadOnly)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// truncate keeps client-controlled strings in error messages short.
func truncate(s string) string {
	if len(s) > 140 {
		return s[:140] + "..."
	}
	return s
}
