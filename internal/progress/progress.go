// Package progress shows the progress of counted work (images, samples,
// seeds) on a writer, stderr by convention: the one progress bar of every
// argus command and of the training loop.
//
// On a terminal a Bar redraws one line in place, at most every DrawEvery:
// the description, the count, a bar, the percentage, the rate and the time
// left. Anywhere else (a log file, a pipe) it never writes a control
// character: it writes a plain line at most every LogEvery, the first only
// once the work has run that long, and one when the work ends. Nothing is
// written before the first count arrives, so that a command refusing its
// input prints its error line alone.
//
// The rate counts the units of this session only (the ones after the
// count given to Start, so that resumed work does not claim the units done
// before it), over the time since the session began, and is shown only
// once RateAfter has passed, so that a quick first item does not show an
// absurd figure.
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

const (
	// DrawEvery is the shortest time between two redraws on a terminal.
	DrawEvery = 200 * time.Millisecond
	// LogEvery is the shortest time between two plain lines elsewhere,
	// and the time the work runs before the first of them.
	LogEvery = 30 * time.Second
	// RateAfter is the time a session must have run before the rate and
	// the time left are shown.
	RateAfter = time.Second
)

// width is the number of characters of the drawn bar.
const width = 24

// Bar shows the progress of total units of work. Its methods are safe for
// concurrent use; its exported fields are settings, to be changed only
// before the first call of a method.
type Bar struct {
	// Terminal is whether the writer is a terminal, where the bar is
	// redrawn in place; New sets it with IsTerminal.
	Terminal bool
	// Now is the clock, time.Now by default; tests set a clock they move.
	Now func() time.Time
	// FinalLine is whether Finish writes a last plain line away from a
	// terminal (New sets it). A caller that prints its own summary of the
	// work (the training loop's epoch line) clears it.
	FinalLine bool

	mu         sync.Mutex
	w          io.Writer
	desc, unit string
	total      int
	done       int
	first      int       // the count when the session began
	start      time.Time // when the session began; zero until it does
	last       time.Time // the last redraw or plain line
	shown      bool      // a count has arrived: the work has started
	drawn      bool      // a terminal line is open
	ended      bool      // Finish or Abort was called
}

// New returns a bar for total units, named unit ("img"), of the work desc
// ("synth detection"), writing to w.
func New(w io.Writer, desc, unit string, total int) *Bar {
	return &Bar{Terminal: IsTerminal(w), Now: time.Now, FinalLine: true, w: w, desc: desc, unit: unit, total: total}
}

// IsTerminal reports whether w is a terminal (a character device).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// Start begins a session of the work now, with done units already behind
// it (0 unless the work resumes part-way). It writes nothing.
func (b *Bar) Start(done int) {
	b.StartAt(b.Now(), done)
}

// StartAt is Start for a session that began at t, before the bar was
// made or started. Without Start or StartAt the session begins at the
// first Set, whose count it takes as done before it.
func (b *Bar) StartAt(t time.Time, done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.start, b.first, b.done = t, done, done
}

// SetDesc changes the description, shown from the next redraw or line on
// ("epoch 2/10 loss 0.4321").
func (b *Bar) SetDesc(desc string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.desc = desc
}

// Set reports that done units are finished.
func (b *Bar) Set(done int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set(done)
}

// Add reports that n more units are finished.
func (b *Bar) Add(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.set(b.done + n)
}

// set is Set with b.mu held.
func (b *Bar) set(done int) {
	if b.ended {
		return
	}
	now := b.Now()
	if b.start.IsZero() {
		b.start, b.first = now, done
	}
	b.done, b.shown = done, true
	if b.Terminal {
		if !b.drawn || now.Sub(b.last) >= DrawEvery || done >= b.total {
			b.draw(now)
		}
		return
	}
	if now.Sub(b.start) >= LogEvery && now.Sub(b.last) >= LogEvery && done < b.total {
		fmt.Fprintln(b.w, b.line(now, false))
		b.last = now
	}
}

// draw redraws the terminal line at now, clearing what is left of the
// longer text before it.
func (b *Bar) draw(now time.Time) {
	fmt.Fprintf(b.w, "\r%s\x1b[K", b.line(now, true))
	b.last, b.drawn = now, true
}

// Finish ends the display of work that is complete, or that stopped where
// its count says: on a terminal the line is redrawn and ended; elsewhere a
// last plain line gives the count, the rate and the time taken, unless
// FinalLine is false. A bar that no count reached writes nothing.
func (b *Bar) Finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ended || !b.shown {
		b.ended = true
		return
	}
	b.ended = true
	now := b.Now()
	switch {
	case b.Terminal:
		b.draw(now)
		fmt.Fprintln(b.w)
	case b.FinalLine:
		fmt.Fprintln(b.w, b.line(now, false))
	}
}

// Abort ends the display of work that failed, so that the error message
// that follows starts a line of its own and is the last line: on a
// terminal the line is ended as it stands; elsewhere nothing is written.
func (b *Bar) Abort() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.ended && b.drawn {
		fmt.Fprintln(b.w)
	}
	b.ended = true
}

// Line returns the text the bar would show now on a terminal.
func (b *Bar) Line() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.line(b.Now(), true)
}

// line is the text of the display at now, as in "synth 12/60 img [=====
// ]  20%, 3.00 img/s, 4s, about 16s left" (the bar 24 characters wide);
// without bar, for plain lines, the bar and the padding are left out.
func (b *Bar) line(now time.Time, bar bool) string {
	var s strings.Builder
	fmt.Fprintf(&s, "%s %d/%d %s", b.desc, b.done, b.total, b.unit)
	if b.total > 0 {
		pct := 100 * min(max(b.done, 0), b.total) / b.total
		if bar {
			// The percentage is padded so that the line does not jitter.
			n := width * pct / 100
			fmt.Fprintf(&s, " [%s%s] %3d%%", strings.Repeat("=", n), strings.Repeat(" ", width-n), pct)
		} else {
			fmt.Fprintf(&s, " %d%%", pct)
		}
	}
	el := now.Sub(b.start)
	n := b.done - b.first
	if b.start.IsZero() || el < RateAfter || n <= 0 {
		return s.String()
	}
	rate := float64(n) / el.Seconds()
	fmt.Fprintf(&s, ", %s %s/s, %v", fmtRate(rate), b.unit, el.Round(time.Second))
	// Under half a second left reads as nothing left.
	left := time.Duration(float64(b.total-b.done) / rate * float64(time.Second)).Round(time.Second)
	if b.done < b.total && left > 0 {
		fmt.Fprintf(&s, ", about %v left", left)
	}
	return s.String()
}

// fmtRate writes a rate with about three significant digits.
func fmtRate(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0f", r)
	case r >= 10:
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.2f", r)
}
