package quant_test

import (
	"path/filepath"
	"testing"

	"argus/compiler/onnx"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/tensor"
)

// samples is a calibration source held in memory.
type samples []*xgraph.Tensor

func (s samples) Len() int                             { return len(s) }
func (s samples) Sample(i int) (*xgraph.Tensor, error) { return s[i], nil }

// modelSamples returns the committed input batch of a test model split
// into images, followed by extra seeded standard-normal images (the
// reduced models were exported with inputs of that distribution).
func modelSamples(t testing.TB, dir string, extra int) samples {
	x, _, err := onnx.ReadTensor(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	per := x.Len() / x.Shape[0]
	var s samples
	for i := 0; i < x.Shape[0]; i++ {
		s = append(s, xgraph.NewFloat(x.F[i*per:(i+1)*per], x.Shape[1:]...))
	}
	rng := tensor.NewRNG(22)
	for i := 0; i < extra; i++ {
		s = append(s, xgraph.FromDense(rng.Normal(0, 1, x.Shape[1:]...)))
	}
	return s
}

// The bounds a quantised reduced model must meet against its float
// version on the calibration samples.
const (
	minCosine = 0.95
	minTop1   = 0.75
	// minTensorCosine bounds every tensor's agreement, which measures the
	// input-dependent part that the outputs of random networks hide.
	minTensorCosine = 0.99
	maxTensorError  = 0.1
)

// TestModels quantises the reduced ResNet-18 and MobileNet-V2 with a few
// calibration images and compares the quant-ref engine with the float
// executor.
func TestModels(t *testing.T) {
	for _, name := range []string{"resnet18_small", "mobilenet_v2_small"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("..", "onnx", "testdata", "models", name)
			g, err := onnx.Load(filepath.Join(dir, "model.onnx"))
			if err != nil {
				t.Fatal(err)
			}
			src := modelSamples(t, dir, 14)
			m, rep, err := quant.Quantize(g, src, quant.Options{BatchSize: 4})
			if err != nil {
				t.Fatal(err)
			}
			if left := g.Summarize().Ops["BatchNormalization"]; left != 0 {
				t.Errorf("%d batch norms left after quantisation", left)
			}
			a, ts, err := quant.Compare(g, m, src, 4, nil)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d layers, %d tensors, %d batches, %d legalisation moves; %d images: cosine mean %.4f min %.4f, top-1 agreement %.3f; centred cosine %.4f, centred top-1 %.3f; float cosine between images %.4f",
				len(m.Layers), len(m.Tensors), rep.Batches, len(rep.Changes), a.Images, a.CosineMean, a.CosineMin, a.Top1, a.CenteredCosine, a.CenteredTop1, a.FloatCosine)
			worst, worstErr := ts[0], ts[0]
			for _, x := range ts {
				if x.Cosine < worst.Cosine {
					worst = x
				}
				if x.RelError > worstErr.RelError {
					worstErr = x
				}
			}
			t.Logf("worst tensor cosine %.4f (%s, position %d), worst relative error %.4f (%s, position %d)",
				worst.Cosine, worst.Name, worst.Pos, worstErr.RelError, worstErr.Name, worstErr.Pos)
			if testing.Verbose() {
				for _, x := range ts {
					t.Logf("  %-60s pos %3d cosine %.5f rel error %.4f", x.Name, x.Pos, x.Cosine, x.RelError)
				}
			}
			if worst.Cosine < minTensorCosine || worstErr.RelError > maxTensorError {
				t.Errorf("tensor %s: cosine %.4f, want ≥ %g; tensor %s: relative error %.4f, want ≤ %g",
					worst.Name, worst.Cosine, minTensorCosine, worstErr.Name, worstErr.RelError, maxTensorError)
			}
			if a.CosineMean < minCosine || a.Top1 < minTop1 {
				t.Errorf("cosine %.4f (want ≥ %g), top-1 agreement %.3f (want ≥ %g)", a.CosineMean, minCosine, a.Top1, minTop1)
			}
		})
	}
}

// BenchmarkEngine times the quant-ref engine on one 64×64 image of the
// reduced ResNet-18 and reports images per second.
func BenchmarkEngine(b *testing.B) {
	dir := filepath.Join("..", "onnx", "testdata", "models", "resnet18_small")
	g, err := onnx.Load(filepath.Join(dir, "model.onnx"))
	if err != nil {
		b.Fatal(err)
	}
	src := modelSamples(b, dir, 0)
	m, _, err := quant.Quantize(g, src, quant.Options{})
	if err != nil {
		b.Fatal(err)
	}
	x, err := quant.Batch(src, 0, 1, [3]int{3, 64, 64})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := m.Run(x); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkQuantize times quantising the reduced ResNet-18 with eight
// calibration images in batches of four.
func BenchmarkQuantize(b *testing.B) {
	dir := filepath.Join("..", "onnx", "testdata", "models", "resnet18_small")
	src := modelSamples(b, dir, 6)
	for b.Loop() {
		g, err := onnx.Load(filepath.Join(dir, "model.onnx"))
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := quant.Quantize(g, src, quant.Options{BatchSize: 4}); err != nil {
			b.Fatal(err)
		}
	}
}
