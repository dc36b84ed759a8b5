package executor

import (
	"math"
	"sort"

	"argus/compiler/xgraph"
)

// Operators beyond the vision set that the conformance suite exercises:
// index gathering and scattering, layout shuffles, losses and small
// numeric helpers.

func init() {
	register("Trilu", trilu)
	register("BitShift", bitShift)
	register("CumSum", cumSum)
	register("GatherElements", gatherElements)
	register("ScatterElements", scatterElements)
	register("Scatter", scatterElements)
	register("GatherND", gatherND)
	register("ScatterND", scatterND)
	register("DepthToSpace", depthToSpace)
	register("SpaceToDepth", spaceToDepth)
	register("OneHot", oneHot)
	register("EyeLike", eyeLike)
	register("IsInf", isInf)
	register("TopK", topK)
	register("Compress", compress)
	register("LRN", lrn)
	register("MeanVarianceNormalization", mvn)
	register("NonZero", nonZero)
	register("NegativeLogLikelihoodLoss", nllLoss)
	register("SoftmaxCrossEntropyLoss", sceLoss)
}

// coords converts a flat row-major index to coordinates.
func coords(i int, st []int, out []int) {
	for d, s := range st {
		out[d] = i / s
		i %= s
	}
}

func trilu(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	if r < 2 {
		return nil, c.errorf("input %v must have rank at least 2", x.Shape)
	}
	k := int64(0)
	if v, ok := c.intsInput(1); ok && len(v) > 0 {
		k = v[0]
	}
	upper := c.n.Int("upper") != 0
	rows, cols := x.Shape[r-2], x.Shape[r-1]
	out := x.Clone()
	for i := 0; i < x.Len(); i++ {
		col := int64(i % cols)
		row := int64(i / cols % rows)
		keep := col-row >= k
		if !upper {
			keep = col-row <= k
		}
		if !keep {
			if out.DType.IsFloat() {
				out.F[i] = 0
			} else {
				out.I[i] = 0
			}
		}
	}
	return one(out), nil
}

func bitShift(c *call) ([]*xgraph.Tensor, error) {
	a, err := c.need(0)
	if err != nil {
		return nil, err
	}
	b, err := c.need(1)
	if err != nil {
		return nil, err
	}
	d := binaryDef{}
	switch dir := c.n.String("direction"); dir {
	case "LEFT":
		d.i = func(x, y int64) int64 { return int64(uint64(x) << uint64(y)) }
	case "RIGHT":
		d.i = func(x, y int64) int64 { return int64(uint64(x) >> uint64(y)) }
	default:
		return nil, c.unsupported("direction", "value %q", dir)
	}
	out, err := binary(c, d, a, b)
	if err != nil {
		return nil, err
	}
	return one(out), nil
}

