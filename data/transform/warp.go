package transform

import (
	"fmt"
	"math"

	"argus/data/imageio"
)

// warp resamples the sample through inv, which maps an output point to its
// source point (continuous pixel coordinates); fwd maps source points to
// output points for boxes and keypoints. The image is sampled bilinearly
// with zeros outside, the mask by nearest neighbour with Ignore outside.
// A box becomes the enclosing box of its mapped outline (8 points per
// side, so that curved sides under lens distortion are followed).
func warp(s *Sample, inv, fwd func(x, y float64) (float64, float64)) {
	src := s.Image
	w, h := src.W, src.H
	out := imageio.NewImage(src.C, h, w)
	var mask *imageio.Mask
	if s.Mask != nil {
		mask = imageio.NewMask(h, w, imageio.Ignore)
	}
	for i := 0; i < h; i++ {
		for j := 0; j < w; j++ {
			sx, sy := inv(float64(j)+0.5, float64(i)+0.5)
			// Bilinear over pixel centres.
			fx, fy := sx-0.5, sy-0.5
			x0, y0 := int(math.Floor(fx)), int(math.Floor(fy))
			ax, ay := float32(fx-float64(x0)), float32(fy-float64(y0))
			o := i*w + j
			for c := 0; c < src.C; c++ {
				p := src.Plane(c)
				v00, v01 := at(p, w, h, x0, y0), at(p, w, h, x0+1, y0)
				v10, v11 := at(p, w, h, x0, y0+1), at(p, w, h, x0+1, y0+1)
				top := v00 + ax*(v01-v00)
				bot := v10 + ax*(v11-v10)
				out.Pix[c*w*h+o] = top + ay*(bot-top)
			}
			if mask != nil {
				nx, ny := int(math.Floor(sx)), int(math.Floor(sy))
				if nx >= 0 && nx < w && ny >= 0 && ny < h {
					mask.Pix[o] = s.Mask.Pix[ny*w+nx]
				}
			}
		}
	}
	s.Image, s.Mask = out, mask
	for k, b := range s.Boxes {
		x0, y0, x1, y1 := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
		const n = 8
		for t := 0; t <= n; t++ {
			f := float64(t) / n
			bx := float64(b[0]) + f*float64(b[2]-b[0])
			by := float64(b[1]) + f*float64(b[3]-b[1])
			for _, p := range [4][2]float64{{bx, float64(b[1])}, {bx, float64(b[3])}, {float64(b[0]), by}, {float64(b[2]), by}} {
				x, y := fwd(p[0], p[1])
				x0, y0 = math.Min(x0, x), math.Min(y0, y)
				x1, y1 = math.Max(x1, x), math.Max(y1, y)
			}
		}
		s.Boxes[k] = [4]float32{float32(x0), float32(y0), float32(x1), float32(y1)}
	}
	for k, p := range s.Keypoints {
		x, y := fwd(float64(p[0]), float64(p[1]))
		s.Keypoints[k] = [2]float32{float32(x), float32(y)}
	}
	s.clipBoxes(w, h)
}

func at(p []float32, w, h, x, y int) float32 {
	if x < 0 || y < 0 || x >= w || y >= h {
		return 0
	}
	return p[y*w+x]
}

// Rotate turns the sample about its centre by an angle drawn uniformly from
// [−MaxDegrees, MaxDegrees] (counter-clockwise positive, as torchvision's
// rotate), keeping the size; corners left without source are black.
type Rotate struct{ MaxDegrees float64 }

// Apply implements Transform.
func (r Rotate) Apply(s *Sample, st *State) error {
	RotateBy(s, uniform(st.Rand, -r.MaxDegrees, r.MaxDegrees))
	return nil
}

// RotateBy turns the sample counter-clockwise by deg degrees about its
// centre.
func RotateBy(s *Sample, deg float64) {
	th := deg * math.Pi / 180
	cos, sin := math.Cos(th), math.Sin(th)
	cx, cy := float64(s.Image.W)/2, float64(s.Image.H)/2
	// In image coordinates (y down) a counter-clockwise turn on screen maps
	// source (dx, dy) to (cos·dx + sin·dy, −sin·dx + cos·dy).
	fwd := func(x, y float64) (float64, float64) {
		dx, dy := x-cx, y-cy
		return cx + cos*dx + sin*dy, cy - sin*dx + cos*dy
	}
	inv := func(x, y float64) (float64, float64) {
		dx, dy := x-cx, y-cy
		return cx + cos*dx - sin*dy, cy + sin*dx + cos*dy
	}
	warp(s, inv, fwd)
}

// LensDistortion applies radial distortion with probability P: an output
// point at normalised radius r (1 at the corners) shows the source point
// at radius r·(1 + k·r²), k drawn uniformly from [−MaxK, MaxK]. Positive k
// gives barrel distortion (the image bulges), negative k pincushion.
// |k| must stay below 1/3 so that the map is one-to-one.
type LensDistortion struct{ P, MaxK float64 }

// Apply implements Transform.
func (l LensDistortion) Apply(s *Sample, st *State) error {
	if l.MaxK < 0 || l.MaxK >= 1.0/3 {
		return fmt.Errorf("lens distortion: MaxK %v outside [0, 1/3)", l.MaxK)
	}
	if st.Rand.Float64() >= l.P {
		return nil
	}
	Distort(s, uniform(st.Rand, -l.MaxK, l.MaxK))
	return nil
}

// Distort applies radial distortion with coefficient k (see
// LensDistortion).
func Distort(s *Sample, k float64) {
	cx, cy := float64(s.Image.W)/2, float64(s.Image.H)/2
	r0 := math.Hypot(cx, cy)
	inv := func(x, y float64) (float64, float64) {
		dx, dy := (x-cx)/r0, (y-cy)/r0
		f := 1 + k*(dx*dx+dy*dy)
		return cx + dx*f*r0, cy + dy*f*r0
	}
	fwd := func(x, y float64) (float64, float64) {
		dx, dy := (x-cx)/r0, (y-cy)/r0
		rs := math.Hypot(dx, dy)
		if rs == 0 {
			return x, y
		}
		// Solve rd + k·rd³ = rs by Newton's method from rd = rs.
		rd := rs
		for range 20 {
			g := rd + k*rd*rd*rd - rs
			d := 1 + 3*k*rd*rd
			if d <= 0 {
				break
			}
			step := g / d
			rd -= step
			if math.Abs(step) < 1e-12 {
				break
			}
		}
		f := rd / rs
		return cx + dx*f*r0, cy + dy*f*r0
	}
	warp(s, inv, fwd)
}
