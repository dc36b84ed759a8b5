// Package executor is the reference executor: it runs an XGraph in float32
// (integer and boolean tensors flow through shape computations beside the
// float activations) with any batch size, on the engine's kernels
// (kernels.Sgemm for convolution, matrix products and Gemm).
//
// Operators follow the ONNX specification for the graph's operator set,
// including the older attribute forms of sets 1 to 12, and read their
// attributes, defaults and windows through their xgraph schemas, as shape
// inference does. An operator, attribute or attribute value the executor
// does not implement gives an *xgraph.UnsupportedError naming the node,
// operator and attribute; an invalid attribute value an *xgraph.AttrError.
//
// A feed-forward convolutional network that package infer can express
// (ungrouped and depthwise convolutions with their batch norms, residual
// additions, ReLUs and clips, max and global average pooling, fully
// connected layers) runs as a compiled infer.Net on float32 batches of its
// image size, with the same results up to float32 rounding; any other
// graph or input is evaluated node by node (Executor.Compiled says which
// and why).
package executor

import (
	"fmt"
	"math"
	"sort"

	"argus/compiler/xgraph"
)

// opFunc computes a node's outputs from its inputs (nil for an absent
// optional input). It returns one tensor per node output; trailing outputs
// the node does not request may be omitted.
type opFunc func(c *call) ([]*xgraph.Tensor, error)

// registry maps an operator name to the function that computes it. It is
// filled by init functions and only read afterwards. What the operator's
// attributes mean, and which it has, is its schema's (xgraph.Lookup).
var registry = map[string]opFunc{}

func register(name string, fn opFunc) {
	if _, ok := xgraph.Lookup(name); !ok {
		panic("executor: operator " + name + " has no schema")
	}
	registry[name] = fn
}

