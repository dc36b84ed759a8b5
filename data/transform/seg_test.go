package transform

import (
	"testing"

	"argus/data/imageio"
)

func segSample(w, h int, label func(x, y int) uint8) *Sample {
	m := imageio.NewMask(h, w, 0)
	for y := range h {
		for x := range w {
			m.Pix[y*w+x] = label(x, y)
		}
	}
	img := imageio.NewImage(3, h, w)
	for i := range img.Pix {
		img.Pix[i] = float32(i%97) / 97
	}
	return &Sample{Image: img, Mask: m}
}

func TestRatioResize(t *testing.T) {
	for _, c := range []struct {
		name         string
		w, h         int
		r            RatioResize
		wantW, wantH int
	}{
		{"cityscapes at ratio 1", 2048, 1024, RatioResize{W: 2048, H: 1024}, 2048, 1024},
		{"shorter side binds", 100, 50, RatioResize{W: 2048, H: 512}, 1024, 512},
		{"longer side binds", 100, 50, RatioResize{W: 400, H: 300}, 400, 200},
		{"portrait: the longer side to the longer target", 50, 100, RatioResize{W: 400, H: 300}, 200, 400},
		{"ratio range of one value", 100, 50, RatioResize{W: 200, H: 100, Ratio: [2]float64{0.5, 0.5}}, 100, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := segSample(c.w, c.h, func(x, y int) uint8 { return uint8(x % 3) })
			if err := c.r.Apply(s, NewState(1)); err != nil {
				t.Fatal(err)
			}
			if s.Image.W != c.wantW || s.Image.H != c.wantH || s.Mask.W != c.wantW || s.Mask.H != c.wantH {
				t.Errorf("%dx%d (mask %dx%d), want %dx%d", s.Image.W, s.Image.H, s.Mask.W, s.Mask.H, c.wantW, c.wantH)
			}
		})
	}
}

func TestCatMaxCrop(t *testing.T) {
	// Class 1 fills the left 4 of 64 columns: of the 49 windows 16 wide,
	// only the one at x = 0 holds both classes with neither at 80% (class
	// 0 covers 75% there), and none passes a ratio of 0.75.
	s := segSample(64, 16, func(x, y int) uint8 {
		if x < 4 {
			return 1
		}
		return 0
	})
	if !balanced(s.Mask, 0, 0, 16, 16, 0.8) || balanced(s.Mask, 0, 0, 16, 16, 0.75) || balanced(s.Mask, 20, 0, 16, 16, 0.99) {
		t.Fatal("balanced misjudges the windows")
	}
	ignored := segSample(8, 8, func(x, y int) uint8 {
		if x < 6 {
			return imageio.Ignore
		}
		return uint8(y % 2)
	})
	if !balanced(ignored.Mask, 0, 0, 8, 8, 0.75) {
		t.Error("ignored pixels count in the class shares")
	}
	// With ratio 0.8 most seeds find a window touching the left columns
	// within 11 draws; every crop has the crop's size.
	hits := 0
	for seed := range uint64(50) {
		c := segSample(64, 16, func(x, y int) uint8 {
			if x < 4 {
				return 1
			}
			return 0
		})
		if err := (CatMaxCrop{W: 16, H: 16, CatMaxRatio: 0.8}).Apply(c, NewState(seed)); err != nil {
			t.Fatal(err)
		}
		if c.Image.W != 16 || c.Image.H != 16 || c.Mask.W != 16 {
			t.Fatalf("crop %dx%d", c.Image.W, c.Image.H)
		}
		if c.Mask.Pix[0] == 1 {
			hits++
		}
	}
	// Eleven draws find the one window in 49 for about a fifth of the
	// seeds, a single draw for 2%.
	if hits < 4 {
		t.Errorf("%d of 50 crops found the balanced window", hits)
	}
	small := segSample(10, 6, func(x, y int) uint8 { return uint8(x % 2) })
	if err := (CatMaxCrop{W: 16, H: 16, CatMaxRatio: 0.75}).Apply(small, NewState(1)); err != nil {
		t.Fatal(err)
	}
	if small.Image.W != 10 || small.Image.H != 6 {
		t.Errorf("a small image is cropped to %dx%d, want itself", small.Image.W, small.Image.H)
	}
	if err := (PadTo{W: 16, H: 16, Fill: []float32{0.5, 0.25, 0}}).Apply(small, nil); err != nil {
		t.Fatal(err)
	}
	if small.Image.W != 16 || small.Mask.Pix[15*16+15] != imageio.Ignore || small.Image.Plane(1)[15*16+15] != 0.25 || small.Mask.Pix[1] != 1 {
		t.Error("PadTo pads wrongly")
	}
}

func TestPhotoMetricDistortionStaysInRange(t *testing.T) {
	for seed := range uint64(20) {
		s := segSample(8, 8, func(x, y int) uint8 { return 0 })
		if err := (PhotoMetricDistortion{}).Apply(s, NewState(seed)); err != nil {
			t.Fatal(err)
		}
		for _, v := range s.Image.Pix {
			if v < 0 || v > 1 {
				t.Fatalf("seed %d: value %g outside [0, 1]", seed, v)
			}
		}
	}
}
