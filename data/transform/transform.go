// Package transform holds seeded image augmentations that move an image's
// boxes, label mask and keypoints with it.
//
// Coordinates are continuous pixels: pixel (i, j) covers [j, j+1) × [i, i+1)
// and its centre is (j+0.5, i+0.5). Boxes are xyxy in that frame; a
// transform that moves the image moves the boxes, clips them to the new
// image and drops those left empty (with their labels). Masks are resampled
// by nearest neighbour and filled with imageio.Ignore where the image has
// no source; keypoints follow the same forward map as boxes but are never
// dropped.
package transform

import (
	"fmt"
	"math"
	"math/rand/v2"

	"argus/data/imageio"
	"argus/tensor"
)

// Sample is an image with the annotations that move with it.
type Sample struct {
	Image *imageio.Image
	// Boxes are xyxy in pixels; BoxLabels, when present, has one entry per
	// box and is kept aligned when boxes are dropped.
	Boxes     [][4]float32
	BoxLabels []int
	Mask      *imageio.Mask
	Keypoints [][2]float32
	// Label is a class or identity label, passed through unchanged.
	Label int
	// Camera and Domain are passed through unchanged (re-ID and CDCL).
	Camera, Domain int
	// Path names the source file, for errors.
	Path string
}

// State is what a transform may draw on: the random source of this sample
// and the target size of its batch for multi-scale training.
type State struct {
	Rand *rand.Rand
	// Size is the batch's training size chosen by a MultiScale, 0 if none.
	Size int
}

// NewState returns a state whose random source is seeded with seed.
func NewState(seed uint64) *State { return &State{Rand: tensor.NewRNG(seed).Rand()} }

// Transform changes a sample in place.
type Transform interface {
	Apply(s *Sample, st *State) error
}

// Compose applies its transforms in order.
type Compose []Transform

// Apply implements Transform.
func (c Compose) Apply(s *Sample, st *State) error {
	for _, t := range c {
		if err := t.Apply(s, st); err != nil {
			return err
		}
	}
	return nil
}

// Func adapts a function to a Transform.
type Func func(s *Sample, st *State) error

// Apply implements Transform.
func (f Func) Apply(s *Sample, st *State) error { return f(s, st) }

func uniform(r *rand.Rand, lo, hi float64) float64 { return lo + (hi-lo)*r.Float64() }

// affineBoxes maps boxes by x' = ax·x + bx, y' = ay·y + by (ax, ay > 0 or a
// flip), then clips them to w×h and drops the empty ones.
func (s *Sample) affineBoxes(ax, bx, ay, by float32, w, h int) {
	for i, b := range s.Boxes {
		x0, x1 := ax*b[0]+bx, ax*b[2]+bx
		y0, y1 := ay*b[1]+by, ay*b[3]+by
		if x0 > x1 {
			x0, x1 = x1, x0
		}
		if y0 > y1 {
			y0, y1 = y1, y0
		}
		s.Boxes[i] = [4]float32{x0, y0, x1, y1}
	}
	for i, k := range s.Keypoints {
		s.Keypoints[i] = [2]float32{ax*k[0] + bx, ay*k[1] + by}
	}
	s.clipBoxes(w, h)
}

// clipBoxes clips the boxes to w×h and drops those with no area left.
func (s *Sample) clipBoxes(w, h int) {
	keep := 0
	for i, b := range s.Boxes {
		b[0] = clampf(b[0], 0, float32(w))
		b[2] = clampf(b[2], 0, float32(w))
		b[1] = clampf(b[1], 0, float32(h))
		b[3] = clampf(b[3], 0, float32(h))
		if b[2]-b[0] <= 0 || b[3]-b[1] <= 0 {
			continue
		}
		s.Boxes[keep] = b
		if s.BoxLabels != nil {
			s.BoxLabels[keep] = s.BoxLabels[i]
		}
		keep++
	}
	s.Boxes = s.Boxes[:keep]
	if s.BoxLabels != nil {
		s.BoxLabels = s.BoxLabels[:keep]
	}
}

func clampf(v, lo, hi float32) float32 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}

// Resize resizes to exactly W×H: bilinear, antialiased when downscaling
// (the triangle filter widened by the scale, as PIL and torchvision's
// antialias=True do); masks by nearest neighbour.
type Resize struct{ W, H int }

// Apply implements Transform.
func (r Resize) Apply(s *Sample, _ *State) error {
	if r.W <= 0 || r.H <= 0 {
		return fmt.Errorf("resize: size %dx%d", r.W, r.H)
	}
	return resizeRegion(s, 0, 0, s.Image.W, s.Image.H, r.W, r.H)
}

