// Package optim provides the optimisers SGD, Adam, AdamW and Adadelta with
// PyTorch's exact update rules, parameter groups, gradient clipping and
// learning-rate schedules.
package optim

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"argus/autograd"
	"argus/internal/par"
	"argus/nn"
	"argus/tensor"
)

// Group is a set of parameters sharing a learning rate and weight decay.
type Group struct {
	Params []nn.Parameter
	// LR is the current learning rate; schedules set it from BaseLR.
	LR float64
	// BaseLR is the learning rate the group started with. Zero means LR.
	BaseLR      float64
	WeightDecay float64
}

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	Step()
	// Groups returns the parameter groups, whose LR may be changed.
	Groups() []*Group
	// State returns the optimiser's per-parameter state by name, for
	// checkpoints: "<param>.<slot>" for each slot.
	State() map[string]*tensor.Tensor
	// LoadState restores state written by State.
	LoadState(map[string]*tensor.Tensor) error
}

// ZeroGrad clears the gradients of every parameter of o.
func ZeroGrad(o Optimizer) {
	for _, g := range o.Groups() {
		for _, p := range g.Params {
			p.Var.ZeroGrad()
		}
	}
}

// SetSchedule sets every group's learning rate to its base rate times the
// schedule's factor at step t.
func SetSchedule(o Optimizer, s Schedule, t int) {
	f := s.Factor(t)
	for _, g := range o.Groups() {
		if g.BaseLR == 0 {
			g.BaseLR = g.LR
		}
		g.LR = g.BaseLR * f
	}
}

// slots holds the per-parameter state of an optimiser: a step count and
// named tensors of the parameter's shape.
type slots struct {
	names []string
	state map[*autograd.Var]*paramState
}

type paramState struct {
	step int64
	bufs []*tensor.Tensor
}

func newSlots(names ...string) slots {
	return slots{names: names, state: map[*autograd.Var]*paramState{}}
}

func (s *slots) get(v *autograd.Var) *paramState {
	ps, ok := s.state[v]
	if !ok {
		ps = &paramState{bufs: make([]*tensor.Tensor, len(s.names))}
		s.state[v] = ps
	}
	return ps
}

func (s *slots) export(groups []*Group) map[string]*tensor.Tensor {
	out := map[string]*tensor.Tensor{}
	for _, g := range groups {
		for _, p := range g.Params {
			ps, ok := s.state[p.Var]
			if !ok {
				continue
			}
			out[p.Name+".step"] = tensor.Scalar(float32(ps.step))
			for i, b := range ps.bufs {
				if b != nil {
					out[p.Name+"."+s.names[i]] = b.Clone()
				}
			}
		}
	}
	return out
}

// load restores state, reporting every unknown name and wrong shape.
func (s *slots) load(groups []*Group, in map[string]*tensor.Tensor) error {
	byName := map[string]*autograd.Var{}
	for _, g := range groups {
		for _, p := range g.Params {
			byName[p.Name] = p.Var
		}
	}
	var problems []string
	fresh := map[*autograd.Var]*paramState{}
	for key, t := range in {
		dot := strings.LastIndexByte(key, '.')
		if dot < 0 {
			problems = append(problems, "unexpected "+key)
			continue
		}
		name, slot := key[:dot], key[dot+1:]
		v, ok := byName[name]
		if !ok {
			problems = append(problems, "unexpected "+key)
			continue
		}
		ps, ok := fresh[v]
		if !ok {
			ps = &paramState{bufs: make([]*tensor.Tensor, len(s.names))}
			fresh[v] = ps
		}
		if slot == "step" {
			if t.Len() != 1 {
				problems = append(problems, fmt.Sprintf("%s: shape %v, want ()", key, t.Shape()))
				continue
			}
			ps.step = int64(t.Data()[0])
			continue
		}
		i := indexOf(s.names, slot)
		if i < 0 {
			problems = append(problems, "unexpected "+key)
			continue
		}
		if !tensor.EqualShapes(t.Shape(), v.Shape()) {
			problems = append(problems, fmt.Sprintf("%s: shape %v, want %v", key, t.Shape(), v.Shape()))
			continue
		}
		ps.bufs[i] = t.Clone()
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("optimiser state: %s", strings.Join(problems, "; "))
	}
	s.state = fresh
	return nil
}

func indexOf(names []string, n string) int {
	for i, s := range names {
		if s == n {
			return i
		}
	}
	return -1
}

// SGD is stochastic gradient descent with PyTorch's momentum, dampening,
// Nesterov and L2 weight decay semantics:
//
//	d = grad + wd*p
//	buf = d (first step), else momentum*buf + (1-dampening)*d
//	d = d + momentum*buf (Nesterov), else buf
//	p -= lr*d
type SGD struct {
	Momentum  float64
	Dampening float64
	Nesterov  bool
	groups    []*Group
	slots     slots
}

