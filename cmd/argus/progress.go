package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// progressBar shows the progress of counted work on stderr. On a terminal
// it redraws one line in place (count, bar, rate, time left); elsewhere (a
// log file, a pipe) it never draws control characters, and prints a plain
// line every logEvery and one when the work ends. The rate is measured
// from start, the moment the work began (not the first report), and shown
// only once minRateTime has passed, so that the first item does not claim
// an absurd rate. It is safe for concurrent use.
type progressBar struct {
	mu         sync.Mutex
	w          io.Writer
	tty        bool
	desc, unit string
	total      int
	start      time.Time
	now        func() time.Time
	last       time.Time // last draw or log line
	done       int
}

const (
	// minRateTime is the time the work must have run before a rate and
	// the time left are shown.
	minRateTime = time.Second
	// drawEvery throttles the terminal redraws; logEvery spaces the lines
	// written elsewhere.
	drawEvery = 200 * time.Millisecond
	logEvery  = 30 * time.Second
)

// newProgressBar returns a bar for total units (named unit, as in "img")
// of the work desc, begun at start, writing to w.
func newProgressBar(w io.Writer, desc, unit string, total int, start time.Time) *progressBar {
	return &progressBar{w: w, tty: isTerminal(w), desc: desc, unit: unit, total: total, start: start, now: time.Now}
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Set reports that done units are finished.
func (b *progressBar) Set(done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.done = done
	now := b.now()
	switch {
	case b.tty && (now.Sub(b.last) >= drawEvery || done >= b.total):
		fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(now, true))
		b.last = now
	case !b.tty && now.Sub(b.last) >= logEvery && now.Sub(b.start) >= logEvery && done < b.total:
		fmt.Fprintln(b.w, b.line(now, false))
		b.last = now
	}
}

// Finish ends the display: the terminal line is closed, and elsewhere a
// last line gives the count, the time taken and the rate.
func (b *progressBar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if b.tty {
		fmt.Fprintf(b.w, "\r%s\x1b[K\n", b.line(now, true))
		return
	}
	fmt.Fprintln(b.w, b.line(now, false))
}

// line is the text of the display at now; bar adds the drawn bar.
func (b *progressBar) line(now time.Time, bar bool) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %d/%d %s", b.desc, b.done, b.total, b.unit)
	if bar && b.total > 0 {
		const width = 24
		n := min(width*b.done/b.total, width)
		fmt.Fprintf(&s, " [%s%s] %3d%%", strings.Repeat("=", n), strings.Repeat(" ", width-n), 100*b.done/b.total)
	}
	el := now.Sub(b.start)
	if el < minRateTime || b.done <= 0 {
		return s.String()
	}
	rate := float64(b.done) / el.Seconds()
	fmt.Fprintf(&s, ", %s %s/s, %v", fmtRate(rate), b.unit, el.Round(time.Second))
	if b.done < b.total {
		left := time.Duration(float64(b.total-b.done) / rate * float64(time.Second))
		fmt.Fprintf(&s, ", about %v left", left.Round(time.Second))
	}
	return s.String()
}

// fmtRate prints a rate with about three significant digits.
func fmtRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}
