package autograd

import (
	"math"

	"argus/internal/kernels"
	"argus/internal/par"
	"argus/tensor"
)

// binKind names a broadcasting binary arithmetic operation.
type binKind int

const (
	binAdd binKind = iota
	binSub
	binMul
	binDiv
)

// binary computes a op b with NumPy broadcasting. Equal shapes and scalar
// operands take loops without a per-element call.
func binary(a, b *tensor.Tensor, k binKind) *tensor.Tensor {
	ad, bd := a.Data(), b.Data()
	if tensor.EqualShapes(a.Shape(), b.Shape()) {
		out := tensor.Zeros(a.Shape()...)
		od := out.Data()
		chunks(len(ad), func(lo, hi int) { sameShape(ad[lo:hi], bd[lo:hi], od[lo:hi], k) })
		return out
	}
	if len(bd) == 1 && len(b.Shape()) <= len(a.Shape()) {
		y := bd[0]
		out := tensor.Zeros(a.Shape()...)
		od := out.Data()
		switch k {
		case binAdd:
			for i, x := range ad {
				od[i] = x + y
			}
		case binSub:
			for i, x := range ad {
				od[i] = x - y
			}
		case binMul:
			for i, x := range ad {
				od[i] = x * y
			}
		case binDiv:
			for i, x := range ad {
				od[i] = x / y
			}
		}
		return out
	}
	if outer, mid, inner, ok := tensor.BlockBroadcast(b.Shape(), a.Shape()); ok {
		out := tensor.Zeros(a.Shape()...)
		blockBinary(ad, bd, out.Data(), outer, mid, inner, k, false)
		return out
	}
	if outer, mid, inner, ok := tensor.BlockBroadcast(a.Shape(), b.Shape()); ok {
		out := tensor.Zeros(b.Shape()...)
		blockBinary(bd, ad, out.Data(), outer, mid, inner, k, true)
		return out
	}
	var f func(x, y float32) float32
	switch k {
	case binAdd:
		f = func(x, y float32) float32 { return x + y }
	case binSub:
		f = func(x, y float32) float32 { return x - y }
	case binMul:
		f = func(x, y float32) float32 { return x * y }
	case binDiv:
		f = func(x, y float32) float32 { return x / y }
	}
	return tensor.Binary(a, b, f)
}

// blockBinary computes out = full op small for full of shape outer × mid ×
// inner and small of mid values broadcast over it; with swap the operands'
// roles in op are exchanged (small op full).
func blockBinary(full, small, out []float32, outer, mid, inner int, k binKind, swap bool) {
	i := 0
	for range outer {
		for _, y := range small[:mid] {
			src, dst := full[i:i+inner], out[i:i+inner]
			switch {
			case k == binAdd:
				for j, x := range src {
					dst[j] = x + y
				}
			case k == binMul:
				for j, x := range src {
					dst[j] = x * y
				}
			case k == binSub && !swap:
				for j, x := range src {
					dst[j] = x - y
				}
			case k == binSub:
				for j, x := range src {
					dst[j] = y - x
				}
			case k == binDiv && !swap:
				for j, x := range src {
					dst[j] = x / y
				}
			default:
				for j, x := range src {
					dst[j] = y / x
				}
			}
			i += inner
		}
	}
}

// sameShape computes od = ad op bd element-wise.
func sameShape(ad, bd, od []float32, k binKind) {
	bd = bd[:len(ad)]
	od = od[:len(ad)]
	switch k {
	case binAdd:
		for i, x := range ad {
			od[i] = x + bd[i]
		}
	case binSub:
		for i, x := range ad {
			od[i] = x - bd[i]
		}
	case binMul:
		for i, x := range ad {
			od[i] = x * bd[i]
		}
	case binDiv:
		for i, x := range ad {
			od[i] = x / bd[i]
		}
	}
}

// Add returns a + b with NumPy broadcasting.
func Add(a, b *Var) *Var { return Apply(&binaryOp{a: a, b: b, kind: binAdd}) }

