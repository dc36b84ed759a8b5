package dpu_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/fuse"
	"argus/compiler/onnx"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/dpu/target"
)

// noise is a calibration source of n normal-noise images.
type noise struct {
	shape [3]int
	n     int
}

func (s noise) Len() int { return s.n }

func (s noise) Sample(i int) (*xgraph.Tensor, error) {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	x := make([]float32, s.shape[0]*s.shape[1]*s.shape[2])
	for j := range x {
		x[j] = float32(r.NormFloat64())
	}
	return xgraph.NewFloat(x, s.shape[0], s.shape[1], s.shape[2]), nil
}

func mustSample(t *testing.T, p *dpu.Program) *xgraph.Tensor {
	t.Helper()
	x, err := noise{p.Model.Tensor(p.Model.Input).Shape, 1}.Sample(99)
	if err != nil {
		t.Fatal(err)
	}
	x.Shape = append([]int{1}, x.Shape...)
	return x
}

func quantized(t testing.TB, path string) *quant.Model {
	t.Helper()
	g, err := onnx.Load(path)
	if err != nil {
		t.Skipf("fixture: %v", err)
	}
	in := g.Inputs[0].Shape
	shape := [3]int{in[1], in[2], in[3]}
	m, _, err := quant.Quantize(g, noise{shape, 4}, quant.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestBitExact compiles models for several targets and checks that the
// simulator running the instructions gives the quant-ref engine's outputs
// bit for bit, with no hazards.
func TestBitExact(t *testing.T) {
	models := []string{
		"../quant/testdata/mnist_cnn.onnx",
		"../onnx/testdata/models/resnet18_small/model.onnx",
		"../onnx/testdata/models/mobilenet_v2_small/model.onnx",
	}
	targets := []string{"zu9", "b512", "zu9/cpu", "zu9/nofusion"}
	for _, path := range models {
		m := quantized(t, path)
		for _, tn := range targets {
			t.Run(path+"/"+tn, func(t *testing.T) {
				name, cpu := strings.CutSuffix(tn, "/cpu")
				name, nofusion := strings.CutSuffix(name, "/nofusion")
				tg, err := target.Lookup(name)
				if err != nil {
					t.Fatal(err)
				}
				plan := partition.Split(m, tg)
				if cpu {
					// Every third layer on the CPU: subgraphs that hand
					// tensors to each other through DDR.
					for i := range plan.Placements {
						if i%3 == 1 {
							plan.Placements[i].Device = partition.CPU
						}
					}
					plan.Group()
				}
				p, err := dpu.Compile(m, tg, plan, dpu.Options{NoFusion: nofusion})
				if err != nil {
					t.Fatal(err)
				}
				kinds := map[fuse.Kind]int{}
				for _, g := range p.Groups {
					kinds[g.Kind]++
				}
				if nofusion && kinds[fuse.Resident]+kinds[fuse.Addressed] > 0 {
					t.Errorf("--no-fusion program has groups %v", kinds)
				}
				t.Logf("fused groups %v", kinds)
				src := noise{m.Tensor(m.Input).Shape, 2}
				for i := range 2 {
					x, _ := src.Sample(100 + i)
					x.Shape = append([]int{1}, x.Shape...)
					in := m.QuantizeInput(x, 0)
					want, err := m.Eval(in)
					if err != nil {
						t.Fatal(err)
					}
					got, st, err := p.RunImage(in)
					if err != nil {
						t.Fatal(err)
					}
					if diff := 0; i == 0 {
						for k := range want {
							for j := range want[k].Data {
								if want[k].Data[j] != want[k].Data[0] {
									diff++
								}
							}
						}
						if diff == 0 {
							t.Errorf("constant output: the comparison would say little")
						}
					}
					if st.Hazards != 0 {
						t.Errorf("%d hazards", st.Hazards)
					}
					for k := range want {
						if !slices.Equal(got[k].Data, want[k].Data) {
							t.Errorf("image %d output %d: sim and quant-ref differ", i, k)
						}
					}
					if i == 0 {
						t.Logf("%d layers, %d CPU, %d subgraphs; %d cycles, %.3g ops", len(m.Layers), len(plan.CPUOps()), len(p.Subgraphs), st.Cycles, float64(st.Ops))
					}
				}
				tm, err := p.Time()
				if err != nil {
					t.Fatal(err)
				}
				if tm.Cycles == 0 || tm.Ops == 0 {
					t.Errorf("timing run: %d cycles, %d ops", tm.Cycles, tm.Ops)
				}
			})
		}
	}
}

// TestTimeCores checks the batch timing: one core gives the single
// image's cycles, and three cores finish three images in more cycles
// than one image takes but fewer than three in a row.
func TestTimeCores(t *testing.T) {
	m := quantized(t, "../onnx/testdata/models/resnet18_small/model.onnx")
	tg, _ := target.Lookup("zu9")
	p, err := dpu.Compile(m, tg, partition.Split(m, tg), dpu.Options{})
	if err != nil {
		t.Fatal(err)
	}
	one, err := p.Time()
	if err != nil {
		t.Fatal(err)
	}
	c1, err := p.TimeCores(1)
	if err != nil {
		t.Fatal(err)
	}
	c3, err := p.TimeCores(3)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Cycles != one.Cycles || c1.Ops != one.Ops {
		t.Errorf("one core: %d cycles %d ops, single image %d cycles %d ops", c1.Cycles, c1.Ops, one.Cycles, one.Ops)
	}
	if c3.Ops != 3*one.Ops || c3.Cycles < one.Cycles || c3.Cycles >= 3*one.Cycles || c3.Hazards != 0 {
		t.Errorf("three cores: %d cycles, %d ops, %d hazards; one image %d cycles", c3.Cycles, c3.Ops, c3.Hazards, one.Cycles)
	}
	if _, err := p.TimeCores(4); err == nil {
		t.Error("four cores on zu9: no error")
	}
	t.Logf("one image %d cycles; three on three cores %d", one.Cycles, c3.Cycles)
}
