package autograd

import (
	"fmt"
	"math"

	"argus/tensor"
)

// Softmax returns exp(x) normalised to sum to one along axis (negative
// values count from the end). It panics when the axis is empty.
func Softmax(x *Var, axis int) *Var {
	axis = checkSoftmaxAxis(x, axis, "Softmax")
	return Apply(&softmaxOp{x: x, axis: axis})
}

// LogSoftmax returns x minus the log-sum-exp of x along axis (negative
// values count from the end), computed stably. It panics when the axis is
// empty.
func LogSoftmax(x *Var, axis int) *Var {
	axis = checkSoftmaxAxis(x, axis, "LogSoftmax")
	return Apply(&softmaxOp{x: x, axis: axis, log: true})
}

func checkSoftmaxAxis(x *Var, axis int, name string) int {
	axis = tensor.NormAxis(axis, x.value.Dims())
	if x.Shape()[axis] == 0 {
		panic(fmt.Sprintf("autograd: %s of %v over empty axis %d", name, x.Shape(), axis))
	}
	return axis
}

type softmaxOp struct {
	x    *Var
	axis int
	log  bool
	y    *tensor.Tensor
}

func (o *softmaxOp) Operands() []*Var { return []*Var{o.x} }

func (o *softmaxOp) Forward() *tensor.Tensor {
	o.y = tensor.Zeros(o.x.Shape()...)
	softmaxInto(o.x.value, o.y, o.axis, o.log)
	return o.y
}

// softmaxInto writes the softmax (or log-softmax) of x along axis into y.
func softmaxInto(x, y *tensor.Tensor, axis int, log bool) {
	outer, n, inner := tensor.Split3(x.Shape(), axis)
	xd, yd := x.Data(), y.Data()
	if inner == 1 {
		for i := 0; i < outer; i++ {
			softmaxRow(xd[i*n:(i+1)*n], yd[i*n:(i+1)*n], log)
		}
		return
	}
	row := make([]float32, n)
	out := make([]float32, n)
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			base := i*n*inner + j
			for c := 0; c < n; c++ {
				row[c] = xd[base+c*inner]
			}
			softmaxRow(row, out, log)
			for c := 0; c < n; c++ {
				yd[base+c*inner] = out[c]
			}
		}
	}
}

// softmaxRow writes the softmax (or log-softmax) of x into y.
func softmaxRow(x, y []float32, log bool) {
	m := x[0]
	for _, v := range x[1:] {
		m = max(m, v)
	}
	var s float64
	for i, v := range x {
		e := math.Exp(float64(v - m))
		if !log {
			y[i] = float32(e)
		}
		s += e
	}
	if log {
		lse := m + float32(math.Log(s))
		for i, v := range x {
			y[i] = v - lse
		}
		return
	}
	inv := float32(1 / s)
	for i := range y {
		y[i] *= inv
	}
}

func (o *softmaxOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	outer, n, inner := tensor.Split3(o.x.Shape(), o.axis)
	gx := tensor.Zeros(o.x.Shape()...)
	yd, gd, gxd := o.y.Data(), g.Data(), gx.Data()
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			base := i*n*inner + j
			var s float64
			if o.log {
				// gx = g - softmax * sum(g)
				for c := 0; c < n; c++ {
					s += float64(gd[base+c*inner])
				}
				for c := 0; c < n; c++ {
					k := base + c*inner
					gxd[k] = gd[k] - float32(math.Exp(float64(yd[k])))*float32(s)
				}
				continue
			}
			// gx = y * (g - sum(g*y))
			for c := 0; c < n; c++ {
				k := base + c*inner
				s += float64(gd[k]) * float64(yd[k])
			}
			for c := 0; c < n; c++ {
				k := base + c*inner
				gxd[k] = yd[k] * (gd[k] - float32(s))
			}
		}
	}
	return []*tensor.Tensor{gx}
}

// Reduction says how a loss combines its per-element values. The zero value
// is ReduceMean, PyTorch's default.
type Reduction int

const (
	// ReduceMean averages the per-element losses.
	ReduceMean Reduction = iota
	// ReduceSum adds the per-element losses.
	ReduceSum
	// ReduceNone returns the per-element losses.
	ReduceNone
)

// CrossEntropyOptions configures CrossEntropy. The zero value is PyTorch's
// default: no class weights, no smoothing, mean reduction, and negative
// targets (PyTorch's ignore_index -100) ignored.
type CrossEntropyOptions struct {
	// Weight holds one weight per class (length C), or nil for equal weights.
	Weight *tensor.Tensor
	// LabelSmoothing mixes the one-hot target with the uniform distribution:
	// the target becomes (1−ε)·onehot + ε/C.
	LabelSmoothing float32
	// IgnoreIndex, when positive, names a target value that contributes
	// nothing to the loss or its normaliser, such as 255 in segmentation
	// masks. Negative targets are always ignored.
	IgnoreIndex int
	// Divide says what the summed losses are divided by; the zero value is
	// PyTorch's mean.
	Divide CrossEntropyDivisor
}

// CrossEntropyDivisor says what CrossEntropy divides its summed, weighted
// per-target losses by.
type CrossEntropyDivisor int

