package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"
)

// fakeBar returns a bar on a buffer whose clock the test moves.
func fakeBar(tty bool, total int) (*progressBar, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := t0
	b := newProgressBar(&buf, "synth", "img", total, t0)
	b.tty, b.now = tty, func() time.Time { return now }
	return b, &buf, &now
}

// TestProgressBar: the rate counts from the start of the work and waits
// for minRateTime (no 187126 img/s for the first image); away from a
// terminal no control characters are written, only plain lines.
func TestProgressBar(t *testing.T) {
	tests := []struct {
		name  string
		tty   bool
		steps []time.Duration // time of each Set(i+1) after the start
		want  []string        // in the output, in order
		not   []string        // nowhere in the output
	}{
		{"first item at once", true, []time.Duration{50 * time.Microsecond}, []string{"\rsynth 1/60 img ["}, []string{"/s"}},
		{"rate after a second", true, []time.Duration{time.Millisecond, 2 * time.Second}, []string{"synth 2/60 img", "1.00 img/s", "about 58s left"}, nil},
		{"rate counts from the start", true, []time.Duration{4 * time.Second}, []string{"0.25 img/s"}, nil},
		{"log lines", false, []time.Duration{time.Second, 31 * time.Second, 32 * time.Second, 62 * time.Second},
			[]string{"synth 2/60 img, 0.06 img/s, 31s, about 14m59s left\n", "synth 4/60 img, 0.06 img/s, 1m2s"}, []string{"\r", "\x1b", "synth 1/60", "synth 3/60"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, buf, now := fakeBar(tt.tty, 60)
			start := *now
			for i, d := range tt.steps {
				*now = start.Add(d)
				b.Set(i + 1)
			}
			b.Finish()
			out := buf.String()
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("output %q lacks %q (in order)", out, w)
				}
				rest = rest[i+len(w):]
			}
			for _, n := range tt.not {
				if strings.Contains(out, n) {
					t.Errorf("output %q holds %q", out, n)
				}
			}
			if !strings.HasSuffix(out, "\n") {
				t.Errorf("output %q does not end its line", out)
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := openTemp(t)
	if err != nil {
		t.Fatal(err)
	}
	if isTerminal(f) {
		t.Error("a regular file is a terminal")
	}
}

func openTemp(t *testing.T) (*os.File, error) {
	f, err := os.CreateTemp(t.TempDir(), "bar")
	if err == nil {
		t.Cleanup(func() { f.Close() })
	}
	return f, err
}
