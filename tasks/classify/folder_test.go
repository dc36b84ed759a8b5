package classify

import (
	"context"
	"encoding/json"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/transform"
	"argus/tensor"
	"argus/train"
)

// writeFolders writes an ImageNet-layout set of two classes, dark and
// bright 32×32 squares, with per images each in train/ and val/.
func writeFolders(t *testing.T, per int) string {
	t.Helper()
	root := t.TempDir()
	for split := range 2 {
		for c, class := range []string{"n0dark", "n1bright"} {
			for i := range per {
				m := image.NewNRGBA(image.Rect(0, 0, 32, 32))
				for y := range 32 {
					for x := range 32 {
						v := uint8(40 + 20*((x+y+i+split)%3))
						if c == 1 {
							v += 150
						}
						m.SetNRGBA(x, y, color.NRGBA{v, v / 2, 255 - v, 255})
					}
				}
				p := filepath.Join(root, []string{"train", "val"}[split], class, string(rune('a'+i))+".png")
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := imageio.WriteFile(p, m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return root
}

func TestFolderTrainer(t *testing.T) {
	root := writeFolders(t, 4)
	trainSet, val, err := dataset.ReadImageNet(root, "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := ImageNet()
	cfg.Epochs, cfg.Batch, cfg.Size, cfg.Scales, cfg.Aug, cfg.Warmup, cfg.LR = 1, 4, 32, []int{32, 40}, "deepimage", 0, 0.01
	tr, err := NewFolderTrainer(cfg, trainSet, val)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	res, err := tr.Run(context.Background(), train.Options{Out: out})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"top1", "top5", "val_loss"} {
		if v, ok := res.Metrics[k]; !ok || math.IsNaN(float64(v)) {
			t.Errorf("metric %s: %v", k, res.Metrics)
		}
	}
	if res.Metrics["top5"] != 1 {
		t.Errorf("top-5 of two classes is %v, want 1", res.Metrics["top5"])
	}
	f, err := checkpoint.ReadFile(res.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	json.Unmarshal([]byte(f.Metadata[MetaClassNames]), &names)
	if f.Metadata[checkpoint.MetaClasses] != "2" || strings.Join(names, ",") != "n0dark,n1bright" {
		t.Errorf("checkpoint metadata classes %q, names %q", f.Metadata[checkpoint.MetaClasses], f.Metadata[MetaClassNames])
	}
	var stored FolderConfig
	if err := train.StoredConfig(f, &stored); err != nil || stored.Aug != "deepimage" || len(stored.Scales) != 2 {
		t.Errorf("stored config %+v (%v)", stored, err)
	}
}

func TestFolderConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		mod  func(c *FolderConfig)
		want string
	}{
		{"aug", func(c *FolderConfig) { c.Aug = "heavy" }, `unknown aug "heavy" (have standard, deepimage)`},
		{"scales", func(c *FolderConfig) { c.Scales = []int{32, 0} }, "scales must be positive, got 0"},
		{"lens", func(c *FolderConfig) { c.DeepImage.LensK = 0.5 }, "deepimage lens_k must be in [0, 1/3), got 0.5"},
		{"cast p", func(c *FolderConfig) { c.DeepImage.ColorCastP = 2 }, "deepimage color_cast_p must be in [0, 1], got 2"},
		{"crop", func(c *FolderConfig) { c.CropMinArea = 0 }, "crop_min_area must be in (0, 1], got 0"},
		{"small scale", func(c *FolderConfig) { c.Scales = []int{16} }, "needs images of at least 32×32, not 16×16"},
		{"deit", func(c *FolderConfig) { c.Model = "deit-tiny" }, "model deit-tiny takes 224×224 images only, not 32×32"},
		{"unknown", func(c *FolderConfig) { c.Model = "resnet7" }, `unknown model "resnet7" (have atss-r18, atss-r50, deit-small, deit-tiny, mnist-cnn,`},
		{"mnist", func(c *FolderConfig) { c.Model = "mnist-cnn" }, "mnist-cnn has 10 classes only, not 2"},
	}
	root := writeFolders(t, 1)
	trainSet, val, err := dataset.ReadImageNet(root, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ImageNet()
			cfg.Size = 32
			tc.mod(&cfg)
			if _, err := NewFolderTrainer(cfg, trainSet, val); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestScore(t *testing.T) {
	tests := []struct {
		name             string
		p                []float64
		classes          int
		labels           []int
		top1, top5, loss float64
	}{
		{"right", []float64{0.9, 0.1}, 2, []int{0}, 1, 1, -math.Log(0.9)},
		{"wrong", []float64{0.9, 0.1}, 2, []int{1}, 0, 1, -math.Log(0.1)},
		// A tie ranks the lower class first.
		{"tie", []float64{0.5, 0.5}, 2, []int{1}, 0, 1, -math.Log(0.5)},
		{"sixth", []float64{0.2, 0.19, 0.18, 0.17, 0.16, 0.1}, 6, []int{5}, 0, 0, -math.Log(0.1)},
		{"fifth", []float64{0.2, 0.19, 0.18, 0.17, 0.16, 0.1}, 6, []int{4}, 0, 1, -math.Log(0.16)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := (&Probs{P: tc.p, Classes: tc.classes, Labels: tc.labels}).Score()
			if s.Top1 != tc.top1 || s.Top5 != tc.top5 || math.Abs(s.Loss-tc.loss) > 1e-12 {
				t.Errorf("score %+v, want top1 %v top5 %v loss %v", s, tc.top1, tc.top5, tc.loss)
			}
		})
	}
}

// TestProbabilitiesFlip: with flip, a model that sees only the left half
// gives the mean of its probabilities on the image and on its mirror.
func TestProbabilitiesFlip(t *testing.T) {
	root := writeFolders(t, 1)
	_, val, err := dataset.ReadImageNet(root, "")
	if err != nil {
		t.Fatal(err)
	}
	val.Transform = transform.Resize{W: 4, H: 1}
	// Logits (left pixel, right pixel) of the red plane.
	left := func(x []float32, n int) []float32 {
		out := make([]float32, 0, 2*n)
		for i := range n {
			out = append(out, x[i*12], x[i*12+3])
		}
		return out
	}
	plain, err := Probabilities(context.Background(), val, 2, 1, false, func(x *tensor.Tensor) ([]float32, error) { return left(x.Data(), x.Shape()[0]), nil })
	if err != nil {
		t.Fatal(err)
	}
	both, err := Probabilities(context.Background(), val, 2, 1, true, func(x *tensor.Tensor) ([]float32, error) { return left(x.Data(), x.Shape()[0]), nil })
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(plain.P); i += 2 {
		// The mirror swaps the two logits, so the mean is one half each.
		if math.Abs(both.P[i]-0.5) > 1e-9 || math.Abs(plain.P[i]+plain.P[i+1]-1) > 1e-9 {
			t.Fatalf("probabilities %v, with flip %v", plain.P, both.P)
		}
	}
}

// TestLossOfConfidentMistakes: the loss of a model wrong by a margin of g
// nats is about g, however large, alone and averaged with another; a
// probability floored before its log gave the same loss for every margin
// above 27.6 (what made the validation loss of a diverging run repeat from
// epoch to epoch).
func TestLossOfConfidentMistakes(t *testing.T) {
	root := writeFolders(t, 2)
	_, val, err := dataset.ReadImageNet(root, "")
	if err != nil {
		t.Fatal(err)
	}
	val.Transform = transform.Resize{W: 2, H: 2}
	// wrong gives the other class a logit g above the true one's: the red
	// plane is below 0 (normalised) on dark images, class 0, and above on
	// bright ones.
	wrong := func(g float32) func(*tensor.Tensor) ([]float32, error) {
		return func(x *tensor.Tensor) ([]float32, error) {
			n := x.Shape()[0]
			out := make([]float32, 0, 2*n)
			for i := range n {
				if x.Data()[i*12] > 0 {
					out = append(out, g, 0)
				} else {
					out = append(out, 0, g)
				}
			}
			return out, nil
		}
	}
	lossOf := func(g float64) float64 { return g + math.Log1p(math.Exp(-g)) }
	var mean Probs
	for _, g := range []float32{50, 100} {
		p, err := Probabilities(context.Background(), val, 3, 1, true, wrong(g))
		if err != nil {
			t.Fatal(err)
		}
		s := p.Score()
		if s.Top1 != 0 || math.Abs(s.Loss-lossOf(float64(g))) > 1e-9 {
			t.Errorf("margin %v: top-1 %v, loss %v, want 0 and %v", g, s.Top1, s.Loss, lossOf(float64(g)))
		}
		if err := mean.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	mean.Scale(0.5)
	// −log((e^−50 + e^−100)/2), the true-class probabilities averaged.
	want := 50 + math.Log(2) - math.Log1p(math.Exp(-50))
	if s := mean.Score(); math.Abs(s.Loss-want) > 1e-9 {
		t.Errorf("mean of margins 50 and 100: loss %v, want %v", s.Loss, want)
	}
}
