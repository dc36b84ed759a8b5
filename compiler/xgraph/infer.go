package xgraph

import "math"

// InferShapes fills in the element types and shapes of node outputs that
// follow statically from the graph inputs, the constants and the operators'
// rules, in topological order. Dimensions that depend on run-time values
// (a dynamic batch, say) stay -1; outputs of operators without a rule keep
// what the model declared. g must be sorted.
func InferShapes(g *Graph) {
	g.link()
	for _, n := range g.Nodes {
		if s, ok := schemas[n.Op]; ok && n.Domain == "" && s.Shape != nil {
			s.Shape(g.Opset, n)
		}
	}
}

func dropoutRule(_ int, n *Node) {
	copyType(n, 0, 0)
	if len(n.Outputs) > 1 && n.Outputs[1] != nil && n.Input(0) != nil {
		setOut(n, 1, Bool, n.Input(0).Shape, n.Input(0).Ranked)
	}
}

// boolRule is the rule of element-wise predicates.
func boolRule(_ int, n *Node) {
	if x := n.Input(0); x != nil {
		setOut(n, 0, Bool, x.Shape, x.Ranked)
	}
}

func castRule(_ int, n *Node) {
	if x := n.Input(0); x != nil {
		setOut(n, 0, DType(n.Int("to")), x.Shape, x.Ranked)
	}
}

func expandRule(_ int, n *Node) {
	x := n.Input(0)
	s, ok := constInts(n.Input(1))
	if x == nil || !x.Ranked || !ok {
		return
	}
	setOut(n, 0, x.DType, broadcastDims(x.Shape, toInts(s)), true)
}

func constantOfShapeRule(_ int, n *Node) {
	s, ok := constInts(n.Input(0))
	for _, d := range s {
		ok = ok && d >= 0 // a negative size is the executor's error
	}
	dt := Float32
	if t := n.Tensor("value"); t != nil {
		dt = t.DType
	}
	setOut(n, 0, dt, toInts(s), ok)
}

func dtypeOf(v *Value) DType {
	if v == nil {
		return Undefined
	}
	return v.DType
}

// setOut records an inferred type and shape on output i.
func setOut(n *Node, i int, dt DType, shape []int, ranked bool) {
	if i >= len(n.Outputs) || n.Outputs[i] == nil {
		return
	}
	v := n.Outputs[i]
	if dt != Undefined {
		v.DType = dt
	}
	if ranked {
		v.Shape = append([]int{}, shape...)
		v.Ranked = true
	}
}

func copyType(n *Node, out, in int) {
	if x := n.Input(in); x != nil {
		setOut(n, out, x.DType, x.Shape, x.Ranked)
	}
}

// constInts returns the value of a constant input as ints.
func constInts(v *Value) ([]int64, bool) {
	if v == nil {
		return nil, false
	}
	if v.Const != nil {
		return v.Const.Ints(), true
	}
	if p := v.Producer; p != nil && p.Op == "Constant" && p.Domain == "" {
		if t := p.Tensor("value"); t != nil {
			return t.Ints(), true
		}
	}
	return nil, false
}

func broadcastRule(n *Node, ins []*Value, dt DType) {
	var out []int
	for i, v := range ins {
		if v == nil || !v.Ranked {
			setOut(n, 0, dt, nil, false)
			return
		}
		if i == 0 {
			out = append([]int{}, v.Shape...)
			continue
		}
		out = broadcastDims(out, v.Shape)
	}
	setOut(n, 0, dt, out, true)
}

// broadcastDims broadcasts two shapes whose dimensions may be unknown (-1).
func broadcastDims(a, b []int) []int {
	if len(a) < len(b) {
		a, b = b, a
	}
	out := append([]int{}, a...)
	off := len(a) - len(b)
	for i, d := range b {
		x := out[off+i]
		switch {
		case x == 1:
			out[off+i] = d
		case d == 1 || d == x:
		case x == -1 || d == -1:
			out[off+i] = max(x, d)
			if x == -1 && d == -1 {
				out[off+i] = -1
			}
		}
	}
	return out
}

func convRule(_ int, n *Node) {
	x, w := n.Input(0), n.Input(1)
	if x == nil || w == nil || !x.Ranked || !w.Ranked || len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return
	}
	dims, ok := windowDims(n, x.Shape[2:], w.Shape[2:])
	if !ok {
		return
	}
	setOut(n, 0, x.DType, append([]int{x.Shape[0], w.Shape[0]}, dims...), true)
}

