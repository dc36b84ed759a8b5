package train

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock is a clock the test moves by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{t: time.Unix(1e9, 0)} }
func visibleBar(w *bytes.Buffer, c *fakeClock) *Bar {
	b := NewBar(w, "img")
	b.Visible, b.Now = true, c.now
	return b
}

// TestBarRate: the rate counts only this session's units over at least a
// second, so neither a resumed epoch nor a quick first batch shows an
// absurd one.
func TestBarRate(t *testing.T) {
	c := newFakeClock()
	var w bytes.Buffer
	b := visibleBar(&w, c)
	b.Start(2, 3, 500, 1000) // resumed half-way
	c.add(time.Millisecond)
	b.Update(501, 0.5)
	if line := b.Line(); strings.Contains(line, "img/s") || !strings.Contains(line, "501/1000") {
		t.Errorf("after one item in 1 ms: %q, want no rate yet", line)
	}
	c.add(1999 * time.Millisecond)
	b.Update(700, 0.25)
	if line := b.Line(); !strings.Contains(line, "loss 0.2500") || !strings.Contains(line, "100 img/s, 2s, about 3s left") {
		t.Errorf("after 200 items in 2 s: %q, want 100 img/s and 3s left", line)
	}
	b.Finish()
	if !strings.HasSuffix(w.String(), "\n") {
		t.Errorf("the bar does not end its line: %q", w.String())
	}
}

// TestBarThrottle: updates within 200 ms of the last drawing are not
// drawn; the first update and Finish always are.
func TestBarThrottle(t *testing.T) {
	c := newFakeClock()
	var w bytes.Buffer
	b := visibleBar(&w, c)
	b.Start(1, 1, 0, 100)
	for i := 1; i <= 10; i++ {
		c.add(50 * time.Millisecond)
		b.Update(i, 1)
	}
	b.Finish()
	// The updates at 50, 250 and 450 ms, then Finish.
	if n := strings.Count(w.String(), "\r"); n != 4 {
		t.Errorf("%d drawings, want 4: %q", n, w.String())
	}
}

// TestBarNotTerminal: on a writer that is not a terminal (stderr sent to
// a file or a pipe, as under --json in scripts) the bar writes no control
// characters and no last line (the epoch's summary line follows it): an
// epoch shorter than 30 s writes nothing, a longer one a plain line every
// 30 s.
func TestBarNotTerminal(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // time of each Update(i+1) after the start
		want  string
	}{
		{"short epoch", []time.Duration{time.Millisecond, 2 * time.Second}, ""},
		{"long epoch", []time.Duration{time.Second, 40 * time.Second, 50 * time.Second},
			"epoch 1/1 loss 0.5000 2/10 img 20%, 0.05 img/s, 40s, about 2m40s left\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w bytes.Buffer
			b := NewBar(&w, "img")
			if b.Visible {
				t.Fatal("a bytes.Buffer taken for a terminal")
			}
			c := newFakeClock()
			b.Now = c.now
			b.Start(1, 1, 0, 10)
			at := time.Duration(0)
			for i, d := range tt.steps {
				c.add(d - at)
				at = d
				b.Update(i+1, 0.5)
			}
			b.Finish()
			if w.String() != tt.want {
				t.Errorf("wrote %q, want %q", w.String(), tt.want)
			}
		})
	}
}

// TestBarBeforeStart: a Bar not yet started ignores updates.
func TestBarBeforeStart(t *testing.T) {
	var w bytes.Buffer
	b := NewBar(&w, "img")
	b.Visible = true
	b.Update(1, 0.5)
	b.Finish()
	if w.Len() != 0 || b.Line() != "" {
		t.Errorf("wrote %q, line %q", w.String(), b.Line())
	}
}
