package models

import (
	"math"
	"os"
	"strings"
	"testing"

	"argus/autograd"
	"argus/checkpoint"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

type resnetGolden struct {
	Keys    map[string][][3]any
	Forward map[string]struct {
		InputShape []int `json:"input_shape"`
		Logits     []float64
	}
}

func loadResnetGolden(t *testing.T) resnetGolden {
	var g resnetGolden
	golden.Load(t, "testdata/resnet.json", &g)
	return g
}

var depths = map[string]int{"resnet18": 18, "resnet34": 34, "resnet50": 50}

// TestResNetStateDictMatchesTorchvision checks names, order, shapes and
// integer buffers against torchvision's state dicts.
func TestResNetStateDictMatchesTorchvision(t *testing.T) {
	g := loadResnetGolden(t)
	for arch, keys := range g.Keys {
		t.Run(arch, func(t *testing.T) {
			m, err := NewResNet(tensor.NewRNG(1), depths[arch], 1000)
			if err != nil {
				t.Fatal(err)
			}
			sd := nn.StateDict(m)
			if len(sd) != len(keys) {
				t.Fatalf("%d entries, torchvision %d", len(sd), len(keys))
			}
			for i, k := range keys {
				name := k[0].(string)
				var shape []int
				for _, d := range k[1].([]any) {
					shape = append(shape, int(d.(float64)))
				}
				if sd[i].Name != name || !tensor.EqualShapes(sd[i].Value.Shape(), shape) || sd[i].Integer != (k[2] == "I64") {
					t.Fatalf("entry %d: %s %v int=%v, torchvision %s %v %s", i, sd[i].Name, sd[i].Value.Shape(), sd[i].Integer, name, shape, k[2])
				}
			}
		})
	}
}

// hashUniform reproduces the weight formula of tools/golden/models/resnet.py.
func hashUniform(index, n int) []float64 {
	u := make([]float64, n)
	for i := range u {
		k := (uint64(i)*2654435761 + uint64(index*40503+12345)) % (1 << 32)
		u[i] = float64(k) / float64(1<<32)
	}
	return u
}

func formulaFile(t *testing.T, m nn.Module) *checkpoint.File {
	f := checkpoint.NewFile()
	for index, s := range nn.StateDict(m) {
		shape := s.Value.Shape()
		if s.Integer {
			f.Add(s.Name, checkpoint.Int64Entry([]int64{0}))
			continue
		}
		u := hashUniform(index, s.Value.Len())
		v := tensor.Zeros(shape...)
		for i, x := range u {
			var y float64
			switch {
			case strings.HasSuffix(s.Name, "running_var"):
				y = 0.5 + x
			case strings.HasSuffix(s.Name, "running_mean"):
				y = 0.2 * (x - 0.5)
			case strings.HasSuffix(s.Name, "weight") && len(shape) == 4:
				y = (2*x - 1) * math.Sqrt(6/float64(shape[1]*shape[2]*shape[3]))
			case strings.HasSuffix(s.Name, "weight") && len(shape) == 2:
				y = (2*x - 1) / math.Sqrt(float64(shape[1]))
			case strings.HasSuffix(s.Name, "weight"):
				y = 0.5 + x
			default:
				y = 0.2 * (x - 0.5)
			}
			v.Data()[i] = float32(y)
		}
		if err := f.Add(s.Name, checkpoint.Float32Entry(v)); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func hashInput(shape []int) *tensor.Tensor {
	n := tensor.NumElements(shape)
	x := tensor.Zeros(shape...)
	for i, u := range hashUniform(999999, n) {
		x.Data()[i] = float32(2*u - 1)
	}
	return x
}

func compareLogits(t *testing.T, got []float32, want []float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d logits, want %d", len(got), len(want))
	}
	scale := 0.0
	for _, w := range want {
		scale = math.Max(scale, math.Abs(w))
	}
	for i, w := range want {
		if d := math.Abs(float64(got[i]) - w); d > 1e-4*scale+1e-5 {
			t.Fatalf("logit %d = %.6g, PyTorch %.6g (scale %.3g)", i, got[i], w, scale)
		}
	}
}

func TestResNetForwardMatchesTorch(t *testing.T) {
	g := loadResnetGolden(t)
	for arch, fw := range g.Forward {
		t.Run(arch, func(t *testing.T) {
			if arch != "resnet18" && testing.Short() {
				t.Skip("deeper ResNets only without -short")
			}
			m, _ := NewResNet(tensor.NewRNG(1), depths[arch], 1000)
			if err := checkpoint.LoadModel(formulaFile(t, m), m); err != nil {
				t.Fatal(err)
			}
			nn.Train(m, false)
			var y *autograd.Var
			nn.NoGrad(m, func() { y = m.Forward(autograd.Const(hashInput(fw.InputShape))) })
			compareLogits(t, y.Value().Data(), fw.Logits)
		})
	}
}

// TestTorchvisionSafetensors loads a torchvision ResNet-18 state dict
// converted to safetensors by tools/golden/models/resnet.py --safetensors
// DIR (46 MB, so not committed); set ARGUS_RESNET18=DIR to run it.
func TestTorchvisionSafetensors(t *testing.T) {
	dir := os.Getenv("ARGUS_RESNET18")
	if dir == "" {
		t.Skip("ARGUS_RESNET18 not set")
	}
	f, err := checkpoint.ReadFile(dir + "/resnet18.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := NewResNet(tensor.NewRNG(1), 18, 1000)
	if err := checkpoint.LoadModel(f, m); err != nil {
		t.Fatal(err)
	}
	var want []float64
	golden.Load(t, dir+"/resnet18_logits.json", &want)
	nn.Train(m, false)
	var y *autograd.Var
	nn.NoGrad(m, func() { y = m.Forward(autograd.Const(hashInput([]int{2, 3, 64, 64}))) })
	compareLogits(t, y.Value().Data(), want)
}

// BenchmarkResNet18Inference times batch-1 inference at 224×224 on the
// autograd graph; compiler/trace's benchmark of the same name times the
// compiled network.
func BenchmarkResNet18Inference(b *testing.B) {
	m, _ := NewResNet(tensor.NewRNG(1), 18, 1000)
	nn.Train(m, false)
	in := autograd.Const(tensor.NewRNG(2).Uniform(0, 1, 1, 3, 224, 224))
	for b.Loop() {
		nn.NoGrad(m, func() { m.Forward(in) })
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/image")
}
