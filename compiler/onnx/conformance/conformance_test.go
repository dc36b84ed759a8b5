package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"argus/compiler/executor"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
)

// listed are the operators the executor must cover: at least 95% of
// their node test cases must pass.
var listed = strings.Fields(`Conv ConvTranspose MaxPool AveragePool GlobalAveragePool
	BatchNormalization Relu LeakyRelu PRelu Sigmoid Tanh Clip HardSigmoid HardSwish Gelu Erf
	Softmax LogSoftmax Gemm MatMul Add Sub Mul Div Pow Sqrt Exp Neg Concat Split Slice Reshape
	Flatten Transpose Squeeze Unsqueeze Gather Shape Constant ConstantOfShape Identity Dropout
	Pad Resize RoiAlign ReduceMean ReduceSum ReduceMax LayerNormalization Cast Expand Where Equal Range`)

// suite returns the directory of Debian's libonnx-testdata kind, or skips.
func suite(t *testing.T, kind string) string {
	root := os.Getenv("ARGUS_ONNX_TESTDATA")
	if root == "" {
		root = "/usr/share/libonnx-testdata/data"
	}
	dir := filepath.Join(root, kind)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("ONNX conformance data not found at %s (apt-get install libonnx-testdata, or set ARGUS_ONNX_TESTDATA): %v", dir, err)
	}
	return dir
}

func run(t *testing.T, dir string) *Report {
	t.Helper()
	r, err := Run(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range r.Cases {
		if strings.Contains(c.Error, "internal error") || strings.Contains(c.Error, "inconsistent inputs") {
			t.Errorf("%s: %s", c.Name, c.Error)
		}
	}
	t.Logf("%s: passed %d, failed %d, unsupported %d", dir, r.Passed, r.Failed, r.Unsupported)
	return r
}

func TestNodeSuite(t *testing.T) {
	r := run(t, suite(t, "node"))
	isListed := map[string]bool{}
	for _, op := range listed {
		isListed[op] = true
	}
	total, passed := 0, 0
	perOp := map[string][2]int{}
	for _, c := range r.Cases {
		if !isListed[c.Op] {
			continue
		}
		total++
		p := perOp[c.Op]
		p[1]++
		if c.Status == Passed {
			passed++
			p[0]++
		} else {
			t.Logf("not passed: %s (%s) %s: %s", c.Name, c.Op, c.Status, c.Error)
		}
		perOp[c.Op] = p
	}
	ops := make([]string, 0, len(perOp))
	for op := range perOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		t.Logf("%-20s %3d/%3d", op, perOp[op][0], perOp[op][1])
	}
	rate := float64(passed) / float64(max(total, 1))
	t.Logf("listed operators: %d of %d node cases pass (%.1f%%)", passed, total, 100*rate)
	if total < 300 || rate < 0.95 {
		t.Errorf("listed operators: %d of %d node cases pass (%.1f%%), want at least 95%%", passed, total, 100*rate)
	}
}

func TestPyTorchConverted(t *testing.T) {
	r := run(t, suite(t, "pytorch-converted"))
	for _, c := range r.Cases {
		if c.Status != Passed {
			t.Errorf("%s (%s) %s: %s", c.Name, c.Op, c.Status, c.Error)
		}
	}
}

func TestPyTorchOperator(t *testing.T) {
	r := run(t, suite(t, "pytorch-operator"))
	for _, c := range r.Cases {
		if c.Status != Passed {
			t.Errorf("%s (%s) %s: %s", c.Name, c.Op, c.Status, c.Error)
		}
	}
}

func TestSimple(t *testing.T) {
	r := run(t, suite(t, "simple"))
	if r.Passed == 0 || r.Failed != 0 {
		t.Errorf("passed %d, failed %d; want every supported case to pass", r.Passed, r.Failed)
	}
}

