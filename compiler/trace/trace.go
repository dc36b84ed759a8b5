// Package trace turns a model into an XGraph by recording one forward
// pass, for export to ONNX (package onnx writes the graph).
//
// Autograd is define-by-run: a forward pass whose input requires a
// gradient records every op that the input reaches. Model walks that
// record from the output back through each op's operands and translates
// each op by its autograd.Description into ONNX operators (operator set
// 13), so that any model built from describable ops exports without code
// of its own. Parameters keep their state-dict names as the graph's
// constants, batch-norm running statistics their buffer names, so the
// initialisers of an exported torchvision-style model carry torchvision's
// names. An op that cannot be exported is an error naming it.
package trace

import (
	"fmt"
	"strings"

	"argus/autograd"
	"argus/compiler/xgraph"
	"argus/nn"
	"argus/tensor"
)

// Opset is the ONNX operator set of traced graphs; a graph holding a
// RoiAlign, whose coordinate_transformation_mode came with set 16, is of
// set 16.
const Opset = 13

// Options configures Model.
type Options struct {
	// Name is the graph's name.
	Name string
	// InputName and OutputName name the graph's input and output;
	// "input" and "output" when empty.
	InputName, OutputName string
	// DynamicBatch leaves the batch (axis 0 of the input) open: it is −1
	// in the graph and a symbolic dimension in ONNX. Tracing then fails
	// on an op that mixes the batch axis with others, where only the
	// traced batch size would be right. The traced batch must be 2 or
	// more: at 1, a reshape that merges the batch into another axis, or a
	// constant with one row per batch item, looks like one that keeps the
	// batch apart.
	DynamicBatch bool
}

// Result is a traced model.
type Result struct {
	Graph *xgraph.Graph
	// Output is the model's output for the traced input, computed by the
	// forward pass that was recorded; Outputs holds every output of a
	// model traced by Outputs, in order (Output is the first).
	Output  *tensor.Tensor
	Outputs []*tensor.Tensor
}

// Model records m's forward pass on x in evaluation mode and returns it
// as a graph. It leaves m in evaluation mode (nn.Train(m, false)). The
// graph's constants share storage with m's parameters and buffers, so
// changes to m reach it until it is written out.
func Model(m nn.Layer, x *tensor.Tensor, opt Options) (res *Result, err error) {
	if opt.OutputName == "" {
		opt.OutputName = "output"
	}
	return Outputs(m, x, func(in *autograd.Var) []*autograd.Var { return []*autograd.Var{m.Forward(in)} }, []string{opt.OutputName}, opt)
}

