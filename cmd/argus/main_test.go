package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// artefactFlags are the output-path flags that name a secondary artefact
// rather than a command's output, which is always --out.
var artefactFlags = map[string]bool{"plot": true, "dot": true, "trace": true, "ddr-out": true, "quant-out": true, "cpuprofile": true, "report": true}

// datasetNameFlags are the commands whose --dataset names one dataset of
// a multi-dataset segmentation checkpoint, not a path (that is --data).
var datasetNameFlags = map[string]bool{"argus eval segment": true, "argus predict segment": true, "argus export": true}

// noJSON lists the commands whose result is the text they print, so that
// a JSON object would only wrap it.
var noJSON = map[string]bool{"argus dpu disasm": true}

// walk calls f for cmd and every command below it.
func walk(cmd *cobra.Command, f func(*cobra.Command)) {
	f(cmd)
	for _, c := range cmd.Commands() {
		walk(c, f)
	}
}

// TestCommandTree checks the conventions of newRootCmd's comment on every
// command: a Short line, Use starting with the name, --out for output
// paths, --json on commands with results, the shared flags' types, and no
// back-quotes in usage strings (pflag turns them into placeholders).
func TestCommandTree(t *testing.T) {
	wantType := map[string]string{"out": "string", "data": "string", "config": "string", "seed": "uint64", "json": "bool"}
	walk(newRootCmd(), func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		if cmd.Short == "" {
			t.Errorf("%s: no Short", path)
		}
		if strings.ContainsRune(cmd.Short+cmd.Long+cmd.Use, '`') {
			t.Errorf("%s: back-quote in Use, Short or Long", path)
		}
		if first, _, _ := strings.Cut(cmd.Use, " "); first != cmd.Name() {
			t.Errorf("%s: Use %q does not start with the name", path, cmd.Use)
		}
		if cmd.Runnable() && !noJSON[path] && cmd.Flags().Lookup("json") == nil {
			t.Errorf("%s: no --json", path)
		}
		cmd.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Hidden || f.Deprecated != "" {
				return
			}
			if strings.ContainsRune(f.Usage, '`') {
				name, _ := pflag.UnquoteUsage(f)
				t.Errorf("%s --%s: back-quote in the usage makes %q its placeholder", path, f.Name, name)
			}
			if strings.HasPrefix(f.Usage, "write") && f.Name != "out" && !artefactFlags[f.Name] {
				t.Errorf("%s --%s: an output path is --out", path, f.Name)
			}
			switch f.Name {
			case "output", "output-dir", "outdir", "dir":
				t.Errorf("%s --%s: use --out or --data", path, f.Name)
			case "dataset":
				if !datasetNameFlags[path] {
					t.Errorf("%s --%s: use --out or --data", path, f.Name)
				}
			}
			if want, ok := wantType[f.Name]; ok && f.Value.Type() != want {
				t.Errorf("%s --%s is a %s, want %s", path, f.Name, f.Value.Type(), want)
			}
		})
	})
}

// TestHelp renders every command's help.
func TestHelp(t *testing.T) {
	walk(newRootCmd(), func(cmd *cobra.Command) {
		path := cmd.CommandPath()
		args := append(strings.Fields(path)[1:], "--help")
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 || errb.Len() != 0 {
			t.Errorf("%s --help: exit %d, stderr %q", path, code, errb.String())
			return
		}
		help := out.String()
		if !strings.Contains(help, "Usage:\n  "+path) || strings.ContainsRune(help, '`') {
			t.Errorf("%s --help:\n%s", path, help)
		}
	})
}