// TestModels runs the committed models in the same layout, so the runner
// is tested where the Debian data is absent.
func TestModels(t *testing.T) {
	r, err := Run("../testdata/models", nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Passed != 2 || len(r.Cases) != 2 {
		t.Errorf("report %+v, want 2 cases passed", r)
	}
	if _, err := Run(t.TempDir(), nil); err == nil {
		t.Error("empty directory: no error")
	}
}

func TestCompare(t *testing.T) {
	nan := float32(0)
	nan = nan / nan
	cases := []struct {
		got, want *xgraph.Tensor
		ok        bool
	}{
		{xgraph.NewFloat([]float32{1, 2}, 2), xgraph.NewFloat([]float32{1, 2.0019}, 2), true},
		{xgraph.NewFloat([]float32{1, 2}, 2), xgraph.NewFloat([]float32{1, 2.01}, 2), false},
		{xgraph.NewFloat([]float32{0}, 1), xgraph.NewFloat([]float32{0.00009}, 1), true},
		{xgraph.NewFloat([]float32{nan}, 1), xgraph.NewFloat([]float32{nan}, 1), true},
		{xgraph.NewFloat([]float32{nan}, 1), xgraph.NewFloat([]float32{0}, 1), false},
		{xgraph.NewFloat([]float32{1, 2}, 2), xgraph.NewFloat([]float32{1, 2}, 1, 2), false},
		{xgraph.NewInt(xgraph.Int64, []int64{3}, 1), xgraph.NewInt(xgraph.Int64, []int64{3}, 1), true},
		{xgraph.NewFloat([]float32{3}, 1), xgraph.NewInt(xgraph.Int64, []int64{3}, 1), false},
	}
	for i, c := range cases {
		if _, err := Compare(c.got, c.want); (err == nil) != c.ok {
			t.Errorf("case %d: error %v, want ok=%v", i, err, c.ok)
		}
	}
}

func TestMainOp(t *testing.T) {
	g := &xgraph.Graph{Nodes: []*xgraph.Node{{Op: "ReduceMax"}, {Op: "Sub"}, {Op: "Exp"}}}
	for name, want := range map[string]string{
		"test_softmax_axis_0_expanded": "Softmax",
		"test_reduce_max_default":      "ReduceMax",
		"test_exp_example":             "Exp",
		"test_other":                   "ReduceMax,Sub,Exp",
	} {
		if got := mainOp(name, g); got != want {
			t.Errorf("mainOp(%s) = %s, want %s", name, got, want)
		}
	}
}

// TestInferredShapesMatchExecution checks XGraph's static shape inference
// against the shapes the executor produces, on every case that passes.
func TestInferredShapesMatchExecution(t *testing.T) {
	for _, kind := range []string{"node", "pytorch-converted", "pytorch-operator"} {
		dir := suite(t, kind)
		cases, err := Find(dir)
		if err != nil {
			t.Fatal(err)
		}
		checked := 0
		for _, d := range cases {
			g, err := onnx.Load(filepath.Join(d, "model.onnx"))
			if err != nil {
				continue
			}
			exec, err := executor.New(g)
			if err != nil {
				continue
			}
			inputs := map[string]*xgraph.Tensor{}
			ok := true
			for j, v := range g.Inputs {
				x, _, err := onnx.ReadTensor(filepath.Join(d, "test_data_set_0", fmt.Sprintf("input_%d.pb", j)))
				if err != nil {
					ok = false
					break
				}
				inputs[v.Name] = x
			}
			if !ok {
				continue
			}
			out, err := exec.Run(inputs)
			if err != nil {
				continue
			}
			for j, v := range g.Outputs {
				if !v.Ranked {
					continue
				}
				checked++
				bad := len(v.Shape) != len(out[j].Shape)
				for i := 0; !bad && i < len(v.Shape); i++ {
					bad = v.Shape[i] >= 0 && v.Shape[i] != out[j].Shape[i]
				}
				if bad {
					t.Errorf("%s output %s: inferred %s, executed %v", filepath.Base(d), v.Name, v.ShapeString(), out[j].Shape)
				}
			}
		}
		t.Logf("%s: %d output shapes checked", kind, checked)
	}
}
