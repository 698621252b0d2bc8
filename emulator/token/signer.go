package token

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// KeySize is the length in bytes of the HMAC-SHA256 key that
// [LoadOrCreateSigner] generates and expects to find in its key file.
const KeySize = 32

// Signer mints and verifies the emulator's tokens with one HMAC-SHA256 key.
// A Signer is immutable and safe for concurrent use. Its key never appears
// in formatted output: String and GoString redact it.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer that uses a copy of key, for a registry that
// keeps no state on disk; such a Signer's tokens stop verifying when the
// process ends, which is what the memory mode wants. Use [KeySize] random
// bytes (crypto/rand.Read). NewSigner panics if key is empty, since an empty
// HMAC key would let anyone forge tokens.
func NewSigner(key []byte) *Signer {
	if len(key) == 0 {
		panic("token: NewSigner called with an empty key")
	}
	return &Signer{key: append([]byte(nil), key...)}
}

// LoadOrCreateSigner returns a Signer whose key is read from the file at
// path, so that tokens survive a restart of the registry. When the file does
// not exist, it creates the missing directories (mode 0700) and the file
// (mode 0600) holding [KeySize] random bytes.
//
// The file is written to a temporary name in the same directory, synced,
// and then linked (or, where hard links are not supported, renamed) into
// place, so no reader ever sees a partial key. When two processes race to
// create the key, the one that links second discards its own key and uses
// the winner's. An existing file whose length is not [KeySize] is an error;
// the file's permissions are not changed.
func LoadOrCreateSigner(path string) (*Signer, error) {
	key, err := readKey(path)
	if err == nil {
		return &Signer{key: key}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}

	key = make([]byte, KeySize)
	rand.Read(key) // never fails since Go 1.24; it crashes the program instead
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("token: create key directory: %w", err)
	}
	tmp, err := writeTemp(dir, filepath.Base(path), key)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp) // after a link the key stays reachable at path

	// A hard link, unlike a rename, fails when path already exists, so a
	// concurrent creator's key is never replaced under its feet.
	switch err := os.Link(tmp, path); {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		key, err := readKey(path)
		if err != nil {
			return nil, err
		}
		return &Signer{key: key}, nil
	default:
		if err := os.Rename(tmp, path); err != nil {
			return nil, fmt.Errorf("token: install key file: %w", err)
		}
	}
	syncDir(dir)
	return &Signer{key: key}, nil
}

// String returns a description of s that leaves out the key.
func (s *Signer) String() string { return "token.Signer{key: redacted}" }

// GoString returns the same redacted description as [Signer.String], so that
// %#v does not print the key either.
func (s *Signer) GoString() string { return s.String() }

func readKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("token: read key file: %w", err)
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("token: key file %s holds %d bytes, want %d", path, len(key), KeySize)
	}
	return key, nil
}

// writeTemp writes key to a new file in dir with mode 0600, synced to disk,
// and returns its name.
func writeTemp(dir, base string, key []byte) (name string, err error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("token: create key file: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp already uses 0600; Chmod states the requirement and covers
	// platforms whose default differs.
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return "", fmt.Errorf("token: create key file: %w", err)
	}
	if _, err := f.Write(key); err != nil {
		return "", fmt.Errorf("token: write key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("token: write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("token: write key file: %w", err)
	}
	return f.Name(), nil
}

// syncDir makes a new directory entry durable where the platform allows it;
// failure only weakens durability, never correctness, so it is ignored.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	d.Sync()
	d.Close()
}
