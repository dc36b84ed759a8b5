package executor

import (
	"math"

	"argus/compiler/xgraph"
)

// reducer folds values into an accumulator and finishes it.
type reducer struct {
	init   float64
	add    func(acc, v float64) float64
	finish func(acc float64, n int) float64
}

var reducers = map[string]reducer{
	"ReduceSum":       {0, func(a, v float64) float64 { return a + v }, nil},
	"ReduceMean":      {0, func(a, v float64) float64 { return a + v }, func(a float64, n int) float64 { return a / float64(n) }},
	"ReduceMax":       {math.Inf(-1), math.Max, nil},
	"ReduceMin":       {math.Inf(1), math.Min, nil},
	"ReduceProd":      {1, func(a, v float64) float64 { return a * v }, nil},
	"ReduceSumSquare": {0, func(a, v float64) float64 { return a + v*v }, nil},
	"ReduceL1":        {0, func(a, v float64) float64 { return a + math.Abs(v) }, nil},
	"ReduceL2":        {0, func(a, v float64) float64 { return a + v*v }, func(a float64, _ int) float64 { return math.Sqrt(a) }},
	"ReduceLogSum":    {0, func(a, v float64) float64 { return a + v }, func(a float64, _ int) float64 { return math.Log(a) }},
	"ReduceLogSumExp": {0, func(a, v float64) float64 { return a + math.Exp(v) }, func(a float64, _ int) float64 { return math.Log(a) }},
}

func init() {
	for name, r := range reducers {
		r := r
		register(name, func(c *call) ([]*xgraph.Tensor, error) { return reduce(c, r) })
	}
	register("ArgMax", argReduce)
	register("ArgMin", argReduce)
}

func reduce(c *call, r reducer) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	rank := len(x.Shape)
	axes, given, err := c.axesArg(1, rank)
	if err != nil {
		return nil, err
	}
	if given && len(axes) == 0 {
		given = false
	}
	if !given && c.n.Int("noop_with_empty_axes") != 0 {
		return one(x), nil
	}
	red := make([]bool, rank)
	for _, a := range axes {
		red[a] = true
	}
	if !given {
		for i := range red {
			red[i] = true
		}
	}
	keep := c.n.Int("keepdims") != 0
	kshape := make([]int, rank)
	var oshape []int
	for i, d := range x.Shape {
		kshape[i] = d
		if red[i] {
			kshape[i] = 1
			if keep {
				oshape = append(oshape, 1)
			}
		} else {
			oshape = append(oshape, d)
		}
	}
	m := numel(kshape)
	acc := make([]float64, m)
	for i := range acc {
		acc[i] = r.init
	}
	// Each input element adds into the output element that keeps its
	// unreduced coordinates.
	st := strides(kshape)
	for i := range st {
		if red[i] {
			st[i] = 0
		}
	}
	walk(x.Shape, st, func(i, off int) { acc[off] = r.add(acc[off], x.Float(i)) })
	cnt := 1
	if x.Len() > 0 {
		cnt = x.Len() / max(m, 1)
	}
	out := c.zero(x.DType, oshape...)
	for i, a := range acc {
		if r.finish != nil {
			a = r.finish(a, cnt)
		}
		if out.DType.IsFloat() {
			out.F[i] = float32(a)
		} else {
			out.I[i] = x.DType.Wrap(int64(a))
		}
	}
	return one(out), nil
}

func argReduce(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	ax, err := axis(c.n.Int("axis"), len(x.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	last := c.n.Int("select_last_index") != 0
	isMax := c.n.Op == "ArgMax"
	outer, n, inner := numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	shape := append([]int{}, x.Shape...)
	shape[ax] = 1
	out := c.zero(xgraph.Int64, shape...)
	for o := 0; o < outer; o++ {
		for q := 0; q < inner; q++ {
			best, arg := 0.0, 0
			for i := 0; i < n; i++ {
				v := x.Float((o*n+i)*inner + q)
				better := i == 0 || (isMax && v > best) || (!isMax && v < best) || (last && v == best)
				if better {
					best, arg = v, i
				}
			}
			out.I[o*inner+q] = int64(arg)
		}
	}
	if c.n.Int("keepdims") == 0 {
		shape = append(shape[:ax], shape[ax+1:]...)
		out = out.Reshaped(shape)
	}
	return one(out), nil
}
