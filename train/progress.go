package train

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
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

// Bar is a Progress drawn as a progress bar on w (stderr, by convention):
// epoch, running loss, count, rate and time left.
type Bar struct {
	w     io.Writer
	unit  string
	b     *progressbar.ProgressBar
	epoch int
	of    int
	done  int
	total int
}

// NewBar returns a Bar writing to w; unit names what is counted ("img").
func NewBar(w io.Writer, unit string) *Bar { return &Bar{w: w, unit: unit} }

// Start implements Progress.
func (p *Bar) Start(epoch, epochs, done, total int) {
	p.epoch, p.of, p.done, p.total = epoch, epochs, done, total
	p.b = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch, epochs)),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(p.unit),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetWidth(24),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetRenderBlankState(true),
	)
	if done > 0 {
		_ = p.b.Set(done)
	}
}

// Update implements Progress.
func (p *Bar) Update(done int, loss float64) {
	p.b.Describe(fmt.Sprintf("epoch %d/%d loss %.4f", p.epoch, p.of, loss))
	_ = p.b.Add(done - p.done)
	p.done = done
}

// Finish implements Progress. A bar stopped early keeps its count, so
// that it shows where the epoch stopped.
func (p *Bar) Finish() {
	if p.done >= p.total {
		_ = p.b.Finish()
	} else {
		_ = p.b.Exit()
	}
	fmt.Fprintln(p.w)
}
