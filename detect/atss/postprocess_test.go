package atss

import (
	"math"
	"testing"

	"argus/autograd"
	"argus/tensor"
)

// logit returns the logit of probability p.
func logit(p float64) float32 { return float32(math.Log(p / (1 - p))) }

// handOutput is an Output over two levels (2×2 at stride 8, 1×1 at stride
// 16) of one image and 2 classes, every logit very negative and the
// deltas zero unless set.
func handOutput() (Output, []float32, []float32, []float32) {
	levels := []Level{{H: 2, W: 2, Stride: 8}, {H: 1, W: 1, Stride: 16}}
	na, classes := 5, 2
	logits := make([]float32, na*classes)
	for i := range logits {
		logits[i] = -20
	}
	deltas := make([]float32, na*4)
	ctr := make([]float32, na)
	out := Output{Levels: levels,
		Logits:     autograd.Const(tensor.FromSlice(logits, 1, na, classes)),
		Deltas:     autograd.Const(tensor.FromSlice(deltas, 1, na, 4)),
		Centerness: autograd.Const(tensor.FromSlice(ctr, 1, na))}
	// The tensors' own data, which the tests set.
	return out, out.Logits.Value().Data(), out.Deltas.Value().Data(), out.Centerness.Value().Data()
}

// TestDetect checks the post-processing on hand-made predictions: the
// score threshold on the class probability, the score sqrt(p·c), decoded
// and clipped boxes, class-wise NMS, the per-level top-k and the maximum
// number of detections.
func TestDetect(t *testing.T) {
	out, logits, deltas, ctr := handOutput()
	// Anchor 0 (centre 4,4, side 64) class 0 at p 0.9; anchor 1 (centre
	// 12,4) class 0 at 0.8: their boxes overlap (IoU 0.78 > 0.6), so NMS
	// keeps anchor 0 only; anchor 1 class 1 at 0.7 survives (other class);
	// anchor 2 class 1 at 0.04 is below the threshold; anchor 4 (level 2)
	// class 0 at 0.6 with its box moved by dx = dy = 2 (0.1·2·128 pixels)
	// and shrunk by dw = dh = −5 (a factor e^(0.2·−5)), too far from
	// anchor 0's to be suppressed.
	logits[0], logits[2], logits[3], logits[5], logits[8] = logit(0.9), logit(0.8), logit(0.7), logit(0.04), logit(0.6)
	ctr[0], ctr[1], ctr[4] = logit(0.5), logit(0.25), logit(0.81)
	deltas[16], deltas[17], deltas[18], deltas[19] = 2, 2, -5, -5
	got, err := Detect(out, 64, 64, DefaultInferOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := []Detection{
		{Box: [4]float32{33.6 - 64/math.E, 33.6 - 64/math.E, 33.6 + 64/math.E, 33.6 + 64/math.E}, Score: float32(math.Sqrt(0.6 * 0.81)), Label: 0},
		{Box: [4]float32{0, 0, 36, 36}, Score: float32(math.Sqrt(0.9 * 0.5)), Label: 0},
		{Box: [4]float32{0, 0, 44, 36}, Score: float32(math.Sqrt(0.7 * 0.25)), Label: 1},
	}
	if len(got) != 1 || len(got[0]) != len(want) {
		t.Fatalf("detections %+v, want %+v", got, want)
	}
	for i, w := range want {
		g := got[0][i]
		if g.Label != w.Label || math.Abs(float64(g.Score-w.Score)) > 1e-5 {
			t.Errorf("detection %d: %+v, want %+v", i, g, w)
		}
		for k := range 4 {
			if math.Abs(float64(g.Box[k]-w.Box[k])) > 1e-3 {
				t.Errorf("detection %d: box %v, want %v", i, g.Box, w.Box)
				break
			}
		}
	}
	opt := DefaultInferOptions()
	opt.MaxDetections = 2
	if got, _ := Detect(out, 64, 64, opt); len(got[0]) != 2 || got[0][1].Label != 0 {
		t.Errorf("two detections: %+v", got[0])
	}
	opt = DefaultInferOptions()
	opt.PreNMS = 1
	// Level 1 keeps its best pair only (anchor 0 class 0), level 2 its one.
	if got, _ := Detect(out, 64, 64, opt); len(got[0]) != 2 || got[0][0].Label != 0 || got[0][1].Label != 0 {
		t.Errorf("top-1 per level: %+v", got[0])
	}
}

// TestDetectSkipsNonFinite checks that NaN logits and deltas give no
// detection and no error.
func TestDetectSkipsNonFinite(t *testing.T) {
	out, logits, deltas, _ := handOutput()
	logits[0] = float32(math.NaN())
	logits[2] = logit(0.9)
	deltas[4] = float32(math.NaN())
	got, err := Detect(out, 64, 64, DefaultInferOptions())
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0]) != 0 {
		t.Fatalf("detections %+v", got[0])
	}
}
