package sparsercnn

import (
	"math"
	"slices"
	"strings"
	"testing"

	"argus/autograd"
	"argus/internal/golden"
	"argus/nn"
	"argus/tensor"
)

type goldenTensor struct {
	Shape []int
	Data  []float64
}

type dynamicConvCase struct {
	Name                      string
	Boxes, Hidden, Resolution int
	DimDynamic                int `json:"dim_dynamic"`
	Keys                      []string
	Output                    goldenTensor
	GradPro                   goldenTensor `json:"grad_pro"`
	GradRoI                   goldenTensor `json:"grad_roi"`
	Grads                     map[string]goldenTensor
}

// hashUniform is the weight formula of tools/golden/detection/dynamic_conv.py.
func hashUniform(index, n int) []float64 {
	u := make([]float64, n)
	for i := range u {
		k := (uint64(i)*2654435761 + uint64(index*40503+12345)) % (1 << 32)
		u[i] = float64(k) / float64(1<<32)
	}
	return u
}

func signed(index int, shape ...int) *tensor.Tensor {
	t := tensor.Zeros(shape...)
	for i, u := range hashUniform(index, t.Len()) {
		t.Data()[i] = float32(2*u - 1)
	}
	return t
}

func closeTo(t *testing.T, what string, got *tensor.Tensor, want goldenTensor) {
	t.Helper()
	if !tensor.EqualShapes(got.Shape(), want.Shape) {
		t.Fatalf("%s: shape %v, PyTorch %v", what, got.Shape(), want.Shape)
	}
	for i, w := range want.Data {
		if d := math.Abs(float64(got.Data()[i]) - w); !(d <= 1e-5+1e-4*math.Abs(w)) {
			t.Fatalf("%s: element %d = %.7g, PyTorch %.7g", what, i, got.Data()[i], w)
		}
	}
}

// TestDynamicConvMatchesOfficial compares the output and every gradient
// with the official module's under the same weights.
func TestDynamicConvMatchesOfficial(t *testing.T) {
	var doc struct{ Cases []dynamicConvCase }
	golden.Load(t, "testdata/dynamic_conv.json", &doc)
	for _, c := range doc.Cases {
		t.Run(c.Name, func(t *testing.T) {
			d := NewDynamicConv(tensor.NewRNG(1), c.Hidden, c.DimDynamic, c.Resolution)
			sd := nn.StateDict(d)
			var names []string
			for index, s := range sd {
				names = append(names, s.Name)
				shape := s.Value.Shape()
				for i, u := range hashUniform(index, s.Value.Len()) {
					var v float64
					switch {
					case len(shape) == 2:
						v = (2*u - 1) / math.Sqrt(float64(shape[1]))
					case strings.HasSuffix(s.Name, "weight"):
						v = 0.5 + u
					default:
						v = 0.2 * (u - 0.5)
					}
					s.Value.Data()[i] = float32(v)
				}
			}
			if !slices.Equal(names, c.Keys) {
				t.Fatalf("names %v, official %v", names, c.Keys)
			}
			pro := autograd.Param(signed(999, c.Boxes, c.Hidden))
			roi := autograd.Param(signed(998, c.Boxes, c.Hidden, c.Resolution, c.Resolution))
			y := d.Forward(pro, roi)
			closeTo(t, "output", y.Value(), c.Output)
			y.Backward(autograd.WithGrad(signed(777, y.Shape()...)))
			closeTo(t, "gradient of the proposal features", pro.Grad(), c.GradPro)
			closeTo(t, "gradient of the RoI features", roi.Grad(), c.GradRoI)
			for _, p := range nn.Parameters(d) {
				closeTo(t, "gradient of "+p.Name, p.Var.Grad(), c.Grads[p.Name])
			}
		})
	}
}
