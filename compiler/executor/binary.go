package executor

import (
	"math"

	"argus/compiler/xgraph"
)

type binaryDef struct {
	f func(a, b float64) float64 // float inputs
	i func(a, b int64) int64     // integer inputs; nil when floats only
	// cmp marks comparisons and logical operators, which return booleans.
	cmp bool
}

var binaryOps = map[string]binaryDef{
	"Add": {f: func(a, b float64) float64 { return a + b }, i: func(a, b int64) int64 { return a + b }},
	"Sub": {f: func(a, b float64) float64 { return a - b }, i: func(a, b int64) int64 { return a - b }},
	"Mul": {f: func(a, b float64) float64 { return a * b }, i: func(a, b int64) int64 { return a * b }},
	"Div": {f: func(a, b float64) float64 { return a / b }, i: func(a, b int64) int64 {
		if b == 0 {
			return 0
		}
		return a / b
	}},
	"Pow": {f: math.Pow, i: func(a, b int64) int64 { return int64(math.Pow(float64(a), float64(b))) }},
	"PRelu": {f: func(x, s float64) float64 {
		if x < 0 {
			return s * x
		}
		return x
	}, i: func(x, s int64) int64 {
		if x < 0 {
			return s * x
		}
		return x
	}},
	"Max":            {f: math.Max, i: func(a, b int64) int64 { return max(a, b) }},
	"Min":            {f: math.Min, i: func(a, b int64) int64 { return min(a, b) }},
	"Equal":          {f: cmpf(func(a, b float64) bool { return a == b }), i: cmpi(func(a, b int64) bool { return a == b }), cmp: true},
	"Greater":        {f: cmpf(func(a, b float64) bool { return a > b }), i: cmpi(func(a, b int64) bool { return a > b }), cmp: true},
	"Less":           {f: cmpf(func(a, b float64) bool { return a < b }), i: cmpi(func(a, b int64) bool { return a < b }), cmp: true},
	"GreaterOrEqual": {f: cmpf(func(a, b float64) bool { return a >= b }), i: cmpi(func(a, b int64) bool { return a >= b }), cmp: true},
	"LessOrEqual":    {f: cmpf(func(a, b float64) bool { return a <= b }), i: cmpi(func(a, b int64) bool { return a <= b }), cmp: true},
	"And":            {i: cmpi(func(a, b int64) bool { return a != 0 && b != 0 }), cmp: true},
	"Or":             {i: cmpi(func(a, b int64) bool { return a != 0 || b != 0 }), cmp: true},
	"Xor":            {i: cmpi(func(a, b int64) bool { return (a != 0) != (b != 0) }), cmp: true},
}

func cmpf(f func(a, b float64) bool) func(a, b float64) float64 {
	return func(a, b float64) float64 {
		if f(a, b) {
			return 1
		}
		return 0
	}
}

func cmpi(f func(a, b int64) bool) func(a, b int64) int64 {
	return func(a, b int64) int64 {
		if f(a, b) {
			return 1
		}
		return 0
	}
}

func init() {
	for name, d := range binaryOps {
		d := d
		name := name
		fn := func(c *call) ([]*xgraph.Tensor, error) {
			if name == "Max" || name == "Min" {
				return variadic(c, d)
			}
			a, err := c.need(0)
			if err != nil {
				return nil, err
			}
			b, err := c.need(1)
			if err != nil {
				return nil, err
			}
			if b, err = legacyBroadcast(c, a, b); err != nil {
				return nil, err
			}
			out, err := binary(c, d, a, b)
			if err != nil {
				return nil, err
			}
			return one(out), nil
		}
		register(name, fn)
	}
	register("Sum", func(c *call) ([]*xgraph.Tensor, error) { return variadic(c, binaryOps["Add"]) })
	register("Mean", func(c *call) ([]*xgraph.Tensor, error) {
		out, err := variadic(c, binaryOps["Add"])
		if err != nil {
			return nil, err
		}
		k := float32(len(c.in))
		for i := range out[0].F {
			out[0].F[i] /= k
		}
		return out, nil
	})
	register("Mod", func(c *call) ([]*xgraph.Tensor, error) {
		a, err := c.need(0)
		if err != nil {
			return nil, err
		}
		b, err := c.need(1)
		if err != nil {
			return nil, err
		}
		d := binaryDef{
			f: math.Mod,
			i: func(a, b int64) int64 {
				if b == 0 {
					return 0
				}
				return a % b
			},
		}
		if c.n.Int("fmod") == 0 {
			if a.DType.IsFloat() {
				return nil, c.unsupported("fmod", "fmod=0 with float inputs")
			}
			d.i = func(a, b int64) int64 {
				if b == 0 {
					return 0
				}
				m := a % b
				if m != 0 && (m < 0) != (b < 0) {
					m += b
				}
				return m
			}
		}
		out, err := binary(c, d, a, b)
		if err != nil {
			return nil, err
		}
		return one(out), nil
	})
	register("Where", where)
}

