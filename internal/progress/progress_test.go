package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fake clock's first reading.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fakeBar returns a bar of 60 img on a buffer, its Terminal set to tty,
// and the clock the test moves.
func fakeBar(tty bool) (*Bar, *bytes.Buffer, *time.Time) {
	var buf bytes.Buffer
	now := t0
	b := New(&buf, "synth", "img", 60)
	b.Terminal, b.Now = tty, func() time.Time { return now }
	return b, &buf, &now
}

// step is one call on a bar at a time after t0: Set(set) unless start,
// desc, add or end says otherwise.
type step struct {
	at    time.Duration
	set   int
	start bool   // Start(set)
	add   int    // Add(add), when not 0
	desc  string // SetDesc(desc), when not ""
	end   string // "finish" or "abort"
}

// set, start, add, finish and abort build steps.
func set(at time.Duration, n int) step   { return step{at: at, set: n} }
func start(at time.Duration, n int) step { return step{at: at, set: n, start: true} }
func add(at time.Duration, n int) step   { return step{at: at, add: n} }
func finish(at time.Duration) step       { return step{at: at, end: "finish"} }
func abort(at time.Duration) step        { return step{at: at, end: "abort"} }

func (s step) do(b *Bar) {
	switch {
	case s.end == "finish":
		b.Finish()
	case s.end == "abort":
		b.Abort()
	case s.desc != "":
		b.SetDesc(s.desc)
	case s.start:
		b.Start(s.set)
	case s.add != 0:
		b.Add(s.add)
	default:
		b.Set(s.set)
	}
}

const ms = time.Millisecond