// Outputs is Model for a model of several outputs, such as a detection
// backbone's feature pyramid: forward runs m on the input and returns its
// outputs, which become the graph's outputs under names (one each;
// opt.OutputName is not used).
func Outputs(m nn.Module, x *tensor.Tensor, forward func(*autograd.Var) []*autograd.Var, names []string, opt Options) (res *Result, err error) {
	if opt.InputName == "" {
		opt.InputName = "input"
	}
	seenName := map[string]bool{opt.InputName: true}
	for _, name := range names {
		if name == "" || seenName[name] {
			return nil, fmt.Errorf("trace: the graph's input and outputs need distinct names, not %q", append([]string{opt.InputName}, names...))
		}
		seenName[name] = true
	}
	if opt.DynamicBatch && (x.Dims() == 0 || x.Shape()[0] < 2) {
		return nil, fmt.Errorf("trace: a dynamic batch is traced on a batch of 2 or more, not an input of shape %v", x.Shape())
	}
	nn.Train(m, false)
	params := nn.Parameters(m)
	vars := make([]*autograd.Var, len(params))
	t := &tracer{opt: opt, names: map[string]bool{}, values: map[*autograd.Var]*value{},
		params: map[*autograd.Var]string{}, buffers: map[*tensor.Tensor]string{}, consts: map[*tensor.Tensor]*xgraph.Value{},
		outputs: map[*autograd.Var]string{}}
	for i, p := range params {
		vars[i] = p.Var
		t.params[p.Var] = p.Name
	}
	for _, b := range nn.Buffers(m) {
		t.buffers[b.Value] = b.Name
	}
	// Names of the state dict are taken first, so that generated names
	// avoid them.
	for _, name := range t.params {
		t.names[name] = true
	}
	for _, name := range t.buffers {
		t.names[name] = true
	}
	for name := range seenName {
		if t.names[name] {
			return nil, fmt.Errorf("trace: the name %q of the graph's input or output is a name of the state dict", name)
		}
	}
	in := autograd.Param(x)
	var outs []*autograd.Var
	// The parameters need no gradient: the input alone makes every op it
	// reaches record itself, and the ops then keep no buffers for a
	// backward pass.
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("trace: forward pass on an input of shape %v: %v", x.Shape(), r)
			}
		}()
		autograd.NoGrad(vars, func() { outs = forward(in) })
	}()
	if err != nil {
		return nil, err
	}
	if len(outs) != len(names) {
		return nil, fmt.Errorf("trace: the model has %d outputs and %d names for them", len(outs), len(names))
	}
	for i, out := range outs {
		if out == nil || out.Op() == nil {
			return nil, fmt.Errorf("trace: the model's output %q does not depend on its input through recorded operations", names[i])
		}
		if _, dup := t.outputs[out]; dup {
			return nil, fmt.Errorf("trace: outputs %q and %q are one value", t.outputs[out], names[i])
		}
		t.outputs[out] = names[i]
	}
	t.input = &xgraph.Value{Name: opt.InputName, DType: xgraph.Float32, Shape: t.shape(x.Shape(), true), Ranked: true}
	t.values[in] = &value{v: t.input, batched: true}
	for name := range seenName {
		t.names[name] = true
	}
	res = &Result{Graph: &xgraph.Graph{Name: opt.Name, Opset: Opset, Inputs: []*xgraph.Value{t.input}, Nodes: nil}}
	for _, out := range outs {
		for _, v := range order(out) {
			if err := t.visit(v); err != nil {
				return nil, fmt.Errorf("trace: %w", err)
			}
		}
		o := t.values[out]
		if opt.DynamicBatch && !o.batched {
			return nil, fmt.Errorf("trace: the output of shape %v does not keep the batch axis; trace with a fixed batch", out.Shape())
		}
		res.Graph.Outputs = append(res.Graph.Outputs, o.v)
		res.Outputs = append(res.Outputs, out.Value())
	}
	res.Graph.Nodes = t.nodes
	res.Graph.Opset = max(Opset, t.opset)
	res.Output = res.Outputs[0]
	if err := res.Graph.Validate(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	return res, nil
}

// order returns the Vars that out depends on, operands before results.
func order(out *autograd.Var) []*autograd.Var {
	var list []*autograd.Var
	seen := map[*autograd.Var]bool{out: true}
	type frame struct {
		v    *autograd.Var
		ins  []*autograd.Var
		next int
	}
	operands := func(v *autograd.Var) []*autograd.Var {
		if op := v.Op(); op != nil {
			return op.Operands()
		}
		return nil
	}
	stack := []frame{{v: out, ins: operands(out)}}
	for len(stack) > 0 {
		f := &stack[len(stack)-1]
		if f.next < len(f.ins) {
			in := f.ins[f.next]
			f.next++
			if in != nil && !seen[in] {
				seen[in] = true
				stack = append(stack, frame{v: in, ins: operands(in)})
			}
			continue
		}
		list = append(list, f.v)
		stack = stack[:len(stack)-1]
	}
	return list
}

// value is the graph value computing a Var. batched marks values whose
// axis 0 is the input's batch axis.
type value struct {
	v       *xgraph.Value
	batched bool
}

