package main

import (
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

// TestFlagRanges: a value outside a flag's range is refused when the flags
// are parsed, in one line naming the flag, before any file is read.
func TestFlagRanges(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "mnist", "--checkpoint", "x", "--batch", "4000000000"}, `invalid argument "4000000000" for "--batch" flag: must be 1 to 65536`},
		{[]string{"eval", "mnist", "--checkpoint", "x", "--batch", "0"}, `"--batch" flag: must be 1 to 65536`},
		{[]string{"eval", "mnist", "--checkpoint", "x", "--batch", "-1"}, `"--batch" flag: must be 1 to 65536`},
		{[]string{"eval", "mnist", "--checkpoint", "x", "--limit", "-5"}, `"--limit" flag: must be at least 0`},
		{[]string{"eval", "mnist", "--checkpoint", "x", "--batch", "99999999999999999999"}, `"--batch" flag: must be 1 to 65536`},
		{[]string{"train", "mnist", "--batch", "0"}, `"--batch" flag: must be 1 to 65536`},
		{[]string{"train", "mnist", "--batch", "-1"}, `"--batch" flag: must be 1 to 65536`},
		{[]string{"train", "mnist", "--limit", "-5"}, `"--limit" flag: must be at least 0`},
		{[]string{"train", "mnist", "--warmup", "-5"}, `"--warmup" flag: must be at least 0`},
		{[]string{"train", "mnist", "--epochs", "0"}, `"--epochs" flag: must be 1 to`},
		{[]string{"train", "mnist", "--lr", "0"}, `"--lr" flag: must be above 0`},
		{[]string{"train", "mnist", "--lr", "NaN"}, `"--lr" flag: must be a finite number above 0`},
		{[]string{"train", "mnist", "--lr", "abc"}, `"--lr" flag: not a number`},
		{[]string{"train", "mnist", "--weight-decay", "NaN"}, `"--weight-decay" flag: must be a finite number at least 0`},
		{[]string{"train", "mnist", "--weight-decay", "-1"}, `"--weight-decay" flag: must be at least 0`},
		{[]string{"train", "mnist", "--momentum", "NaN"}, `"--momentum" flag: must be a finite number in [0, 1)`},
		{[]string{"train", "mnist", "--momentum", "1"}, `"--momentum" flag: must be in [0, 1)`},
		{[]string{"train", "mnist", "--ema", "Inf"}, `"--ema" flag: must be a finite number in [0, 1)`},
		{[]string{"train", "mnist", "--gamma", "-1"}, `"--gamma" flag: must be above 0`},
		{[]string{"train", "mnist", "--label-smoothing", "1"}, `"--label-smoothing" flag: must be in [0, 1)`},
		{[]string{"train", "mnist", "--max-minutes", "-1"}, `"--max-minutes" flag: must be at least 0`},
		{[]string{"train", "mnist", "--workers", "-1"}, `"--workers" flag: must be 0 to 1024`},
		{[]string{"train", "mnist", "--accumulate", "0"}, `"--accumulate" flag: must be 1 to 65536`},
		{[]string{"cluster", "--features", "x", "--rho", "-1"}, `"--rho" flag: must be in [0, 1]`},
		{[]string{"cluster", "--features", "x", "--rho", "NaN"}, `"--rho" flag: must be a finite number in [0, 1]`},
		{[]string{"cluster", "--features", "x", "--eps", "-0.5"}, `"--eps" flag: must be at least 0`},
		{[]string{"cluster", "--features", "x", "--min-samples", "0"}, `"--min-samples" flag: must be at least 1`},
		{[]string{"cluster", "--features", "x", "--k1", "0"}, `"--k1" flag: must be at least 1`},
		{[]string{"eval", "reid", "--features", "x", "--lambda", "2"}, `"--lambda" flag: must be in [0, 1]`},
		{[]string{"eval", "reid", "--features", "x", "--max-rank", "0"}, `"--max-rank" flag: must be at least 1`},
		{[]string{"run", "m.onnx", "--top", "-1"}, `"--top" flag: must be at least 0`},
		{[]string{"bench", "gemm", "--m", "0"}, `"--m" flag: must be 1 to 1048575`},
		{[]string{"bench", "gemm", "--batch", "-1"}, `"--batch" flag: must be 1 to 1048575`},
		{[]string{"bench", "gemm", "--min-time", "-1s"}, `"--min-time" flag: must be at least 1ms`},
		{[]string{"bench", "gemm", "--min-time", "soon"}, `"--min-time" flag: not a duration`},
		{[]string{"bench", "gemm", "--rounds", "0"}, `"--rounds" flag: must be at least 1`},
		{[]string{"bench", "gemm", "--m", "1048575", "--n", "1048575", "--k", "1048575", "--batch", "1048575"}, "more than the limit"},
		{[]string{"bench", "train-step", "--warmup", "-5"}, `"--warmup" flag: must be at least 0`},
		{[]string{"bench", "infer", "--batch", "0"}, `"--batch" flag: must be 1 to 65536`},
		{[]string{"bench", "infer", "--batch", "65536", "--size", "16384"}, "is too large"},
		{[]string{"bench", "infer", "--iters", "0"}, `"--iters" flag: must be at least 1`},
	} {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(c.args...)
			if code == 0 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want one line with %q", code, stdout, stderr, c.want)
			}
		})
	}
}