func poolRule(_ int, n *Node) {
	x := n.Input(0)
	ks := n.Ints("kernel_shape")
	if x == nil || !x.Ranked || len(x.Shape) != len(ks)+2 {
		return
	}
	dims, ok := windowDims(n, x.Shape[2:], nil)
	if !ok {
		return
	}
	shape := append([]int{x.Shape[0], x.Shape[1]}, dims...)
	setOut(n, 0, x.DType, shape, true)
	setOut(n, 1, Int64, shape, true)
}

func globalPoolRule(_ int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked || len(x.Shape) < 2 {
		return
	}
	shape := append([]int{}, x.Shape[:2]...)
	for range x.Shape[2:] {
		shape = append(shape, 1)
	}
	setOut(n, 0, x.DType, shape, true)
}

func gemmRule(_ int, n *Node) {
	a, b := n.Input(0), n.Input(1)
	if a == nil || b == nil || !a.Ranked || !b.Ranked || len(a.Shape) != 2 || len(b.Shape) != 2 {
		return
	}
	m, nn := a.Shape[0], b.Shape[1]
	if n.Int("transA") != 0 {
		m = a.Shape[1]
	}
	if n.Int("transB") != 0 {
		nn = b.Shape[0]
	}
	setOut(n, 0, a.DType, []int{m, nn}, true)
}

func matmulRule(_ int, n *Node) {
	a, b := n.Input(0), n.Input(1)
	if a == nil || b == nil || !a.Ranked || !b.Ranked || len(a.Shape) == 0 || len(b.Shape) == 0 {
		return
	}
	as, bs := a.Shape, b.Shape
	if len(as) == 1 {
		as = []int{1, as[0]}
	}
	if len(bs) == 1 {
		bs = []int{bs[0], 1}
	}
	out := broadcastDims(as[:len(as)-2], bs[:len(bs)-2])
	if len(a.Shape) > 1 {
		out = append(out, as[len(as)-2])
	}
	if len(b.Shape) > 1 {
		out = append(out, bs[len(bs)-1])
	}
	setOut(n, 0, a.DType, out, true)
}

// product returns the number of elements of dims, or -1 when a dimension
// is unknown or the product overflows an int.
func product(dims []int) int {
	p := 1
	for _, d := range dims {
		if d < 0 || d != 0 && p > math.MaxInt/d {
			return -1
		}
		p *= d
	}
	return p
}

func flattenRule(_ int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked {
		return
	}
	ax := int(n.Int("axis"))
	if ax < 0 {
		ax += len(x.Shape)
	}
	if ax < 0 || ax > len(x.Shape) {
		return
	}
	setOut(n, 0, x.DType, []int{product(x.Shape[:ax]), product(x.Shape[ax:])}, true)
}

func reshapeRule(_ int, n *Node) {
	x := n.Input(0)
	spec, ok := constInts(n.Input(1))
	if !ok {
		spec = n.Ints("shape")
		ok = spec != nil
	}
	if x == nil || !ok {
		return
	}
	out := make([]int, len(spec))
	infer := -1
	for i, d := range spec {
		switch {
		case d == 0 && n.Int("allowzero") == 0:
			if !x.Ranked || i >= len(x.Shape) {
				out[i] = -1
			} else {
				out[i] = x.Shape[i]
			}
		case d == -1:
			infer = i
			out[i] = -1
		default:
			out[i] = int(d)
		}
	}
	if infer >= 0 && x.Ranked {
		// Dimensions copied with 0 cancel on both sides, so a dynamic
		// batch kept by a 0 still lets the -1 be resolved.
		copied := func(i int) bool { return i < len(spec) && spec[i] == 0 && n.Int("allowzero") == 0 }
		var xs, ks []int
		for i, d := range x.Shape {
			if !copied(i) {
				xs = append(xs, d)
			}
		}
		for i, d := range out {
			if i != infer && !copied(i) {
				ks = append(ks, d)
			}
		}
		xk, known := product(xs), product(ks)
		ok := xk >= 0
		if ok && known > 0 {
			out[infer] = xk / known
		}
	}
	setOut(n, 0, x.DType, out, true)
}

func transposeRule(_ int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked {
		return
	}
	r := len(x.Shape)
	perm := n.Ints("perm")
	out := make([]int, r)
	for i := range out {
		p := r - 1 - i
		if perm != nil {
			if len(perm) != r || perm[i] < 0 || int(perm[i]) >= r {
				return
			}
			p = int(perm[i])
		}
		out[i] = x.Shape[p]
	}
	setOut(n, 0, x.DType, out, true)
}

func axesOf(n *Node) ([]int64, bool) {
	if v, ok := constInts(n.Input(1)); ok {
		return v, true
	}
	if n.Has("axes") {
		return n.Ints("axes"), true
	}
	return nil, n.Input(1) == nil
}

