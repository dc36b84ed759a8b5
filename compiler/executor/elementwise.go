package executor

import (
	"math"

	"argus/compiler/xgraph"
)

// unaryFloat lists the float element-wise operators as float64 functions
// of the input and the node (for attributes).
var unaryFloat = map[string]struct {
	f     func(n *xgraph.Node) func(x float64) float64
	attrs []string
}{
	"Relu":       {plain(func(x float64) float64 { return math.Max(x, 0) }), nil},
	"Sigmoid":    {plain(sigmoid), nil},
	"Tanh":       {plain(math.Tanh), nil},
	"Sqrt":       {plain(math.Sqrt), nil},
	"Exp":        {plain(math.Exp), nil},
	"Log":        {plain(math.Log), nil},
	"Erf":        {plain(math.Erf), nil},
	"Reciprocal": {plain(func(x float64) float64 { return 1 / x }), nil},
	"Floor":      {plain(math.Floor), nil},
	"Ceil":       {plain(math.Ceil), nil},
	"Round":      {plain(math.RoundToEven), nil},
	"Sin":        {plain(math.Sin), nil},
	"Cos":        {plain(math.Cos), nil},
	"Tan":        {plain(math.Tan), nil},
	"Asin":       {plain(math.Asin), nil},
	"Acos":       {plain(math.Acos), nil},
	"Atan":       {plain(math.Atan), nil},
	"Sinh":       {plain(math.Sinh), nil},
	"Cosh":       {plain(math.Cosh), nil},
	"Asinh":      {plain(math.Asinh), nil},
	"Acosh":      {plain(math.Acosh), nil},
	"Atanh":      {plain(math.Atanh), nil},
	"Softplus": {plain(func(x float64) float64 {
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	}), nil},
	"Softsign":  {plain(func(x float64) float64 { return x / (1 + math.Abs(x)) }), nil},
	"HardSwish": {plain(func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }), nil},
	"LeakyRelu": {func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha", 0.01))
		return func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}
	}, []string{"alpha"}},
	"Elu": {func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha", 1))
		return func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}
	}, []string{"alpha"}},
	"Celu": {func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha", 1))
		return func(x float64) float64 { return math.Max(0, x) + math.Min(0, a*(math.Exp(x/a)-1)) }
	}, []string{"alpha"}},
	"Selu": {func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha", 1.67326319217681884765625))
		g := float64(n.Float("gamma", 1.05070102214813232421875))
		return func(x float64) float64 {
			if x <= 0 {
				return g * (a*math.Exp(x) - a)
			}
			return g * x
		}
	}, []string{"alpha", "gamma"}},
	"HardSigmoid": {func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha", 0.2))
		b := float64(n.Float("beta", 0.5))
		return func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }
	}, []string{"alpha", "beta"}},
	"ThresholdedRelu": {func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha", 1))
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}
	}, []string{"alpha"}},
	"Shrink": {func(n *xgraph.Node) func(float64) float64 {
		l := float64(n.Float("lambd", 0.5))
		b := float64(n.Float("bias", 0))
		return func(x float64) float64 {
			switch {
			case x < -l:
				return x + b
			case x > l:
				return x - b
			}
			return 0
		}
	}, []string{"lambd", "bias"}},
	"Gelu": {func(n *xgraph.Node) func(float64) float64 {
		if n.String("approximate", "none") == "tanh" {
			return func(x float64) float64 {
				return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
			}
		}
		return func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	}, []string{"approximate"}},
}

func plain(f func(float64) float64) func(*xgraph.Node) func(float64) float64 {
	return func(*xgraph.Node) func(float64) float64 { return f }
}

func sigmoid(x float64) float64 {
	if x >= 0 {
		return 1 / (1 + math.Exp(-x))
	}
	e := math.Exp(x)
	return e / (1 + e)
}

func init() {
	for name, u := range unaryFloat {
		u := u
		attrs := append([]string{"consumed_inputs"}, u.attrs...)
		register(name, func(c *call) ([]*xgraph.Tensor, error) {
			x, err := c.float(0)
			if err != nil {
				return nil, err
			}
			if g := c.n.String("approximate", "none"); c.n.Op == "Gelu" && g != "none" && g != "tanh" {
				return nil, c.unsupported("approximate", "value %q", g)
			}
			f := u.f(c.n)
			out := c.alloc(x.DType, x.Shape...)
			if c.n.Op == "Relu" {
				for i, v := range x.F {
					out.F[i] = max(v, 0)
				}
				return one(out), nil
			}
			for i, v := range x.F {
				out.F[i] = float32(f(float64(v)))
			}
			return one(out), nil
		}, attrs...)
	}
	register("Neg", func(c *call) ([]*xgraph.Tensor, error) {
		return unaryNum(c, func(x float64) float64 { return -x }, func(x int64) int64 { return -x })
	})
	register("Abs", func(c *call) ([]*xgraph.Tensor, error) {
		return unaryNum(c, math.Abs, func(x int64) int64 {
			if x < 0 {
				return -x
			}
			return x
		})
	}, "consumed_inputs")
	register("Sign", func(c *call) ([]*xgraph.Tensor, error) {
		sign := func(x float64) float64 {
			switch {
			case x > 0:
				return 1
			case x < 0:
				return -1
			}
			return x
		}
		return unaryNum(c, sign, func(x int64) int64 { return int64(sign(float64(x))) })
	})
	register("Not", func(c *call) ([]*xgraph.Tensor, error) {
		x, err := c.need(0)
		if err != nil {
			return nil, err
		}
		out := boolTensor(x.Shape)
		for i := range out.I {
			if x.Float(i) == 0 {
				out.I[i] = 1
			}
		}
		return one(out), nil
	})
	register("IsNaN", func(c *call) ([]*xgraph.Tensor, error) {
		x, err := c.float(0)
		if err != nil {
			return nil, err
		}
		out := boolTensor(x.Shape)
		for i, v := range x.F {
			if v != v {
				out.I[i] = 1
			}
		}
		return one(out), nil
	})
	register("Clip", clip, "min", "max", "consumed_inputs")
}

func unaryNum(c *call, f func(float64) float64, g func(int64) int64) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	out := xgraph.Zero(x.DType, x.Shape...)
	if x.DType.IsFloat() {
		for i, v := range x.F {
			out.F[i] = float32(f(float64(v)))
		}
	} else {
		for i, v := range x.I {
			out.I[i] = x.DType.Wrap(g(v))
		}
	}
	return one(out), nil
}

func clip(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	lo, hi := math.Inf(-1), math.Inf(1)
	if c.opset < 11 {
		lo = float64(c.n.Float("min", float32(math.Inf(-1))))
		hi = float64(c.n.Float("max", float32(math.Inf(1))))
	} else {
		if t := c.input(1); t != nil && t.Len() > 0 {
			lo = t.Float(0)
		}
		if t := c.input(2); t != nil && t.Len() > 0 {
			hi = t.Float(0)
		}
	}
	out := c.alloc(x.DType, x.Shape...)
	if x.DType.IsFloat() {
		l, h := float32(lo), float32(hi)
		for i, v := range x.F {
			if v < l {
				v = l
			}
			if v > h {
				v = h
			}
			out.F[i] = v
		}
	} else {
		for i, v := range x.I {
			f := math.Min(math.Max(float64(v), lo), hi)
			out.I[i] = int64(f)
		}
	}
	return one(out), nil
}
