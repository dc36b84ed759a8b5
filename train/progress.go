package train

import (
	"fmt"
	"io"
	"time"

	"argus/internal/progress"
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

// Bar is a Progress shown by a progress.Bar on w (stderr, by convention),
// one for each epoch, described as "epoch 2/10 loss 0.4321". The rate
// counts only the units of this session's epoch, so that a resumed epoch
// does not show an absurd figure. On a terminal the bar is redrawn in
// place and left on its line when the epoch ends; elsewhere (a log file, a
// pipe) it writes no control characters, only a plain line every 30 s of a
// long epoch, and no last line, since the training loop's caller prints
// each epoch's summary.
type Bar struct {
	w    io.Writer
	unit string
	// Visible is whether w is a terminal, where the bar is redrawn in
	// place; NewBar sets it.
	Visible bool
	// Now is the clock (time.Now by default), for tests.
	Now func() time.Time

	epoch, of int
	bar       *progress.Bar
}

// NewBar returns a Bar writing to w; unit names what is counted ("img").
func NewBar(w io.Writer, unit string) *Bar {
	return &Bar{w: w, unit: unit, Visible: progress.IsTerminal(w), Now: time.Now}
}

// Start implements Progress.
func (p *Bar) Start(epoch, epochs, done, total int) {
	p.epoch, p.of = epoch, epochs
	b := progress.New(p.w, fmt.Sprintf("epoch %d/%d", epoch, epochs), p.unit, total)
	b.Terminal, b.Now, b.FinalLine = p.Visible, p.Now, false
	b.Start(done)
	p.bar = b
}

// Update implements Progress. Before Start it does nothing.
func (p *Bar) Update(done int, loss float64) {
	if p.bar == nil {
		return
	}
	p.bar.SetDesc(fmt.Sprintf("epoch %d/%d loss %.4f", p.epoch, p.of, loss))
	p.bar.Set(done)
}

// Finish implements Progress. A bar stopped early keeps its count, so
// that it shows where the epoch stopped.
func (p *Bar) Finish() {
	if p.bar != nil {
		p.bar.Finish()
	}
}

// Line returns the bar's current text, empty before Start.
func (p *Bar) Line() string {
	if p.bar == nil {
		return ""
	}
	return p.bar.Line()
}