func squeezeRule(_ int, n *Node) {
	x := n.Input(0)
	axes, ok := axesOf(n)
	if x == nil || !x.Ranked || !ok {
		return
	}
	r := len(x.Shape)
	drop := make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a >= 0 && int(a) < r {
			drop[a] = true
		}
	}
	var out []int
	for i, d := range x.Shape {
		if len(axes) == 0 && d == -1 {
			return // cannot tell whether it squeezes
		}
		if len(axes) > 0 && !drop[i] || len(axes) == 0 && d != 1 {
			out = append(out, d)
		}
	}
	setOut(n, 0, x.DType, out, true)
}

func unsqueezeRule(_ int, n *Node) {
	x := n.Input(0)
	axes, ok := axesOf(n)
	if x == nil || !x.Ranked || !ok {
		return
	}
	r := len(x.Shape) + len(axes)
	ins := make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || int(a) >= r {
			return
		}
		ins[a] = true
	}
	out := make([]int, 0, r)
	j := 0
	for i := 0; i < r; i++ {
		if ins[i] {
			out = append(out, 1)
		} else if j < len(x.Shape) {
			out = append(out, x.Shape[j])
			j++
		}
	}
	setOut(n, 0, x.DType, out, true)
}

func concatRule(_ int, n *Node) {
	var out []int
	for i, v := range n.Inputs {
		if v == nil || !v.Ranked {
			return
		}
		ax := int(n.Int("axis"))
		if ax < 0 {
			ax += len(v.Shape)
		}
		if ax < 0 || ax >= len(v.Shape) {
			return
		}
		if i == 0 {
			out = append([]int{}, v.Shape...)
			continue
		}
		if out[ax] < 0 || v.Shape[ax] < 0 {
			out[ax] = -1
		} else {
			out[ax] += v.Shape[ax]
		}
	}
	if out != nil {
		setOut(n, 0, n.Inputs[0].DType, out, true)
	}
}

func shapeOfRule(_ int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked {
		setOut(n, 0, Int64, nil, false)
		return
	}
	r := int64(len(x.Shape))
	start, end := n.Int("start"), r
	if n.Has("end") {
		end = n.Int("end")
	}
	if start < 0 {
		start += r
	}
	if end < 0 {
		end += r
	}
	start = min(max(start, 0), r)
	end = min(max(end, start), r)
	setOut(n, 0, Int64, []int{int(end - start)}, true)
}

func constantRule(_ int, n *Node) {
	if t := n.Tensor("value"); t != nil {
		setOut(n, 0, t.DType, t.Shape, true)
	}
}

func gatherRule(_ int, n *Node) {
	x, ind := n.Input(0), n.Input(1)
	if x == nil || ind == nil || !x.Ranked || !ind.Ranked {
		return
	}
	ax := int(n.Int("axis"))
	if ax < 0 {
		ax += len(x.Shape)
	}
	if ax < 0 || ax >= len(x.Shape) {
		return
	}
	out := append(append(append([]int{}, x.Shape[:ax]...), ind.Shape...), x.Shape[ax+1:]...)
	setOut(n, 0, x.DType, out, true)
}

func reduceRule(_ int, n *Node) {
	x := n.Input(0)
	axes, ok := axesOf(n)
	if x == nil || !x.Ranked || !ok {
		return
	}
	r := len(x.Shape)
	red := make([]bool, r)
	for _, a := range axes {
		if a < 0 {
			a += int64(r)
		}
		if a >= 0 && int(a) < r {
			red[a] = true
		}
	}
	if len(axes) == 0 {
		if n.Int("noop_with_empty_axes") != 0 {
			copyType(n, 0, 0)
			return
		}
		for i := range red {
			red[i] = true
		}
	}
	keep := n.Int("keepdims") != 0
	out := []int{}
	for i, d := range x.Shape {
		switch {
		case !red[i]:
			out = append(out, d)
		case keep:
			out = append(out, 1)
		}
	}
	setOut(n, 0, x.DType, out, true)
}

func toInts(v []int64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x)
	}
	return out
}

func padRule(opset int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked {
		return
	}
	pads, ok := constInts(n.Input(1))
	if opset < 11 {
		pads, ok = n.Ints("pads"), n.Has("pads")
	}
	r := len(x.Shape)
	if !ok || len(pads) != 2*r {
		return
	}
	out := make([]int, r)
	for i, d := range x.Shape {
		out[i] = -1
		if d >= 0 {
			out[i] = d + int(pads[i]) + int(pads[r+i])
		}
	}
	setOut(n, 0, x.DType, out, true)
}

