package classify

import (
	"encoding/json"
	"math"
	"os"
	"testing"

	"argus/autograd"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

// stepNet is the network of tools/golden/train_step/train_step.py.
type stepNet struct {
	conv1, conv2 *nn.Conv2d
	bn1          *nn.BatchNorm2d
	fc           *nn.Linear
}

func (m *stepNet) Members() nn.Members {
	return nn.Members{Children: []nn.Child{{Name: "conv1", Module: m.conv1}, {Name: "bn1", Module: m.bn1}, {Name: "conv2", Module: m.conv2}, {Name: "fc", Module: m.fc}}}
}

func (m *stepNet) Forward(x *autograd.Var) *autograd.Var {
	x = autograd.MaxPool2d(autograd.ReLU(m.bn1.Forward(m.conv1.Forward(x))), autograd.MaxPool2dOptions{Kernel: [2]int{2, 2}})
	x = autograd.ReLU(m.conv2.Forward(x))
	return m.fc.Forward(autograd.Flatten(x, 1, -1))
}

// TestTrainStepMatchesPyTorch runs two training steps of a small CNN with
// batch norm from PyTorch's initial weights and compares the losses and all
// parameters and buffers after each step, under SGD with momentum and under
// AdamW.
func TestTrainStepMatchesPyTorch(t *testing.T) {
	raw, err := os.ReadFile("testdata/train_step.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Init    map[string][]float64
		Shapes  map[string][]int
		Batches []struct {
			X []float32
			Y []int
		}
		Runs map[string][]struct {
			Loss  float64
			State map[string][]float64
		}
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	for name, steps := range g.Runs {
		t.Run(name, func(t *testing.T) {
			rng := tensor.NewRNG(0)
			m := &stepNet{
				conv1: nn.NewConv2d(rng, 3, 4, 3, autograd.Conv2dOptions{Padding: []int{1, 1}}, false),
				bn1:   nn.NewBatchNorm2d(4),
				conv2: nn.NewConv2d(rng, 4, 6, 3, autograd.Conv2dOptions{}, true),
				fc:    nn.NewLinear(rng, 24, 5, true),
			}
			for _, s := range nn.StateDict(m) {
				if !tensor.EqualShapes(s.Value.Shape(), g.Shapes[s.Name]) {
					t.Fatalf("%s: shape %v, PyTorch %v", s.Name, s.Value.Shape(), g.Shapes[s.Name])
				}
				for i, v := range g.Init[s.Name] {
					s.Value.Data()[i] = float32(v)
				}
			}
			var o optim.Optimizer
			ps := nn.Parameters(m)
			if name == "adamw" {
				o = optim.NewAdamW(0.9, 0.999, 1e-8, optim.NewGroup(1e-2, 0.05, ps...))
			} else {
				o = optim.NewSGD(0.9, 0, false, optim.NewGroup(0.1, 1e-4, ps...))
			}
			for k, st := range steps {
				b := g.Batches[k]
				x := autograd.Const(tensor.FromSlice(b.X, 6, 3, 8, 8))
				optim.ZeroGrad(o)
				loss := autograd.CrossEntropy(m.Forward(x), b.Y, autograd.CrossEntropyOptions{})
				loss.Backward()
				o.Step()
				if l := float64(loss.Value().Item()); math.Abs(l-st.Loss) > 1e-4*math.Abs(st.Loss) {
					t.Errorf("step %d: loss %.7g, PyTorch %.7g", k+1, l, st.Loss)
				}
				for _, s := range nn.StateDict(m) {
					want := st.State[s.Name]
					scale := 0.0
					for _, w := range want {
						scale = math.Max(scale, math.Abs(w))
					}
					for i, v := range s.Value.Data() {
						if d := math.Abs(float64(v) - want[i]); d > 1e-4*math.Max(math.Abs(want[i]), 1e-2*scale) {
							t.Fatalf("step %d: %s[%d] = %.7g, PyTorch %.7g", k+1, s.Name, i, v, want[i])
						}
					}
				}
			}
		})
	}
}
