package synth

import (
	"math"
	"math/rand/v2"

	"argus/data/imageio"
)

// rgb is a colour with samples in [0, 1].
type rgb [3]float32

// canvas is an RGB image being painted, with an optional label map that
// every fill also paints (label < 0 leaves it alone).
type canvas struct {
	img  *imageio.Image
	mask *imageio.Mask
}

func newCanvas(w, h int, withMask bool) *canvas {
	c := &canvas{img: imageio.NewImage(3, h, w)}
	if withMask {
		c.mask = imageio.NewMask(h, w, 0)
	}
	return c
}

// shader returns the colour of pixel (x, y).
type shader func(x, y int) rgb

func flat(c rgb) shader { return func(int, int) rgb { return c } }

func (c *canvas) set(x, y int, col rgb, label int) {
	w, h := c.img.W, c.img.H
	if x < 0 || y < 0 || x >= w || y >= h {
		return
	}
	n := w * h
	o := y*w + x
	c.img.Pix[o], c.img.Pix[n+o], c.img.Pix[2*n+o] = col[0], col[1], col[2]
	if label >= 0 && c.mask != nil {
		c.mask.Pix[o] = uint8(label)
	}
}

// blend mixes col into pixel (x, y) with weight a.
func (c *canvas) blend(x, y int, col rgb, a float32) {
	w, h := c.img.W, c.img.H
	if x < 0 || y < 0 || x >= w || y >= h {
		return
	}
	n := w * h
	o := y*w + x
	for k := 0; k < 3; k++ {
		c.img.Pix[k*n+o] += a * (col[k] - c.img.Pix[k*n+o])
	}
}

// rect fills [x0, x1) × [y0, y1).
func (c *canvas) rect(x0, y0, x1, y1 int, s shader, label int) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, c.img.W), min(y1, c.img.H)
	for y := y0; y < y1; y++ {
		for x := x0; x < x1; x++ {
			c.set(x, y, s(x, y), label)
		}
	}
}

// ellipse fills the pixels whose centres lie inside the ellipse.
func (c *canvas) ellipse(cx, cy, rx, ry float64, s shader, label int) {
	if rx <= 0 || ry <= 0 {
		return
	}
	y0 := max(int(math.Floor(cy-ry)), 0)
	y1 := min(int(math.Ceil(cy+ry)), c.img.H-1)
	for y := y0; y <= y1; y++ {
		dy := (float64(y) + 0.5 - cy) / ry
		if dy*dy > 1 {
			continue
		}
		half := rx * math.Sqrt(1-dy*dy)
		xa := max(int(math.Ceil(cx-half-0.5)), 0)
		xb := min(int(math.Floor(cx+half-0.5)), c.img.W-1)
		for x := xa; x <= xb; x++ {
			c.set(x, y, s(x, y), label)
		}
	}
}

// poly fills the pixels whose centres lie inside the polygon (even-odd).
func (c *canvas) poly(pts [][2]float64, s shader, label int) {
	if len(pts) < 3 {
		return
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		ymin, ymax = math.Min(ymin, p[1]), math.Max(ymax, p[1])
	}
	y0 := max(int(math.Floor(ymin)), 0)
	y1 := min(int(math.Ceil(ymax)), c.img.H-1)
	xs := make([]float64, 0, 8)
	for y := y0; y <= y1; y++ {
		fy := float64(y) + 0.5
		xs = xs[:0]
		for i := range pts {
			a, b := pts[i], pts[(i+1)%len(pts)]
			if (a[1] <= fy) != (b[1] <= fy) {
				xs = append(xs, a[0]+(fy-a[1])*(b[0]-a[0])/(b[1]-a[1]))
			}
		}
		sortFloats(xs)
		for k := 0; k+1 < len(xs); k += 2 {
			xa := max(int(math.Ceil(xs[k]-0.5)), 0)
			xb := min(int(math.Floor(xs[k+1]-0.5)), c.img.W-1)
			for x := xa; x <= xb; x++ {
				c.set(x, y, s(x, y), label)
			}
		}
	}
}

func sortFloats(v []float64) {
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
}

// line draws a segment of the given width.
func (c *canvas) line(x0, y0, x1, y1, width float64, s shader, label int) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	nx, ny := -dy/l*width/2, dx/l*width/2
	c.poly([][2]float64{{x0 + nx, y0 + ny}, {x1 + nx, y1 + ny}, {x1 - nx, y1 - ny}, {x0 - nx, y0 - ny}}, s, label)
}

// noise adds uniform noise of amplitude a to every sample, from a
// xorshift stream seeded by r (a full PCG draw per sample costs more than
// the rest of the drawing).
func (c *canvas) noise(r *rand.Rand, a float32) {
	x := r.Uint32() | 1
	for i, v := range c.img.Pix {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		c.img.Pix[i] = v + a*(float32(x>>8)*(2.0/(1<<24))-1)
	}
}

// frac returns v − ⌊v⌋.
func frac(v float64) float64 { return v - math.Floor(v) }

// clamp brings every sample into [0, 1].
func (c *canvas) clamp() {
	for i, v := range c.img.Pix {
		c.img.Pix[i] = min(max(v, 0), 1)
	}
}

func randColor(r *rand.Rand) rgb { return rgb{r.Float32(), r.Float32(), r.Float32()} }

// jitter returns col with each channel moved by up to ±a.
func jitter(r *rand.Rand, col rgb, a float32) rgb {
	for k := range col {
		col[k] = min(max(col[k]+a*(2*r.Float32()-1), 0), 1)
	}
	return col
}

// texture returns a random texture shader: stripes, checks, a gradient
// or blotchy value noise, in two colours.
func texture(r *rand.Rand, a, b rgb) shader {
	switch r.IntN(4) {
	case 0:
		period := 4 + r.Float64()*20
		th := r.Float64() * math.Pi
		cs, sn := math.Cos(th), math.Sin(th)
		return func(x, y int) rgb {
			if frac((float64(x)*cs+float64(y)*sn)/period) < 0.5 {
				return a
			}
			return b
		}
	case 1:
		k := 3 + r.IntN(14)
		return func(x, y int) rgb {
			if (x/k+y/k)%2 == 0 {
				return a
			}
			return b
		}
	case 2:
		th := r.Float64() * 2 * math.Pi
		cs, sn := math.Cos(th)/300, math.Sin(th)/300
		return func(x, y int) rgb {
			t := float32(frac(float64(x)*cs + float64(y)*sn))
			return rgb{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1]), a[2] + t*(b[2]-a[2])}
		}
	default:
		cell := 6 + r.IntN(20)
		grid := make([]float32, 64*64)
		for i := range grid {
			grid[i] = r.Float32()
		}
		return func(x, y int) rgb {
			gx, gy := float32(x)/float32(cell), float32(y)/float32(cell)
			ix, iy := int(gx), int(gy)
			fx, fy := gx-float32(ix), gy-float32(iy)
			v := func(i, j int) float32 { return grid[(j%64)*64+i%64] }
			t := (v(ix, iy)*(1-fx)+v(ix+1, iy)*fx)*(1-fy) + (v(ix, iy+1)*(1-fx)+v(ix+1, iy+1)*fx)*fy
			return rgb{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1]), a[2] + t*(b[2]-a[2])}
		}
	}
}
