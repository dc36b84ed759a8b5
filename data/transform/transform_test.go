package transform

import (
	"math"
	"slices"
	"testing"

	"argus/data/imageio"
	"argus/internal/golden"
)

func TestResizeFormula(t *testing.T) {
	cases := []struct {
		name string
		in   []float32
		out  int
		want []float32
	}{
		// PIL's bilinear resize and torch's interpolate(antialias=True)
		// give these values for a 4→2 downscale: the triangle filter is
		// widened to support 2, so taps at distance 0.5, 0.5, 1.5 weigh
		// 0.75, 0.75, 0.25 before normalisation.
		{"down 4 to 2", []float32{0, 1, 2, 3}, 2, []float32{1.25 / 1.75, 4 / 1.75}},
		// Upscaling is plain bilinear with half-pixel centres
		// (align_corners=False), replicating the edges.
		{"up 2 to 4", []float32{0, 1}, 4, []float32{0, 0.25, 0.75, 1}},
		{"identity", []float32{0.1, 0.7, 0.3}, 3, []float32{0.1, 0.7, 0.3}},
		// 3→1: support 3 around centre 1.5, taps 0, 1, 2 at distances
		// 1, 0, 1 (scaled by 3): weights 2/3, 1, 2/3.
		{"down 3 to 1", []float32{0, 3, 6}, 1, []float32{3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := &imageio.Image{C: 1, H: 1, W: len(c.in), Pix: c.in}
			got := ResizeImage(m, 0, 0, len(c.in), 1, c.out, 1).Pix
			for i := range got {
				if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			}
			// The same along the vertical axis.
			m = &imageio.Image{C: 1, H: len(c.in), W: 1, Pix: c.in}
			got = ResizeImage(m, 0, 0, 1, len(c.in), 1, c.out).Pix
			for i := range got {
				if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
					t.Fatalf("vertical: got %v, want %v", got, c.want)
				}
			}
		})
	}
}

// scene returns a 3-channel image with a bright rectangle at box (and a
// mask labelling it 1), plus a keypoint at the box's top-left corner.
func scene(w, h int, box [4]int) *Sample {
	m := imageio.NewImage(3, h, w)
	mask := imageio.NewMask(h, w, 0)
	for y := box[1]; y < box[3]; y++ {
		for x := box[0]; x < box[2]; x++ {
			for c := 0; c < 3; c++ {
				m.Pix[c*w*h+y*w+x] = 1
			}
			mask.Pix[y*w+x] = 1
		}
	}
	return &Sample{
		Image:     m,
		Mask:      mask,
		Boxes:     [][4]float32{{float32(box[0]), float32(box[1]), float32(box[2]), float32(box[3])}},
		BoxLabels: []int{7},
		Keypoints: [][2]float32{{float32(box[0]), float32(box[1])}},
	}
}

// extent returns the bounding box of the pixels where in(i) holds.
func extent(w, h int, in func(i int) bool) (b [4]float32, ok bool) {
	x0, y0, x1, y1 := w, h, -1, -1
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if in(y*w + x) {
				x0, y0 = min(x0, x), min(y0, y)
				x1, y1 = max(x1, x), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return b, false
	}
	return [4]float32{float32(x0), float32(y0), float32(x1 + 1), float32(y1 + 1)}, true
}