// TestRequiredFlags: a missing required flag is one line naming the
// command and the flag.
func TestRequiredFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"eval", "coco", "--dt", "dt.json"}, `argus eval coco: required flag(s) "gt" not set`},
		{[]string{"eval", "reid"}, `argus eval reid: give --features F, or --checkpoint C with --data DIR/DOMAIN`},
		{[]string{"cluster"}, `argus cluster: required flag(s) "features" not set`},
		{[]string{"data", "show", "--out", "x.png"}, `argus data show: required flag(s) "data" not set`},
		{[]string{"data", "synth", "reid"}, `argus data synth: required flag(s) "out" not set`},
		{[]string{"dpu", "sim", "x.s"}, `argus dpu sim: required flag(s) "target" not set`},
		{[]string{"onnx", "conformance"}, `argus onnx conformance: required flag(s) "data" not set`},
		{[]string{"hpo", "show"}, `argus hpo show: required flag(s) "study" not set`},
		{[]string{"hpo", "run", "--study", "s", "--", "true"}, `argus hpo run: required flag(s) "trials" not set`},
		{[]string{"hps", "search", "--data", "d", "--trials", "2", "--study", "s", "--out", "b.json"}, `argus hps search: required flag(s) "storage" not set`},
	} {
		var out, errb bytes.Buffer
		if code := run(c.args, &out, &errb); code == 0 || errb.String() != c.want+"\n" || out.Len() != 0 {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", c.args, code, out.String(), errb.String(), c.want)
		}
	}
}

// TestFileErrors: an input file that cannot be read gives one line naming
// the command and the file, and writes nothing.
func TestFileErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	for _, c := range []struct {
		path string
		args []string
	}{
		{"cluster", []string{"--features", missing + ".json", "--out", filepath.Join(dir, "l.json")}},
		{"eval coco", []string{"--gt", missing + ".json", "--dt", missing + ".json"}},
		{"eval reid", []string{"--features", missing + ".json"}},
		{"dpu asm", []string{missing + ".s", "--out", filepath.Join(dir, "p.bin")}},
		{"dpu disasm", []string{missing + ".bin"}},
		{"dpu sim", []string{missing + ".s", "--target", "zu9"}},
		{"inspect", []string{missing + ".onnx", "--dot", filepath.Join(dir, "g.svg")}},
		{"run", []string{missing + ".onnx"}},
		{"data show", []string{"--data", missing, "--out", filepath.Join(dir, "g.png")}},
		{"onnx conformance", []string{"--data", missing}},
		{"hpo create", []string{"--study", "s", "--storage", "sqlite:" + filepath.Join(dir, "s.db"), "--space", missing + ".json"}},
	} {
		args := append(strings.Fields(c.path), c.args...)
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		e := errb.String()
		if code == 0 || out.Len() != 0 || strings.Count(e, "\n") != 1 || !strings.HasPrefix(e, "argus "+c.path+": ") || !strings.Contains(e, missing) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out.String(), e)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("failed runs left %d files", len(ents))
	}
}

// TestFlagAliases: the older spellings of renamed flags keep working.
func TestFlagAliases(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "examples", "dpu", "conv_relu_pool.s")
	bin := filepath.Join(dir, "p.bin")
	for _, args := range [][]string{
		{"dpu", "asm", src, "--output", bin},
		{"dpu", "disasm", bin, "--output", filepath.Join(dir, "p.s")},
		{"onnx", "conformance", "--dir", "../../compiler/onnx/testdata/models", "--json"},
		{"inspect", filepath.Join(smallModelDir, "model.onnx"), "--optimize", "--json"},
		{"data", "synth", "detection", "--mnist", filepath.Join(dir, "none"), "--out", filepath.Join(dir, "det")},
		{"data", "show", "--dataset", filepath.Join("..", "..", "data", "dataset", "testdata", "none"), "--out", filepath.Join(dir, "g.png")},
	} {
		var out, errb bytes.Buffer
		code := run(args, &out, &errb)
		if strings.Contains(errb.String(), "unknown flag") || strings.Contains(errb.String(), "required flag") {
			t.Errorf("%v: exit %d, stderr %q", args, code, errb.String())
		}
	}
	for _, f := range []string{"p.bin", "p.s"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestErrorLine: the command's path prefixes an error once.
func TestErrorLine(t *testing.T) {
	root := newRootCmd()
	cmd, _, err := root.Find([]string{"eval", "coco"})
	if err != nil {
		t.Fatal(err)
	}
	for msg, want := range map[string]string{
		"bad box":            "argus eval coco: bad box",
		"eval coco: bad box": "argus eval coco: bad box",
		"eval: bad box":      "argus eval coco: eval: bad box",
	} {
		if got := errorLine(cmd, errorString(msg)); got != want {
			t.Errorf("errorLine(%q) = %q, want %q", msg, got, want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
