// Package autograd is a define-by-run reverse-mode automatic differentiation
// engine over float32 tensors.
//
// Each differentiable operation is an Op: a small value with Forward,
// Backward and Operands. Apply runs an Op and, when any operand requires a
// gradient, records it in the output Var; Backward walks the recorded graph
// in reverse topological order. Gradients of leaves accumulate across
// Backward calls until ZeroGrad.
//
// The ops follow PyTorch's semantics, layouts and defaults. Each is checked
// against central differences and, except Dropout, whose masks come from
// the engine's own generator, against values computed by PyTorch:
//
//   - element-wise: Add, Sub, Mul, Div (NumPy broadcasting), Neg, Scale,
//     AddScalar, Exp, Log, Sqrt, Pow, Abs, Clamp, ReLU, LeakyReLU, GELU,
//     Sigmoid, Tanh, Softplus;
//   - products and layers: MatMul, BatchMatMul, Linear, Conv2d,
//     ConvTranspose2d, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, GeM, BatchNorm2d,
//     LayerNorm, GroupNorm, Dropout, Dropout2d, Embedding, ResizeBilinear, ResizeNearest, RoIAlign
//     and its FPN pooler MultiLevelRoIAlign;
//   - shapes: Reshape, Flatten, Permute, Transpose, Slice, Split, Concat,
//     Stack, IndexSelect, Gather, Where, MaskedFill;
//   - reductions: Sum, Mean, SumAxes, MeanAxes, Max, TopK, Softmax,
//     LogSoftmax, and the non-differentiable Argmax;
//   - losses: CrossEntropy, SegCrossEntropy (mmsegmentation's per-pixel
//     averaging), BCEWithLogits, SigmoidFocalLoss, L1Loss,
//     SmoothL1Loss, MSELoss.
//
// Shape errors are programmer errors and panic with a message naming the op
// and the shapes involved.
package autograd

import (
	"fmt"

	"argus/tensor"
)

// Op is a differentiable operation on Vars.
type Op interface {
	// Operands returns the inputs of the operation.
	Operands() []*Var
	// Forward computes the output value from the operands' values.
	Forward() *tensor.Tensor
	// Backward returns the gradient of the loss with respect to each operand,
	// given the gradient with respect to the output. An entry may be nil when
	// that operand does not require a gradient.
	Backward(gradOut *tensor.Tensor) []*tensor.Tensor
}

// Var is a node of the computation graph: a value, its accumulated gradient,
// and the Op that produced it (nil for leaves).
type Var struct {
	value        *tensor.Tensor
	grad         *tensor.Tensor
	op           Op
	requiresGrad bool
	// released marks a Var whose recorded op was dropped by Backward; a
	// later Backward through it would silently lose its operands' gradients.
	released bool
}

// NoGrad runs fn with gradient tracking turned off for the leaves vs (a
// model's parameters, typically), then restores each leaf's setting. Ops
// record nothing when none of their operands requires a gradient, so fn's
// computations over vs and constants build no graph and keep no buffers for
// a backward pass.
//
// The scope is the leaves, not the process: a training step in another
// goroutine over other Vars keeps recording. Running fn while another
// goroutine differentiates through the same leaves is a data race, as any
// concurrent use of one model is.
func NoGrad(vs []*Var, fn func()) {
	saved := make([]bool, len(vs))
	for i, v := range vs {
		if v.op != nil {
			panic("autograd: NoGrad on a non-leaf Var")
		}
		saved[i] = v.requiresGrad
		v.requiresGrad = false
	}
	defer func() {
		for i, v := range vs {
			v.requiresGrad = saved[i]
		}
	}()
	fn()
}

// Param returns a leaf that requires a gradient (a trainable parameter).
func Param(t *tensor.Tensor) *Var { return &Var{value: t, requiresGrad: true} }

// Const returns a leaf that does not require a gradient.
func Const(t *tensor.Tensor) *Var { return &Var{value: t} }

// Apply runs op and returns its output. The op is recorded for Backward when
// some operand requires a gradient.
func Apply(op Op) *Var {
	out := &Var{value: op.Forward()}
	for _, in := range op.Operands() {
		if in != nil && in.requiresGrad {
			out.op = op
			out.requiresGrad = true
			break
		}
	}
	return out
}

