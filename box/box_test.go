package box

import (
	"math"
	"slices"
	"testing"

	"argus/internal/golden"
)

type goldenFile struct {
	Pairs []struct {
		A, B, IoU, GIoU []float64
	} `json:"pairs"`
	NMS []struct {
		Boxes, Scores []float64
		Classes       []int
		Thr           float64
		Keep, Batched []int
	} `json:"nms"`
	Coder []struct {
		Weights                           [4]float64
		Clamp                             float64
		Ref, Target, Deltas, Big, Decoded []float64
	} `json:"coder"`
	Clip struct {
		Boxes, Clipped []float64
		Width, Height  float64
	} `json:"clip"`
}

func loadGolden(t *testing.T) goldenFile {
	var g goldenFile
	golden.Load(t, "testdata/golden.json", &g)
	return g
}

func near(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", name, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(got[i] - want[i]); d > tol*math.Max(1, math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %.17g, want %.17g", name, i, got[i], want[i])
		}
	}
}

func TestGoldenIoU(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Pairs {
		near(t, "iou", IoU(c.A, c.B), c.IoU, 1e-14)
		near(t, "giou", GIoU(c.A, c.B), c.GIoU, 1e-14)
		// float32 agrees to float32 precision.
		a32, b32 := to32(c.A), to32(c.B)
		near(t, "iou32", to64(IoU(a32, b32)), c.IoU, 1e-5)
	}
}

func TestGoldenNMS(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.NMS {
		if got := NMS(c.Boxes, c.Scores, c.Thr); !slices.Equal(got, c.Keep) {
			t.Errorf("nms thr %v: %v, want %v", c.Thr, got, c.Keep)
		}
		if got := BatchedNMS(c.Boxes, c.Scores, c.Classes, c.Thr); !slices.Equal(got, c.Batched) {
			t.Errorf("batched nms thr %v: %v, want %v", c.Thr, got, c.Batched)
		}
	}
}

func TestGoldenCoder(t *testing.T) {
	g := loadGolden(t)
	for _, c := range g.Coder {
		coder := Coder{Weights: c.Weights, Clamp: c.Clamp}
		near(t, "encode", coder.Encode(c.Target, c.Ref), c.Deltas, 1e-12)
		near(t, "decode", coder.Decode(c.Big, c.Ref), c.Decoded, 1e-12)
		// Decoding the encoding gives the target back.
		near(t, "roundtrip", coder.Decode(c.Deltas, c.Ref), c.Target, 1e-9)
	}
}

func TestGoldenClip(t *testing.T) {
	g := loadGolden(t)
	b := slices.Clone(g.Clip.Boxes)
	Clip(b, g.Clip.Width, g.Clip.Height)
	near(t, "clip", b, g.Clip.Clipped, 0)
}

func TestConversions(t *testing.T) {
	xywh := []float64{10, 20, 30, 40, 0, 0, 1, 1}
	xyxy := XYWHToXYXY(nil, xywh)
	near(t, "xyxy", xyxy, []float64{10, 20, 40, 60, 0, 0, 1, 1}, 0)
	near(t, "xywh", XYXYToXYWH(nil, xyxy), xywh, 0)
	c := XYXYToCXCYWH(nil, xyxy)
	near(t, "cxcywh", c, []float64{25, 40, 30, 40, 0.5, 0.5, 1, 1}, 0)
	near(t, "back", CXCYWHToXYXY(nil, c), xyxy, 0)
	near(t, "area", Area(xyxy), []float64{1200, 1}, 0)
	// In place.
	b := slices.Clone(xywh)
	XYWHToXYXY(b, b)
	near(t, "in place", b, xyxy, 0)
	if got := RemoveSmall([]float32{0, 0, 1, 5, 0, 0, 5, 5}, 2); !slices.Equal(got, []int{1}) {
		t.Errorf("RemoveSmall = %v", got)
	}
}

func TestNMSTies(t *testing.T) {
	// Equal scores keep the input order; a box never suppresses itself.
	boxes := []float64{0, 0, 10, 10, 0, 0, 10, 10, 20, 20, 30, 30}
	if got := NMS(boxes, []float64{1, 1, 1}, 0.5); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("NMS = %v", got)
	}
	if got := BatchedNMS(boxes, []float64{1, 1, 1}, []int{0, 1, 0}, 0.5); !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("BatchedNMS = %v", got)
	}
	if got := NMS([]float64{}, []float64{}, 0.5); len(got) != 0 {
		t.Errorf("empty NMS = %v", got)
	}
}

func to32(v []float64) []float32 {
	o := make([]float32, len(v))
	for i, x := range v {
		o[i] = float32(x)
	}
	return o
}

func to64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func BenchmarkIoU(b *testing.B) {
	a, c := make([]float32, 4*300), make([]float32, 4*100)
	for i := range a {
		a[i] = float32(i%37) + float32(i%4)*20
	}
	for i := range c {
		c[i] = float32(i%29) + float32(i%4)*25
	}
	for b.Loop() {
		GIoU(a, c)
	}
	b.ReportMetric(300*100*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