func TestGeometryConsistency(t *testing.T) {
	cases := []struct {
		name string
		tf   Transform
		tol  float32
	}{
		{"crop", Crop{X: 10, Y: 5, W: 50, H: 40}, 0},
		{"crop past edge", Crop{X: -7, Y: -3, W: 90, H: 70}, 0},
		{"center crop", CenterCrop{W: 48, H: 36}, 0},
		{"pad", Pad{Left: 3, Top: 4, Right: 5, Bottom: 6}, 0},
		{"flip", HFlip{P: 1}, 0},
		{"resize down", Resize{W: 40, H: 30}, 1},
		{"resize up", Resize{W: 150, H: 97}, 1},
		{"resize shorter", ResizeShorter{Size: 33}, 1},
		{"random resized crop", RandomResizedCrop{W: 56, H: 56, Scale: [2]float64{0.5, 1}}, 1.5},
		{"random crop", RandomCrop{W: 64, H: 48, Pad: 10}, 0},
		{"rotate 90", Func(func(s *Sample, _ *State) error { RotateBy(s, 90); return nil }), 0.01},
		{"rotate", Rotate{MaxDegrees: 30}, 1.5},
		{"barrel", Func(func(s *Sample, _ *State) error { Distort(s, 0.25); return nil }), 1.5},
		{"pincushion", Func(func(s *Sample, _ *State) error { Distort(s, -0.25); return nil }), 1.5},
	}
	for _, c := range cases {
		for seed := range uint64(5) {
			s := scene(64, 48, [4]int{20, 12, 44, 30})
			if err := c.tf.Apply(s, NewState(seed)); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			w, h := s.Image.W, s.Image.H
			if s.Mask.W != w || s.Mask.H != h {
				t.Fatalf("%s: mask %dx%d, image %dx%d", c.name, s.Mask.W, s.Mask.H, w, h)
			}
			mb, ok := extent(w, h, func(i int) bool { return s.Mask.Pix[i] == 1 })
			if !ok {
				if len(s.Boxes) != 0 {
					t.Fatalf("%s seed %d: box %v kept but object gone", c.name, seed, s.Boxes)
				}
				continue
			}
			ib, _ := extent(w, h, func(i int) bool { return s.Image.Pix[i] > 0.5 })
			if len(s.Boxes) != 1 || s.BoxLabels[0] != 7 {
				t.Fatalf("%s seed %d: boxes %v labels %v", c.name, seed, s.Boxes, s.BoxLabels)
			}
			b := s.Boxes[0]
			for k := range 4 {
				if d := abs(b[k] - mb[k]); d > c.tol+0.5 && c.tol > 0 || c.tol == 0 && d != 0 {
					t.Fatalf("%s seed %d: box %v, mask extent %v", c.name, seed, b, mb)
				}
				if d := abs(ib[k] - mb[k]); d > c.tol+1 {
					t.Fatalf("%s seed %d: image extent %v, mask extent %v", c.name, seed, ib, mb)
				}
			}
		}
	}
}

func abs(v float32) float32 { return float32(math.Abs(float64(v))) }

func TestKeypointsFollow(t *testing.T) {
	s := scene(64, 48, [4]int{20, 12, 44, 30})
	Flip(s)
	if k := s.Keypoints[0]; k != [2]float32{44, 12} {
		t.Fatalf("flipped keypoint %v", k)
	}
	s = scene(64, 48, [4]int{20, 12, 44, 30})
	Resize{W: 32, H: 96}.Apply(s, nil)
	if k := s.Keypoints[0]; k != [2]float32{10, 24} {
		t.Fatalf("resized keypoint %v", k)
	}
	s = scene(64, 64, [4]int{20, 12, 44, 30})
	RotateBy(s, 90)
	// Counter-clockwise: the point (20, 12) goes to (12, 64−20).
	if k := s.Keypoints[0]; abs(k[0]-12) > 1e-4 || abs(k[1]-44) > 1e-4 {
		t.Fatalf("rotated keypoint %v", k)
	}
}

func full() Compose {
	return Compose{
		RandomResizedCrop{W: 40, H: 40},
		HFlip{P: 0.5},
		Rotate{MaxDegrees: 10},
		LensDistortion{P: 0.5, MaxK: 0.2},
		ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1},
		ColorCast{P: 0.5, MaxShift: 20.0 / 255},
		Vignette{P: 0.5, MaxStrength: 0.6},
		RandomErasing{P: 0.5},
	}
}