// Value returns the Var's value.
func (v *Var) Value() *tensor.Tensor { return v.value }

// SetValue replaces the value of a leaf, for optimisers and checkpoint
// loading. The new value must have the same shape.
func (v *Var) SetValue(t *tensor.Tensor) {
	if !tensor.EqualShapes(v.value.Shape(), t.Shape()) {
		panic(fmt.Sprintf("autograd: SetValue %v on a Var of shape %v", t.Shape(), v.value.Shape()))
	}
	v.value = t
}

// Shape returns the shape of the Var's value.
func (v *Var) Shape() []int { return v.value.Shape() }

// Grad returns the accumulated gradient, or nil if none has been computed.
func (v *Var) Grad() *tensor.Tensor { return v.grad }

// SetGrad replaces the accumulated gradient (nil clears it).
func (v *Var) SetGrad(g *tensor.Tensor) { v.grad = g }

// ZeroGrad clears the accumulated gradient.
func (v *Var) ZeroGrad() { v.grad = nil }

// RequiresGrad reports whether gradients flow to this Var.
func (v *Var) RequiresGrad() bool { return v.requiresGrad }

// SetRequiresGrad turns gradient tracking of a leaf on or off.
func (v *Var) SetRequiresGrad(b bool) {
	if v.op != nil {
		panic("autograd: SetRequiresGrad on a non-leaf Var")
	}
	v.requiresGrad = b
}

// IsLeaf reports whether the Var was not produced by a recorded Op.
func (v *Var) IsLeaf() bool { return v.op == nil }

// Detach returns a leaf sharing v's value that does not require a gradient.
func (v *Var) Detach() *Var { return &Var{value: v.value} }

// BackwardOption configures Backward.
type BackwardOption func(*backwardConfig)

type backwardConfig struct {
	retainGraph bool
	grad        *tensor.Tensor
	onLeaf      func(*Var)
}

// RetainGraph keeps the recorded graph so Backward can run through it again.
func RetainGraph() BackwardOption { return func(c *backwardConfig) { c.retainGraph = true } }

// WithGrad seeds Backward with the gradient g of the loss with respect to v,
// instead of ones.
func WithGrad(g *tensor.Tensor) BackwardOption { return func(c *backwardConfig) { c.grad = g } }

// OnLeafGrad makes Backward call fn with each leaf that receives a gradient,
// as soon as that gradient is complete: every contribution of the pass has
// been accumulated into Grad and the rest of the pass adds nothing more.
// Leaves complete in reverse topological order, the last layers' first,
// which lets data-parallel training reduce them while the pass goes on.
// fn runs on the goroutine of Backward and must not change the leaf's
// gradient in place before Backward returns.
func OnLeafGrad(fn func(*Var)) BackwardOption { return func(c *backwardConfig) { c.onLeaf = fn } }