// ResizeShorter resizes so that the shorter side is Size (or the batch's
// multi-scale size when Size is 0), keeping the aspect ratio, with the
// longer side at most MaxSize when MaxSize > 0.
type ResizeShorter struct{ Size, MaxSize int }

// Apply implements Transform.
func (r ResizeShorter) Apply(s *Sample, st *State) error {
	size := r.Size
	if size == 0 && st != nil {
		size = st.Size
	}
	if size <= 0 {
		return fmt.Errorf("resize shorter: no size (set Size or use a multi-scale loader)")
	}
	w, h := ShorterSize(s.Image.W, s.Image.H, size, r.MaxSize)
	return resizeRegion(s, 0, 0, s.Image.W, s.Image.H, w, h)
}

// ShorterSize returns the size of a w×h image resized so that its shorter
// side is size and its longer side at most max (if max > 0).
func ShorterSize(w, h, size, max int) (int, int) {
	scale := float64(size) / float64(min(w, h))
	if max > 0 && float64(maxInt(w, h))*scale > float64(max) {
		scale = float64(max) / float64(maxInt(w, h))
	}
	nw := int(math.Round(float64(w) * scale))
	nh := int(math.Round(float64(h) * scale))
	return maxInt(nw, 1), maxInt(nh, 1)
}

func maxInt(a, b int) int {
	if a > b {
		return a
	}
	return b
}

// Crop cuts the region of W×H pixels at (X, Y); the region may extend past
// the image, where it is filled with zeros (and Ignore in the mask).
type Crop struct{ X, Y, W, H int }

// Apply implements Transform.
func (c Crop) Apply(s *Sample, _ *State) error { return crop(s, c.X, c.Y, c.W, c.H) }

// CenterCrop cuts the central W×H region.
type CenterCrop struct{ W, H int }

// Apply implements Transform.
func (c CenterCrop) Apply(s *Sample, _ *State) error {
	// torchvision rounds the offset: int(round((H − h) / 2)).
	x := int(math.Round(float64(s.Image.W-c.W) / 2))
	y := int(math.Round(float64(s.Image.H-c.H) / 2))
	return crop(s, x, y, c.W, c.H)
}

// RandomCrop pads every side by Pad and cuts a random W×H region, the
// re-ID recipe's "pad 10 + crop".
type RandomCrop struct{ W, H, Pad int }

// Apply implements Transform.
func (c RandomCrop) Apply(s *Sample, st *State) error {
	W, H := s.Image.W+2*c.Pad, s.Image.H+2*c.Pad
	if c.W > W || c.H > H || c.W <= 0 || c.H <= 0 {
		return fmt.Errorf("random crop: %dx%d does not fit the padded %dx%d image", c.W, c.H, W, H)
	}
	x := st.Rand.IntN(W-c.W+1) - c.Pad
	y := st.Rand.IntN(H-c.H+1) - c.Pad
	return crop(s, x, y, c.W, c.H)
}

func crop(s *Sample, x0, y0, w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("crop: size %dx%d", w, h)
	}
	src := s.Image
	out := imageio.NewImage(src.C, h, w)
	// Rows and columns of the output that have a source.
	xa, xb := max(0, -x0), min(w, src.W-x0)
	ya, yb := max(0, -y0), min(h, src.H-y0)
	for c := 0; c < src.C; c++ {
		sp, op := src.Plane(c), out.Plane(c)
		for y := ya; y < yb; y++ {
			if xa < xb {
				copy(op[y*w+xa:y*w+xb], sp[(y+y0)*src.W+x0+xa:])
			}
		}
	}
	if s.Mask != nil {
		m := imageio.NewMask(h, w, imageio.Ignore)
		for y := ya; y < yb; y++ {
			if xa < xb {
				copy(m.Pix[y*w+xa:y*w+xb], s.Mask.Pix[(y+y0)*src.W+x0+xa:])
			}
		}
		s.Mask = m
	}
	s.Image = out
	s.affineBoxes(1, float32(-x0), 1, float32(-y0), w, h)
	return nil
}

// Pad adds borders filled with Fill (Ignore in the mask).
type Pad struct {
	Left, Top, Right, Bottom int
	Fill                     float32
}

