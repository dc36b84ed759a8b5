package main

// Numeric flags that check their range when they are parsed, and the check
// that a command's output is not one of its inputs.
//
// Each bounded flag refuses a bad value with the flag's name (pflag reports
// `invalid argument "-1" for "--trials" flag: must be at least 1`) before
// any work starts, and its usage ends with its range, so that the help and
// the check cannot disagree. Bounds are inclusive unless said otherwise.
// The default lies in the range, except for a required flag
// (MarkFlagRequired), whose default is never used; TestNumericFlagsAreBounded
// checks both.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// noLimit, as the upper bound of an integer flag, leaves it unbounded.
const noLimit = math.MaxInt

// noDurationLimit, as the upper bound of a duration flag, leaves it
// unbounded.
const noDurationLimit = time.Duration(math.MaxInt64)

// intRange is an int flag accepting [min, max].
type intRange struct {
	p        *int
	min, max int
}

// intFlag defines an int flag whose value must lie in [lo, hi] (hi noLimit:
// no upper bound); the range is appended to the usage.
func intFlag(f *pflag.FlagSet, p *int, name string, def, lo, hi int, usage string) {
	*p = def
	f.Var(&intRange{p: p, min: lo, max: hi}, name, usage+" ("+intRangeText(lo, hi)+")")
}

func intRangeText(lo, hi int) string {
	if hi == noLimit {
		return fmt.Sprintf("at least %d", lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

// Set accepts a whole number in Go syntax, or in exponent form (1e6), as
// people write large counts.
func (r *intRange) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return fmt.Errorf("must be %s", intRangeText(r.min, r.max))
		}
		x, ferr := strconv.ParseFloat(s, 64)
		switch {
		case ferr != nil && !math.IsInf(x, 0), math.IsNaN(x), x != math.Trunc(x):
			return errors.New("not an integer")
		case x < float64(r.min) || x > float64(r.max):
			return fmt.Errorf("must be %s", intRangeText(r.min, r.max))
		}
		v = int64(x)
	}
	if v < int64(r.min) || v > int64(r.max) {
		return fmt.Errorf("must be %s", intRangeText(r.min, r.max))
	}
	*r.p = int(v)
	return nil
}

func (r *intRange) String() string { return strconv.Itoa(*r.p) }
func (r *intRange) Type() string   { return "int" }

// floatRange is a float64 flag accepting finite values between min and
// max, each end included unless its open flag is set. NaN and infinities
// are always refused.
type floatRange struct {
	p                *float64
	min, max         float64
	minOpen, maxOpen bool
}

// floatFlag defines a float64 flag whose value must be finite and lie in
// [lo, hi] (math.Inf(1) for hi: no upper bound); the range is appended to
// the usage.
func floatFlag(f *pflag.FlagSet, p *float64, name string, def, lo, hi float64, usage string) {
	floatRangeFlag(f, &floatRange{p: p, min: lo, max: hi}, name, def, usage)
}

// positiveFloatFlag defines a float64 flag that must be finite and above
// zero.
func positiveFloatFlag(f *pflag.FlagSet, p *float64, name string, def float64, usage string) {
	floatRangeFlag(f, &floatRange{p: p, min: 0, max: math.Inf(1), minOpen: true}, name, def, usage)
}

// fractionFlag defines a float64 flag in [0, 1).
func fractionFlag(f *pflag.FlagSet, p *float64, name string, def float64, usage string) {
	floatRangeFlag(f, &floatRange{p: p, min: 0, max: 1, maxOpen: true}, name, def, usage)
}

func floatRangeFlag(f *pflag.FlagSet, r *floatRange, name string, def float64, usage string) {
	*r.p = def
	f.Var(r, name, usage+" ("+r.text()+")")
}

func (r *floatRange) text() string {
	g := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	if math.IsInf(r.max, 1) {
		if r.minOpen {
			return "above " + g(r.min)
		}
		return "at least " + g(r.min)
	}
	lb, rb := "[", "]"
	if r.minOpen {
		lb = "("
	}
	if r.maxOpen {
		rb = ")"
	}
	return "in " + lb + g(r.min) + ", " + g(r.max) + rb
}

func (r *floatRange) Set(s string) error {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !math.IsInf(v, 0) {
		return errors.New("not a number")
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("must be a finite number %s", r.text())
	}
	if v < r.min || r.minOpen && v == r.min || v > r.max || r.maxOpen && v == r.max {
		return fmt.Errorf("must be %s", r.text())
	}
	*r.p = v
	return nil
}

func (r *floatRange) String() string { return strconv.FormatFloat(*r.p, 'g', -1, 64) }
func (r *floatRange) Type() string   { return "float" }

// durationRange is a time.Duration flag accepting [min, max].
type durationRange struct {
	p        *time.Duration
	min, max time.Duration
}

// durationFlag defines a duration flag whose value must lie in [lo, hi]
// (noDurationLimit for hi: no upper bound); the range is appended to the
// usage.
func durationFlag(f *pflag.FlagSet, p *time.Duration, name string, def, lo, hi time.Duration, usage string) {
	*p = def
	r := &durationRange{p: p, min: lo, max: hi}
	f.Var(r, name, usage+" ("+r.text()+")")
}

func (r *durationRange) text() string {
	if r.max == noDurationLimit {
		return "at least " + r.min.String()
	}
	return r.min.String() + " to " + r.max.String()
}

func (r *durationRange) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 300ms or 2m")
	}
	if v < r.min || v > r.max {
		return fmt.Errorf("must be %s", r.text())
	}
	*r.p = v
	return nil
}

func (r *durationRange) String() string { return r.p.String() }
func (r *durationRange) Type() string   { return "duration" }

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

// notAnInput is checkNotInput for an output given by the flag --flag and
// inputs named by their paths.
func notAnInput(flag, out string, inputs ...string) error {
	named := make([]namedPath, len(inputs))
	for i, in := range inputs {
		named[i] = namedPath{"the input " + in, in}
	}
	return checkNotInput(namedPath{"--" + flag, out}, named...)
}
