package executor

import (
	"math"
	"slices"

	"argus/compiler/xgraph"
)

func init() {
	register("Identity", func(c *call) ([]*xgraph.Tensor, error) {
		x, err := c.need(0)
		return one(x), err
	})
	register("Dropout", dropout)
	register("Reshape", reshape)
	register("Flatten", flatten)
	register("Transpose", transpose)
	register("Squeeze", squeeze)
	register("Unsqueeze", unsqueeze)
	register("Concat", concat)
	register("Split", split)
	register("Slice", slice)
	register("Gather", gather)
	register("Shape", shapeOp)
	register("Size", func(c *call) ([]*xgraph.Tensor, error) {
		x, err := c.need(0)
		if err != nil {
			return nil, err
		}
		return one(xgraph.NewInt(xgraph.Int64, []int64{int64(x.Len())})), nil
	})
	register("Constant", constant)
	register("ConstantOfShape", constantOfShape)
	register("Expand", expand)
	register("Tile", tile)
	register("Range", rangeOp)
	register("Cast", cast)
	register("CastLike", cast)
}

func dropout(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	// Set 12 made training a run-time input; before, is_test=0 meant training.
	training := false
	if t := c.input(2); t != nil && t.Len() > 0 && t.Float(0) != 0 {
		training = true
	}
	ratio := float64(c.n.Float("ratio"))
	if t := c.input(1); t != nil && t.Len() > 0 {
		ratio = t.Float(0)
	}
	if training && ratio != 0 {
		return nil, c.unsupported("training_mode", "random dropout in training mode")
	}
	mask := boolTensor(x.Shape)
	for i := range mask.I {
		mask.I[i] = 1
	}
	return []*xgraph.Tensor{x, mask}, nil
}

// shapeArg returns a shape-like argument: from input i for newer operator
// sets, or from attribute attr for older ones (attr empty: input only).
func (c *call) shapeArg(i int, attr string) ([]int64, bool) {
	if v, ok := c.intsInput(i); ok {
		return v, true
	}
	if attr != "" && c.n.Has(attr) {
		return c.n.Ints(attr), true
	}
	return nil, false
}

func reshape(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	spec, ok := c.shapeArg(1, "shape")
	if !ok {
		return nil, c.errorf("no target shape")
	}
	allowZero := c.n.Int("allowzero") != 0
	shape := make([]int, len(spec))
	infer := -1
	known := 1
	overflow := false
	for i, d := range spec {
		switch {
		case d == 0 && !allowZero:
			if i >= len(x.Shape) {
				return nil, c.errorf("shape %v copies dimension %d of %v", spec, i, x.Shape)
			}
			shape[i] = x.Shape[i]
		case d == -1:
			if infer >= 0 {
				return nil, c.errorf("shape %v has two -1 dimensions", spec)
			}
			infer = i
			continue
		case d < 0:
			return nil, c.errorf("shape %v has a negative dimension", spec)
		default:
			shape[i] = int(d)
		}
		if shape[i] != 0 && known > math.MaxInt/shape[i] {
			overflow = true
			known = 1
		}
		known *= shape[i]
	}
	if overflow && !slices.Contains(shape, 0) {
		return nil, c.errorf("cannot reshape %v to %v: the shape has more elements than memory can hold", x.Shape, spec)
	}
	if overflow {
		known = 0
	}
	if infer >= 0 {
		if known == 0 || x.Len()%known != 0 {
			return nil, c.errorf("cannot reshape %v to %v", x.Shape, spec)
		}
		shape[infer] = x.Len() / known
	}
	if numel(shape) != x.Len() {
		return nil, c.errorf("cannot reshape %v to %v", x.Shape, spec)
	}
	return one(x.Reshaped(shape)), nil
}

func flatten(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ax := c.n.Int("axis")
	if ax < 0 {
		ax += int64(len(x.Shape))
	}
	if ax < 0 || ax > int64(len(x.Shape)) {
		return nil, c.errorf("axis %d out of range for %v", c.n.Int("axis"), x.Shape)
	}
	outer := numel(x.Shape[:ax])
	return one(x.Reshaped([]int{outer, x.Len() / max(outer, 1)})), nil
}

