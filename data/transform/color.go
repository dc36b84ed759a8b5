package transform

import (
	"math"
	"math/rand/v2"

	"argus/data/imageio"
)

// ColorJitter changes brightness, contrast, saturation and hue by factors
// drawn as torchvision's ColorJitter draws them — brightness, contrast and
// saturation from [max(0, 1−v), 1+v], hue from [−v, v] (v ≤ 0.5) — and
// applies them in a random order, each with torchvision's formula.
type ColorJitter struct{ Brightness, Contrast, Saturation, Hue float64 }

// Apply implements Transform.
func (j ColorJitter) Apply(s *Sample, st *State) error {
	r := st.Rand
	order := r.Perm(4)
	factor := func(v float64) float64 { return uniform(r, math.Max(0, 1-v), 1+v) }
	var b, c, sat, h float64 = -1, -1, -1, 2
	if j.Brightness > 0 {
		b = factor(j.Brightness)
	}
	if j.Contrast > 0 {
		c = factor(j.Contrast)
	}
	if j.Saturation > 0 {
		sat = factor(j.Saturation)
	}
	if j.Hue > 0 {
		h = uniform(r, -j.Hue, j.Hue)
	}
	m := s.Image
	for _, k := range order {
		switch {
		case k == 0 && b >= 0:
			AdjustBrightness(m, float32(b))
		case k == 1 && c >= 0:
			AdjustContrast(m, float32(c))
		case k == 2 && sat >= 0:
			AdjustSaturation(m, float32(sat))
		case k == 3 && h <= 1:
			AdjustHue(m, float32(h))
		}
	}
	return nil
}

func clamp01(v float32) float32 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// AdjustBrightness scales every sample by f and clamps to [0, 1].
func AdjustBrightness(m *imageio.Image, f float32) {
	for i, v := range m.Pix {
		m.Pix[i] = clamp01(v * f)
	}
}

// gray returns the ITU-R 601 luma of pixel i (torchvision's
// rgb_to_grayscale).
func gray(m *imageio.Image, i int) float32 {
	n := m.H * m.W
	return 0.299*m.Pix[i] + 0.587*m.Pix[n+i] + 0.114*m.Pix[2*n+i]
}

// AdjustContrast blends the image with the mean of its luma: f·v +
// (1−f)·mean, clamped.
func AdjustContrast(m *imageio.Image, f float32) {
	if m.C != 3 {
		return
	}
	n := m.H * m.W
	var sum float64
	for i := 0; i < n; i++ {
		sum += float64(gray(m, i))
	}
	mean := float32(sum / float64(n))
	for i, v := range m.Pix {
		m.Pix[i] = clamp01(f*v + (1-f)*mean)
	}
}

// AdjustSaturation blends each pixel with its luma: f·v + (1−f)·gray,
// clamped.
func AdjustSaturation(m *imageio.Image, f float32) {
	if m.C != 3 {
		return
	}
	n := m.H * m.W
	for i := 0; i < n; i++ {
		g := gray(m, i)
		for c := 0; c < 3; c++ {
			m.Pix[c*n+i] = clamp01(f*m.Pix[c*n+i] + (1-f)*g)
		}
	}
}

// AdjustHue rotates the hue by h turns (h in [−0.5, 0.5]) in HSV space.
func AdjustHue(m *imageio.Image, h float32) {
	if m.C != 3 {
		return
	}
	n := m.H * m.W
	for i := 0; i < n; i++ {
		r, g, b := m.Pix[i], m.Pix[n+i], m.Pix[2*n+i]
		hh, s, v := rgbToHSV(r, g, b)
		hh = hh + h
		hh -= float32(math.Floor(float64(hh)))
		m.Pix[i], m.Pix[n+i], m.Pix[2*n+i] = hsvToRGB(hh, s, v)
	}
}

// rgbToHSV follows torchvision's _rgb2hsv.
func rgbToHSV(r, g, b float32) (h, s, v float32) {
	maxc := max(r, g, b)
	minc := min(r, g, b)
	cr := maxc - minc
	v = maxc
	if maxc == 0 {
		s = 0
	} else {
		s = cr / maxc
	}
	if cr == 0 {
		return 0, s, v
	}
	rc, gc, bc := (maxc-r)/cr, (maxc-g)/cr, (maxc-b)/cr
	switch {
	case maxc == r:
		h = bc - gc
	case maxc == g:
		h = 2 + rc - bc
	default:
		h = 4 + gc - rc
	}
	h = h / 6
	h -= float32(math.Floor(float64(h)))
	return h, s, v
}

