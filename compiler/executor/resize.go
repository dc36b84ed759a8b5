package executor

import (
	"math"

	"argus/compiler/xgraph"
)

func init() {
	register("Pad", pad)
	register("Resize", resize)
	register("Upsample", resize)
}

func pad(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	var pads []int64
	value := 0.0
	if c.opset < 11 {
		pads = c.n.Ints("pads")
		if pads == nil {
			pads = c.n.Ints("paddings")
		}
		value = float64(c.n.Float("value"))
	} else {
		pads, _ = c.intsInput(1)
		if t := c.input(2); t != nil && t.Len() > 0 {
			value = t.Float(0)
		}
	}
	if len(pads) != 2*r {
		return nil, c.errorf("pads %v do not fit rank %d", pads, r)
	}
	mode := c.n.String("mode")
	switch mode {
	case "constant", "reflect", "edge":
	default:
		return nil, c.unsupported("mode", "value %q", mode)
	}
	shape := make([]int, r)
	for i := range shape {
		if p, q := pads[i], pads[r+i]; p > math.MaxInt32 || q > math.MaxInt32 || p < math.MinInt32 || q < math.MinInt32 {
			return nil, c.errorf("pads %v of shape %v give more elements than memory can hold", pads, x.Shape)
		}
		shape[i] = x.Shape[i] + int(pads[i]) + int(pads[r+i])
		if shape[i] < 0 {
			return nil, c.errorf("pads %v crop more than %v", pads, x.Shape)
		}
		if mode != "constant" && x.Shape[i] == 0 && shape[i] > 0 {
			return nil, c.errorf("cannot %s-pad an empty dimension", mode)
		}
		if mode == "reflect" && (int(pads[i]) >= x.Shape[i] || int(pads[r+i]) >= x.Shape[i]) && x.Shape[i] > 1 {
			return nil, c.errorf("reflect pads %v must be smaller than %v", pads, x.Shape)
		}
	}
	c.check(x.DType, shape)
	st := strides(x.Shape)
	n := numel(shape)
	idx := make([]int, n)
	coord := make([]int, r)
	for i := 0; i < n; i++ {
		off := 0
		for d := 0; d < r; d++ {
			p := coord[d] - int(pads[d])
			dim := x.Shape[d]
			if p < 0 || p >= dim {
				switch mode {
				case "constant":
					off = -1
				case "edge":
					p = min(max(p, 0), dim-1)
				case "reflect":
					if dim == 1 {
						p = 0
						break
					}
					period := 2 * (dim - 1)
					p = ((p % period) + period) % period
					if p >= dim {
						p = period - p
					}
				}
			}
			if off < 0 {
				break
			}
			off += p * st[d]
		}
		idx[i] = off
		for d := r - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	out := c.zero(x.DType, shape...)
	for i, j := range idx {
		switch {
		case j >= 0 && x.DType.IsFloat():
			out.F[i] = x.F[j]
		case j >= 0:
			out.I[i] = x.I[j]
		case x.DType.IsFloat():
			out.F[i] = float32(value)
		default:
			out.I[i] = int64(value)
		}
	}
	return one(out), nil
}

// resizeOpts holds the interpolation settings of Resize and Upsample.
type resizeOpts struct {
	mode, coord, nearest string
	cubicA               float64
	excludeOutside       bool
	extrapolation        float64
}

// tap is one input position and its weight.
type tap struct {
	i int
	w float64
}

func resize(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	o := resizeOpts{mode: c.n.String("mode")}
	if c.n.Op == "Resize" {
		// Upsample has none of these: its modes neither extrapolate nor
		// use the cubic coefficient, and it fixes the coordinates below.
		o.coord, o.nearest = c.n.String("coordinate_transformation_mode"), c.n.String("nearest_mode")
		o.cubicA, o.excludeOutside = float64(c.n.Float("cubic_coeff_a")), c.n.Int("exclude_outside") != 0
		o.extrapolation = float64(c.n.Float("extrapolation_value"))
	}
	var scales []float64
	var sizes []int64
	var roi []float64
	switch {
	case c.n.Op == "Upsample" || c.opset < 11:
		// Upsample and Resize-10 map output to input as x/scale and
		// pick the nearest neighbour by flooring.
		o.coord, o.nearest = "asymmetric", "floor"
		if c.n.Op == "Upsample" && c.opset < 9 {
			if s := c.n.Floats("scales"); s != nil {
				for _, v := range s {
					scales = append(scales, float64(v))
				}
			} else if c.n.Has("height_scale") {
				scales = []float64{1, 1, float64(c.n.Float("height_scale")), float64(c.n.Float("width_scale"))}
			}
		} else if t := c.input(1); t != nil {
			for i := 0; i < t.Len(); i++ {
				scales = append(scales, t.Float(i))
			}
		}
		if o.mode == "bilinear" {
			o.mode = "linear"
		}
	default:
		if t := c.input(1); t != nil {
			for i := 0; i < t.Len(); i++ {
				roi = append(roi, t.Float(i))
			}
		}
		if t := c.input(2); t != nil && t.Len() > 0 {
			for i := 0; i < t.Len(); i++ {
				scales = append(scales, t.Float(i))
			}
		}
		if t := c.input(3); t != nil && t.Len() > 0 {
			sizes = t.Ints()
		}
	}
	if o.coord == "tf_half_pixel_for_nn" {
		o.coord = "tf_half_pixel_for_nearest" // the name before set 13
	}
	switch o.mode {
	case "nearest", "linear", "cubic":
	default:
		return nil, c.unsupported("mode", "value %q", o.mode)
	}
	switch o.coord {
	case "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nearest", "tf_crop_and_resize":
	default:
		return nil, c.unsupported("coordinate_transformation_mode", "value %q", o.coord)
	}
	switch o.nearest {
	case "round_prefer_floor", "round_prefer_ceil", "floor", "ceil":
	default:
		return nil, c.unsupported("nearest_mode", "value %q", o.nearest)
	}
	out := make([]int, r)
	sc := make([]float64, r)
	// outF is the output length the coordinate transforms use: with
	// scales it is in·scale before flooring, as in the specification's
	// reference.
	outF := make([]float64, r)
	switch {
	case sizes != nil:
		if len(sizes) != r {
			return nil, c.errorf("sizes %v do not fit rank %d", sizes, r)
		}
		for i := range out {
			out[i] = int(sizes[i])
			sc[i] = float64(sizes[i]) / float64(x.Shape[i])
			outF[i] = float64(sizes[i])
		}
	case scales != nil:
		if len(scales) != r {
			return nil, c.errorf("scales %v do not fit rank %d", scales, r)
		}
		for i := range out {
			sc[i] = scales[i]
			outF[i] = float64(x.Shape[i]) * scales[i]
			out[i] = int(math.Floor(outF[i]))
		}
	default:
		return nil, c.errorf("neither scales nor sizes given")
	}
	for i := range out {
		if out[i] < 0 || !(sc[i] > 0) || math.IsInf(outF[i], 0) || outF[i] > math.MaxInt32 {
			return nil, c.errorf("bad output size %v", out)
		}
	}
	// Each dimension is resampled in turn, so the largest intermediate
	// has the larger of the input's and the output's size in every
	// dimension.
	big := make([]int, r)
	for i := range big {
		big[i] = max(out[i], x.Shape[i])
	}
	c.check(x.DType, big)
	if o.coord == "tf_crop_and_resize" && len(roi) != 2*r {
		return nil, c.errorf("roi %v does not fit rank %d", roi, r)
	}
	// Interpolation is separable: resample one dimension at a time.
	cur := x
	outside := make([][]bool, r)
	for d := 0; d < r; d++ {
		if out[d] == x.Shape[d] && sc[d] == 1 && o.coord != "tf_crop_and_resize" {
			continue
		}
		taps := make([][]tap, out[d])
		outside[d] = make([]bool, out[d])
		for j := range taps {
			taps[j], outside[d][j] = o.taps(j, x.Shape[d], outF[d], sc[d], roi, d, r)
		}
		cur = resample(cur, d, out[d], taps)
	}
	if o.coord == "tf_crop_and_resize" {
		ext := float32(o.extrapolation)
		coord := make([]int, r)
		for i := range cur.F {
			for d := 0; d < r; d++ {
				if outside[d] != nil && outside[d][coord[d]] {
					cur.F[i] = ext
					break
				}
			}
			for d := r - 1; d >= 0; d-- {
				coord[d]++
				if coord[d] < out[d] {
					break
				}
				coord[d] = 0
			}
		}
	}
	return one(cur), nil
}

// taps returns the input positions and weights that output position j of
// a dimension of size in → out reads, and whether the position lies outside
// the input (for tf_crop_and_resize extrapolation).
func (o *resizeOpts) taps(j, in int, out float64, scale float64, roi []float64, d, r int) ([]tap, bool) {
	x := float64(j)
	var p float64
	switch o.coord {
	case "half_pixel":
		p = (x+0.5)/scale - 0.5
	case "pytorch_half_pixel":
		if out > 1 {
			p = (x+0.5)/scale - 0.5
		}
	case "align_corners":
		if out > 1 {
			p = x * float64(in-1) / (out - 1)
		}
	case "asymmetric":
		p = x / scale
	case "tf_half_pixel_for_nearest":
		p = (x + 0.5) / scale
	case "tf_crop_and_resize":
		start, end := roi[d], roi[r+d]
		if out > 1 {
			p = start*float64(in-1) + x*(end-start)*float64(in-1)/(out-1)
		} else {
			p = 0.5 * (start + end) * float64(in-1)
		}
	}
	outside := o.coord == "tf_crop_and_resize" && (p < 0 || p > float64(in-1))
	clamp := func(i int) int { return min(max(i, 0), in-1) }
	switch o.mode {
	case "nearest":
		var i float64
		switch o.nearest {
		case "round_prefer_floor":
			if p == math.Floor(p)+0.5 {
				i = math.Floor(p)
			} else {
				i = math.Round(p)
			}
		case "round_prefer_ceil":
			i = math.Floor(p + 0.5)
		case "floor":
			i = math.Floor(p)
		case "ceil":
			i = math.Ceil(p)
		}
		return []tap{{clamp(int(i)), 1}}, outside
	case "linear":
		f := math.Floor(p)
		t := p - f
		i := int(f)
		if in == 1 {
			return []tap{{0, 1}}, outside
		}
		return []tap{{clamp(i), 1 - t}, {clamp(i + 1), t}}, outside
	}
	// Cubic convolution with coefficient A over four neighbours.
	f := math.Floor(p)
	t := p - f
	a := o.cubicA
	cub := func(s float64) float64 {
		s = math.Abs(s)
		switch {
		case s <= 1:
			return ((a+2)*s-(a+3))*s*s + 1
		case s < 2:
			return ((a*s-5*a)*s+8*a)*s - 4*a
		}
		return 0
	}
	base := int(f)
	ts := make([]tap, 0, 4)
	var sum float64
	for k := -1; k <= 2; k++ {
		w := cub(t - float64(k))
		i := base + k
		if o.excludeOutside && (i < 0 || i >= in) {
			continue
		}
		sum += w
		ts = append(ts, tap{clamp(i), w})
	}
	if o.excludeOutside && sum != 0 {
		for i := range ts {
			ts[i].w /= sum
		}
	}
	return ts, outside
}

// resample interpolates x along dimension d to size n with the given taps.
func resample(x *xgraph.Tensor, d, n int, taps [][]tap) *xgraph.Tensor {
	shape := append([]int{}, x.Shape...)
	shape[d] = n
	outer := numel(x.Shape[:d])
	inner := numel(x.Shape[d+1:])
	in := x.Shape[d]
	y := xgraph.Zero(x.DType, shape...)
	acc := make([]float64, inner)
	for o := 0; o < outer; o++ {
		for j := 0; j < n; j++ {
			clear(acc)
			for _, t := range taps[j] {
				src := x.F[(o*in+t.i)*inner : (o*in+t.i+1)*inner]
				for q, v := range src {
					acc[q] += t.w * float64(v)
				}
			}
			dst := y.F[(o*n+j)*inner : (o*n+j+1)*inner]
			for q := range dst {
				dst[q] = float32(acc[q])
			}
		}
	}
	return y
}