// permute returns x with its dimensions reordered by perm.
func permute(x *xgraph.Tensor, perm []int) *xgraph.Tensor {
	r := len(x.Shape)
	out := make([]int, r)
	st := strides(x.Shape)
	pst := make([]int, r)
	for i, p := range perm {
		out[i] = x.Shape[p]
		pst[i] = st[p]
	}
	idx := make([]int, x.Len())
	walk(out, pst, func(i, off int) { idx[i] = off })
	return take(x, out, idx)
}

func transpose(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	perm := make([]int, r)
	if p := c.n.Ints("perm"); p != nil {
		if len(p) != r {
			return nil, c.errorf("perm %v does not fit rank %d", p, r)
		}
		seen := make([]bool, r)
		for i, v := range p {
			a, err := axis(v, r)
			if err != nil || seen[a] {
				return nil, c.errorf("perm %v is not a permutation", p)
			}
			seen[a] = true
			perm[i] = a
		}
	} else {
		for i := range perm {
			perm[i] = r - 1 - i
		}
	}
	return one(permute(x, perm)), nil
}

// axesArg reads an axes list (input 1 from set 13, the attribute before)
// and normalises it for rank r.
func (c *call) axesArg(inputIndex int, r int) ([]int, bool, error) {
	v, ok := c.shapeArg(inputIndex, "axes")
	if !ok {
		return nil, false, nil
	}
	out := make([]int, len(v))
	for i, a := range v {
		n, err := axis(a, r)
		if err != nil {
			return nil, true, c.errorf("%v", err)
		}
		out[i] = n
	}
	return out, true, nil
}

func squeeze(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	axes, given, err := c.axesArg(1, len(x.Shape))
	if err != nil {
		return nil, err
	}
	drop := make([]bool, len(x.Shape))
	for _, a := range axes {
		if x.Shape[a] != 1 {
			return nil, c.errorf("cannot squeeze dimension %d of %v", a, x.Shape)
		}
		drop[a] = true
	}
	var shape []int
	for i, d := range x.Shape {
		if given && !drop[i] || !given && d != 1 {
			shape = append(shape, d)
		}
	}
	return one(x.Reshaped(shape)), nil
}

func unsqueeze(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	v, ok := c.shapeArg(1, "axes")
	if !ok {
		return nil, c.errorf("no axes")
	}
	r := len(x.Shape) + len(v)
	ins := make([]bool, r)
	for _, a := range v {
		n, err := axis(a, r)
		if err != nil || ins[n] {
			return nil, c.errorf("bad axes %v for rank %d", v, r)
		}
		ins[n] = true
	}
	shape := make([]int, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			shape = append(shape, 1)
		} else {
			shape = append(shape, x.Shape[j])
			j++
		}
	}
	return one(x.Reshaped(shape)), nil
}