// Apply implements Transform.
func (p Pad) Apply(s *Sample, _ *State) error {
	if p.Left < 0 || p.Top < 0 || p.Right < 0 || p.Bottom < 0 {
		return fmt.Errorf("pad: negative padding %+v", p)
	}
	src := s.Image
	w, h := src.W+p.Left+p.Right, src.H+p.Top+p.Bottom
	out := imageio.NewImage(src.C, h, w)
	if p.Fill != 0 {
		for i := range out.Pix {
			out.Pix[i] = p.Fill
		}
	}
	for c := 0; c < src.C; c++ {
		sp, op := src.Plane(c), out.Plane(c)
		for y := 0; y < src.H; y++ {
			copy(op[(y+p.Top)*w+p.Left:], sp[y*src.W:(y+1)*src.W])
		}
	}
	if s.Mask != nil {
		m := imageio.NewMask(h, w, imageio.Ignore)
		for y := 0; y < src.H; y++ {
			copy(m.Pix[(y+p.Top)*w+p.Left:], s.Mask.Pix[y*src.W:(y+1)*src.W])
		}
		s.Mask = m
	}
	s.Image = out
	s.affineBoxes(1, float32(p.Left), 1, float32(p.Top), w, h)
	return nil
}

// HFlip mirrors the sample left to right with probability P.
type HFlip struct{ P float64 }

// Apply implements Transform.
func (f HFlip) Apply(s *Sample, st *State) error {
	if st.Rand.Float64() >= f.P {
		return nil
	}
	Flip(s)
	return nil
}

// Flip mirrors the sample left to right.
func Flip(s *Sample) {
	m := s.Image
	for c := 0; c < m.C; c++ {
		p := m.Plane(c)
		for y := 0; y < m.H; y++ {
			row := p[y*m.W : (y+1)*m.W]
			for i, j := 0, len(row)-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
	if s.Mask != nil {
		for y := 0; y < m.H; y++ {
			row := s.Mask.Pix[y*m.W : (y+1)*m.W]
			for i, j := 0, len(row)-1; i < j; i, j = i+1, j-1 {
				row[i], row[j] = row[j], row[i]
			}
		}
	}
	s.affineBoxes(-1, float32(m.W), 1, 0, m.W, m.H)
}

// RandomResizedCrop cuts a random region of random area and aspect ratio
// and resizes it to W×H, drawing the region as torchvision's
// RandomResizedCrop.get_params does (10 tries, then a centre crop). With W
// and H zero the output is square, of the batch's multi-scale size
// (State.Size).
type RandomResizedCrop struct {
	W, H int
	// Scale bounds the region's area as a fraction of the image;
	// Ratio bounds its width/height. Zero values take (0.08, 1) and
	// (3/4, 4/3).
	Scale, Ratio [2]float64
}

// Params returns the region (x, y, w, h) for an image of width W and
// height H.
func (c RandomResizedCrop) Params(W, H int, r *rand.Rand) (x, y, w, h int) {
	scale, ratio := c.Scale, c.Ratio
	if scale == [2]float64{} {
		scale = [2]float64{0.08, 1}
	}
	if ratio == [2]float64{} {
		ratio = [2]float64{3.0 / 4, 4.0 / 3}
	}
	area := float64(W * H)
	lr0, lr1 := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * uniform(r, scale[0], scale[1])
		aspect := math.Exp(uniform(r, lr0, lr1))
		w := int(math.Round(math.Sqrt(target * aspect)))
		h := int(math.Round(math.Sqrt(target / aspect)))
		if w > 0 && w <= W && h > 0 && h <= H {
			return r.IntN(W - w + 1), r.IntN(H - h + 1), w, h
		}
	}
	in := float64(W) / float64(H)
	switch {
	case in < ratio[0]:
		w = W
		h = int(math.Round(float64(w) / ratio[0]))
	case in > ratio[1]:
		h = H
		w = int(math.Round(float64(h) * ratio[1]))
	default:
		w, h = W, H
	}
	return (W - w) / 2, (H - h) / 2, w, h
}

// Apply implements Transform.
func (c RandomResizedCrop) Apply(s *Sample, st *State) error {
	if c.W == 0 && c.H == 0 && st != nil {
		c.W, c.H = st.Size, st.Size
	}
	if c.W <= 0 || c.H <= 0 {
		return fmt.Errorf("random resized crop: size %dx%d", c.W, c.H)
	}
	x, y, w, h := c.Params(s.Image.W, s.Image.H, st.Rand)
	return resizeRegion(s, x, y, w, h, c.W, c.H)
}

// resizeRegion resizes the region (x, y, w, h), which lies inside the
// image, to ow×oh.
func resizeRegion(s *Sample, x, y, w, h, ow, oh int) error {
	if ow <= 0 || oh <= 0 || w <= 0 || h <= 0 {
		return fmt.Errorf("resize: region %dx%d to %dx%d", w, h, ow, oh)
	}
	s.Image = ResizeImage(s.Image, x, y, w, h, ow, oh)
	if s.Mask != nil {
		s.Mask = resizeMask(s.Mask, x, y, w, h, ow, oh)
	}
	sx, sy := float32(ow)/float32(w), float32(oh)/float32(h)
	s.affineBoxes(sx, -float32(x)*sx, sy, -float32(y)*sy, ow, oh)
	return nil
}

// resizeMask samples the label at each output pixel's centre.
func resizeMask(m *imageio.Mask, x, y, w, h, ow, oh int) *imageio.Mask {
	out := imageio.NewMask(oh, ow, 0)
	cols := make([]int, ow)
	for j := range cols {
		cols[j] = x + min(int((float64(j)+0.5)*float64(w)/float64(ow)), w-1)
	}
	for i := 0; i < oh; i++ {
		sy := y + min(int((float64(i)+0.5)*float64(h)/float64(oh)), h-1)
		row := m.Pix[sy*m.W:]
		for j, sx := range cols {
			out.Pix[i*ow+j] = row[sx]
		}
	}
	return out
}

// coeffs are the filter taps of one output coordinate: weights for source
// indices start, start+1, ...
type coeffs struct {
	start []int
	n     []int
	w     []float32 // len(start)·taps
	taps  int
}

// triangleCoeffs computes PIL's precompute_coeffs for the bilinear
// (triangle) filter resizing [off, off+in) to out samples: the filter
// support grows with the downscale factor, which is what antialiasing
// means; weights are normalised to sum to one.
func triangleCoeffs(off, in, out, limit int) coeffs {
	scale := float64(in) / float64(out)
	fscale := math.Max(scale, 1)
	support := fscale
	taps := int(math.Ceil(support))*2 + 1
	c := coeffs{start: make([]int, out), n: make([]int, out), w: make([]float32, out*taps), taps: taps}
	for i := 0; i < out; i++ {
		center := float64(off) + (float64(i)+0.5)*scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), limit)
		if hi-lo > taps {
			hi = lo + taps
		}
		var sum float64
		ws := make([]float64, hi-lo)
		for j := lo; j < hi; j++ {
			t := math.Abs((float64(j) - center + 0.5) / fscale)
			if t < 1 {
				ws[j-lo] = 1 - t
				sum += 1 - t
			}
		}
		c.start[i], c.n[i] = lo, hi-lo
		for k, v := range ws {
			if sum > 0 {
				c.w[i*taps+k] = float32(v / sum)
			}
		}
	}
	return c
}

