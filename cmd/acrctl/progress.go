package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressBar redraws one line on a terminal: label, a bar and percent when
// the total is known, bytes done, and the average rate. A nil *progressBar
// does nothing, so callers need not check whether progress is shown.
type progressBar struct {
	w     io.Writer
	label string
	total atomic.Int64 // -1: unknown
	width int          // terminal columns
	done  atomic.Int64
	kept  atomic.Int64 // bytes a resumed download already had: done, but not in the rate
	start time.Time
	now   func() time.Time

	stopOnce sync.Once
	stop     chan struct{}
	stopped  chan struct{}
}

// progressInterval is how often the line is redrawn.
const progressInterval = 150 * time.Millisecond

// startProgress starts a progress line on w when show is true; otherwise it
// returns nil.
func startProgress(w io.Writer, show bool, label string, total int64) *progressBar {
	if !show {
		return nil
	}
	p := newProgressBar(w, label, total, terminalWidth(w), time.Now)
	go p.loop()
	return p
}

func newProgressBar(w io.Writer, label string, total int64, width int, now func() time.Time) *progressBar {
	p := &progressBar{w: w, label: label, width: width, start: now(), now: now,
		stop: make(chan struct{}), stopped: make(chan struct{})}
	p.total.Store(total)
	return p
}

// SetTotal records the total once it is known (-1: unknown), so that the
// line shows a bar and a percentage.
func (p *progressBar) SetTotal(n int64) {
	if p != nil {
		p.total.Store(n)
	}
}

// showProgress decides whether to draw progress: only on a terminal, and
// not when the user turned it off or asked for HTTP logs, which would
// interleave with it.
func showProgress(stderr io.Writer, noProgress, verbose bool) bool {
	return !noProgress && !verbose && isTerminal(stderr)
}

func terminalWidth(w io.Writer) int {
	if f, ok := w.(*os.File); ok {
		if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 20 {
			return cols
		}
	}
	return 80
}

// Set records that n bytes are done.
func (p *progressBar) Set(n int64) {
	if p != nil {
		p.done.Store(n)
	}
}

// Resumed records that n bytes were done before this run, by a download
// that this one resumes: they count as done, not in the rate.
func (p *progressBar) Resumed(n int64) {
	if p != nil {
		p.kept.Store(n)
		p.done.Store(n)
	}
}

// Add records n more bytes done.
func (p *progressBar) Add(n int64) {
	if p != nil {
		p.done.Add(n)
	}
}

// Writer returns a writer that counts what passes through it into w.
func (p *progressBar) Writer(w io.Writer) io.Writer {
	if p == nil {
		return w
	}
	return countingWriter{w: w, p: p}
}

type countingWriter struct {
	w io.Writer
	p *progressBar
}

func (c countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.p.Add(int64(n))
	return n, err
}

func (p *progressBar) loop() {
	defer close(p.stopped)
	t := time.NewTicker(progressInterval)
	defer t.Stop()
	for {
		p.draw()
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

func (p *progressBar) draw() {
	fmt.Fprint(p.w, "\r"+p.line()+"\x1b[K")
}

// Finish stops redrawing. On success it draws the final state and ends
// the line; on failure it erases the line, so that the error that follows
// starts at the left margin.
func (p *progressBar) Finish(ok bool) {
	if p == nil {
		return
	}
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.stopped
		if ok {
			if t := p.total.Load(); t >= 0 {
				p.done.Store(t)
			}
			p.draw()
			fmt.Fprintln(p.w)
		} else {
			fmt.Fprint(p.w, "\r\x1b[K")
		}
	})
}

// line renders the progress line to fit the terminal width.
func (p *progressBar) line() string {
	done, total := p.done.Load(), p.total.Load()
	elapsed := p.now().Sub(p.start)
	rate := ""
	if s := elapsed.Seconds(); s >= 0.05 {
		rate = formatSize(int64(float64(done-p.kept.Load())/s)) + "/s"
	}
	var stats string
	if total >= 0 {
		pct := 100.0
		if total > 0 {
			pct = 100 * float64(min(done, total)) / float64(total)
		}
		stats = fmt.Sprintf("%3.0f%%  %s / %s  %s", pct, formatSize(done), formatSize(total), rate)
	} else {
		stats = fmt.Sprintf("%s  %s  %s", formatSize(done), rate, elapsed.Round(time.Second))
	}
	label := p.label
	room := p.width - 1 - len(stats) - 2
	barWidth := 0
	if total >= 0 {
		barWidth = min(30, room-len(label)-3)
	}
	if barWidth < 10 {
		barWidth = 0
	}
	if maxLabel, r := room-barWidth-3, []rune(label); len(r) > maxLabel {
		if maxLabel < 4 {
			label = ""
		} else {
			label = "…" + string(r[len(r)-maxLabel+1:])
		}
	}
	var b strings.Builder
	b.WriteString(label)
	if barWidth > 0 {
		filled := barWidth
		if total > 0 {
			filled = int(int64(barWidth) * min(done, total) / total)
		}
		b.WriteString("  [")
		b.WriteString(strings.Repeat("=", filled))
		if filled < barWidth {
			b.WriteString(">")
			b.WriteString(strings.Repeat(" ", barWidth-filled-1))
		}
		b.WriteString("]")
	}
	b.WriteString("  ")
	b.WriteString(strings.TrimRight(stats, " "))
	return b.String()
}
