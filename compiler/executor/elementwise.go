package executor

import (
	"math"

	"argus/compiler/xgraph"
)

// unaryFloat lists the float element-wise operators as float64 functions
// of the input and the node (for attributes).
var unaryFloat = map[string]func(n *xgraph.Node) func(x float64) float64{
	"Relu":       plain(func(x float64) float64 { return math.Max(x, 0) }),
	"Sigmoid":    plain(sigmoid),
	"Tanh":       plain(math.Tanh),
	"Sqrt":       plain(math.Sqrt),
	"Exp":        plain(math.Exp),
	"Log":        plain(math.Log),
	"Erf":        plain(math.Erf),
	"Reciprocal": plain(func(x float64) float64 { return 1 / x }),
	"Floor":      plain(math.Floor),
	"Ceil":       plain(math.Ceil),
	"Round":      plain(math.RoundToEven),
	"Sin":        plain(math.Sin),
	"Cos":        plain(math.Cos),
	"Tan":        plain(math.Tan),
	"Asin":       plain(math.Asin),
	"Acos":       plain(math.Acos),
	"Atan":       plain(math.Atan),
	"Sinh":       plain(math.Sinh),
	"Cosh":       plain(math.Cosh),
	"Asinh":      plain(math.Asinh),
	"Acosh":      plain(math.Acosh),
	"Atanh":      plain(math.Atanh),
	"Softplus": plain(func(x float64) float64 {
		if x > 30 {
			return x
		}
		return math.Log1p(math.Exp(x))
	}),
	"Softsign":  plain(func(x float64) float64 { return x / (1 + math.Abs(x)) }),
	"HardSwish": plain(func(x float64) float64 { return x * math.Max(0, math.Min(1, x/6+0.5)) }),
	"LeakyRelu": func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha"))
		return func(x float64) float64 {
			if x < 0 {
				return a * x
			}
			return x
		}
	},
	"Elu": func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha"))
		return func(x float64) float64 {
			if x < 0 {
				return a * (math.Exp(x) - 1)
			}
			return x
		}
	},
	"Celu": func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha"))
		return func(x float64) float64 { return math.Max(0, x) + math.Min(0, a*(math.Exp(x/a)-1)) }
	},
	"Selu": func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha"))
		g := float64(n.Float("gamma"))
		return func(x float64) float64 {
			if x <= 0 {
				return g * (a*math.Exp(x) - a)
			}
			return g * x
		}
	},
	"HardSigmoid": func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha"))
		b := float64(n.Float("beta"))
		return func(x float64) float64 { return math.Max(0, math.Min(1, a*x+b)) }
	},
	"ThresholdedRelu": func(n *xgraph.Node) func(float64) float64 {
		a := float64(n.Float("alpha"))
		return func(x float64) float64 {
			if x > a {
				return x
			}
			return 0
		}
	},
	"Shrink": func(n *xgraph.Node) func(float64) float64 {
		l := float64(n.Float("lambd"))
		b := float64(n.Float("bias"))
		return func(x float64) float64 {
			switch {
			case x < -l:
				return x + b
			case x > l:
				return x - b
			}
			return 0
		}
	},
	"Gelu": func(n *xgraph.Node) func(float64) float64 {
		if n.String("approximate") == "tanh" {
			return func(x float64) float64 {
				return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
			}
		}
		return func(x float64) float64 { return 0.5 * x * (1 + math.Erf(x/math.Sqrt2)) }
	},
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
		register(name, func(c *call) ([]*xgraph.Tensor, error) {
			x, err := c.float(0)
			if err != nil {
				return nil, err
			}
			f := u(c.n)
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
		})
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
	})
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
	register("Clip", clip)
}

func unaryNum(c *call, f func(float64) float64, g func(int64) int64) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	out := c.zero(x.DType, x.Shape...)
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
		lo = float64(c.n.Float("min"))
		hi = float64(c.n.Float("max"))
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