// ResizeImage resizes the region (x, y, w, h) of m to ow×oh with the
// antialiased bilinear filter, horizontally then vertically.
func ResizeImage(m *imageio.Image, x, y, w, h, ow, oh int) *imageio.Image {
	cx := triangleCoeffs(x, w, ow, m.W)
	cy := triangleCoeffs(y, h, oh, m.H)
	// Rows of the source that the vertical pass reads.
	r0, r1 := cy.start[0], cy.start[oh-1]+cy.n[oh-1]
	tmp := make([]float32, (r1-r0)*ow)
	out := imageio.NewImage(m.C, oh, ow)
	for c := 0; c < m.C; c++ {
		src := m.Plane(c)
		for r := r0; r < r1; r++ {
			row := src[r*m.W : (r+1)*m.W]
			dst := tmp[(r-r0)*ow : (r-r0+1)*ow]
			for j := range dst {
				st, n := cx.start[j], cx.n[j]
				ws := cx.w[j*cx.taps : j*cx.taps+n]
				// Upscaling and mild downscaling need two or three taps.
				switch n {
				case 2:
					src := row[st : st+2]
					dst[j] = ws[0]*src[0] + ws[1]*src[1]
				case 3:
					src := row[st : st+3]
					dst[j] = ws[0]*src[0] + ws[1]*src[1] + ws[2]*src[2]
				default:
					var acc float32
					for k, wk := range ws {
						acc += wk * row[st+k]
					}
					dst[j] = acc
				}
			}
		}
		dp := out.Plane(c)
		for i := 0; i < oh; i++ {
			st, n := cy.start[i], cy.n[i]
			ws := cy.w[i*cy.taps : i*cy.taps+n]
			dst := dp[i*ow : (i+1)*ow]
			for k, wk := range ws {
				srow := tmp[(st+k-r0)*ow : (st+k-r0+1)*ow]
				if k == 0 {
					for j, v := range srow {
						dst[j] = wk * v
					}
					continue
				}
				for j, v := range srow {
					dst[j] += wk * v
				}
			}
		}
	}
	return out
}