func TestBar(t *testing.T) {
	tests := []struct {
		name    string
		tty     bool
		noFinal bool // FinalLine false
		steps   []step
		want    []string // in the output, in order
		not     []string // nowhere in the output
		draws   int      // carriage returns, when not -1
	}{
		{"first item at once, no rate", true, false,
			[]step{set(50*time.Microsecond, 1)},
			[]string{"\rsynth 1/60 img [                        ]   1%\x1b[K"}, []string{"/s", "\n"}, 1},
		{"rate after a second", true, false,
			[]step{start(0, 0), set(ms, 1), set(2*time.Second, 2), finish(2 * time.Second)},
			[]string{"\rsynth 1/60 img [", "\rsynth 2/60 img [                        ]   3%, 1.00 img/s, 2s, about 58s left\x1b[K", "\n"}, nil, 3},
		{"rate counts from the start", true, false,
			[]step{start(0, 0), set(4*time.Second, 1)},
			[]string{"0.25 img/s, 4s, about 3m56s left"}, nil, 1},
		{"rate from the first set without a start", true, false,
			[]step{set(10*time.Second, 10), set(12*time.Second, 30)},
			[]string{"synth 10/60 img", "synth 30/60 img [============            ]  50%, 10.0 img/s, 2s, about 3s left"}, nil, 2},
		{"resumed: units before the start not counted", true, false,
			[]step{start(0, 30), set(ms, 31), set(2*time.Second, 50)},
			[]string{"synth 31/60 img [", "synth 50/60 img", "10.0 img/s, 2s, about 1s left"}, []string{"25.0 img/s"}, 2},
		{"under half a second left: none shown", true, false,
			[]step{start(0, 0), set(10*time.Second, 59)},
			[]string{"synth 59/60 img [======================= ]  98%, 5.90 img/s, 10s\x1b[K"}, []string{"left"}, 1},
		{"throttled to every 200 ms", true, false,
			[]step{start(0, 0), set(50*ms, 1), set(100*ms, 2), set(200*ms, 3), set(250*ms, 4), set(300*ms, 5), finish(300 * ms)},
			[]string{"synth 1/60", "synth 4/60", "synth 5/60"}, []string{"synth 2/60", "synth 3/60"}, 3},
		{"the last unit always drawn", true, false,
			[]step{set(0, 59), set(ms, 60)},
			[]string{"synth 59/60", "synth 60/60 img [========================] 100%"}, nil, 2},
		{"description changed", true, false,
			[]step{set(0, 1), {at: 300 * ms, desc: "epoch 2/10 loss 0.4321"}, set(400*ms, 2)},
			[]string{"\rsynth 1/60", "\repoch 2/10 loss 0.4321 2/60 img"}, nil, 2},
		{"terminal finish ends the line", true, true,
			[]step{set(0, 1), finish(ms)},
			[]string{"synth 1/60 img", "synth 1/60 img", "\x1b[K\n"}, nil, 2},
		{"terminal abort ends the line as it stands", true, false,
			[]step{set(0, 1), abort(ms)},
			[]string{"\x1b[K\n"}, nil, 1},
		{"nothing before the first count", true, false,
			[]step{start(0, 0), finish(time.Minute)},
			nil, []string{"synth"}, 0},
		{"plain lines every 30 s and at the end", false, false,
			[]step{start(0, 0), set(time.Second, 1), set(31*time.Second, 2), set(32*time.Second, 3), set(62*time.Second, 4), finish(62 * time.Second)},
			[]string{"synth 2/60 img 3%, 0.06 img/s, 31s, about 14m59s left\n", "synth 4/60 img 6%, 0.06 img/s, 1m2s, about 14m28s left\n", "synth 4/60 img 6%, 0.06 img/s, 1m2s"},
			[]string{"\r", "\x1b", "[", "synth 1/60", "synth 3/60"}, 0},
		{"plain: nothing before 30 s but the final line", false, false,
			[]step{start(0, 0), set(time.Second, 30), set(29*time.Second, 59), set(29*time.Second, 60), finish(29 * time.Second)},
			[]string{"synth 60/60 img 100%, 2.07 img/s, 29s\n"}, []string{"\r", "\x1b", "59/60", "left"}, 0},
		{"plain: no final line when FinalLine is false", false, true,
			[]step{start(0, 0), set(time.Second, 30), finish(2 * time.Second)},
			nil, []string{"synth"}, 0},
		{"plain: FinalLine false keeps the 30 s lines", false, true,
			[]step{start(0, 0), set(40*time.Second, 30), finish(41 * time.Second)},
			[]string{"synth 30/60 img 50%, 0.75 img/s, 40s, about 40s left\n"}, []string{"\r"}, 0},
		{"plain: abort writes nothing", false, false,
			[]step{start(0, 0), set(time.Second, 30), abort(2 * time.Second)},
			nil, []string{"synth"}, 0},
		{"plain: nothing without a count", false, false,
			[]step{start(0, 0), finish(time.Minute)},
			nil, []string{"synth"}, 0},
		{"add counts on", false, false,
			[]step{add(0, 1), add(ms, 1), add(time.Second, 3), finish(time.Second)},
			[]string{"synth 5/60 img 8%"}, nil, 0},
		{"nothing after the end", true, false,
			[]step{set(0, 1), finish(ms), set(time.Second, 2), finish(time.Second), abort(time.Second)},
			nil, []string{"synth 2/60"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, buf, now := fakeBar(tt.tty)
			b.FinalLine = !tt.noFinal
			for _, s := range tt.steps {
				*now = t0.Add(s.at)
				s.do(b)
			}
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
			if n := strings.Count(out, "\r"); tt.draws >= 0 && n != tt.draws {
				t.Errorf("%d redraws, want %d: %q", n, tt.draws, out)
			}
		})
	}
}

// TestBarConcurrent: counts from many goroutines (as the workers of data
// synth and eval segment report them) all arrive, and the output stays
// whole lines (run with -race).
func TestBarConcurrent(t *testing.T) {
	for _, tty := range []bool{true, false} {
		var buf bytes.Buffer
		b := New(&buf, "work", "img", 800)
		b.Terminal = tty
		b.Start(0)
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				for range 100 {
					b.Add(1)
					_ = b.Line()
				}
			})
		}
		wg.Wait()
		b.SetDesc("work done")
		b.Finish()
		out := buf.String()
		if !strings.Contains(out, "work done 800/800 img") || !strings.HasSuffix(out, "\n") {
			t.Errorf("terminal %v: output ends %q", tty, out[max(len(out)-80, 0):])
		}
	}
}

func TestIsTerminal(t *testing.T) {
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "bar")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is a terminal")
	}
	if New(f, "x", "img", 1).Terminal {
		t.Error("New takes a regular file for a terminal")
	}
}