// Sub returns a - b with NumPy broadcasting.
func Sub(a, b *Var) *Var { return Apply(&binaryOp{a: a, b: b, kind: binSub}) }

// Mul returns the element-wise product a * b with NumPy broadcasting.
func Mul(a, b *Var) *Var { return Apply(&binaryOp{a: a, b: b, kind: binMul}) }

// Div returns the element-wise quotient a / b with NumPy broadcasting.
func Div(a, b *Var) *Var { return Apply(&binaryOp{a: a, b: b, kind: binDiv}) }

type binaryOp struct {
	a, b *Var
	kind binKind
	out  *tensor.Tensor
}

func (o *binaryOp) Operands() []*Var { return []*Var{o.a, o.b} }

func (o *binaryOp) Forward() *tensor.Tensor {
	o.out = binary(o.a.value, o.b.value, o.kind)
	return o.out
}

func (o *binaryOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	var ga, gb *tensor.Tensor
	aShape, bShape := o.a.Shape(), o.b.Shape()
	switch o.kind {
	case binAdd:
		if o.a.requiresGrad {
			ga = tensor.SumTo(g, aShape)
		}
		if o.b.requiresGrad {
			gb = tensor.SumTo(g, bShape)
		}
	case binSub:
		if o.a.requiresGrad {
			ga = tensor.SumTo(g, aShape)
		}
		if o.b.requiresGrad {
			gb = negate(tensor.SumTo(g, bShape))
		}
	case binMul:
		if o.a.requiresGrad {
			ga = tensor.SumTo(binary(g, o.b.value, binMul), aShape)
		}
		if o.b.requiresGrad {
			gb = tensor.SumTo(binary(g, o.a.value, binMul), bShape)
		}
	case binDiv:
		q := binary(g, o.b.value, binDiv)
		if o.a.requiresGrad {
			ga = tensor.SumTo(q, aShape)
		}
		if o.b.requiresGrad {
			// d(a/b)/db = -(a/b)/b, so gb = -sum(g/b * out).
			t := binary(q, o.out, binMul)
			gb = negate(tensor.SumTo(t, bShape))
		}
	}
	return []*tensor.Tensor{ga, gb}
}

// negate returns -t as a new tensor.
func negate(t *tensor.Tensor) *tensor.Tensor {
	out := tensor.Zeros(t.Shape()...)
	od := out.Data()
	for i, v := range t.Data() {
		od[i] = -v
	}
	return out
}

// unaryOp is an element-wise function of one operand. fwd writes f(x) into
// y; bwd writes the input gradient gx given x, y = f(x) and the output
// gradient g. The functions work on whole slices so that the per-element
// work has no indirect calls.
type unaryOp struct {
	x    *Var
	y    *tensor.Tensor
	desc Description
	fwd  func(x, y []float32)
	bwd  func(x, y, g, gx []float32)
}

func (o *unaryOp) Operands() []*Var { return []*Var{o.x} }

// chunk is the number of elements below which element-wise work stays on
// one goroutine.
const chunk = 1 << 15

// chunks runs fn over [0, n) in parallel pieces when n is large.
func chunks(n int, fn func(lo, hi int)) {
	if n < 2*chunk {
		fn(0, n)
		return
	}
	par.Workers((n+chunk-1)/chunk, 0, func(_, lo, hi int) { fn(lo*chunk, min(hi*chunk, n)) })
}

func (o *unaryOp) Forward() *tensor.Tensor {
	o.y = tensor.Zeros(o.x.Shape()...)
	x, y := o.x.value.Data(), o.y.Data()
	chunks(len(x), func(lo, hi int) { o.fwd(x[lo:hi], y[lo:hi]) })
	return o.y
}

func (o *unaryOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	gx := tensor.Zeros(o.x.Shape()...)
	x, y, gd, gxd := o.x.value.Data(), o.y.Data(), g.Data(), gx.Data()
	chunks(len(x), func(lo, hi int) { o.bwd(x[lo:hi], y[lo:hi], gd[lo:hi], gxd[lo:hi]) })
	return []*tensor.Tensor{gx}
}