const (
	// DivideByWeights divides by the sum of the counted targets' class
	// weights (their number without weights): PyTorch's mean.
	DivideByWeights CrossEntropyDivisor = iota
	// DivideByAll divides by the number of all targets, ignored ones
	// included: mmsegmentation's CrossEntropyLoss by default. With no
	// targets at all the loss is 0.
	DivideByAll
	// DivideByCounted divides by the number of targets not ignored:
	// mmsegmentation's avg_non_ignore.
	DivideByCounted
)

// CrossEntropy returns the cross-entropy loss of logits against class
// indices, averaged as PyTorch's torch.nn.functional.cross_entropy does
// with reduction "mean". logits is N×C or N×C×d1×...; targets holds one
// class per sample (and spatial position), N·d1·... values in row-major
// order. With class weights the mean divides by the sum of the targets'
// weights. When every target is ignored the loss is NaN, as in PyTorch.
func CrossEntropy(logits *Var, targets []int, opt CrossEntropyOptions) *Var {
	s := logits.Shape()
	if len(s) < 2 || s[1] == 0 {
		panic(fmt.Sprintf("autograd: CrossEntropy of logits %v: want N×C with C > 0", s))
	}
	c := s[1]
	if want := logits.value.Len() / c; len(targets) != want {
		panic(fmt.Sprintf("autograd: CrossEntropy of logits %v with %d targets, want %d", s, len(targets), want))
	}
	for i, t := range targets {
		if t >= c && !(opt.IgnoreIndex > 0 && t == opt.IgnoreIndex) {
			panic(fmt.Sprintf("autograd: CrossEntropy target %d at %d out of range for %d classes", t, i, c))
		}
	}
	if opt.Weight != nil && opt.Weight.Len() != c {
		panic(fmt.Sprintf("autograd: CrossEntropy weights %v for %d classes", opt.Weight.Shape(), c))
	}
	return Apply(&crossEntropyOp{x: logits, targets: targets, opt: opt})
}

type crossEntropyOp struct {
	x       *Var
	targets []int
	opt     CrossEntropyOptions
	logp    *tensor.Tensor // log-softmax over the class axis
	nllDen  float64        // normaliser of the NLL term
	smDen   float64        // normaliser of the smoothing term
}

func (o *crossEntropyOp) Operands() []*Var { return []*Var{o.x} }

func (o *crossEntropyOp) ignored(t int) bool {
	return t < 0 || (o.opt.IgnoreIndex > 0 && t == o.opt.IgnoreIndex)
}

func (o *crossEntropyOp) weight(c int) float64 {
	if o.opt.Weight == nil {
		return 1
	}
	return float64(o.opt.Weight.Data()[c])
}

func (o *crossEntropyOp) Forward() *tensor.Tensor {
	o.logp = tensor.Zeros(o.x.Shape()...)
	softmaxInto(o.x.value, o.logp, 1, true)
	n, c, inner := tensor.Split3(o.x.Shape(), 1)
	lp := o.logp.Data()
	eps := float64(o.opt.LabelSmoothing)
	var nll, smooth float64
	o.nllDen = 0
	counted := 0
	for i := 0; i < n; i++ {
		for j := 0; j < inner; j++ {
			t := o.targets[i*inner+j]
			if o.ignored(t) {
				continue
			}
			base := i*c*inner + j
			w := o.weight(t)
			nll -= w * float64(lp[base+t*inner])
			o.nllDen += w
			counted++
			if eps != 0 {
				for k := 0; k < c; k++ {
					smooth -= o.weight(k) * float64(lp[base+k*inner])
				}
			}
		}
	}
	switch o.opt.Divide {
	case DivideByAll:
		o.nllDen = float64(len(o.targets))
		if o.nllDen == 0 {
			return tensor.Scalar(0)
		}
	case DivideByCounted:
		o.nllDen = float64(counted)
	}
	// PyTorch normalises the smoothing term like the NLL term: by the sum of
	// the targets' weights, which is their count without class weights.
	o.smDen = o.nllDen
	loss := (1-eps)*nll/o.nllDen + eps/float64(c)*smooth/o.smDen
	return tensor.Scalar(float32(loss))
}

func (o *crossEntropyOp) Backward(g *tensor.Tensor) []*tensor.Tensor {
	n, c, inner := tensor.Split3(o.x.Shape(), 1)
	gx := tensor.Zeros(o.x.Shape()...)
	lp, gxd := o.logp.Data(), gx.Data()
	eps := float64(o.opt.LabelSmoothing)
	gv := float64(g.Item())
	a := gv * (1 - eps) / o.nllDen
	b := gv * eps / float64(c) / o.smDen
	var wsum float64
	for k := 0; k < c; k++ {
		wsum += o.weight(k)
	}
	for i := 0; i < n; i++ {
		for j := 0; j < inner; j++ {
			t := o.targets[i*inner+j]
			if o.ignored(t) {
				continue
			}
			base := i*c*inner + j
			wt := o.weight(t)
			for k := 0; k < c; k++ {
				p := math.Exp(float64(lp[base+k*inner]))
				// d(-w_t log p_t) = w_t (p_k - [k==t]);
				// d(-sum_c w_c log p_c) = W p_k - w_k.
				v := a * wt * p
				if k == t {
					v -= a * wt
				}
				if eps != 0 {
					v += b * (wsum*p - o.weight(k))
				}
				gxd[base+k*inner] = float32(v)
			}
		}
	}
	return []*tensor.Tensor{gx}
}