// Ops returns the names of the operators the executor implements, sorted.
func Ops() []string {
	names := make([]string, 0, len(registry))
	for k := range registry {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// call is one node evaluation.
type call struct {
	n     *xgraph.Node
	opset int
	in    []*xgraph.Tensor
	bufs  *buffers // recycled float storage; nil outside Executor.Run
	// relu asks the operator to apply ReLU to its float output while it
	// writes it: the executor folds a Relu that is the only reader of a
	// Conv, Gemm or Add into that node.
	relu bool
	// limit bounds the bytes of one tensor the node makes (0:
	// DefaultMaxTensorBytes).
	limit int64
}

// DefaultMaxTensorBytes is the most memory one tensor made by a node may
// take unless Options say otherwise: 4 GiB, a thousand 224×224 images of
// 64 channels in float32.
const DefaultMaxTensorBytes int64 = 4 << 30

// Options configure an executor.
type Options struct {
	// MaxTensorBytes bounds the memory of each tensor a node makes (float
	// elements take 4 bytes, integer and boolean ones 8); 0 means
	// DefaultMaxTensorBytes. A node asked for a larger one (a
	// ConstantOfShape, Expand, Tile or Resize to a huge shape, say) fails
	// with a *TooLargeError before anything is allocated.
	MaxTensorBytes int64
}

func (o Options) limit() int64 {
	if o.MaxTensorBytes > 0 {
		return o.MaxTensorBytes
	}
	return DefaultMaxTensorBytes
}

// TooLargeError reports a node whose output would exceed the memory limit
// of one tensor, or whose size does not even fit in an int.
type TooLargeError struct {
	Node  string
	Shape []int
	// Bytes is the memory the tensor would take (-1: more than an int64
	// holds), Limit the bound it exceeds.
	Bytes, Limit int64
}

func (e *TooLargeError) Error() string {
	if e.Bytes < 0 {
		return fmt.Sprintf("node %s: output shape %v has more elements than memory can hold", e.Node, e.Shape)
	}
	return fmt.Sprintf("node %s: output shape %v needs %s, over the limit of %s for one tensor", e.Node, e.Shape, byteSize(e.Bytes), byteSize(e.Limit))
}

// byteSize formats n bytes with a binary unit.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// tensorBytes returns the memory of a tensor of type dt and the given
// shape, or -1 when it does not fit in an int64 (or a dimension is
// negative, which no tensor has).
func tensorBytes(dt xgraph.DType, shape []int) int64 {
	size := int64(8)
	if dt.IsFloat() {
		size = 4
	}
	n := size
	for _, d := range shape {
		if d < 0 {
			return -1
		}
		if d != 0 && n > math.MaxInt64/int64(d) {
			return -1
		}
		n *= int64(d)
	}
	return n
}

// check makes sure that a tensor of type dt and the given shape fits the
// node's memory limit, before it is allocated. Operators call it (through
// zero and alloc, or directly before building index tables of the output's
// size); it panics with a *TooLargeError, which evalNode returns as the
// node's error.
func (c *call) check(dt xgraph.DType, shape []int) {
	limit := c.limit
	if limit <= 0 {
		limit = DefaultMaxTensorBytes
	}
	if b := tensorBytes(dt, shape); b < 0 || b > limit {
		panic(&TooLargeError{Node: c.n.Label(), Shape: append([]int{}, shape...), Bytes: b, Limit: limit})
	}
}

// zero returns a zero-filled tensor of type dt and the given shape, after
// checking it against the node's memory limit.
func (c *call) zero(dt xgraph.DType, shape ...int) *xgraph.Tensor {
	c.check(dt, shape)
	return xgraph.Zero(dt, shape...)
}

// alloc returns a tensor of type dt and the given shape whose contents are
// undefined: the caller must write every element. Float storage comes from
// the run's recycled buffers where one of the right size is free.
func (c *call) alloc(dt xgraph.DType, shape ...int) *xgraph.Tensor {
	c.check(dt, shape)
	if c.bufs != nil && dt.IsFloat() {
		if f := c.bufs.get(numel(shape)); f != nil {
			return &xgraph.Tensor{DType: dt, Shape: append([]int{}, shape...), F: f}
		}
	}
	return c.zero(dt, shape...)
}

// buffers holds float storage released during one run, by length.
type buffers struct {
	free map[int][][]float32
}

// maxFreePerSize bounds the buffers kept for one length.
const maxFreePerSize = 4

func (b *buffers) get(n int) []float32 {
	l := b.free[n]
	if len(l) == 0 {
		return nil
	}
	f := l[len(l)-1]
	b.free[n] = l[:len(l)-1]
	return f
}

func (b *buffers) put(f []float32) {
	if len(f) == 0 || len(b.free[len(f)]) >= maxFreePerSize {
		return
	}
	b.free[len(f)] = append(b.free[len(f)], f)
}

// input returns input i or nil when absent.
func (c *call) input(i int) *xgraph.Tensor {
	if i < len(c.in) {
		return c.in[i]
	}
	return nil
}

// need returns input i, or an error when it is absent.
func (c *call) need(i int) (*xgraph.Tensor, error) {
	if t := c.input(i); t != nil {
		return t, nil
	}
	return nil, fmt.Errorf("node %s: input %d is missing", c.n.Label(), i)
}

// float returns input i, which must be of a float type.
func (c *call) float(i int) (*xgraph.Tensor, error) {
	t, err := c.need(i)
	if err != nil {
		return nil, err
	}
	if !t.DType.IsFloat() {
		return nil, xgraph.Unsupported(c.n, "", "input %d has element type %s; the operator needs a float type", i, t.DType)
	}
	return t, nil
}

// errorf returns an error about the node.
func (c *call) errorf(format string, args ...any) error {
	return fmt.Errorf("node %s: %s", c.n.Label(), fmt.Sprintf(format, args...))
}

// unsupported returns an UnsupportedError about attr of the node.
func (c *call) unsupported(attr, format string, args ...any) error {
	return xgraph.Unsupported(c.n, attr, format, args...)
}

// Check reports whether the executor can run every node of g: operators in
// the default domain that it implements, with attributes their schemas
// list and accept.
func Check(g *xgraph.Graph) error {
	for _, n := range g.Nodes {
		if err := checkNode(n); err != nil {
			return err
		}
	}
	return nil
}

// checkNode reports whether the executor implements n's operator and n's
// attributes are valid for its schema.
func checkNode(n *xgraph.Node) error {
	if err := xgraph.CheckAttrs(n); err != nil {
		return err
	}
	if _, ok := registry[n.Op]; !ok {
		return &xgraph.UnsupportedError{Node: n.Label(), Op: n.Op, Reason: "operator not implemented"}
	}
	return nil
}

// Eval computes one node's outputs from its input tensors, for a graph of
// operator set opset, with the default Options.
func Eval(opset int, n *xgraph.Node, in []*xgraph.Tensor) ([]*xgraph.Tensor, error) {
	return eval(&call{n: n, opset: opset, in: in})
}

// foldLimit bounds the tensors constant folding makes: folding keeps no
// larger constant (xgraph.MaxFoldElements), so computing one would only
// spend memory.
const foldLimit = xgraph.MaxFoldElements * 8

// foldEval is the evaluator of constant folding.
func foldEval(opset int, n *xgraph.Node, in []*xgraph.Tensor) ([]*xgraph.Tensor, error) {
	return eval(&call{n: n, opset: opset, in: in, limit: foldLimit})
}

func eval(c *call) ([]*xgraph.Tensor, error) {
	n, in := c.n, c.in
	if err := checkNode(n); err != nil {
		return nil, err
	}
	for i, t := range in {
		if t != nil && !t.DType.Supported() {
			return nil, xgraph.Unsupported(n, "", "input %d has element type %s", i, t.DType)
		}
	}
	// Operator errors name the node themselves (call.errorf, call.need,
	// Unsupported).
	return evalNode(c)
}

// Executor runs a graph. It is safe for concurrent use.
type Executor struct {
	g     *xgraph.Graph
	order []*xgraph.Node
	// last[v] is the index in order of the last node reading v, so that
	// intermediate tensors can be dropped early.
	last map[*xgraph.Value]int
	// fused marks the Conv, Gemm and Add nodes that apply the ReLU of
	// their only reader; folded marks those Relu nodes, which then pass
	// their input through.
	fused, folded map[*xgraph.Node]bool
	// net runs the whole graph when compile can translate it; nil
	// otherwise, and notCompiled says why.
	net         *compiled
	notCompiled error
	limit       int64
}

// fusable lists the operators that can apply a following ReLU themselves.
var fusable = map[string]bool{"Conv": true, "Gemm": true, "Add": true}

// planFusion finds the Relu nodes that can be folded into their producer:
// the producer's float output is read by the Relu alone and is not a graph
// output.
func (e *Executor) planFusion() {
	e.fused, e.folded = map[*xgraph.Node]bool{}, map[*xgraph.Node]bool{}
	outputs := map[*xgraph.Value]bool{}
	for _, v := range e.g.Outputs {
		outputs[v] = true
	}
	cons := e.g.Consumers()
	for _, r := range e.g.Nodes {
		if r.Op != "Relu" || r.Domain != "" || len(r.Attrs) != 0 || len(r.Inputs) != 1 || r.Inputs[0] == nil {
			continue
		}
		v := r.Inputs[0]
		p := v.Producer
		if p == nil || !fusable[p.Op] || p.Domain != "" || len(p.Outputs) != 1 || p.Outputs[0] != v ||
			!v.DType.IsFloat() || outputs[v] || len(cons[v]) != 1 || e.fused[p] {
			continue
		}
		e.fused[p], e.folded[r] = true, true
	}
}

// New returns an executor for g after checking that every node is
// supported, with the default Options. g must not be changed while the
// executor is in use.
func New(g *xgraph.Graph) (*Executor, error) { return NewWith(g, Options{}) }

// NewWith returns an executor for g with the given options.
func NewWith(g *xgraph.Graph, opt Options) (*Executor, error) {
	if err := g.Validate(); err != nil {
		return nil, err
	}
	if err := Check(g); err != nil {
		return nil, err
	}
	e := &Executor{g: g, order: g.Nodes, last: map[*xgraph.Value]int{}, limit: opt.limit()}
	for i, n := range g.Nodes {
		for _, v := range n.Inputs {
			if v != nil {
				e.last[v] = i
			}
		}
	}
	for _, v := range g.Outputs {
		e.last[v] = len(g.Nodes)
	}
	e.planFusion()
	// The error only says why the graph runs node by node.
	e.net, e.notCompiled = compile(g)
	return e, nil
}

// Compiled returns nil when the graph runs as a compiled infer.Net, or
// the reason it runs node by node.
func (e *Executor) Compiled() error {
	if e.net == nil {
		return fmt.Errorf("runs node by node: %w", e.notCompiled)
	}
	return nil
}

// Graph returns the executor's graph.
func (e *Executor) Graph() *xgraph.Graph { return e.g }

// Run computes the graph's outputs, in the order of g.Outputs, from the
// named inputs. Every graph input must be given; its rank and known
// dimensions must match, while dimensions the graph leaves open (such as the
// batch) may take any size.
func (e *Executor) Run(inputs map[string]*xgraph.Tensor) ([]*xgraph.Tensor, error) {
	if e.net != nil {
		if out, ok, err := e.net.run(inputs); ok {
			return out, err
		}
	}
	env := make(map[*xgraph.Value]*xgraph.Tensor)
	bufs := &buffers{free: map[int][][]float32{}}
	// Storage the run must never recycle: the caller's inputs and the
	// constants. Operators that return views (Reshape, Flatten, Identity,
	// ...) share their input's storage from its first element, so storage
	// is identified by the address of that element.
	pinned := make(map[*float32]bool)
	for _, v := range e.g.Values() {
		if v.Const != nil && len(v.Const.F) > 0 {
			pinned[&v.Const.F[0]] = true
		}
	}
	for _, t := range inputs {
		if t != nil && len(t.F) > 0 {
			pinned[&t.F[0]] = true
		}
	}
	for _, v := range e.g.Inputs {
		t, ok := inputs[v.Name]
		if !ok || t == nil {
			return nil, fmt.Errorf("input %q is missing", v.Name)
		}
		if err := checkInput(v, t); err != nil {
			return nil, err
		}
		env[v] = t
	}
	for i, n := range e.order {
		in := make([]*xgraph.Tensor, len(n.Inputs))
		for j, v := range n.Inputs {
			if v == nil {
				continue
			}
			if v.Const != nil {
				in[j] = v.Const
				continue
			}
			t, ok := env[v]
			if !ok {
				return nil, fmt.Errorf("node %s: input %q has no value", n.Label(), v.Name)
			}
			in[j] = t
		}
		var out []*xgraph.Tensor
		if e.folded[n] {
			// Its producer has applied the ReLU already.
			out = in
		} else {
			var err error
			out, err = eval(&call{n: n, opset: e.g.Opset, in: in, bufs: bufs, relu: e.fused[n], limit: e.limit})
			if err != nil {
				return nil, err
			}
		}
		for j, v := range n.Outputs {
			if v == nil {
				continue
			}
			if j >= len(out) || out[j] == nil {
				return nil, fmt.Errorf("node %s: output %d (%q) is not computed", n.Label(), j, v.Name)
			}
			env[v] = out[j]
		}
		for _, v := range n.Inputs {
			if v == nil || e.last[v] != i {
				continue
			}
			t, ok := env[v]
			delete(env, v)
			if ok && len(t.F) > 0 && !pinned[&t.F[0]] && !shared(env, &t.F[0]) {
				bufs.put(t.F)
			}
		}
	}
	res := make([]*xgraph.Tensor, len(e.g.Outputs))
	for i, v := range e.g.Outputs {
		if v.Const != nil {
			res[i] = v.Const
			continue
		}
		t, ok := env[v]
		if !ok {
			if in, given := inputs[v.Name]; given {
				t = in
			} else {
				return nil, fmt.Errorf("output %q has no value", v.Name)
			}
		}
		res[i] = t
	}
	return res, nil
}

// shared reports whether a live value uses the storage starting at p.
func shared(env map[*xgraph.Value]*xgraph.Tensor, p *float32) bool {
	for _, t := range env {
		if len(t.F) > 0 && &t.F[0] == p {
			return true
		}
	}
	return false
}

func checkInput(v *xgraph.Value, t *xgraph.Tensor) error {
	if !t.DType.Supported() {
		return fmt.Errorf("input %q: element type %s is not supported", v.Name, t.DType)
	}
	if v.DType != xgraph.Undefined && v.DType.IsFloat() != t.DType.IsFloat() {
		return fmt.Errorf("input %q: got %s, model expects %s", v.Name, t.DType, v.DType)
	}
	if !v.Ranked {
		return nil
	}
	if len(v.Shape) != len(t.Shape) {
		return fmt.Errorf("input %q: got shape %v, model expects rank %d %v", v.Name, t.Shape, len(v.Shape), v.Shape)
	}
	for i, d := range v.Shape {
		if d >= 0 && d != t.Shape[i] {
			return fmt.Errorf("input %q: got shape %v, model expects %v", v.Name, t.Shape, v.Shape)
		}
	}
	return nil
}

// evalNode runs the operator, turning a panic (an index out of range on
// inconsistent inputs of a malformed model) into an error naming the node.
func evalNode(c *call) (out []*xgraph.Tensor, err error) {
	n := c.n
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*TooLargeError); ok {
				out, err = nil, e
				return
			}
			out, err = nil, fmt.Errorf("node %s: inconsistent inputs: %v", n.Label(), r)
		}
	}()
	return registry[n.Op](c)
}

// Optimize runs XGraph's standard passes on g with the executor as the
// constant folder and returns how often each pass changed the graph.
func Optimize(g *xgraph.Graph) (map[string]int, error) {
	return xgraph.Optimize(g, xgraph.Standard(foldEval)...)
}

// OptimizeWith is Optimize under the memory limit of opt: constant folding
// computes no tensor larger than the executor would.
func OptimizeWith(g *xgraph.Graph, opt Options) (map[string]int, error) {
	limit := min(opt.limit(), foldLimit)
	fold := func(opset int, n *xgraph.Node, in []*xgraph.Tensor) ([]*xgraph.Tensor, error) {
		return eval(&call{n: n, opset: opset, in: in, limit: limit})
	}
	return xgraph.Optimize(g, xgraph.Standard(fold)...)
}