func concat(c *call) ([]*xgraph.Tensor, error) {
	first, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ax, err := axis(c.n.Int("axis"), len(first.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	shape := append([]int{}, first.Shape...)
	shape[ax] = 0
	for i, t := range c.in {
		if t == nil || len(t.Shape) != len(shape) || t.DType.IsFloat() != first.DType.IsFloat() {
			return nil, c.errorf("input %d does not match input 0 %v", i, first.Shape)
		}
		for j := range shape {
			if j != ax && t.Shape[j] != shape[j] {
				return nil, c.errorf("input %d %v does not match input 0 %v", i, t.Shape, first.Shape)
			}
		}
		shape[ax] += t.Shape[ax]
	}
	out := c.zero(first.DType, shape...)
	outer := numel(shape[:ax])
	inner := numel(shape[ax+1:])
	off := 0
	for _, t := range c.in {
		w := t.Shape[ax] * inner
		for o := 0; o < outer; o++ {
			if first.DType.IsFloat() {
				copy(out.F[o*shape[ax]*inner+off:], t.F[o*w:(o+1)*w])
			} else {
				copy(out.I[o*shape[ax]*inner+off:], t.I[o*w:(o+1)*w])
			}
		}
		off += w
	}
	return one(out), nil
}

// sliceAxis returns the part [lo, hi) of x along axis ax.
func sliceAxis(x *xgraph.Tensor, ax, lo, hi int) *xgraph.Tensor {
	shape := append([]int{}, x.Shape...)
	shape[ax] = hi - lo
	outer := numel(x.Shape[:ax])
	inner := numel(x.Shape[ax+1:])
	out := xgraph.Zero(x.DType, shape...)
	w := (hi - lo) * inner
	for o := 0; o < outer; o++ {
		src := (o*x.Shape[ax] + lo) * inner
		if x.DType.IsFloat() {
			copy(out.F[o*w:(o+1)*w], x.F[src:src+w])
		} else {
			copy(out.I[o*w:(o+1)*w], x.I[src:src+w])
		}
	}
	return out
}

func split(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ax, err := axis(c.n.Int("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	parts, ok := c.shapeArg(1, "split")
	k := len(c.n.Outputs)
	if !ok || len(parts) == 0 {
		if k == 0 || x.Shape[ax]%k != 0 {
			return nil, c.errorf("cannot split dimension %d of %v into %d equal parts", ax, x.Shape, k)
		}
		parts = make([]int64, k)
		for i := range parts {
			parts[i] = int64(x.Shape[ax] / k)
		}
	}
	var out []*xgraph.Tensor
	lo := 0
	for _, p := range parts {
		hi := lo + int(p)
		if p < 0 || hi > x.Shape[ax] {
			return nil, c.errorf("split %v does not fit dimension %d of %v", parts, ax, x.Shape)
		}
		out = append(out, sliceAxis(x, ax, lo, hi))
		lo = hi
	}
	if lo != x.Shape[ax] {
		return nil, c.errorf("split %v does not sum to dimension %d of %v", parts, ax, x.Shape)
	}
	return out, nil
}

func slice(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	var starts, ends, axes, steps []int64
	if c.opset < 10 {
		starts, ends, axes = c.n.Ints("starts"), c.n.Ints("ends"), c.n.Ints("axes")
	} else {
		starts, _ = c.intsInput(1)
		ends, _ = c.intsInput(2)
		axes, _ = c.intsInput(3)
		steps, _ = c.intsInput(4)
	}
	if len(starts) != len(ends) || axes != nil && len(axes) != len(starts) || steps != nil && len(steps) != len(starts) {
		return nil, c.errorf("starts, ends, axes and steps differ in length")
	}
	lo := make([]int, r)
	step := make([]int, r)
	shape := append([]int{}, x.Shape...)
	for i := range step {
		step[i] = 1
	}
	for i := range starts {
		a := int64(i)
		if axes != nil {
			a = axes[i]
		}
		ax, err := axis(a, r)
		if err != nil {
			return nil, c.errorf("%v", err)
		}
		s := int64(1)
		if steps != nil {
			s = steps[i]
		}
		if s == 0 {
			return nil, c.errorf("step 0")
		}
		dim := int64(x.Shape[ax])
		b, e := starts[i], ends[i]
		if b < 0 {
			b += dim
		}
		if e < 0 {
			e += dim
		}
		var n int64
		if s > 0 {
			b = min(max(b, 0), dim)
			e = min(max(e, 0), dim)
			if e > b {
				n = (e - b + s - 1) / s
			}
		} else {
			b = min(max(b, -1), dim-1)
			e = min(max(e, -1), dim-1)
			if b > e {
				n = (b - e - s - 1) / -s
			}
		}
		lo[ax], step[ax], shape[ax] = int(b), int(s), int(n)
	}
	st := strides(x.Shape)
	base := 0
	sst := make([]int, r)
	for i := range st {
		base += lo[i] * st[i]
		sst[i] = step[i] * st[i]
	}
	c.check(x.DType, shape)
	idx := make([]int, numel(shape))
	walk(shape, sst, func(i, off int) { idx[i] = base + off })
	return one(take(x, shape, idx)), nil
}

func gather(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ind, err := c.need(1)
	if err != nil {
		return nil, err
	}
	ax, err := axis(c.n.Int("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	dim := x.Shape[ax]
	outer := numel(x.Shape[:ax])
	inner := numel(x.Shape[ax+1:])
	shape := append(append(append([]int{}, x.Shape[:ax]...), ind.Shape...), x.Shape[ax+1:]...)
	c.check(x.DType, shape)
	ids := ind.Ints()
	idx := make([]int, 0, numel(shape))
	for o := 0; o < outer; o++ {
		for _, j := range ids {
			if j < 0 {
				j += int64(dim)
			}
			if j < 0 || j >= int64(dim) {
				return nil, c.errorf("index %d out of range for dimension %d", j, dim)
			}
			for q := 0; q < inner; q++ {
				idx = append(idx, (o*dim+int(j))*inner+q)
			}
		}
	}
	return one(take(x, shape, idx)), nil
}

func shapeOp(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	r := int64(len(x.Shape))
	start, end := c.n.Int("start"), r
	if c.n.Has("end") {
		end = c.n.Int("end")
	}
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start = min(max(start, 0), r)
	end = min(max(end, start), r)
	v := make([]int64, 0, end-start)
	for _, d := range x.Shape[start:end] {
		v = append(v, int64(d))
	}
	return one(xgraph.NewInt(xgraph.Int64, v, len(v))), nil
}

func constant(c *call) ([]*xgraph.Tensor, error) {
	n := c.n
	switch {
	case n.Has("value"):
		t := n.Tensor("value")
		if t == nil {
			return nil, c.errorf("attribute value holds no tensor")
		}
		return one(t), nil
	case n.Has("value_float"):
		return one(xgraph.NewFloat([]float32{n.Float("value_float")})), nil
	case n.Has("value_floats"):
		v := append([]float32{}, n.Floats("value_floats")...)
		return one(xgraph.NewFloat(v, len(v))), nil
	case n.Has("value_int"):
		return one(xgraph.NewInt(xgraph.Int64, []int64{n.Int("value_int")})), nil
	case n.Has("value_ints"):
		v := append([]int64{}, n.Ints("value_ints")...)
		return one(xgraph.NewInt(xgraph.Int64, v, len(v))), nil
	}
	return nil, c.errorf("no value attribute")
}

func constantOfShape(c *call) ([]*xgraph.Tensor, error) {
	s, err := c.need(0)
	if err != nil {
		return nil, err
	}
	shape := ints(s.Ints())
	for _, d := range shape {
		if d < 0 {
			return nil, c.errorf("negative dimension in %v", shape)
		}
	}
	val := xgraph.NewFloat([]float32{0})
	if c.n.Has("value") {
		t := c.n.Tensor("value")
		if t == nil || t.Len() != 1 {
			return nil, c.errorf("attribute value must be a one-element tensor")
		}
		val = t
	}
	out := c.zero(val.DType, shape...)
	if val.DType.IsFloat() {
		for i := range out.F {
			out.F[i] = val.F[0]
		}
	} else {
		for i := range out.I {
			out.I[i] = val.I[0]
		}
	}
	return one(out), nil
}

func expand(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	s, err := c.need(1)
	if err != nil {
		return nil, err
	}
	spec := ints(s.Ints())
	for _, d := range spec {
		if d < 0 {
			return nil, c.errorf("negative dimension in shape %v", spec)
		}
	}
	shape, err := broadcast(x.Shape, spec)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	c.check(x.DType, shape)
	return one(take(x, shape, bindex(x.Shape, shape))), nil
}

func tile(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	reps, ok := c.intsInput(1)
	if !ok || len(reps) != len(x.Shape) {
		return nil, c.errorf("repeats must have one value per dimension of %v", x.Shape)
	}
	shape := make([]int, len(x.Shape))
	for i, r := range reps {
		if r < 0 {
			return nil, c.errorf("negative repeat %d", r)
		}
		if r != 0 && int64(x.Shape[i]) > math.MaxInt64/r {
			return nil, c.errorf("repeats %v of shape %v give more elements than memory can hold", reps, x.Shape)
		}
		shape[i] = x.Shape[i] * int(r)
	}
	c.check(x.DType, shape)
	st := strides(x.Shape)
	idx := make([]int, numel(shape))
	coord := make([]int, len(shape))
	for i := range idx {
		off := 0
		for d := range coord {
			off += (coord[d] % x.Shape[d]) * st[d]
		}
		idx[i] = off
		for d := len(coord) - 1; d >= 0; d-- {
			coord[d]++
			if coord[d] < shape[d] {
				break
			}
			coord[d] = 0
		}
	}
	return one(take(x, shape, idx)), nil
}

func rangeOp(c *call) ([]*xgraph.Tensor, error) {
	var v [3]*xgraph.Tensor
	for i := range v {
		t, err := c.need(i)
		if err != nil {
			return nil, err
		}
		if t.Len() != 1 {
			return nil, c.errorf("input %d must be a scalar", i)
		}
		v[i] = t
	}
	start, limit, delta := v[0].Float(0), v[1].Float(0), v[2].Float(0)
	if delta == 0 {
		return nil, c.errorf("delta is zero")
	}
	n := int(math.Max(math.Ceil((limit-start)/delta), 0))
	if n > 1<<28 {
		return nil, c.errorf("range of %d elements is too large", n)
	}
	out := c.zero(v[0].DType, n)
	for i := 0; i < n; i++ {
		if out.DType.IsFloat() {
			out.F[i] = float32(start + float64(i)*delta)
		} else {
			out.I[i] = v[0].I[0] + int64(i)*v[2].I[0]
		}
	}
	return one(out), nil
}

func cast(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	var to xgraph.DType
	if c.n.Op == "CastLike" {
		t, err := c.need(1)
		if err != nil {
			return nil, err
		}
		to = t.DType
	} else {
		to = xgraph.DType(c.n.Int("to"))
	}
	if !to.Supported() {
		return nil, c.unsupported("to", "element type %s", to)
	}
	out := c.zero(to, x.Shape...)
	switch {
	case x.DType.IsFloat() && to.IsFloat():
		copy(out.F, x.F)
		if to == xgraph.Float16 || to == xgraph.BFloat16 {
			for i, v := range out.F {
				out.F[i] = roundHalf(to, v)
			}
		}
	case x.DType.IsFloat():
		for i, v := range x.F {
			if to == xgraph.Bool {
				if v != 0 {
					out.I[i] = 1
				}
				continue
			}
			out.I[i] = to.Wrap(int64(v))
		}
	case to.IsFloat():
		for i, v := range x.I {
			out.F[i] = float32(v)
		}
	default:
		for i, v := range x.I {
			out.I[i] = to.Wrap(v)
		}
	}
	return one(out), nil
}

// roundHalf rounds v to the nearest float16 or bfloat16 value (ties to
// even), as a cast to those types would.
func roundHalf(to xgraph.DType, v float32) float32 {
	if v != v || math.IsInf(float64(v), 0) {
		return v
	}
	if to == xgraph.BFloat16 {
		b := math.Float32bits(v)
		b += 0x7fff + (b>>16)&1
		return math.Float32frombits(b &^ 0xffff)
	}
	a := math.Abs(float64(v))
	if a >= 65520 {
		return float32(math.Copysign(math.Inf(1), float64(v)))
	}
	// Spacing of float16 values around a: 2^(e-10), with subnormals
	// spaced 2^-24.
	e := math.Max(math.Floor(math.Log2(a)), -14)
	if a == 0 {
		return v
	}
	q := math.Ldexp(1, int(e)-10)
	return float32(math.Copysign(math.RoundToEven(a/q)*q, float64(v)))
}