// tracer holds the state of Model.
type tracer struct {
	opt     Options
	input   *xgraph.Value
	nodes   []*xgraph.Node
	values  map[*autograd.Var]*value
	params  map[*autograd.Var]string
	buffers map[*tensor.Tensor]string
	consts  map[*tensor.Tensor]*xgraph.Value
	// names holds every name given so far; counter numbers generated
	// names per operator.
	names   map[string]bool
	counter map[string]int
	// outputs names the Vars that are the graph's outputs.
	outputs map[*autograd.Var]string
	// opset is the operator set that an emitted operator needs beyond
	// Opset (0: none).
	opset int
}

// shape returns s as a graph shape: the batch axis −1 when it is dynamic.
func (t *tracer) shape(s []int, batched bool) []int {
	out := append([]int{}, s...)
	if batched && t.opt.DynamicBatch && len(out) > 0 {
		out[0] = -1
	}
	return out
}

// fresh returns an unused name built from base.
func (t *tracer) fresh(base string) string {
	if t.counter == nil {
		t.counter = map[string]int{}
	}
	for {
		t.counter[base]++
		name := fmt.Sprintf("%s_%d", base, t.counter[base])
		if !t.names[name] {
			t.names[name] = true
			return name
		}
	}
}

// visit adds the graph value of v, a leaf or an op whose operands have
// values already.
func (t *tracer) visit(v *autograd.Var) error {
	if _, done := t.values[v]; done {
		return nil
	}
	op := v.Op()
	if op == nil {
		t.values[v] = &value{v: t.constant(v.Value(), t.params[v])}
		return nil
	}
	d, ok := op.(autograd.Describer)
	if !ok {
		return fmt.Errorf("operation %T cannot be exported: it does not describe itself", op)
	}
	desc := d.Describe()
	ins := op.Operands()
	args := make([]*value, len(ins))
	for i, in := range ins {
		if in != nil {
			args[i] = t.values[in]
		}
	}
	e := &emitter{t: t, desc: desc, args: args, ins: ins, out: v, outputName: t.outputs[v]}
	res, err := e.emit()
	if err != nil {
		return fmt.Errorf("%s on %s: %w", kindName(desc.Kind, op), shapes(ins), err)
	}
	t.values[v] = res
	return nil
}

func kindName(kind string, op autograd.Op) string {
	if kind == "" {
		return fmt.Sprintf("%T", op)
	}
	return kind
}

func shapes(vs []*autograd.Var) string {
	var parts []string
	for _, v := range vs {
		if v == nil {
			parts = append(parts, "-")
			continue
		}
		parts = append(parts, fmt.Sprint(v.Shape()))
	}
	return strings.Join(parts, ", ")
}

// constant returns the graph constant holding t, named name (or a
// generated name when empty). A tensor used twice is one constant.
func (t *tracer) constant(x *tensor.Tensor, name string) *xgraph.Value {
	if c, ok := t.consts[x]; ok {
		return c
	}
	if name == "" {
		name = t.buffers[x]
	}
	if name == "" {
		name = t.fresh("const")
	}
	c := &xgraph.Value{Name: name, DType: xgraph.Float32, Shape: append([]int{}, x.Shape()...), Ranked: true, Const: xgraph.FromDense(x)}
	t.consts[x] = c
	return c
}

// intConstant returns a new int64 constant, for shapes and indices.
func (t *tracer) intConstant(base string, vals []int64) *xgraph.Value {
	c := xgraph.NewInt(xgraph.Int64, vals, len(vals))
	return &xgraph.Value{Name: t.fresh(base), DType: xgraph.Int64, Shape: []int{len(vals)}, Ranked: true, Const: c}
}

// scalar returns a new float constant of shape ().
func (t *tracer) scalar(v float32) *xgraph.Value {
	return &xgraph.Value{Name: t.fresh("const"), DType: xgraph.Float32, Shape: []int{}, Ranked: true, Const: xgraph.NewFloat([]float32{v})}
}