// unary applies the element-wise function that desc names; desc is what
// the op tells exporters, since its functions cannot say.
func unary(x *Var, desc Description, fwd func(x, y []float32), bwd func(x, y, g, gx []float32)) *Var {
	return Apply(&unaryOp{x: x, desc: desc, fwd: fwd, bwd: bwd})
}

// Neg returns -x.
func Neg(x *Var) *Var { return Scale(x, -1) }

// Scale returns s * x for a constant s.
func Scale(x *Var, s float32) *Var {
	return unary(x, Description{Kind: "Scale", Attrs: map[string]any{"factor": s}},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = s * v
			}
		},
		func(_, _, g, gx []float32) {
			for i, v := range g {
				gx[i] = s * v
			}
		})
}

// AddScalar returns x + s for a constant s.
func AddScalar(x *Var, s float32) *Var {
	return unary(x, Description{Kind: "AddScalar", Attrs: map[string]any{"value": s}},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = v + s
			}
		},
		func(_, _, g, gx []float32) { copy(gx, g) })
}

// ReLU returns max(x, 0). Its gradient at 0 is 0, and a NaN stays NaN and
// passes no gradient, as in PyTorch.
func ReLU(x *Var) *Var {
	return unary(x, Description{Kind: "ReLU"},
		func(x, y []float32) { kernels.ReLU(y, x) },
		func(_, y, g, gx []float32) { kernels.ReLUGrad(gx, g, y) })
}

// LeakyReLU returns x for x > 0 and slope*x otherwise.
func LeakyReLU(x *Var, slope float32) *Var {
	return unary(x, Description{Kind: "LeakyReLU", Attrs: map[string]any{"slope": slope}},
		func(x, y []float32) {
			for i, v := range x {
				if v > 0 {
					y[i] = v
				} else {
					y[i] = slope * v
				}
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				if v > 0 {
					gx[i] = g[i]
				} else {
					gx[i] = slope * g[i]
				}
			}
		})
}

// Exp returns e^x.
func Exp(x *Var) *Var {
	return unary(x, Description{Kind: "Exp"},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = float32(math.Exp(float64(v)))
			}
		},
		func(_, y, g, gx []float32) {
			for i, v := range y {
				gx[i] = g[i] * v
			}
		})
}

// Log returns the natural logarithm of x.
func Log(x *Var) *Var {
	return unary(x, Description{Kind: "Log"},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = float32(math.Log(float64(v)))
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				gx[i] = g[i] / v
			}
		})
}

// Sqrt returns the square root of x.
func Sqrt(x *Var) *Var {
	return unary(x, Description{Kind: "Sqrt"},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = float32(math.Sqrt(float64(v)))
			}
		},
		func(_, y, g, gx []float32) {
			for i, v := range y {
				gx[i] = g[i] / (2 * v)
			}
		})
}

// Pow returns x raised to the constant power p.
func Pow(x *Var, p float32) *Var {
	pp := float64(p)
	return unary(x, Description{Kind: "Pow", Attrs: map[string]any{"exponent": p}},
		func(x, y []float32) {
			if p == 2 {
				for i, v := range x {
					y[i] = v * v
				}
				return
			}
			for i, v := range x {
				y[i] = float32(math.Pow(float64(v), pp))
			}
		},
		func(x, _, g, gx []float32) {
			if p == 2 {
				for i, v := range x {
					gx[i] = 2 * v * g[i]
				}
				return
			}
			for i, v := range x {
				gx[i] = g[i] * float32(pp*math.Pow(float64(v), pp-1))
			}
		})
}

// Abs returns |x|. Its gradient at 0 is 0, as in PyTorch.
func Abs(x *Var) *Var {
	return unary(x, Description{Kind: "Abs"},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = float32(math.Abs(float64(v)))
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				switch {
				case v > 0:
					gx[i] = g[i]
				case v < 0:
					gx[i] = -g[i]
				}
			}
		})
}