func cumSum(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	av, ok := c.intsInput(1)
	if !ok || len(av) != 1 {
		return nil, c.errorf("axis must be a scalar")
	}
	ax, err := axis(av[0], len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	excl, rev := c.n.Int("exclusive") != 0, c.n.Int("reverse") != 0
	outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	out := c.zero(x.DType, x.Shape...)
	for o := 0; o < outer; o++ {
		for q := 0; q < inner; q++ {
			var acc float64
			var iacc int64
			for s := 0; s < n; s++ {
				j := s
				if rev {
					j = n - 1 - s
				}
				idx := (o*n+j)*inner + q
				if x.DType.IsFloat() {
					if excl {
						out.F[idx] = float32(acc)
					}
					acc += float64(x.F[idx])
					if !excl {
						out.F[idx] = float32(acc)
					}
				} else {
					if excl {
						out.I[idx] = iacc
					}
					iacc += x.I[idx]
					if !excl {
						out.I[idx] = iacc
					}
				}
			}
		}
	}
	return one(out), nil
}

// elementIndex maps element i of an indices tensor (shape ishape) to the
// flat data index whose coordinate along ax is replaced by the index value.
func elementIndex(c *call, data, ind *xgraph.Tensor, ax int) ([]int, error) {
	if len(ind.Shape) != len(data.Shape) {
		return nil, c.errorf("indices %v and data %v differ in rank", ind.Shape, data.Shape)
	}
	ist, dst := strides(ind.Shape), strides(data.Shape)
	co := make([]int, len(ind.Shape))
	vals := ind.Ints()
	out := make([]int, len(vals))
	for i, v := range vals {
		coords(i, ist, co)
		if v < 0 {
			v += int64(data.Shape[ax])
		}
		if v < 0 || v >= int64(data.Shape[ax]) {
			return nil, c.errorf("index %d out of range for dimension %d", vals[i], data.Shape[ax])
		}
		co[ax] = int(v)
		off := 0
		for d := range co {
			if co[d] >= data.Shape[d] {
				return nil, c.errorf("indices %v exceed data %v", ind.Shape, data.Shape)
			}
			off += co[d] * dst[d]
		}
		out[i] = off
	}
	return out, nil
}

func gatherElements(c *call) ([]*xgraph.Tensor, error) {
	data, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ind, err := c.need(1)
	if err != nil {
		return nil, err
	}
	ax, err := axis(c.n.Int("axis"), len(data.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	idx, err := elementIndex(c, data, ind, ax)
	if err != nil {
		return nil, err
	}
	return one(take(data, ind.Shape, idx)), nil
}

// scatterInto writes update j into out at flat index idx[j] with the
// reduction.
func scatterInto(c *call, out, upd *xgraph.Tensor, idx []int) error {
	// Scatter, ScatterElements' predecessor, has no reduction.
	red := "none"
	if c.n.Op != "Scatter" {
		red = c.n.String("reduction")
	}
	if red != "none" && red != "add" && red != "mul" && red != "max" && red != "min" {
		return c.unsupported("reduction", "value %q", red)
	}
	for j, i := range idx {
		if out.DType.IsFloat() {
			out.F[i] = scatterReduce(red, out.F[i], upd.F[j])
		} else {
			out.I[i] = scatterReduce(red, out.I[i], upd.I[j])
		}
	}
	return nil
}

// scatterReduce combines an element of the output with an update under
// one of ScatterElements' reductions, which scatterInto has checked.
func scatterReduce[T float32 | int64](red string, old, upd T) T {
	switch red {
	case "add":
		return old + upd
	case "mul":
		return old * upd
	case "max":
		return max(old, upd)
	case "min":
		return min(old, upd)
	}
	return upd
}

func scatterElements(c *call) ([]*xgraph.Tensor, error) {
	data, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ind, err := c.need(1)
	if err != nil {
		return nil, err
	}
	upd, err := c.need(2)
	if err != nil {
		return nil, err
	}
	if !equalInts(ind.Shape, upd.Shape) || upd.DType.IsFloat() != data.DType.IsFloat() {
		return nil, c.errorf("indices %v and updates %v differ", ind.Shape, upd.Shape)
	}
	ax, err := axis(c.n.Int("axis"), len(data.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	idx, err := elementIndex(c, data, ind, ax)
	if err != nil {
		return nil, err
	}
	out := data.Clone()
	if err := scatterInto(c, out, upd, idx); err != nil {
		return nil, err
	}
	return one(out), nil
}

// ndIndex resolves the index tuples of GatherND/ScatterND: for each tuple
// the flat offset of the addressed slice of data, and the slice size.
func ndIndex(c *call, data, ind *xgraph.Tensor, batch int) ([]int, int, error) {
	q := len(ind.Shape)
	if q == 0 {
		return nil, 0, c.errorf("indices must have rank at least 1")
	}
	k := ind.Shape[q-1]
	if batch+k > len(data.Shape) {
		return nil, 0, c.errorf("index tuples of %d exceed data %v", k, data.Shape)
	}
	dst := strides(data.Shape)
	slice := numel(data.Shape[batch+k:])
	vals := ind.Ints()
	tuples := len(vals) / max(k, 1)
	if k == 0 {
		tuples = numel(ind.Shape[:q-1])
	}
	perBatch := tuples / max(numel(ind.Shape[:batch]), 1)
	out := make([]int, tuples)
	for t := 0; t < tuples; t++ {
		b := t / max(perBatch, 1)
		off := 0
		if batch > 0 {
			off = b * dst[batch-1]
		}
		for j := 0; j < k; j++ {
			v := vals[t*k+j]
			dim := int64(data.Shape[batch+j])
			if v < 0 {
				v += dim
			}
			if v < 0 || v >= dim {
				return nil, 0, c.errorf("index %d out of range for dimension %d", vals[t*k+j], dim)
			}
			off += int(v) * dst[batch+j]
		}
		out[t] = off
	}
	return out, slice, nil
}

func gatherND(c *call) ([]*xgraph.Tensor, error) {
	data, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ind, err := c.need(1)
	if err != nil {
		return nil, err
	}
	batch := int(c.n.Int("batch_dims"))
	if batch < 0 || batch >= len(ind.Shape) || batch > len(data.Shape) {
		return nil, c.errorf("batch_dims %d", batch)
	}
	offs, slice, err := ndIndex(c, data, ind, batch)
	if err != nil {
		return nil, err
	}
	q := len(ind.Shape)
	shape := append(append([]int{}, ind.Shape[:q-1]...), data.Shape[batch+ind.Shape[q-1]:]...)
	idx := make([]int, 0, len(offs)*slice)
	for _, o := range offs {
		for s := 0; s < slice; s++ {
			idx = append(idx, o+s)
		}
	}
	return one(take(data, shape, idx)), nil
}

func scatterND(c *call) ([]*xgraph.Tensor, error) {
	data, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ind, err := c.need(1)
	if err != nil {
		return nil, err
	}
	upd, err := c.need(2)
	if err != nil {
		return nil, err
	}
	offs, slice, err := ndIndex(c, data, ind, 0)
	if err != nil {
		return nil, err
	}
	if upd.Len() != len(offs)*slice || upd.DType.IsFloat() != data.DType.IsFloat() {
		return nil, c.errorf("updates %v do not fit indices %v", upd.Shape, ind.Shape)
	}
	idx := make([]int, 0, upd.Len())
	for _, o := range offs {
		for s := 0; s < slice; s++ {
			idx = append(idx, o+s)
		}
	}
	out := data.Clone()
	if err := scatterInto(c, out, upd, idx); err != nil {
		return nil, err
	}
	return one(out), nil
}

func depthToSpace(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	b := int(c.n.Int("blocksize"))
	if len(x.Shape) != 4 || b <= 0 || x.Shape[1]%(b*b) != 0 {
		return nil, c.errorf("input %v does not fit blocksize %d", x.Shape, b)
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	oc := C / (b * b)
	var perm []int
	var tmp *xgraph.Tensor
	switch mode := c.n.String("mode"); mode {
	case "DCR":
		tmp = x.Reshaped([]int{N, b, b, oc, H, W})
		perm = []int{0, 3, 4, 1, 5, 2}
	case "CRD":
		tmp = x.Reshaped([]int{N, oc, b, b, H, W})
		perm = []int{0, 1, 4, 2, 5, 3}
	default:
		return nil, c.unsupported("mode", "value %q", mode)
	}
	return one(permute(tmp, perm).Reshaped([]int{N, oc, H * b, W * b})), nil
}

func spaceToDepth(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	b := int(c.n.Int("blocksize"))
	if len(x.Shape) != 4 || b <= 0 || x.Shape[2]%b != 0 || x.Shape[3]%b != 0 {
		return nil, c.errorf("input %v does not fit blocksize %d", x.Shape, b)
	}
	N, C, H, W := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	tmp := x.Reshaped([]int{N, C, H / b, b, W / b, b})
	return one(permute(tmp, []int{0, 3, 5, 1, 2, 4}).Reshaped([]int{N, C * b * b, H / b, W / b})), nil
}

func oneHot(c *call) ([]*xgraph.Tensor, error) {
	ind, err := c.need(0)
	if err != nil {
		return nil, err
	}
	dt, err := c.need(1)
	if err != nil {
		return nil, err
	}
	vals, err := c.need(2)
	if err != nil {
		return nil, err
	}
	if dt.Len() != 1 || vals.Len() != 2 {
		return nil, c.errorf("depth must be a scalar and values hold two elements")
	}
	depth := int(dt.Float(0))
	if depth <= 0 {
		return nil, c.errorf("depth %d", depth)
	}
	r := len(ind.Shape) + 1
	ax, err := axis(c.n.Int("axis"), r)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	shape := append(append(append([]int{}, ind.Shape[:ax]...), depth), ind.Shape[ax:]...)
	out := c.zero(vals.DType, shape...)
	inner := numel(ind.Shape[ax:])
	for i := 0; i < out.Len(); i++ {
		o, rest := i/(depth*inner), i%(depth*inner)
		d, q := rest/inner, rest%inner
		v := int(ind.Float(o*inner + q))
		if v < 0 {
			v += depth
		}
		hot := 0
		if v == d {
			hot = 1
		}
		if out.DType.IsFloat() {
			out.F[i] = vals.F[hot]
		} else {
			out.I[i] = vals.I[hot]
		}
	}
	return one(out), nil
}

func eyeLike(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) != 2 {
		return nil, c.errorf("input %v must be a matrix", x.Shape)
	}
	dt := x.DType
	if c.n.Has("dtype") {
		dt = xgraph.DType(c.n.Int("dtype"))
	}
	if !dt.Supported() {
		return nil, c.unsupported("dtype", "element type %s", dt)
	}
	k := int(c.n.Int("k"))
	out := c.zero(dt, x.Shape...)
	for i := 0; i < x.Shape[0]; i++ {
		j := i + k
		if j >= 0 && j < x.Shape[1] {
			if dt.IsFloat() {
				out.F[i*x.Shape[1]+j] = 1
			} else {
				out.I[i*x.Shape[1]+j] = 1
			}
		}
	}
	return one(out), nil
}

func isInf(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	neg, pos := c.n.Int("detect_negative") != 0, c.n.Int("detect_positive") != 0
	out := boolTensor(x.Shape)
	for i, v := range x.F {
		if (pos && math.IsInf(float64(v), 1)) || (neg && math.IsInf(float64(v), -1)) {
			out.I[i] = 1
		}
	}
	return one(out), nil
}

func topK(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	kv, ok := c.intsInput(1)
	if !ok || len(kv) != 1 {
		return nil, c.errorf("K must hold one value")
	}
	ax, err := axis(c.n.Int("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	k := int(kv[0])
	outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	if k < 0 || k > n {
		return nil, c.errorf("K=%d exceeds dimension %d", k, n)
	}
	largest := c.n.Int("largest") != 0
	shape := append([]int{}, x.Shape...)
	shape[ax] = k
	vals := c.zero(x.DType, shape...)
	idxs := c.zero(xgraph.Int64, shape...)
	order := make([]int, n)
	for o := 0; o < outer; o++ {
		for q := 0; q < inner; q++ {
			at := func(i int) float64 { return x.Float((o*n+i)*inner + q) }
			for i := range order {
				order[i] = i
			}
			sort.SliceStable(order, func(a, b int) bool {
				if largest {
					return at(order[a]) > at(order[b])
				}
				return at(order[a]) < at(order[b])
			})
			for j := 0; j < k; j++ {
				dst := (o*k+j)*inner + q
				src := (o*n+order[j])*inner + q
				if x.DType.IsFloat() {
					vals.F[dst] = x.F[src]
				} else {
					vals.I[dst] = x.I[src]
				}
				idxs.I[dst] = int64(order[j])
			}
		}
	}
	return []*xgraph.Tensor{vals, idxs}, nil
}

func compress(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	cond, err := c.need(1)
	if err != nil {
		return nil, err
	}
	if !c.n.Has("axis") {
		x = x.Reshaped([]int{x.Len()})
	}
	ax, err := axis(c.n.Int("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	var keep []int
	for i := 0; i < min(cond.Len(), x.Shape[ax]); i++ {
		if cond.Float(i) != 0 {
			keep = append(keep, i)
		}
	}
	outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	shape := append([]int{}, x.Shape...)
	shape[ax] = len(keep)
	idx := make([]int, 0, outer*len(keep)*inner)
	for o := 0; o < outer; o++ {
		for _, i := range keep {
			for q := 0; q < inner; q++ {
				idx = append(idx, (o*n+i)*inner+q)
			}
		}
	}
	return one(take(x, shape, idx)), nil
}

func lrn(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	size := int(c.n.Int("size"))
	if len(x.Shape) < 3 || size <= 0 {
		return nil, c.errorf("input %v and size %d", x.Shape, size)
	}
	alpha, beta, bias := float64(c.n.Float("alpha")), float64(c.n.Float("beta")), float64(c.n.Float("bias"))
	N, C, inner := x.Shape[0], x.Shape[1], numel(x.Shape[2:])
	lo, hi := (size-1)/2, (size-1+1)/2
	y := c.zero(x.DType, x.Shape...)
	for n := 0; n < N; n++ {
		for ch := 0; ch < C; ch++ {
			for q := 0; q < inner; q++ {
				var s float64
				for j := max(0, ch-lo); j <= min(C-1, ch+hi); j++ {
					v := float64(x.F[(n*C+j)*inner+q])
					s += v * v
				}
				i := (n*C+ch)*inner + q
				y.F[i] = float32(float64(x.F[i]) / math.Pow(bias+alpha/float64(size)*s, beta))
			}
		}
	}
	return one(y), nil
}

func mvn(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	axes := c.n.Ints("axes")
	if axes == nil {
		axes = []int64{0, 2, 3}
	}
	r := len(x.Shape)
	red := make([]bool, r)
	for _, a := range axes {
		ax, err := axis(a, r)
		if err != nil {
			return nil, c.errorf("%v", err)
		}
		red[ax] = true
	}
	kshape := make([]int, r)
	for i, d := range x.Shape {
		kshape[i] = d
		if red[i] {
			kshape[i] = 1
		}
	}
	st := strides(kshape)
	for i := range st {
		if red[i] {
			st[i] = 0
		}
	}
	m := numel(kshape)
	cnt := float64(x.Len() / max(m, 1))
	sum, sq := make([]float64, m), make([]float64, m)
	walk(x.Shape, st, func(i, off int) {
		v := float64(x.F[i])
		sum[off] += v
		sq[off] += v * v
	})
	y := c.zero(x.DType, x.Shape...)
	walk(x.Shape, st, func(i, off int) {
		mean := sum[off] / cnt
		variance := sq[off]/cnt - mean*mean
		y.F[i] = float32((float64(x.F[i]) - mean) / (math.Sqrt(math.Max(variance, 0)) + 1e-9))
	})
	return one(y), nil
}

func nonZero(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	st := strides(x.Shape)
	var hits []int
	for i := 0; i < x.Len(); i++ {
		if x.Float(i) != 0 {
			hits = append(hits, i)
		}
	}
	out := c.zero(xgraph.Int64, r, len(hits))
	co := make([]int, r)
	for j, i := range hits {
		coords(i, st, co)
		for d := 0; d < r; d++ {
			out.I[d*len(hits)+j] = int64(co[d])
		}
	}
	return one(out), nil
}

// nll computes the negative log-likelihood loss of log-probabilities lp
// (N×C×d...) against integer targets, with optional class weights.
func nll(c *call, lp, target, weight *xgraph.Tensor) (*xgraph.Tensor, error) {
	if len(lp.Shape) < 2 || len(target.Shape) != len(lp.Shape)-1 {
		return nil, c.errorf("input %v and target %v do not match", lp.Shape, target.Shape)
	}
	N, C, inner := lp.Shape[0], lp.Shape[1], numel(lp.Shape[2:])
	ignore, hasIgnore := int64(0), c.n.Has("ignore_index")
	if hasIgnore {
		ignore = c.n.Int("ignore_index")
	}
	loss := c.zero(lp.DType, target.Shape...)
	var wsum, lsum float64
	tv := target.Ints()
	for n := 0; n < N; n++ {
		for q := 0; q < inner; q++ {
			i := n*inner + q
			t := tv[i]
			if hasIgnore && t == ignore {
				continue
			}
			if t < 0 || t >= int64(C) {
				return nil, c.errorf("target %d out of range for %d classes", t, C)
			}
			w := 1.0
			if weight != nil {
				w = float64(weight.F[t])
			}
			l := -float64(lp.F[(n*C+int(t))*inner+q]) * w
			loss.F[i] = float32(l)
			lsum += l
			wsum += w
		}
	}
	switch red := c.n.String("reduction"); red {
	case "none":
		return loss, nil
	case "sum":
		return xgraph.NewFloat([]float32{float32(lsum)}).WithType(lp.DType), nil
	case "mean":
		if wsum == 0 {
			return xgraph.NewFloat([]float32{0}).WithType(lp.DType), nil
		}
		return xgraph.NewFloat([]float32{float32(lsum / wsum)}).WithType(lp.DType), nil
	default:
		return nil, c.unsupported("reduction", "value %q", red)
	}
}

func nllLoss(c *call) ([]*xgraph.Tensor, error) {
	lp, err := c.float(0)
	if err != nil {
		return nil, err
	}
	target, err := c.need(1)
	if err != nil {
		return nil, err
	}
	out, err := nll(c, lp, target, c.input(2))
	if err != nil {
		return nil, err
	}
	return one(out), nil
}

func sceLoss(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	target, err := c.need(1)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 2 {
		return nil, c.errorf("scores %v must be N×C×...", x.Shape)
	}
	N, C, inner := x.Shape[0], x.Shape[1], numel(x.Shape[2:])
	lp := c.zero(x.DType, x.Shape...)
	for n := 0; n < N; n++ {
		for q := 0; q < inner; q++ {
			m := math.Inf(-1)
			for ch := 0; ch < C; ch++ {
				m = math.Max(m, float64(x.F[(n*C+ch)*inner+q]))
			}
			var s float64
			for ch := 0; ch < C; ch++ {
				s += math.Exp(float64(x.F[(n*C+ch)*inner+q]) - m)
			}
			for ch := 0; ch < C; ch++ {
				i := (n*C+ch)*inner + q
				lp.F[i] = float32(float64(x.F[i]) - m - math.Log(s))
			}
		}
	}
	loss, err := nll(c, lp, target, c.input(2))
	if err != nil {
		return nil, err
	}
	return []*xgraph.Tensor{loss, lp}, nil
}