func sliceRule(opset int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked {
		return
	}
	var starts, ends, axes, steps []int64
	ok := true
	if opset < 10 {
		starts, ends, axes = n.Ints("starts"), n.Ints("ends"), n.Ints("axes")
	} else {
		var ok1, ok2 bool
		starts, ok1 = constInts(n.Input(1))
		ends, ok2 = constInts(n.Input(2))
		ok = ok1 && ok2
		if n.Input(3) != nil {
			axes, ok1 = constInts(n.Input(3))
			ok = ok && ok1
		}
		if n.Input(4) != nil {
			steps, ok1 = constInts(n.Input(4))
			ok = ok && ok1
		}
	}
	if !ok || len(starts) != len(ends) {
		return
	}
	r := len(x.Shape)
	out := append([]int{}, x.Shape...)
	for i := range starts {
		a := int64(i)
		if i < len(axes) {
			a = axes[i]
		}
		if a < 0 {
			a += int64(r)
		}
		if a < 0 || int(a) >= r {
			return
		}
		dim := int64(x.Shape[a])
		if dim < 0 {
			out[a] = -1
			continue
		}
		step := int64(1)
		if i < len(steps) {
			step = steps[i]
		}
		b, e := starts[i], ends[i]
		if b < 0 {
			b += dim
		}
		if e < 0 {
			e += dim
		}
		var cnt int64
		switch {
		case step > 0:
			b, e = min(max(b, 0), dim), min(max(e, 0), dim)
			if e > b {
				cnt = (e - b + step - 1) / step
			}
		case step < 0:
			b, e = min(max(b, -1), dim-1), min(max(e, -1), dim-1)
			if b > e {
				cnt = (b - e - step - 1) / -step
			}
		default:
			return
		}
		out[a] = int(cnt)
	}
	setOut(n, 0, x.DType, out, true)
}

func splitRule(opset int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked {
		return
	}
	ax := int(n.Int("axis"))
	if ax < 0 {
		ax += len(x.Shape)
	}
	if ax < 0 || ax >= len(x.Shape) {
		return
	}
	parts, ok := constInts(n.Input(1))
	if !ok && n.Input(1) != nil {
		return // split sizes computed at run time
	}
	if !ok && n.Has("split") {
		parts, ok = n.Ints("split"), true
	}
	if !ok || len(parts) == 0 {
		k := len(n.Outputs)
		if x.Shape[ax] < 0 || k == 0 || x.Shape[ax]%k != 0 {
			return
		}
		parts = make([]int64, k)
		for i := range parts {
			parts[i] = int64(x.Shape[ax] / k)
		}
	}
	for i, p := range parts {
		shape := append([]int{}, x.Shape...)
		shape[ax] = int(p)
		setOut(n, i, x.DType, shape, true)
	}
}

func resizeRule(opset int, n *Node) {
	x := n.Input(0)
	if x == nil || !x.Ranked || opset < 11 {
		return
	}
	r := len(x.Shape)
	if sizes, ok := constInts(n.Input(3)); ok && len(sizes) == r {
		setOut(n, 0, x.DType, toInts(sizes), true)
		return
	}
	v := n.Input(2)
	if v == nil || v.Const == nil || v.Const.Len() != r || !v.Const.DType.IsFloat() {
		return
	}
	out := make([]int, r)
	for i, d := range x.Shape {
		out[i] = -1
		if d >= 0 {
			out[i] = int(float64(d) * float64(v.Const.F[i]))
		}
	}
	setOut(n, 0, x.DType, out, true)
}

// roiAlignRule gives RoiAlign's output: one C×output_height×output_width
// map per box.
func roiAlignRule(_ int, n *Node) {
	x, rois := n.Input(0), n.Input(1)
	if x == nil || rois == nil || !x.Ranked || !rois.Ranked || len(x.Shape) != 4 || len(rois.Shape) != 2 {
		return
	}
	setOut(n, 0, x.DType, []int{rois.Shape[0], x.Shape[1], int(n.Int("output_height")), int(n.Int("output_width"))}, true)
}

func convTransposeRule(_ int, n *Node) {
	x, w := n.Input(0), n.Input(1)
	if x == nil || w == nil || !x.Ranked || !w.Ranked || len(x.Shape) < 3 || len(w.Shape) != len(x.Shape) {
		return
	}
	dims, ok := windowDims(n, x.Shape[2:], w.Shape[2:])
	if !ok {
		return
	}
	setOut(n, 0, x.DType, append([]int{x.Shape[0], w.Shape[1] * int(n.Int("group"))}, dims...), true)
}