// Clamp limits x to [lo, hi]. Use ±Inf for a one-sided clamp. The gradient
// passes where lo <= x <= hi, as in PyTorch.
func Clamp(x *Var, lo, hi float32) *Var {
	return unary(x, Description{Kind: "Clamp", Attrs: map[string]any{"min": lo, "max": hi}},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = min(max(v, lo), hi)
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				if v >= lo && v <= hi {
					gx[i] = g[i]
				}
			}
		})
}

// Sigmoid returns 1 / (1 + e^-x).
func Sigmoid(x *Var) *Var {
	return unary(x, Description{Kind: "Sigmoid"},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = sigmoid(v)
			}
		},
		func(_, y, g, gx []float32) {
			for i, v := range y {
				gx[i] = g[i] * v * (1 - v)
			}
		})
}

func sigmoid(v float32) float32 {
	if v >= 0 {
		return float32(1 / (1 + math.Exp(-float64(v))))
	}
	e := math.Exp(float64(v))
	return float32(e / (1 + e))
}

// Tanh returns the hyperbolic tangent of x.
func Tanh(x *Var) *Var {
	return unary(x, Description{Kind: "Tanh"},
		func(x, y []float32) {
			for i, v := range x {
				y[i] = float32(math.Tanh(float64(v)))
			}
		},
		func(_, y, g, gx []float32) {
			for i, v := range y {
				gx[i] = g[i] * (1 - v*v)
			}
		})
}

// Softplus returns log(1 + e^x), and x itself where x > 20, as PyTorch's
// default threshold does.
func Softplus(x *Var) *Var {
	return unary(x, Description{Kind: "Softplus"},
		func(x, y []float32) {
			for i, v := range x {
				if v > 20 {
					y[i] = v
				} else {
					y[i] = float32(math.Log1p(math.Exp(float64(v))))
				}
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				if v > 20 {
					gx[i] = g[i]
				} else {
					gx[i] = g[i] * sigmoid(v)
				}
			}
		})
}

// GELU returns x·Φ(x) with Φ the standard normal distribution function, in
// its exact erf form: 0.5·x·(1 + erf(x/√2)). The erf is Abramowitz and
// Stegun's 7.1.26 (absolute error below 1.5e-7), the form PyTorch's
// vectorised CPU kernels evaluate, sharing its exp(−x²/2) with the
// derivative Φ(x) + x·φ(x) in the backward pass.
func GELU(x *Var) *Var {
	return unary(x, Description{Kind: "GELU"},
		func(x, y []float32) {
			for i, v := range x {
				cdf, _ := normalCDF(float64(v))
				y[i] = float32(float64(v) * cdf)
			}
		},
		func(x, _, g, gx []float32) {
			for i, v := range x {
				xv := float64(v)
				cdf, pdf := normalCDF(xv)
				gx[i] = g[i] * float32(cdf+xv*pdf)
			}
		})
}

// normalCDF returns Φ(x) = 0.5·(1 + erf(x/√2)) and the density φ(x), with
// erf from Abramowitz and Stegun's formula 7.1.26:
// erf(z) ≈ 1 − t·(a1 + t·(a2 + t·(a3 + t·(a4 + t·a5))))·exp(−z²),
// t = 1/(1 + p·z) for z ≥ 0, odd in z.
func normalCDF(x float64) (cdf, pdf float64) {
	const (
		invSqrt2Pi = 0.3989422804014327
		p          = 0.3275911
		a1         = 0.254829592
		a2         = -0.284496736
		a3         = 1.421413741
		a4         = -1.453152027
		a5         = 1.061405429
	)
	e := math.Exp(-0.5 * x * x) // exp(−z²) for z = x/√2
	z := math.Abs(x) / math.Sqrt2
	t := 1 / (1 + p*z)
	erf := 1 - t*(a1+t*(a2+t*(a3+t*(a4+t*a5))))*e
	if x < 0 {
		erf = -erf
	}
	return 0.5 * (1 + erf), invSqrt2Pi * e
}