// hsvToRGB follows torchvision's _hsv2rgb.
func hsvToRGB(h, s, v float32) (r, g, b float32) {
	i := float32(math.Floor(float64(h * 6)))
	f := h*6 - i
	p := clamp01(v * (1 - s))
	q := clamp01(v * (1 - s*f))
	t := clamp01(v * (1 - s*(1-f)))
	switch int(i) % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}

// RandomErasing blanks a random rectangle with probability P, drawing it
// as torchvision's RandomErasing does (10 tries of area and log-uniform
// aspect ratio; nothing erased if none fits). Zero Scale and Ratio take
// (0.02, 0.33) and (0.3, 3.3). Boxes and masks are unchanged.
type RandomErasing struct {
	P            float64
	Scale, Ratio [2]float64
	Value        float32
}

// Apply implements Transform.
func (e RandomErasing) Apply(s *Sample, st *State) error {
	r := st.Rand
	if r.Float64() >= e.P {
		return nil
	}
	x, y, w, h, ok := e.Params(s.Image.W, s.Image.H, r)
	if !ok {
		return nil
	}
	m := s.Image
	for c := 0; c < m.C; c++ {
		p := m.Plane(c)
		for i := y; i < y+h; i++ {
			row := p[i*m.W+x : i*m.W+x+w]
			for k := range row {
				row[k] = e.Value
			}
		}
	}
	return nil
}

// Params returns the rectangle to erase in a W×H image.
func (e RandomErasing) Params(W, H int, r *rand.Rand) (x, y, w, h int, ok bool) {
	scale, ratio := e.Scale, e.Ratio
	if scale == [2]float64{} {
		scale = [2]float64{0.02, 0.33}
	}
	if ratio == [2]float64{} {
		ratio = [2]float64{0.3, 3.3}
	}
	area := float64(W * H)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(r, scale[0], scale[1])
		aspect := math.Exp(uniform(r, lr0, lr1))
		h := int(math.Round(math.Sqrt(target * aspect)))
		w := int(math.Round(math.Sqrt(target / aspect)))
		if !(h < H && w < W) || h <= 0 || w <= 0 {
			continue
		}
		return r.IntN(W - w + 1), r.IntN(H - h + 1), w, h, true
	}
	return 0, 0, 0, 0, false
}

// ColorCast is Deep Image's color casting: with probability P, each of the
// R, G and B channels is shifted by its own amount drawn uniformly from
// [−MaxShift, MaxShift] (the paper shifts by up to ±20 of 255, i.e.
// MaxShift 20/255), then clamped.
type ColorCast struct {
	P        float64
	MaxShift float32
}

// Apply implements Transform.
func (c ColorCast) Apply(s *Sample, st *State) error {
	if st.Rand.Float64() >= c.P {
		return nil
	}
	m := s.Image
	for ch := 0; ch < m.C; ch++ {
		d := float32(uniform(st.Rand, -float64(c.MaxShift), float64(c.MaxShift)))
		p := m.Plane(ch)
		for i, v := range p {
			p[i] = clamp01(v + d)
		}
	}
	return nil
}

// Vignette is Deep Image's vignetting: with probability P the periphery is
// darkened, each sample multiplied by 1 − a·(r/R)² where r is the distance
// from the centre, R the half diagonal, and a drawn from [0, MaxStrength].
type Vignette struct{ P, MaxStrength float64 }

// Apply implements Transform.
func (v Vignette) Apply(s *Sample, st *State) error {
	if st.Rand.Float64() >= v.P {
		return nil
	}
	Vignetting(s.Image, float32(uniform(st.Rand, 0, v.MaxStrength)))
	return nil
}

// Vignetting multiplies each sample by 1 − a·(r/R)².
func Vignetting(m *imageio.Image, a float32) {
	cx, cy := float32(m.W)/2, float32(m.H)/2
	inv := 1 / (cx*cx + cy*cy)
	n := m.H * m.W
	for y := 0; y < m.H; y++ {
		dy := float32(y) + 0.5 - cy
		for x := 0; x < m.W; x++ {
			dx := float32(x) + 0.5 - cx
			f := 1 - a*(dx*dx+dy*dy)*inv
			o := y*m.W + x
			for c := 0; c < m.C; c++ {
				m.Pix[c*n+o] = clamp01(m.Pix[c*n+o] * f)
			}
		}
	}
}
