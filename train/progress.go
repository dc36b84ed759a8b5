package train

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Progress receives a training epoch's progress, counted in samples (or in
// batches when the task does not count samples).
type Progress interface {
	// Start begins epoch (1-based) of epochs, with done of total units
	// already behind it when an epoch is resumed part-way.
	Start(epoch, epochs, done, total int)
	// Update reports the units done so far and the epoch's running mean
	// loss.
	Update(done int, loss float64)
	// Finish ends the epoch's display.
	Finish()
}

// Bar is a Progress drawn as a one-line progress bar on w (stderr, by
// convention): epoch, running loss, count, rate and time left, redrawn at
// most every 200 ms. The rate counts only the units of this session's
// epoch, over at least a second, so that a resumed epoch or a slow first
// batch does not show an absurd figure; until then it shows none. On a w
// that is not a terminal (a log file, a pipe) the bar draws nothing: the
// carriage returns that redraw it would only fill the file.
type Bar struct {
	w    io.Writer
	unit string
	// Visible is whether the bar draws; NewBar sets it when w is a
	// terminal.
	Visible bool
	// Now is the clock (time.Now by default), for tests.
	Now func() time.Time

	epoch, of   int
	first, done int
	total       int
	start, last time.Time
	loss        float64
	drawn       bool
}

// rateAfter is the time over which a rate is first measured.
const rateAfter = time.Second

// redrawEvery throttles the redrawing.
const redrawEvery = 200 * time.Millisecond

// NewBar returns a Bar writing to w; unit names what is counted ("img").
func NewBar(w io.Writer, unit string) *Bar {
	return &Bar{w: w, unit: unit, Visible: isTerminal(w), Now: time.Now}
}

// isTerminal reports whether w is a character device such as a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Start implements Progress.
func (p *Bar) Start(epoch, epochs, done, total int) {
	p.epoch, p.of, p.first, p.done, p.total = epoch, epochs, done, done, total
	p.start = p.Now()
	p.last = time.Time{}
	p.loss = 0
	p.drawn = false
	p.draw(true)
}

// Update implements Progress.
func (p *Bar) Update(done int, loss float64) {
	p.done, p.loss = done, loss
	p.draw(false)
}

// Finish implements Progress. A bar stopped early keeps its count, so
// that it shows where the epoch stopped.
func (p *Bar) Finish() {
	p.draw(true)
	if p.Visible && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// Line returns the bar's current text.
func (p *Bar) Line() string {
	const width = 24
	var b strings.Builder
	fmt.Fprintf(&b, "epoch %d/%d", p.epoch, p.of)
	if p.done > p.first {
		fmt.Fprintf(&b, " loss %.4f", p.loss)
	}
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	full := int(frac * width)
	fmt.Fprintf(&b, " %3.0f%% [%s%s] %d/%d", 100*frac, strings.Repeat("=", full), strings.Repeat(" ", width-full), p.done, p.total)
	el := p.Now().Sub(p.start)
	if n := p.done - p.first; n > 0 && el >= rateAfter {
		rate := float64(n) / el.Seconds()
		fmt.Fprintf(&b, " %.0f %s/s", rate, p.unit)
		if left := p.total - p.done; left > 0 {
			eta := time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second)
			fmt.Fprintf(&b, ", %s left", eta)
		}
	}
	return b.String()
}

// draw redraws the bar, at most every redrawEvery unless forced.
func (p *Bar) draw(force bool) {
	if !p.Visible {
		return
	}
	now := p.Now()
	if !force && !p.last.IsZero() && now.Sub(p.last) < redrawEvery {
		return
	}
	p.last = now
	// Clear to the end of the line: the new text may be shorter.
	fmt.Fprintf(p.w, "\r%s\x1b[K", p.Line())
	p.drawn = true
}