func TestDeterminism(t *testing.T) {
	run := func(seed uint64) *Sample {
		s := scene(64, 48, [4]int{20, 12, 44, 30})
		for i := range s.Image.Pix {
			s.Image.Pix[i] += float32(i%13) / 40
		}
		if err := full().Apply(s, NewState(seed)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b, c := run(1), run(1), run(2)
	if !slices.Equal(a.Image.Pix, b.Image.Pix) || !slices.Equal(a.Mask.Pix, b.Mask.Pix) || !slices.Equal(a.Boxes, b.Boxes) {
		t.Fatal("same seed gave different samples")
	}
	if slices.Equal(a.Image.Pix, c.Image.Pix) {
		t.Fatal("different seeds gave the same sample")
	}
}

func TestColorFormulas(t *testing.T) {
	s := scene(8, 6, [4]int{2, 2, 5, 4})
	for i := range s.Image.Pix {
		s.Image.Pix[i] = float32(i%17) / 17
	}
	orig := s.Image.Clone()
	ColorJitter{}.Apply(s, NewState(0))
	if !slices.Equal(orig.Pix, s.Image.Pix) {
		t.Fatal("empty jitter changed the image")
	}
	AdjustHue(s.Image, 0)
	for i := range orig.Pix {
		if abs(orig.Pix[i]-s.Image.Pix[i]) > 1e-5 {
			t.Fatalf("hue 0 changed sample %d: %v → %v", i, orig.Pix[i], s.Image.Pix[i])
		}
	}
	AdjustSaturation(s.Image, 0)
	n := 48
	for i := 0; i < n; i++ {
		g := 0.299*orig.Pix[i] + 0.587*orig.Pix[n+i] + 0.114*orig.Pix[2*n+i]
		if abs(s.Image.Pix[i]-g) > 1e-6 || abs(s.Image.Pix[2*n+i]-g) > 1e-6 {
			t.Fatal("saturation 0 is not the luma")
		}
	}
	m := imageio.NewImage(3, 10, 10)
	for i := range m.Pix {
		m.Pix[i] = 0.5
	}
	Vignetting(m, 0.4)
	// Corner pixel centre is at distance √(4.5²+4.5²) of the half diagonal √50.
	want := float32(0.5 * (1 - 0.4*40.5/50))
	if abs(m.Pix[0]-want) > 1e-6 {
		t.Fatalf("vignetted corner %v, want %v", m.Pix[0], want)
	}
	// A hue turn of 1/3 maps pure red to pure green.
	r := imageio.NewImage(3, 1, 1)
	r.Pix[0] = 1
	AdjustHue(r, 1.0/3)
	if abs(r.Pix[0]) > 1e-5 || abs(r.Pix[1]-1) > 1e-5 || abs(r.Pix[2]) > 1e-5 {
		t.Fatalf("red turned by 1/3 is %v", r.Pix)
	}
}

func TestRandomResizedCropParams(t *testing.T) {
	c := RandomResizedCrop{W: 10, H: 10}
	st := NewState(3)
	for range 1000 {
		x, y, w, h := c.Params(256, 200, st.Rand)
		if x < 0 || y < 0 || w <= 0 || h <= 0 || x+w > 256 || y+h > 200 {
			t.Fatalf("region %d %d %d %d", x, y, w, h)
		}
		area := float64(w*h) / (256 * 200)
		if area > 1.0001 || area < 0.07 {
			t.Fatalf("area fraction %v", area)
		}
	}
	// An impossible ratio falls back to the centre crop.
	c.Ratio = [2]float64{10, 20}
	c.Scale = [2]float64{0.99, 1}
	x, y, w, h := c.Params(100, 50, st.Rand)
	if w != 100 || h != 10 || x != 0 || y != 20 {
		t.Fatalf("fallback %d %d %d %d", x, y, w, h)
	}
}

func TestMultiScale(t *testing.T) {
	m := MultiScale{Sizes: []int{224, 256, 288}, Seed: 5}
	seen := map[int]bool{}
	for b := range 60 {
		s := m.Size(0, b)
		if s != m.Size(0, b) {
			t.Fatal("not deterministic")
		}
		seen[s] = true
	}
	if len(seen) != 3 {
		t.Fatalf("sizes seen %v", seen)
	}
	s := scene(64, 48, [4]int{20, 12, 44, 30})
	st := NewState(0)
	st.Size = 24
	if err := (ResizeShorter{}).Apply(s, st); err != nil || s.Image.H != 24 || s.Image.W != 32 {
		t.Fatalf("resize shorter to batch size: %v %dx%d", err, s.Image.W, s.Image.H)
	}
	s = scene(64, 48, [4]int{20, 12, 44, 30})
	if err := (RandomResizedCrop{}).Apply(s, st); err != nil || s.Image.H != 24 || s.Image.W != 24 {
		t.Fatalf("random resized crop to batch size: %v %dx%d", err, s.Image.W, s.Image.H)
	}
	if err := (RandomResizedCrop{}).Apply(scene(64, 48, [4]int{20, 12, 44, 30}), NewState(0)); err == nil {
		t.Fatal("random resized crop without a size or a batch size: no error")
	}
	s = scene(64, 48, [4]int{20, 12, 44, 30})
	views, err := TestViews(s, []int{24, 96}, 0, true)
	if err != nil || len(views) != 4 {
		t.Fatalf("views %d %v", len(views), err)
	}
	for _, v := range views {
		back := v.BoxesToOriginal(v.Sample.Boxes)
		for k := range 4 {
			if abs(back[0][k]-s.Boxes[0][k]) > 1e-3 {
				t.Fatalf("view %+v maps %v back to %v", v, v.Sample.Boxes, back)
			}
		}
	}
}

func TestHueGolden(t *testing.T) {
	var g struct {
		Cases []struct {
			RGB  [3]float32 `json:"rgb"`
			Hue  float32    `json:"hue"`
			Want [3]float32 `json:"want"`
		} `json:"cases"`
	}
	golden.Load(t, "testdata/hue_golden.json", &g)
	for i, c := range g.Cases {
		m := imageio.NewImage(3, 1, 1)
		copy(m.Pix, c.RGB[:])
		AdjustHue(m, c.Hue)
		for k := range 3 {
			if abs(m.Pix[k]-c.Want[k]) > 2e-5 {
				t.Fatalf("case %d: rgb %v hue %v: got %v, colorsys %v", i, c.RGB, c.Hue, m.Pix, c.Want)
			}
		}
	}
}