// Backward computes the gradient of v with respect to every Var in its graph
// that requires one, accumulating into the leaves' gradients. Intermediate
// Vars also hold their gradient afterwards. Unless RetainGraph is given, the
// graph is released: its ops and their saved tensors can be collected, and a
// later Backward that reaches v or its non-leaf ancestors panics, as
// PyTorch raises, instead of silently losing gradients.
func (v *Var) Backward(opts ...BackwardOption) {
	var cfg backwardConfig
	for _, o := range opts {
		o(&cfg)
	}
	if !v.requiresGrad {
		panic("autograd: Backward on a Var that does not require a gradient")
	}
	seed := cfg.grad
	if seed == nil {
		seed = tensor.Ones(v.value.Shape()...)
	} else if !tensor.EqualShapes(seed.Shape(), v.value.Shape()) {
		panic(fmt.Sprintf("autograd: Backward seed %v for a Var of shape %v", seed.Shape(), v.value.Shape()))
	}
	order := topoOrder(v)
	// Intermediate gradients are rebuilt on every call; leaves accumulate.
	pending := make(map[*Var]*tensor.Tensor, len(order))
	// owned marks pending gradients that nothing else references, which a
	// leaf may adopt instead of copying.
	owned := make(map[*Var]bool, len(order))
	pending[v] = seed
	for i := len(order) - 1; i >= 0; i-- {
		n := order[i]
		g := pending[n]
		delete(pending, n)
		if g == nil {
			continue
		}
		if n.released {
			panic("autograd: Backward through a graph that an earlier Backward released; pass RetainGraph() to the earlier call")
		}
		own := owned[n]
		delete(owned, n)
		if n.op == nil {
			if n.grad == nil && own {
				n.grad = g
			} else {
				n.grad = accumulateLeaf(n.grad, g)
			}
			if cfg.onLeaf != nil {
				cfg.onLeaf(n)
			}
			continue
		}
		n.grad = g
		ins := n.op.Operands()
		grads := n.op.Backward(g)
		_, fresh := n.op.(gradOwner)
		if len(grads) != len(ins) {
			panic(fmt.Sprintf("autograd: %T returned %d gradients for %d operands", n.op, len(grads), len(ins)))
		}
		for j, in := range ins {
			if in == nil || !in.requiresGrad || grads[j] == nil {
				continue
			}
			if !tensor.EqualShapes(grads[j].Shape(), in.value.Shape()) {
				panic(fmt.Sprintf("autograd: %T gradient %v for operand %d of shape %v", n.op, grads[j].Shape(), j, in.value.Shape()))
			}
			if p := pending[in]; p != nil && owned[in] {
				// A sum or a fresh gradient that nothing else holds:
				// add in place rather than allocate another.
				a, b := p.Data(), grads[j].Data()
				chunks(len(a), func(lo, hi int) { addTo(a[lo:hi], b[lo:hi]) })
				continue
			}
			owned[in] = pending[in] != nil || fresh // a sum is fresh too
			pending[in] = addGrads(pending[in], grads[j])
		}
		if !cfg.retainGraph {
			if r, ok := n.op.(releaser); ok {
				r.release()
			}
			n.op = nil
			n.released = true
		}
	}
}

// gradOwner is an Op whose Backward returns gradients that it allocated
// for the call and references nowhere else, each operand its own tensor,
// so that a leaf may keep one as its gradient without a copy.
type gradOwner interface{ ownsGrads() }

// accumulateLeaf returns acc + g, reusing acc's storage when there is one.
// A leaf's gradient is copied on first use because g may be shared with other
// Vars (an op may return one tensor for several operands, or a view of its
// output gradient), and the leaf's gradient is later updated in place.
func accumulateLeaf(acc, g *tensor.Tensor) *tensor.Tensor {
	if acc == nil {
		return g.Clone()
	}
	a, b := acc.Data(), g.Data()
	chunks(len(a), func(lo, hi int) { addTo(a[lo:hi], b[lo:hi]) })
	return acc
}

// addGrads returns acc + g for pending gradients of intermediate Vars. Neither
// input is modified, since both may be shared; in the common case of a single
// contribution no copy is made.
func addGrads(acc, g *tensor.Tensor) *tensor.Tensor {
	if acc == nil {
		return g
	}
	out := tensor.Zeros(acc.Shape()...)
	o, a, b := out.Data(), acc.Data(), g.Data()
	chunks(len(o), func(lo, hi int) { sameShape(a[lo:hi], b[lo:hi], o[lo:hi], binAdd) })
	return out
}

// topoOrder returns the Vars reachable from root that require a gradient, in
// topological order (operands before results).
func topoOrder(root *Var) []*Var {
	var order []*Var
	visited := map[*Var]bool{}
	type frame struct {
		v    *Var
		next int
	}
	stack := []frame{{v: root}}
	visited[root] = true
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		var ins []*Var
		if f.v.op != nil {
			ins = f.v.op.Operands()
		}
		if f.next < len(ins) {
			in := ins[f.next]
			f.next++
			if in != nil && in.requiresGrad && !visited[in] {
				visited[in] = true
				stack = append(stack, frame{v: in})
			}
			continue
		}
		order = append(order, f.v)
		stack = stack[:len(stack)-1]
	}
	return order
}
