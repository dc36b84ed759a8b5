package main

// Numeric flags that check their range when they are parsed, and the check
// that a command's output is not one of its inputs.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"time"

	"github.com/spf13/pflag"
)

// noLimit, as the upper bound of an integer flag, leaves it unbounded.
const noLimit = math.MaxInt

// intRange is an int flag accepting [min, max]: Set refuses anything else,
// so that pflag reports the value and the flag by name at parse time.
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

func (r *intRange) Set(s string) error {
	v, err := strconv.ParseInt(s, 0, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return fmt.Errorf("must be %s", intRangeText(r.min, r.max))
		}
		return errors.New("not an integer")
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

// durationRange is a time.Duration flag that must be at least min.
type durationRange struct {
	p   *time.Duration
	min time.Duration
}

// durationFlag defines a duration flag that must be at least lo; the range
// is appended to the usage.
func durationFlag(f *pflag.FlagSet, p *time.Duration, name string, def, lo time.Duration, usage string) {
	*p = def
	r := &durationRange{p: p, min: lo}
	f.Var(r, name, usage+" ("+r.text()+")")
}

func (r *durationRange) text() string {
	if r.min == 0 {
		return "at least 0s"
	}
	return "at least " + r.min.String()
}

func (r *durationRange) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		return errors.New("not a duration such as 300ms or 2m")
	}
	if v < r.min {
		return fmt.Errorf("must be %s", r.text())
	}
	*r.p = v
	return nil
}

func (r *durationRange) String() string { return r.p.String() }
func (r *durationRange) Type() string   { return "duration" }

// notAnInput returns an error when the output path given to flag is the
// same file as one of the inputs (an output that does not exist yet is no
// input), so that no command overwrites what it reads.
func notAnInput(flag, out string, inputs ...string) error {
	if out == "" {
		return nil
	}
	oi, err := os.Stat(out)
	if err != nil {
		return nil
	}
	for _, in := range inputs {
		if in == "" {
			continue
		}
		if ii, err := os.Stat(in); err == nil && os.SameFile(oi, ii) {
			return fmt.Errorf("--%s %s is the input %s: refusing to overwrite an input", flag, out, in)
		}
	}
	return nil
}
