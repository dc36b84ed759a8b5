package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// Numeric flags with bounds. Each registers a flag whose value is checked
// when it is parsed, so that a bad value is refused with the flag's name
// (pflag reports `invalid argument "-1" for "--trials" flag: ...`) before
// any work starts, and whose usage ends with its range, so that the help
// and the check cannot disagree. Bounds are inclusive. The default lies in
// the range, except for a required flag (MarkFlagRequired), whose default
// is never used; TestFlagRanges checks it.

// intRangeValue is an int flag bounded by [lo, hi].
type intRangeValue struct {
	p      *int
	lo, hi int
}

// Set accepts a whole number in Go syntax, or in exponent form (1e6, as
// people write large counts).
func (v *intRangeValue) Set(s string) error {
	n, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		x, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || x != math.Trunc(x) || math.Abs(x) >= 1<<63 {
			return fmt.Errorf("%q is not a whole number", s)
		}
		n = int64(x)
	}
	if n < int64(v.lo) || n > int64(v.hi) {
		return fmt.Errorf("%d is outside [%d, %d]", n, v.lo, v.hi)
	}
	*v.p = int(n)
	return nil
}

func (v *intRangeValue) String() string { return strconv.Itoa(*v.p) }
func (v *intRangeValue) Type() string   { return "int" }

// intFlag defines an int flag with default value and the inclusive range
// [lo, hi]; the usage is followed by the range.
func intFlag(f *pflag.FlagSet, p *int, name string, value, lo, hi int, usage string) {
	*p = value
	f.Var(&intRangeValue{p: p, lo: lo, hi: hi}, name, fmt.Sprintf("%s, in [%d, %d]", usage, lo, hi))
}

// floatRangeValue is a float64 flag bounded by [lo, hi]; NaN is refused.
type floatRangeValue struct {
	p      *float64
	lo, hi float64
}

func (v *floatRangeValue) Set(s string) error {
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	if math.IsNaN(x) || x < v.lo || x > v.hi {
		return fmt.Errorf("%v is outside [%g, %g]", x, v.lo, v.hi)
	}
	*v.p = x
	return nil
}

func (v *floatRangeValue) String() string { return strconv.FormatFloat(*v.p, 'g', -1, 64) }
func (v *floatRangeValue) Type() string   { return "float" }

// floatFlag defines a float64 flag with default value and the inclusive
// range [lo, hi]; NaN is never accepted.
func floatFlag(f *pflag.FlagSet, p *float64, name string, value, lo, hi float64, usage string) {
	*p = value
	f.Var(&floatRangeValue{p: p, lo: lo, hi: hi}, name, fmt.Sprintf("%s, in [%g, %g]", usage, lo, hi))
}

// durationRangeValue is a time.Duration flag bounded by [lo, hi].
type durationRangeValue struct {
	p      *time.Duration
	lo, hi time.Duration
}

func (v *durationRangeValue) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (such as 90s or 5m)", s)
	}
	if d < v.lo || d > v.hi {
		return fmt.Errorf("%v is outside [%v, %v]", d, v.lo, v.hi)
	}
	*v.p = d
	return nil
}

func (v *durationRangeValue) String() string { return v.p.String() }
func (v *durationRangeValue) Type() string   { return "duration" }

// durationFlag defines a duration flag with default value and the
// inclusive range [lo, hi].
func durationFlag(f *pflag.FlagSet, p *time.Duration, name string, value, lo, hi time.Duration, usage string) {
	*p = value
	f.Var(&durationRangeValue{p: p, lo: lo, hi: hi}, name, fmt.Sprintf("%s, in [%v, %v]", usage, lo, hi))
}

// namedPath is a path as the user gave it, with what gave it ("--ddr",
// "the program") for error messages.
type namedPath struct {
	what, path string
}

// sameFile reports whether the paths a and b name the same file: the same
// file on disk when both exist (os.SameFile, so links and different
// spellings count), else the same clean absolute path.
func sameFile(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	sa, errA := os.Stat(a)
	sb, errB := os.Stat(b)
	if errA == nil && errB == nil {
		return os.SameFile(sa, sb)
	}
	absA, errA := filepath.Abs(a)
	absB, errB := filepath.Abs(b)
	return errA == nil && errB == nil && absA == absB
}

// checkNotInput refuses an output that would replace one of the command's
// inputs: no command may write over a file it reads. An output path that
// is empty (nothing written) or names no file yet (nothing to lose)
// passes; the output is looked up once, so long lists of inputs are cheap.
func checkNotInput(out namedPath, inputs ...namedPath) error {
	if out.path == "" {
		return nil
	}
	so, err := os.Stat(out.path)
	if err != nil {
		return nil
	}
	for _, in := range inputs {
		if in.path == "" {
			continue
		}
		if si, err := os.Stat(in.path); err == nil && os.SameFile(so, si) {
			return fmt.Errorf("%s %s is also %s; write to another file", out.what, out.path, in.what)
		}
	}
	return nil
}