// legacyBroadcast reshapes b for operator sets before 7, where broadcasting
// was explicit: with broadcast=1, b's dimensions line up with a's starting
// at axis (default: the trailing dimensions).
func legacyBroadcast(c *call, a, b *xgraph.Tensor) (*xgraph.Tensor, error) {
	if c.opset < 7 && c.n.Op == "PRelu" && len(b.Shape) == 1 && len(a.Shape) > 2 && b.Shape[0] == a.Shape[1] && b.Shape[0] != 1 {
		// Set 6's PRelu takes one slope per channel.
		shape := []int{b.Shape[0]}
		for len(shape) < len(a.Shape)-1 {
			shape = append(shape, 1)
		}
		return b.Reshaped(shape), nil
	}
	if c.opset >= 7 || c.n.Int("broadcast") == 0 || !c.n.Has("axis") {
		return b, nil
	}
	ax, err := axis(c.n.Int("axis"), len(a.Shape))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	shape := append([]int{}, b.Shape...)
	for len(shape)+ax < len(a.Shape) {
		shape = append(shape, 1)
	}
	return b.Reshaped(shape), nil
}

// binary applies d element-wise with numpy broadcasting.
func binary(c *call, d binaryDef, a, b *xgraph.Tensor) (*xgraph.Tensor, error) {
	shape, err := broadcast(a.Shape, b.Shape)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	// Index tables of the output's size are built below.
	c.check(a.DType, shape)
	af, bf := a.DType.IsFloat(), b.DType.IsFloat()
	outType := a.DType
	if d.cmp {
		outType = xgraph.Bool
	}
	n := numel(shape)
	out := c.alloc(outType, shape...)
	if af && bf && !d.cmp && equalInts(a.Shape, b.Shape) {
		// Same shapes (a residual addition, say): no index tables.
		x, y, z := a.F[:n], b.F[:n], out.F[:n]
		switch {
		case c.n.Op == "Add" && c.relu:
			for i := range z {
				z[i] = max(x[i]+y[i], 0)
			}
			return out, nil
		case c.n.Op == "Add":
			for i := range z {
				z[i] = x[i] + y[i]
			}
			return out, nil
		case c.n.Op == "Mul" && !c.relu:
			for i := range z {
				z[i] = x[i] * y[i]
			}
			return out, nil
		}
	}
	ia, ib := bindex(a.Shape, shape), bindex(b.Shape, shape)
	switch {
	case af && bf && !d.cmp:
		// The common float path: avoid the float64 round trip for the
		// four arithmetic operators.
		switch c.n.Op {
		case "Add":
			for i := 0; i < n; i++ {
				out.F[i] = a.F[ia[i]] + b.F[ib[i]]
			}
		case "Sub":
			for i := 0; i < n; i++ {
				out.F[i] = a.F[ia[i]] - b.F[ib[i]]
			}
		case "Mul":
			for i := 0; i < n; i++ {
				out.F[i] = a.F[ia[i]] * b.F[ib[i]]
			}
		case "Div":
			for i := 0; i < n; i++ {
				out.F[i] = a.F[ia[i]] / b.F[ib[i]]
			}
		default:
			for i := 0; i < n; i++ {
				out.F[i] = float32(d.f(float64(a.F[ia[i]]), float64(b.F[ib[i]])))
			}
		}
	case !af && !bf:
		if d.i == nil {
			return nil, xgraph.Unsupported(c.n, "", "integer inputs")
		}
		for i := 0; i < n; i++ {
			out.I[i] = outType.Wrap(d.i(a.I[ia[i]], b.I[ib[i]]))
		}
	default:
		if d.f == nil {
			return nil, xgraph.Unsupported(c.n, "", "float inputs")
		}
		for i := 0; i < n; i++ {
			v := d.f(a.Float(ia[i]), b.Float(ib[i]))
			if outType.IsFloat() {
				out.F[i] = float32(v)
			} else {
				out.I[i] = outType.Wrap(int64(v))
			}
		}
	}
	if c.relu && outType.IsFloat() {
		reluInPlace(out.F)
	}
	return out, nil
}

// variadic folds d over all inputs with broadcasting (Max, Min, Sum, Mean).
func variadic(c *call, d binaryDef) ([]*xgraph.Tensor, error) {
	acc, err := c.need(0)
	if err != nil {
		return nil, err
	}
	if len(c.in) == 1 {
		return one(acc.Clone()), nil
	}
	for i := 1; i < len(c.in); i++ {
		b, err := c.need(i)
		if err != nil {
			return nil, err
		}
		if acc, err = binary(c, d, acc, b); err != nil {
			return nil, err
		}
	}
	return one(acc), nil
}

func where(c *call) ([]*xgraph.Tensor, error) {
	cond, err := c.need(0)
	if err != nil {
		return nil, err
	}
	x, err := c.need(1)
	if err != nil {
		return nil, err
	}
	y, err := c.need(2)
	if err != nil {
		return nil, err
	}
	if x.DType.IsFloat() != y.DType.IsFloat() {
		return nil, c.errorf("X is %s, Y %s", x.DType, y.DType)
	}
	shape, err := broadcast(cond.Shape, x.Shape, y.Shape)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	c.check(x.DType, shape)
	ic, ix, iy := bindex(cond.Shape, shape), bindex(x.Shape, shape), bindex(y.Shape, shape)
	out := c.zero(x.DType, shape...)
	for i := range ic {
		take := cond.Float(ic[i]) != 0
		if x.DType.IsFloat() {
			if take {
				out.F[i] = x.F[ix[i]]
			} else {
				out.F[i] = y.F[iy[i]]
			}
		} else if take {
			out.I[i] = x.I[ix[i]]
		} else {
			out.I[i] = y.I[iy[i]]
		}
	}
	return one(out), nil
}
