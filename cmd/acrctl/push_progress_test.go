package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/acrgo/acr/transfer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// The line push, pull and copy draw shows a percentage of the total once
// it is known, and the total grows when pieces it did not count turn up.
func TestByteProgressTotals(t *testing.T) {
	start := time.Unix(0, 0)
	clock := func() time.Time { return start.Add(2 * time.Second) }
	bar := newProgressBar(&bytes.Buffer{}, "Pushing", -1, 100, func() time.Time { return start })
	bar.now = clock
	bp := newByteProgress(bar)
	a := ocispec.Descriptor{Digest: digest.FromString("a"), Size: 300}
	b := ocispec.Descriptor{Digest: digest.FromString("b"), Size: 100}
	bp.update(transfer.Progress{Desc: a, Bytes: 100})
	if line := bar.line(); strings.Contains(line, "%") {
		t.Errorf("without a total the line shows a percentage: %q", line)
	}
	bp.total(400)
	if line := bar.line(); !strings.Contains(line, " 25%") || !strings.Contains(line, "100 B / 400 B") {
		t.Errorf("100 of 400 bytes: %q", line)
	}
	bp.update(transfer.Progress{Desc: a, Bytes: 300, Done: true})
	bp.update(transfer.Progress{Desc: b, Bytes: 100, Done: true})
	if line := bar.line(); !strings.Contains(line, "100%") {
		t.Errorf("400 of 400 bytes: %q", line)
	}
	// A referrer found while copying: the total grows.
	c := ocispec.Descriptor{Digest: digest.FromString("c"), Size: 100}
	bp.update(transfer.Progress{Desc: c, Bytes: 0})
	if line := bar.line(); !strings.Contains(line, " 80%") || !strings.Contains(line, "/ 500 B") {
		t.Errorf("400 of 500 bytes: %q", line)
	}
}
