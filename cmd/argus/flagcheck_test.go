package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TestRangeFlags parses good and bad values through each bounded flag
// type: bad ones are refused with the flag's name and nothing is stored.
func TestRangeFlags(t *testing.T) {
	var n int
	var x float64
	var d time.Duration
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	intFlag(fs, &n, "n", 3, 1, 10, "count")
	floatFlag(fs, &x, "x", 0.5, 0, 1, "share")
	durationFlag(fs, &d, "d", time.Second, 0, time.Hour, "wait")
	if !strings.HasSuffix(fs.Lookup("n").Usage, "(1 to 10)") || !strings.HasSuffix(fs.Lookup("d").Usage, "(0s to 1h0m0s)") {
		t.Errorf("usage does not state the range: %q, %q", fs.Lookup("n").Usage, fs.Lookup("d").Usage)
	}
	tests := []struct {
		arg, err string
	}{
		{"--n=10", ""},
		{"--n=0x5", ""},
		{"--n=0", `"--n" flag: must be 1 to 10`},
		{"--n=-1", "must be 1 to 10"},
		{"--n=99999999999999999999", "must be 1 to 10"},
		{"--n=1e3", "must be 1 to 10"},
		{"--n=5e0", ""},
		{"--n=2.5", "not an integer"},
		{"--n=1e30", "must be 1 to 10"},
		{"--n=NaN", "not an integer"},
		{"--x=1", ""},
		{"--x=NaN", `"--x" flag: must be a finite number in [0, 1]`},
		{"--x=-1", "must be in [0, 1]"},
		{"--x=+Inf", "must be a finite number"},
		{"--x=abc", "not a number"},
		{"--d=0s", ""},
		{"--d=-1s", `"--d" flag: must be 0s to 1h0m0s`},
		{"--d=2h", "must be 0s to 1h0m0s"},
		{"--d=5", "not a duration"},
	}
	for _, tt := range tests {
		n, x, d = 3, 0.5, time.Second
		err := fs.Parse([]string{tt.arg})
		if tt.err == "" {
			if err != nil {
				t.Errorf("%s: %v", tt.arg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("%s: error %v, want %q", tt.arg, err, tt.err)
		}
		if n != 3 || x != 0.5 || d != time.Second {
			t.Errorf("%s: refused value was stored (%d %v %v)", tt.arg, n, x, d)
		}
	}
}

func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.bin")
	if err := os.WriteFile(a, []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.bin")
	if err := os.Symlink(a, link); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	rel, err := filepath.Rel(wd, a)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		a, b string
		want bool
	}{
		{a, a, true},
		{a, link, true},
		{a, rel, true},
		{a, filepath.Join(dir, ".", "sub", "..", "a.bin"), true},
		{filepath.Join(dir, "new"), filepath.Join(dir, "sub", "..", "new"), true},
		{a, filepath.Join(dir, "b.bin"), false},
		{a, "", false},
	}
	for _, tt := range tests {
		if got := sameFile(tt.a, tt.b); got != tt.want {
			t.Errorf("sameFile(%s, %s) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
	err = checkNotInput(namedPath{"--out", link}, namedPath{"--ddr", filepath.Join(dir, "b.bin")}, namedPath{"the program", a})
	if err == nil || err.Error() != "--out "+link+" is also the program; write to another file" {
		t.Errorf("checkNotInput = %v", err)
	}
	if err := checkNotInput(namedPath{"--out", ""}, namedPath{"the program", a}); err != nil {
		t.Errorf("no output: %v", err)
	}
}

// rangeFamilies are the command families whose numeric flags are bounded
// flags (intFlag, floatFlag, durationFlag and the float forms).
var rangeFamilies = []string{"argus hpo", "argus data", "argus dpu", "argus onnx conformance", "argus bench",
	"argus eval", "argus train", "argus cluster", "argus run", "argus inspect"}

// TestNumericFlagsAreBounded walks the commands of rangeFamilies: every numeric flag
// (seeds aside: every uint64 is a seed) is a bounded flag whose help
// states its range and whose default lies in it (unless the flag is
// required), and a value just outside the range, or NaN, is refused at
// parse time with one line that names the flag.
func TestNumericFlagsAreBounded(t *testing.T) {
	numeric := map[string]bool{"int": true, "int8": true, "int16": true, "int32": true, "int64": true, "uint": true, "uint8": true,
		"uint16": true, "uint32": true, "float32": true, "float": true, "float64": true, "duration": true, "count": true}
	checked := 0
	walk(newRootCmd(), func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		in := false
		for _, fam := range rangeFamilies {
			in = in || path == fam || strings.HasPrefix(path, fam+" ")
		}
		if !in || !cmd.Runnable() {
			return
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if !numeric[f.Value.Type()] || f.Name == "seed" {
				return
			}
			var bad []string
			var text string
			switch v := f.Value.(type) {
			case *intRange:
				bad, text = []string{fmt.Sprint(v.min - 1)}, intRangeText(v.min, v.max)
				if v.max != noLimit {
					bad = append(bad, fmt.Sprint(v.max+1))
				}
			case *floatRange:
				bad, text = []string{fmt.Sprint(v.min - 1 - math.Abs(v.min)), "NaN"}, v.text()
				if !math.IsInf(v.max, 1) {
					bad = append(bad, fmt.Sprint(v.max+1+math.Abs(v.max)))
				}
			case *durationRange:
				bad, text = []string{(v.min - time.Nanosecond).String()}, v.text()
				if v.max != noDurationLimit {
					bad = append(bad, (v.max + time.Second).String())
				}
			default:
				t.Errorf("%s --%s: a %s flag without bounds", path, f.Name, f.Value.Type())
				return
			}
			checked++
			if !strings.HasSuffix(f.Usage, "("+text+")") {
				t.Errorf("%s --%s: usage %q does not state the range %q", path, f.Name, f.Usage, text)
			}
			if _, required := f.Annotations[cobra.BashCompOneRequiredFlag]; !required {
				if err := f.Value.Set(f.DefValue); err != nil {
					t.Errorf("%s --%s: default %s: %v", path, f.Name, f.DefValue, err)
				}
			}
			for _, b := range bad {
				args := append(strings.Fields(path)[1:], "--"+f.Name+"="+b)
				var out, errb bytes.Buffer
				code := run(args, &out, &errb)
				e := errb.String()
				if code == 0 || strings.Count(e, "\n") != 1 || !strings.Contains(e, `"--`+f.Name+`" flag`) || out.Len() != 0 {
					t.Errorf("%v: exit %d, stdout %q, stderr %q; want one error line naming the flag", args, code, out.String(), e)
				}
			}
		})
	})
	if checked == 0 {
		t.Fatal("no bounded flags found")
	}
}