func TestRangeValues(t *testing.T) {
	var i int
	ir := &intRange{p: &i, min: -2, max: 3}
	for s, ok := range map[string]bool{"-2": true, "3": true, "0x3": true, "4": false, "-3": false, "1.5": false, "": false, "9223372036854775808": false} {
		if err := ir.Set(s); (err == nil) != ok {
			t.Errorf("int in [-2, 3]: Set(%q) error %v", s, err)
		}
	}
	var f float64
	open := &floatRange{p: &f, min: 0, max: 1, minOpen: true, maxOpen: true}
	for s, ok := range map[string]bool{"0.5": true, "1e-300": true, "0": false, "1": false, "NaN": false, "-Inf": false, "1e400": false, "x": false} {
		if err := open.Set(s); (err == nil) != ok {
			t.Errorf("float in (0, 1): Set(%q) error %v", s, err)
		}
	}
	if open.text() != "in (0, 1)" || (&floatRange{min: 0, max: math.Inf(1)}).text() != "at least 0" {
		t.Errorf("range texts %q", open.text())
	}
	var d time.Duration
	dr := &durationRange{p: &d, max: noDurationLimit}
	for s, ok := range map[string]bool{"0s": true, "1h": true, "-1s": false, "5": false} {
		if err := dr.Set(s); (err == nil) != ok {
			t.Errorf("duration: Set(%q) error %v", s, err)
		}
	}
}

// TestHalfFlag: float16 re-ranking is the default, turned off by
// --no-half; the help shows no flag with a default of true that could
// only be given as --flag=false.
func TestHalfFlag(t *testing.T) {
	code, help, _ := runCLI("eval", "reid", "--help")
	if code != 0 || strings.Contains(help, "(default true)") || !strings.Contains(help, "--no-half") {
		t.Errorf("help:\n%s", help)
	}
	walk(newRootCmd(), func(cmd *cobra.Command) {
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Value.Type() == "bool" && f.DefValue == "true" && !f.Hidden && f.Deprecated == "" {
				t.Errorf("%s --%s: a boolean flag on by default", cmd.CommandPath(), f.Name)
			}
		})
	})
}

// TestOutputIsNotAnInput: an output path that names one of the command's
// inputs is refused, and the input is left as it was.
func TestOutputIsNotAnInput(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "model.svg")
	os.WriteFile(model, []byte("not a model"), 0o644)
	feats := filepath.Join(dir, "feats.json")
	os.WriteFile(feats, []byte(`{"features": [[1, 0], [0, 1]]}`), 0o644)
	link := filepath.Join(dir, "link.json")
	os.Symlink(feats, link)
	for _, c := range []struct {
		args  []string
		input string
		want  string
	}{
		{[]string{"inspect", model, "--dot", model}, model, "--dot " + model + " is also the input " + model},
		{[]string{"cluster", "--features", feats, "--out", feats}, feats, "--out " + feats + " is also the input " + feats},
		{[]string{"cluster", "--features", feats, "--out", link}, feats, "is also the input"},
	} {
		before, _ := os.ReadFile(c.input)
		code, stdout, stderr := runCLI(c.args...)
		if code == 0 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, code, stdout, stderr, c.want)
		}
		if after, _ := os.ReadFile(c.input); string(after) != string(before) {
			t.Errorf("%v changed its input", c.args)
		}
	}
}

// FuzzRangeFlags: whatever text a numeric flag is given, Set refuses it or
// stores a value inside the flag's range.
func FuzzRangeFlags(f *testing.F) {
	for _, s := range []string{"0", "-1", "65536", "1e308", "NaN", "-Inf", "0x10", "1h", "-1s", "", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var i int
		if (&intRange{p: &i, min: 1, max: 65536}).Set(s) == nil && (i < 1 || i > 65536) {
			t.Errorf("int %q stored %d", s, i)
		}
		var v float64
		if (&floatRange{p: &v, min: 0, max: 1, maxOpen: true}).Set(s) == nil && !(v >= 0 && v < 1) {
			t.Errorf("float %q stored %v", s, v)
		}
		var d time.Duration
		if (&durationRange{p: &d, min: time.Millisecond, max: noDurationLimit}).Set(s) == nil && d < time.Millisecond {
			t.Errorf("duration %q stored %v", s, d)
		}
	})
}

// TestDistanceLimit: features that would need a distance matrix above 8
// GiB are refused, naming the file, before it is allocated.
func TestDistanceLimit(t *testing.T) {
	const n = 46341 // n² > 2^31
	var b strings.Builder
	b.WriteString(`{"features": [`)
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%d]", i%7)
	}
	b.WriteString("]}")
	feats := filepath.Join(t.TempDir(), "many.json")
	os.WriteFile(feats, []byte(b.String()), 0o644)
	list := func(v string) string { return "[" + strings.TrimSuffix(strings.Repeat(v+",", n-1), ",") + "]" }
	rows := "[" + strings.TrimSuffix(strings.Repeat("[1],", n-1), ",") + "]"
	reidFile := filepath.Join(t.TempDir(), "many-reid.json")
	os.WriteFile(reidFile, []byte(`{"query_features": [[1]], "query_pids": [1], "query_camids": [0], "gallery_features": `+rows+
		`, "gallery_pids": `+list("1")+`, "gallery_camids": `+list("1")+`}`), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"cluster", "--features", feats, "--distance", "euclidean"}, "argus cluster: " + feats + ": 46341×46341 distances are more than the limit of 2147483648 (8 GiB)\n"},
		{[]string{"cluster", "--features", feats}, "argus cluster: " + feats + ": 46341×46341 distances"},
		{[]string{"eval", "reid", "--features", reidFile, "--rerank"}, "argus eval reid: " + reidFile + ": 46341×46341 distances"},
	} {
		code, stdout, stderr := runCLI(c.args...)
		if code == 0 || stdout != "" || !strings.HasPrefix(stderr, strings.TrimSuffix(c.want, "\n")) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%v: exit %d, stdout %.100q, stderr %q; want %q", c.args[:2], code, stdout, stderr, c.want)
		}
	}
}