// NewSGD returns an SGD optimiser over the given groups.
func NewSGD(momentum, dampening float64, nesterov bool, groups ...*Group) *SGD {
	return &SGD{Momentum: momentum, Dampening: dampening, Nesterov: nesterov, groups: groups, slots: newSlots("momentum_buffer")}
}

// Groups implements Optimizer.
func (o *SGD) Groups() []*Group { return o.groups }

// State implements Optimizer.
func (o *SGD) State() map[string]*tensor.Tensor { return o.slots.export(o.groups) }

// LoadState implements Optimizer.
func (o *SGD) LoadState(s map[string]*tensor.Tensor) error { return o.slots.load(o.groups, s) }

// Step implements Optimizer.
func (o *SGD) Step() {
	mom, damp := float32(o.Momentum), float32(1-o.Dampening)
	for _, g := range o.groups {
		lr, wd := float32(g.LR), float32(g.WeightDecay)
		for _, p := range g.Params {
			grad := p.Var.Grad()
			if grad == nil {
				continue
			}
			pd, gd := p.Var.Value().Data(), grad.Data()
			ps := o.slots.get(p.Var)
			ps.step++
			var buf []float32
			first := false
			if mom != 0 {
				if ps.bufs[0] == nil {
					ps.bufs[0] = tensor.Zeros(p.Var.Shape()...)
					first = true
				}
				buf = ps.bufs[0].Data()
			}
			elementwise(len(pd), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					x, d := pd[i], gd[i]
					if wd != 0 {
						d += wd * x
					}
					if mom != 0 {
						if first {
							buf[i] = d
						} else {
							buf[i] = mom*buf[i] + damp*d
						}
						if o.Nesterov {
							d += mom * buf[i]
						} else {
							d = buf[i]
						}
					}
					pd[i] = x - lr*d
				}
			})
		}
	}
}

// Adam is the Adam optimiser with bias correction. With Decoupled set it is
// AdamW: weight decay shrinks the parameters directly (p *= 1 - lr*wd)
// instead of being added to the gradient.
type Adam struct {
	Beta1, Beta2, Eps float64
	Decoupled         bool
	groups            []*Group
	slots             slots
}

// NewAdam returns Adam with L2 weight decay taken from each group.
func NewAdam(beta1, beta2, eps float64, groups ...*Group) *Adam {
	return &Adam{Beta1: beta1, Beta2: beta2, Eps: eps, groups: groups, slots: newSlots("exp_avg", "exp_avg_sq")}
}

// NewAdamW returns AdamW (decoupled weight decay).
func NewAdamW(beta1, beta2, eps float64, groups ...*Group) *Adam {
	o := NewAdam(beta1, beta2, eps, groups...)
	o.Decoupled = true
	return o
}

// Groups implements Optimizer.
func (o *Adam) Groups() []*Group { return o.groups }

// State implements Optimizer.
func (o *Adam) State() map[string]*tensor.Tensor { return o.slots.export(o.groups) }

// LoadState implements Optimizer.
func (o *Adam) LoadState(s map[string]*tensor.Tensor) error { return o.slots.load(o.groups, s) }

// Step implements Optimizer, following torch.optim's single-tensor code path
// operation by operation so that results agree to rounding.
func (o *Adam) Step() {
	b1, b2, eps := float32(o.Beta1), float32(o.Beta2), float32(o.Eps)
	for _, g := range o.groups {
		for _, p := range g.Params {
			grad := p.Var.Grad()
			if grad == nil {
				continue
			}
			ps := o.slots.get(p.Var)
			if ps.bufs[0] == nil {
				ps.bufs[0] = tensor.Zeros(p.Var.Shape()...)
			}
			if ps.bufs[1] == nil {
				ps.bufs[1] = tensor.Zeros(p.Var.Shape()...)
			}
			ps.step++
			bc1 := 1 - math.Pow(o.Beta1, float64(ps.step))
			bc2 := 1 - math.Pow(o.Beta2, float64(ps.step))
			stepSize := float32(g.LR / bc1)
			bc2Sqrt := float32(math.Sqrt(bc2))
			decay := float32(1 - g.LR*g.WeightDecay)
			wd := float32(g.WeightDecay)
			pd, gd := p.Var.Value().Data(), grad.Data()
			m, v := ps.bufs[0].Data(), ps.bufs[1].Data()
			elementwise(len(pd), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					x, d := pd[i], gd[i]
					if wd != 0 {
						if o.Decoupled {
							x *= decay
						} else {
							d += wd * x
						}
					}
					m[i] = m[i]*b1 + (1-b1)*d
					v[i] = v[i]*b2 + (1-b2)*d*d
					den := float32(math.Sqrt(float64(v[i])))/bc2Sqrt + eps
					pd[i] = x - stepSize*(m[i]/den)
				}
			})
		}
	}
}

