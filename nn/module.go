// Package nn provides neural-network layers with named parameters and
// buffers, train and eval modes, and the initialisers that PyTorch uses.
//
// Names follow PyTorch's state-dict convention: a parameter's full name is
// the dotted path of module names leading to it ("layer1.0.conv1.weight"),
// so weights exported from torchvision load unchanged.
package nn

import (
	"strconv"

	"argus/autograd"
	"argus/tensor"
)

// Parameter is a trainable tensor and its name.
type Parameter struct {
	Name string
	Var  *autograd.Var
}

// Buffer is non-trainable state saved with a model, such as batch-norm
// running statistics. Integer marks buffers that PyTorch keeps as int64
// (num_batches_tracked); they are stored as I64 in checkpoints.
type Buffer struct {
	Name    string
	Value   *tensor.Tensor
	Integer bool
}

// Child is a named sub-module.
type Child struct {
	Name   string
	Module Module
}

// Members lists what a module holds directly, each with its local name.
type Members struct {
	Params   []Parameter
	Buffers  []Buffer
	Children []Child
}

// Module is anything that holds parameters, buffers or sub-modules.
type Module interface {
	// Members returns the module's own parameters, buffers and children in
	// a fixed order.
	Members() Members
}

// Layer is a module that maps one tensor to another.
type Layer interface {
	Module
	Forward(x *autograd.Var) *autograd.Var
}

// trainer is implemented by modules whose behaviour differs between
// training and evaluation.
type trainer interface {
	SetTraining(bool)
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func walk(prefix string, m Module, fn func(prefix string, mem Members)) {
	mem := m.Members()
	fn(prefix, mem)
	for _, c := range mem.Children {
		walk(join(prefix, c.Name), c.Module, fn)
	}
}

// Parameters returns every parameter of m and its sub-modules with full
// dotted names, in PyTorch's state-dict order.
func Parameters(m Module) []Parameter {
	var out []Parameter
	walk("", m, func(prefix string, mem Members) {
		for _, p := range mem.Params {
			out = append(out, Parameter{Name: join(prefix, p.Name), Var: p.Var})
		}
	})
	return out
}

// Buffers returns every buffer of m and its sub-modules with full names.
func Buffers(m Module) []Buffer {
	var out []Buffer
	walk("", m, func(prefix string, mem Members) {
		for _, b := range mem.Buffers {
			out = append(out, Buffer{Name: join(prefix, b.Name), Value: b.Value, Integer: b.Integer})
		}
	})
	return out
}

// Vars returns the Vars of every parameter of m.
func Vars(m Module) []*autograd.Var {
	ps := Parameters(m)
	out := make([]*autograd.Var, len(ps))
	for i, p := range ps {
		out[i] = p.Var
	}
	return out
}

// State is one entry of a state dict: a parameter's or buffer's value.
type State struct {
	Name    string
	Value   *tensor.Tensor
	Integer bool
}

// StateDict returns the parameters and buffers of m in the order PyTorch
// lists them: each module's parameters, then its buffers, then its children.
func StateDict(m Module) []State {
	var out []State
	walk("", m, func(prefix string, mem Members) {
		for _, p := range mem.Params {
			out = append(out, State{Name: join(prefix, p.Name), Value: p.Var.Value()})
		}
		for _, b := range mem.Buffers {
			out = append(out, State{Name: join(prefix, b.Name), Value: b.Value, Integer: b.Integer})
		}
	})
	return out
}

// Train puts m and all its sub-modules in training mode (on) or evaluation
// mode (off).
func Train(m Module, on bool) {
	var rec func(Module)
	rec = func(m Module) {
		if t, ok := m.(trainer); ok {
			t.SetTraining(on)
		}
		for _, c := range m.Members().Children {
			rec(c.Module)
		}
	}
	rec(m)
}

// NumParams returns the number of scalar parameters of m.
func NumParams(m Module) int {
	n := 0
	for _, p := range Parameters(m) {
		n += p.Var.Value().Len()
	}
	return n
}

// Sequential applies its layers in order. Its children are named "0", "1",
// ... as in PyTorch.
type Sequential struct {
	Layers []Layer
}

// NewSequential returns a Sequential of the given layers.
func NewSequential(layers ...Layer) *Sequential { return &Sequential{Layers: layers} }

// Members implements Module.
func (s *Sequential) Members() Members {
	var m Members
	for i, l := range s.Layers {
		m.Children = append(m.Children, Child{Name: strconv.Itoa(i), Module: l})
	}
	return m
}

// Forward applies the layers in order.
func (s *Sequential) Forward(x *autograd.Var) *autograd.Var {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// NoGrad runs fn with gradient tracking off for m's parameters, as
// evaluation needs: m's forward pass then records no graph. Other models,
// and other goroutines' training steps, are unaffected.
func NoGrad(m Module, fn func()) {
	ps := Parameters(m)
	vs := make([]*autograd.Var, len(ps))
	for i, p := range ps {
		vs[i] = p.Var
	}
	autograd.NoGrad(vs, fn)
}
