// Package conformance runs ONNX backend test cases (the layout of ONNX's
// backend tests and Debian's libonnx-testdata: DIR/<test>/model.onnx with
// test_data_set_<i>/input_<j>.pb and output_<j>.pb) on the reference
// executor and compares the outputs.
package conformance

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
)

// The tolerances of the comparison: |got-want| <= Atol + Rtol*|want|.
const (
	Rtol = 1e-3
	Atol = 1e-4
)

// The statuses of a case.
const (
	Passed      = "passed"
	Failed      = "failed"
	Unsupported = "unsupported"
)

// Case is the result of one test case.
type Case struct {
	Name        string  `json:"name"`
	Status      string  `json:"status"`
	Op          string  `json:"op"`
	MaxAbsError float64 `json:"max_abs_error"`
	Error       string  `json:"error"`
}

// Report is the result of a directory of cases.
type Report struct {
	Passed      int    `json:"passed"`
	Failed      int    `json:"failed"`
	Unsupported int    `json:"unsupported"`
	Cases       []Case `json:"cases"`
}

// Find returns the case directories under dir: dir itself if it holds a
// model.onnx, else every directory below it that does, sorted.
func Find(dir string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s is not a directory", dir)
	}
	var cases []string
	err = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "model.onnx" {
			cases = append(cases, filepath.Dir(path))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(cases)
	return cases, nil
}

// Run runs every case under dir. progress, when not nil, is called after
// each case.
func Run(dir string, progress func(done, total int, c Case)) (*Report, error) {
	dirs, err := Find(dir)
	if err != nil {
		return nil, fmt.Errorf("conformance: %w", err)
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("conformance: no model.onnx under %s", dir)
	}
	r := &Report{Cases: []Case{}}
	for i, d := range dirs {
		c := RunCase(d)
		if rel, err := filepath.Rel(dir, d); err == nil && rel != "." {
			c.Name = filepath.ToSlash(rel)
		}
		switch c.Status {
		case Passed:
			r.Passed++
		case Failed:
			r.Failed++
		default:
			r.Unsupported++
		}
		r.Cases = append(r.Cases, c)
		if progress != nil {
			progress(i+1, len(dirs), c)
		}
	}
	return r, nil
}

// RunCase runs the case in dir and never panics.
func RunCase(dir string) (c Case) {
	c = Case{Name: filepath.Base(dir)}
	defer func() {
		if r := recover(); r != nil {
			c.Status, c.Error = Failed, fmt.Sprintf("internal error: %v", r)
		}
	}()
	g, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		c.Op = mainOp(c.Name, &xgraph.Graph{})
		return c.fail(err)
	}
	c.Op = mainOp(c.Name, g)
	exec, err := executor.New(g)
	if err != nil {
		return c.fail(err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	if len(sets) == 0 {
		return c.fail(errors.New("no test_data_set_* directories"))
	}
	sort.Strings(sets)
	for _, set := range sets {
		inputs := make(map[string]*xgraph.Tensor)
		for j, v := range g.Inputs {
			t, _, err := onnx.ReadTensor(filepath.Join(set, fmt.Sprintf("input_%d.pb", j)))
			if err != nil {
				return c.fail(err)
			}
			inputs[v.Name] = bfloat16Bits(t, v.DType)
		}
		got, err := exec.Run(inputs)
		if err != nil {
			return c.fail(err)
		}
		for j := range g.Outputs {
			want, _, err := onnx.ReadTensor(filepath.Join(set, fmt.Sprintf("output_%d.pb", j)))
			if err != nil {
				return c.fail(err)
			}
			want = bfloat16Bits(want, g.Outputs[j].DType)
			d, err := Compare(got[j], want)
			c.MaxAbsError = math.Max(c.MaxAbsError, d)
			if err != nil {
				return c.fail(fmt.Errorf("%s output %d (%s): %w", filepath.Base(set), j, g.Outputs[j].Name, err))
			}
		}
	}
	c.Status = Passed
	return c
}

// bfloat16Bits reads a uint16 tensor as bfloat16 bit patterns where the
// model declares bfloat16: ONNX 1.12's test data stores bfloat16 values that
// way.
func bfloat16Bits(t *xgraph.Tensor, declared xgraph.DType) *xgraph.Tensor {
	if declared != xgraph.BFloat16 || t.DType != xgraph.Uint16 {
		return t
	}
	f := make([]float32, len(t.I))
	for i, v := range t.I {
		f[i] = math.Float32frombits(uint32(v) << 16)
	}
	return xgraph.NewFloat(f, t.Shape...).WithType(xgraph.BFloat16)
}

func (c Case) fail(err error) Case {
	c.Status = Failed
	var ue *xgraph.UnsupportedError
	if errors.As(err, &ue) {
		c.Status = Unsupported
	}
	c.Error = err.Error()
	return c
}

// Compare checks got against want within the tolerances and returns the
// largest absolute difference. NaNs must match NaNs.
func Compare(got, want *xgraph.Tensor) (float64, error) {
	if !equalShape(got.Shape, want.Shape) {
		return 0, fmt.Errorf("shape %v, want %v", got.Shape, want.Shape)
	}
	if got.DType.IsFloat() != want.DType.IsFloat() || want.DType == xgraph.Bool && got.DType != xgraph.Bool {
		return 0, fmt.Errorf("element type %s, want %s", got.DType, want.DType)
	}
	var worst float64
	bad := -1
	for i := 0; i < want.Len(); i++ {
		g, w := got.Float(i), want.Float(i)
		if math.IsNaN(w) || math.IsNaN(g) {
			if math.IsNaN(w) != math.IsNaN(g) && bad < 0 {
				bad = i
			}
			continue
		}
		if math.IsInf(w, 0) || math.IsInf(g, 0) {
			if g != w && bad < 0 {
				bad = i
			}
			continue
		}
		d := math.Abs(g - w)
		worst = math.Max(worst, d)
		if d > Atol+Rtol*math.Abs(w) && bad < 0 {
			bad = i
		}
	}
	if bad >= 0 {
		return worst, fmt.Errorf("element %d is %g, want %g (max abs error %.3g)", bad, got.Float(bad), want.Float(bad), worst)
	}
	return worst, nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// mainOp names the operator a case tests: the single operator of a
// one-node graph, else the operator (of the graph or known to the executor)
// whose snake-case or lower-case name starts the test name, as ONNX names
// its tests ("test_reduce_mean_...", "test_logsoftmax_..."), else the
// graph's operators joined by commas.
func mainOp(name string, g *xgraph.Graph) string {
	var ops []string
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		if !seen[n.Op] {
			seen[n.Op] = true
			ops = append(ops, n.Op)
		}
	}
	if len(ops) == 1 {
		return ops[0]
	}
	test := strings.ToLower(strings.TrimPrefix(name, "test_")) + "_"
	best, bestLen := "", 0
	for _, op := range append(append([]string{}, ops...), executor.Ops()...) {
		for _, s := range []string{snake(op), strings.ToLower(op)} {
			if strings.HasPrefix(test, s+"_") && len(s) > bestLen {
				best, bestLen = op, len(s)
			}
		}
	}
	if best != "" {
		return best
	}
	return strings.Join(ops, ",")
}

// snake converts an operator name to snake case: "ReduceMean" becomes
// "reduce_mean".
func snake(op string) string {
	var b strings.Builder
	for i, r := range op {
		if i > 0 && r >= 'A' && r <= 'Z' {
			prev := op[i-1]
			if prev >= 'a' && prev <= 'z' {
				b.WriteByte('_')
			}
		}
		b.WriteRune(r)
	}
	return strings.ToLower(b.String())
}
