package transform

import (
	"fmt"
	"math"

	"argus/data/imageio"
)

// RatioResize is mmsegmentation's Resize with ratio_range and keep_ratio:
// a ratio r drawn uniformly from Ratio scales the target (W·r, H·r), and
// the image is rescaled by the largest factor that keeps its longer side
// within the target's longer side and its shorter side within the
// target's shorter side (mmcv's imrescale), each side rounded to the
// nearest pixel. The mask follows by nearest neighbour. With Ratio zero
// the target is (W, H) itself.
type RatioResize struct {
	W, H  int
	Ratio [2]float64
}

// Apply implements Transform.
func (r RatioResize) Apply(s *Sample, st *State) error {
	if r.W <= 0 || r.H <= 0 {
		return fmt.Errorf("ratio resize: scale %dx%d", r.W, r.H)
	}
	f := 1.0
	if r.Ratio != [2]float64{} {
		f = uniform(st.Rand, r.Ratio[0], r.Ratio[1])
	}
	long, short := float64(max(r.W, r.H))*f, float64(min(r.W, r.H))*f
	w, h := s.Image.W, s.Image.H
	k := min(long/float64(max(w, h)), short/float64(min(w, h)))
	ow, oh := max(int(float64(w)*k+0.5), 1), max(int(float64(h)*k+0.5), 1)
	return resizeRegion(s, 0, 0, w, h, ow, oh)
}

// CatMaxCrop is mmsegmentation's RandomCrop with cat_max_ratio: a W×H
// window at a uniform offset inside the image (the whole side where the
// image is smaller), redrawn up to 10 times while one class covers
// CatMaxRatio or more of the window's labelled pixels or fewer than two
// classes are present (labels Ignore do not count); the last window drawn
// is kept. CatMaxRatio 1 or more takes the first window.
type CatMaxCrop struct {
	W, H        int
	CatMaxRatio float64
}

// Apply implements Transform.
func (c CatMaxCrop) Apply(s *Sample, st *State) error {
	if c.W <= 0 || c.H <= 0 {
		return fmt.Errorf("crop: size %dx%d", c.W, c.H)
	}
	W, H := s.Image.W, s.Image.H
	window := func() (x, y, w, h int) {
		x, y = st.Rand.IntN(max(W-c.W, 0)+1), st.Rand.IntN(max(H-c.H, 0)+1)
		return x, y, min(c.W, W), min(c.H, H)
	}
	x, y, w, h := window()
	if c.CatMaxRatio < 1 && s.Mask != nil {
		for range 10 {
			if balanced(s.Mask, x, y, w, h, c.CatMaxRatio) {
				break
			}
			x, y, w, h = window()
		}
	}
	return crop(s, x, y, w, h)
}

// balanced reports whether the window of m holds at least two labelled
// classes and none covers ratio or more of its labelled pixels.
func balanced(m *imageio.Mask, x, y, w, h int, ratio float64) bool {
	var cnt [256]int
	for i := y; i < y+h; i++ {
		for _, v := range m.Pix[i*m.W+x : i*m.W+x+w] {
			cnt[v]++
		}
	}
	cnt[imageio.Ignore] = 0
	classes, total, most := 0, 0, 0
	for _, n := range cnt {
		if n > 0 {
			classes++
			total += n
			most = max(most, n)
		}
	}
	return classes > 1 && float64(most)/float64(total) < ratio
}

// PadTo pads the bottom and right of a sample smaller than W×H up to W×H,
// the image with Fill (one value per channel: the mean colour, which is
// zero after normalisation, as mmsegmentation pads after Normalize) and
// the mask with Ignore.
type PadTo struct {
	W, H int
	Fill []float32
}

// Apply implements Transform.
func (p PadTo) Apply(s *Sample, _ *State) error {
	w, h := s.Image.W, s.Image.H
	if w >= p.W && h >= p.H {
		return nil
	}
	ow, oh := max(w, p.W), max(h, p.H)
	if err := (Pad{Right: ow - w, Bottom: oh - h}).Apply(s, nil); err != nil {
		return err
	}
	for c := 0; c < s.Image.C && c < len(p.Fill); c++ {
		pl := s.Image.Plane(c)
		for y := range oh {
			for x := range ow {
				if x >= w || y >= h {
					pl[y*ow+x] = p.Fill[c]
				}
			}
		}
	}
	return nil
}

// PhotoMetricDistortion is mmsegmentation's PhotoMetricDistortion on
// images with values in [0, 1] (mmsegmentation's 0–255 values divided by
// 255): each step applied with probability 1/2, values clipped to [0, 1]
// after each, in the order brightness (a shift drawn from ±32/255),
// contrast (a factor from [0.5, 1.5]) here or after the colour steps (a
// fair draw), saturation (the HSV saturation times a factor from
// [0.5, 1.5]), hue (the HSV hue shifted by a whole number of degrees from
// −18 to 18, wrapping around the colour circle; mmsegmentation wraps at 180
// of OpenCV's 360 degrees, which we do not copy).
type PhotoMetricDistortion struct{}

// Apply implements Transform.
func (PhotoMetricDistortion) Apply(s *Sample, st *State) error {
	m, r := s.Image, st.Rand
	coin := func() bool { return r.IntN(2) == 1 }
	affine := func(a, b float32) {
		for i, v := range m.Pix {
			m.Pix[i] = clamp01(v*a + b)
		}
	}
	if coin() {
		affine(1, float32(uniform(r, -32, 32)/255))
	}
	contrastFirst := coin()
	contrast := func() {
		if coin() {
			affine(float32(uniform(r, 0.5, 1.5)), 0)
		}
	}
	if contrastFirst {
		contrast()
	}
	if m.C == 3 {
		if coin() {
			f := float32(uniform(r, 0.5, 1.5))
			hsv(m, func(h, s, v float32) (float32, float32, float32) { return h, clamp01(s * f), v })
		}
		if coin() {
			d := float32(r.IntN(37)-18) / 360
			hsv(m, func(h, s, v float32) (float32, float32, float32) {
				h += d
				return h - float32(math.Floor(float64(h))), s, v
			})
		}
	}
	if !contrastFirst {
		contrast()
	}
	return nil
}

// hsv maps every pixel of the RGB image m through f in HSV space.
func hsv(m *imageio.Image, f func(h, s, v float32) (float32, float32, float32)) {
	n := m.H * m.W
	for i := range n {
		h, s, v := rgbToHSV(m.Pix[i], m.Pix[n+i], m.Pix[2*n+i])
		m.Pix[i], m.Pix[n+i], m.Pix[2*n+i] = hsvToRGB(f(h, s, v))
	}
}