// Adadelta is the Adadelta optimiser (PyTorch semantics, L2 weight decay),
// the optimiser of PyTorch's MNIST example.
type Adadelta struct {
	Rho, Eps float64
	groups   []*Group
	slots    slots
}

// NewAdadelta returns Adadelta over the given groups.
func NewAdadelta(rho, eps float64, groups ...*Group) *Adadelta {
	return &Adadelta{Rho: rho, Eps: eps, groups: groups, slots: newSlots("square_avg", "acc_delta")}
}

// Groups implements Optimizer.
func (o *Adadelta) Groups() []*Group { return o.groups }

// State implements Optimizer.
func (o *Adadelta) State() map[string]*tensor.Tensor { return o.slots.export(o.groups) }

// LoadState implements Optimizer.
func (o *Adadelta) LoadState(s map[string]*tensor.Tensor) error { return o.slots.load(o.groups, s) }

// Step implements Optimizer.
func (o *Adadelta) Step() {
	rho, eps := float32(o.Rho), float32(o.Eps)
	for _, g := range o.groups {
		lr, wd := float32(g.LR), float32(g.WeightDecay)
		for _, p := range g.Params {
			grad := p.Var.Grad()
			if grad == nil {
				continue
			}
			ps := o.slots.get(p.Var)
			for i := range ps.bufs {
				if ps.bufs[i] == nil {
					ps.bufs[i] = tensor.Zeros(p.Var.Shape()...)
				}
			}
			ps.step++
			pd, gd := p.Var.Value().Data(), grad.Data()
			sq, acc := ps.bufs[0].Data(), ps.bufs[1].Data()
			elementwise(len(pd), func(lo, hi int) {
				for i := lo; i < hi; i++ {
					x, d := pd[i], gd[i]
					if wd != 0 {
						d += wd * x
					}
					sq[i] = sq[i]*rho + (1-rho)*d*d
					std := float32(math.Sqrt(float64(sq[i] + eps)))
					delta := float32(math.Sqrt(float64(acc[i]+eps))) / std * d
					acc[i] = acc[i]*rho + (1-rho)*delta*delta
					pd[i] = x - lr*delta
				}
			})
		}
	}
}

// ClipGradNorm scales the gradients of params so that their global L2 norm
// is at most maxNorm, as torch.nn.utils.clip_grad_norm_ does, and returns
// the norm before clipping.
func ClipGradNorm(params []*autograd.Var, maxNorm float64) float64 {
	var ss float64
	for _, p := range params {
		if g := p.Grad(); g != nil {
			for _, x := range g.Data() {
				ss += float64(x) * float64(x)
			}
		}
	}
	total := math.Sqrt(ss)
	coef := maxNorm / (total + 1e-6)
	if coef < 1 {
		c := float32(coef)
		for _, p := range params {
			if g := p.Grad(); g != nil {
				d := g.Data()
				for i := range d {
					d[i] *= c
				}
			}
		}
	}
	return total
}

// NewGroup returns a group of the given parameters.
func NewGroup(lr, weightDecay float64, params ...nn.Parameter) *Group {
	return &Group{Params: params, LR: lr, BaseLR: lr, WeightDecay: weightDecay}
}

// SplitDecay returns two groups: parameters with more than one dimension
// (weights) with weight decay wd, and the rest (biases, norm scales)
// without, the usual recipe for AdamW.
func SplitDecay(params []nn.Parameter, lr, wd float64) []*Group {
	decay, none := NewGroup(lr, wd), NewGroup(lr, 0)
	for _, p := range params {
		if p.Var.Value().Dims() > 1 {
			decay.Params = append(decay.Params, p)
		} else {
			none.Params = append(none.Params, p)
		}
	}
	return []*Group{decay, none}
}

// elementChunk is the run of parameter elements one goroutine updates:
// updates are element-wise, so splitting changes no result, and a large
// weight matrix (the MNIST network's 9216×128) updates on every core.
const elementChunk = 1 << 16

// elementwise runs fn over [0, n) in chunks, in parallel when n is large.
func elementwise(n int, fn func(lo, hi int)) {
	if n <= elementChunk {
		fn(0, n)
		return
	}
	par.For((n+elementChunk-1)/elementChunk, 1, func(c int) {
		fn(c*elementChunk, min((c+1)*elementChunk, n))
	})
}
