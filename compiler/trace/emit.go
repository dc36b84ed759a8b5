package trace

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"argus/autograd"
	"argus/compiler/xgraph"
	"argus/tensor"
)

// emitter translates one described op into ONNX nodes.
type emitter struct {
	t    *tracer
	desc autograd.Description
	args []*value // the operands' values, nil for absent ones
	ins  []*autograd.Var
	out  *autograd.Var
	// outputName is the graph output's name when the op computes one.
	outputName string
	// base is the name of the op's nodes: the module of its weight where
	// it has one ("layer1.0.conv1"), else the ONNX operator.
	base string
}

// errMixesBatch is wrapped by the errors of ops that a dynamic batch
// cannot express.
var errMixesBatch = errors.New("trace with a fixed batch")

// fixed returns the error for an op that would only be right for the
// traced batch size, or nil when the batch is not dynamic.
func (e *emitter) fixed(what string) error {
	if !e.t.opt.DynamicBatch {
		return nil
	}
	return fmt.Errorf("%s: %w", what, errMixesBatch)
}

func (e *emitter) int(name string) int {
	v, _ := e.desc.Attrs[name].(int)
	return v
}

func (e *emitter) ints(name string) []int {
	v, _ := e.desc.Attrs[name].([]int)
	return v
}

func (e *emitter) float(name string) float32 {
	v, _ := e.desc.Attrs[name].(float32)
	return v
}

func (e *emitter) flag(name string) bool {
	v, _ := e.desc.Attrs[name].(bool)
	return v
}

func intsAttr(v []int) *xgraph.Attr {
	a := &xgraph.Attr{Kind: xgraph.AttrInts, Ints: make([]int64, len(v))}
	for i, x := range v {
		a.Ints[i] = int64(x)
	}
	return a
}

func intAttr(v int) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrInt, I: int64(v)} }

func floatAttr(v float32) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrFloat, F: v} }

// add appends a node computing one float value of the given shape; a
// batched value has the input's batch at axis 0.
func (e *emitter) add(op string, attrs map[string]*xgraph.Attr, shape []int, batched bool, inputs ...*xgraph.Value) *value {
	base := e.base
	if base == "" {
		base = op
	}
	name := e.t.unique(base)
	if attrs == nil {
		attrs = map[string]*xgraph.Attr{}
	}
	v := &xgraph.Value{Name: name, DType: xgraph.Float32, Shape: e.t.shape(shape, batched), Ranked: true}
	e.t.nodes = append(e.t.nodes, &xgraph.Node{Name: name, Op: op, Inputs: inputs, Outputs: []*xgraph.Value{v}, Attrs: attrs})
	return &value{v: v, batched: batched}
}

// arg returns operand i's graph value, nil when it is absent.
func (e *emitter) arg(i int) *xgraph.Value {
	if i < len(e.args) && e.args[i] != nil {
		return e.args[i].v
	}
	return nil
}

// batched reports whether operand 0 carries the batch.
func (e *emitter) batched() bool { return len(e.args) > 0 && e.args[0] != nil && e.args[0].batched }

// weightBase names the op's nodes after the module of operand i, a
// parameter named "<module>.weight".
func (e *emitter) weightBase(i int) {
	if i < len(e.ins) && e.ins[i] != nil {
		if name, ok := strings.CutSuffix(e.t.params[e.ins[i]], ".weight"); ok && name != "" {
			e.base = name
		}
	}
}

// unary maps the element-wise kinds to ONNX operators of one input.
var unary = map[string]string{
	"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Exp": "Exp", "Log": "Log",
	"Sqrt": "Sqrt", "Abs": "Abs", "Softplus": "Softplus",
}

// binary lists the broadcasting kinds, which keep their names in ONNX.
var binary = map[string]bool{"Add": true, "Sub": true, "Mul": true, "Div": true}

// emit translates the op and returns the value of its result.
func (e *emitter) emit() (*value, error) {
	res, err := e.translate()
	if err != nil {
		return nil, err
	}
	if e.outputName != "" {
		delete(e.t.names, res.v.Name)
		res.v.Name = e.outputName
	}
	return res, nil
}

func (e *emitter) translate() (*value, error) {
	kind, out := e.desc.Kind, e.out.Shape()
	x := e.arg(0)
	if op, ok := unary[kind]; ok {
		return e.add(op, nil, out, e.batched(), x), nil
	}
	if binary[kind] {
		return e.broadcast(kind)
	}
	switch kind {
	case "Conv2d":
		e.weightBase(1)
		w := e.ins[1].Shape()
		attrs := map[string]*xgraph.Attr{
			"kernel_shape": intsAttr(w[2:]),
			"strides":      intsAttr(e.ints("stride")),
			"pads":         intsAttr(e.ints("pads")),
			"dilations":    intsAttr(e.ints("dilation")),
			"group":        intAttr(e.int("groups")),
		}
		inputs := []*xgraph.Value{x, e.arg(1)}
		if b := e.arg(2); b != nil {
			inputs = append(inputs, b)
		}
		return e.add("Conv", attrs, out, e.batched(), inputs...), nil
	case "ConvTranspose2d":
		e.weightBase(1)
		w := e.ins[1].Shape()
		attrs := map[string]*xgraph.Attr{
			"kernel_shape":   intsAttr(w[2:]),
			"strides":        intsAttr(e.ints("stride")),
			"pads":           intsAttr(e.ints("pads")),
			"output_padding": intsAttr(e.ints("output_padding")),
			"dilations":      intsAttr(e.ints("dilation")),
			"group":          intAttr(e.int("groups")),
		}
		inputs := []*xgraph.Value{x, e.arg(1)}
		if b := e.arg(2); b != nil {
			inputs = append(inputs, b)
		}
		return e.add("ConvTranspose", attrs, out, e.batched(), inputs...), nil
	case "LayerNorm", "GroupNorm":
		return e.norm()
	case "ResizeBilinear", "ResizeNearest":
		return e.resize()
	case "RoIAlign":
		return e.roiAlign()
	case "Linear":
		return e.linear()
	case "BatchNorm2d":
		return e.batchNorm()
	case "MaxPool2d", "AvgPool2d":
		return e.pool()
	case "AdaptiveAvgPool2d":
		in, o := e.ins[0].Shape(), e.ints("output")
		if o[0] == 1 && o[1] == 1 {
			return e.add("GlobalAveragePool", nil, out, e.batched(), x), nil
		}
		if in[2]%o[0] != 0 || in[3]%o[1] != 0 {
			return nil, fmt.Errorf("adaptive pooling of %d×%d to %d×%d has windows of different sizes, which ONNX's AveragePool cannot express", in[2], in[3], o[0], o[1])
		}
		k := []int{in[2] / o[0], in[3] / o[1]}
		return e.add("AveragePool", map[string]*xgraph.Attr{"kernel_shape": intsAttr(k), "strides": intsAttr(k)}, out, e.batched(), x), nil
	case "LeakyReLU":
		return e.add("LeakyRelu", map[string]*xgraph.Attr{"alpha": floatAttr(e.float("slope"))}, out, e.batched(), x), nil
	case "Clamp":
		inputs := []*xgraph.Value{x, nil, nil}
		for i, name := range []string{"min", "max"} {
			if v := e.float(name); !math.IsInf(float64(v), 0) {
				inputs[i+1] = e.t.scalar(v)
			}
		}
		for len(inputs) > 1 && inputs[len(inputs)-1] == nil {
			inputs = inputs[:len(inputs)-1]
		}
		return e.add("Clip", nil, out, e.batched(), inputs...), nil
	case "Scale":
		return e.add("Mul", nil, out, e.batched(), x, e.t.scalar(e.float("factor"))), nil
	case "AddScalar":
		return e.add("Add", nil, out, e.batched(), x, e.t.scalar(e.float("value"))), nil
	case "Pow":
		return e.add("Pow", nil, out, e.batched(), x, e.t.scalar(e.float("exponent"))), nil
	case "GELU":
		// 0.5·x·(1 + erf(x/√2)), the exact form autograd computes;
		// operator set 13 has no Gelu.
		b := e.batched()
		s := e.add("Mul", nil, out, b, x, e.t.scalar(float32(1/math.Sqrt2)))
		s = e.add("Erf", nil, out, b, s.v)
		s = e.add("Add", nil, out, b, s.v, e.t.scalar(1))
		s = e.add("Mul", nil, out, b, x, s.v)
		return e.add("Mul", nil, out, b, s.v, e.t.scalar(0.5)), nil
	case "MatMul", "BatchMatMul":
		return e.matMul()
	case "Attention":
		return e.attention()
	case "Flatten":
		return e.flatten()
	case "Reshape":
		return e.reshape()
	case "Permute":
		perm := e.ints("perm")
		if e.batched() && perm[0] != 0 {
			if err := e.fixed("the permutation moves the batch axis"); err != nil {
				return nil, err
			}
		}
		return e.add("Transpose", map[string]*xgraph.Attr{"perm": intsAttr(perm)}, out, e.batched() && perm[0] == 0, x), nil
	case "Slice":
		axis := e.int("axis")
		if e.batched() && axis == 0 {
			if err := e.fixed("slicing the batch axis"); err != nil {
				return nil, err
			}
		}
		t := e.t
		return e.add("Slice", nil, out, e.batched() && axis != 0, x,
			t.intConstant("starts", []int64{int64(e.int("start"))}),
			t.intConstant("ends", []int64{int64(e.int("end"))}),
			t.intConstant("axes", []int64{int64(axis)})), nil
	case "Concat":
		return e.concat()
	case "Sum":
		return e.sum()
	case "Softmax", "LogSoftmax":
		return e.add(kind, map[string]*xgraph.Attr{"axis": intAttr(e.int("axis"))}, out, e.batched(), x), nil
	case "Dropout":
		// In evaluation Dropout is the identity and records nothing.
		return nil, errors.New("dropout in training mode draws random masks; export in evaluation mode")
	case "":
		return nil, errors.New("the operation does not say what it computes")
	}
	return nil, fmt.Errorf("no ONNX translation for %s", kind)
}

// broadcast translates Add, Sub, Mul and Div, whose operands broadcast
// as in NumPy, as in ONNX.
func (e *emitter) broadcast(op string) (*value, error) {
	out := e.out.Shape()
	batched := false
	for i, a := range e.args {
		s := e.ins[i].Shape()
		switch {
		case a.batched && len(s) == len(out):
			batched = true
		case a.batched:
			if err := e.fixed(fmt.Sprintf("operand %d of shape %v broadcasts its batch axis into axis %d", i, s, len(out)-len(s))); err != nil {
				return nil, err
			}
		}
	}
	for i, a := range e.args {
		if s := e.ins[i].Shape(); batched && !a.batched && len(s) == len(out) && s[0] != 1 {
			if err := e.fixed(fmt.Sprintf("operand %d of shape %v holds one row per traced batch item", i, s)); err != nil {
				return nil, err
			}
		}
	}
	return e.add(op, nil, out, batched, e.arg(0), e.arg(1)), nil
}

// linear translates x·wᵀ + b: Gemm for a matrix x, else MatMul by the
// transposed weights and Add.
func (e *emitter) linear() (*value, error) {
	e.weightBase(1)
	x, w, b := e.arg(0), e.arg(1), e.arg(2)
	xs, ws, out := e.ins[0].Shape(), e.ins[1].Shape(), e.out.Shape()
	if len(xs) == 1 && e.batched() {
		if err := e.fixed("a vector input has no batch axis to keep"); err != nil {
			return nil, err
		}
	}
	batched := e.batched() && len(xs) >= 2
	if len(xs) == 2 {
		inputs := []*xgraph.Value{x, w}
		if b != nil {
			inputs = append(inputs, b)
		}
		return e.add("Gemm", map[string]*xgraph.Attr{"transB": intAttr(1)}, out, batched, inputs...), nil
	}
	wt := e.add("Transpose", map[string]*xgraph.Attr{"perm": intsAttr([]int{1, 0})}, []int{ws[1], ws[0]}, false, w)
	y := e.add("MatMul", nil, out, batched, x, wt.v)
	if b == nil {
		return y, nil
	}
	return e.add("Add", nil, out, batched, y.v, b), nil
}

func (e *emitter) batchNorm() (*value, error) {
	if e.flag("training") {
		return nil, errors.New("batch norm in training mode normalises with batch statistics; export in evaluation mode")
	}
	e.weightBase(1)
	c := e.ins[0].Shape()[1]
	t := e.t
	affine := func(i int, fill float32) *xgraph.Value {
		if v := e.arg(i); v != nil {
			return v
		}
		vals := make([]float32, c)
		for j := range vals {
			vals[j] = fill
		}
		return &xgraph.Value{Name: t.fresh("const"), DType: xgraph.Float32, Shape: []int{c}, Ranked: true, Const: xgraph.NewFloat(vals, c)}
	}
	mean, vari := e.desc.Tensors["running_mean"], e.desc.Tensors["running_var"]
	if mean == nil || vari == nil {
		return nil, errors.New("batch norm without running statistics")
	}
	attrs := map[string]*xgraph.Attr{"epsilon": floatAttr(e.float("eps"))}
	return e.add("BatchNormalization", attrs, e.out.Shape(), e.batched(),
		e.arg(0), affine(1, 1), affine(2, 0), t.constant(mean, ""), t.constant(vari, "")), nil
}

// pool translates max and average pooling. ONNX sizes a ceil-mode output
// without PyTorch's rule that the last window start inside the image or
// its left padding, so where that rule drops a window the op is refused.
func (e *emitter) pool() (*value, error) {
	k, s, p := e.ints("kernel"), e.ints("stride"), e.ints("padding")
	d := e.ints("dilation")
	if d == nil {
		d = []int{1, 1}
	}
	ceil := e.flag("ceil_mode")
	in, out := e.ins[0].Shape(), e.out.Shape()
	for i := range 2 {
		num := in[2+i] + 2*p[i] - d[i]*(k[i]-1) - 1
		n := num/s[i] + 1
		if ceil {
			n = (num+s[i]-1)/s[i] + 1
		}
		if n != out[2+i] {
			return nil, fmt.Errorf("ONNX's ceil mode gives %d outputs along axis %d where PyTorch's gives %d", n, 2+i, out[2+i])
		}
	}
	attrs := map[string]*xgraph.Attr{
		"kernel_shape": intsAttr(k),
		"strides":      intsAttr(s),
		"pads":         intsAttr([]int{p[0], p[1], p[0], p[1]}),
	}
	if ceil {
		attrs["ceil_mode"] = intAttr(1)
	}
	op := "MaxPool"
	if e.desc.Kind == "AvgPool2d" {
		op = "AveragePool"
		if !e.flag("exclude_pad") && (p[0] > 0 || p[1] > 0) {
			attrs["count_include_pad"] = intAttr(1)
		}
	} else if d[0] != 1 || d[1] != 1 {
		attrs["dilations"] = intsAttr(d)
	}
	return e.add(op, attrs, out, e.batched(), e.arg(0)), nil
}

func (e *emitter) matMul() (*value, error) {
	a, b := e.ins[0].Shape(), e.ins[1].Shape()
	out := e.out.Shape()
	batched := false
	for i, s := range [][]int{a, b} {
		if !e.args[i].batched {
			continue
		}
		// The rows of a batched left matrix, or the batch axis of a
		// batched product, carry the batch; anything else mixes it.
		if (i == 0 && len(s) == 2 && len(out) == 2) || (len(s) > 2 && len(s) == len(out)) {
			batched = true
			continue
		}
		if err := e.fixed(fmt.Sprintf("operand %d of shape %v is multiplied along its batch axis", i, s)); err != nil {
			return nil, err
		}
	}
	return e.add("MatMul", nil, out, batched, e.arg(0), e.arg(1)), nil
}

// attention translates fused scaled dot-product attention into its steps:
// MatMul(q, kᵀ), Mul by the scale, Softmax over the last axis, MatMul by v.
// The batch is kept when all three operands carry it on axis 0 beside at
// least two matrix axes.
func (e *emitter) attention() (*value, error) {
	q, k := e.ins[0].Shape(), e.ins[1].Shape()
	n := len(q)
	batched := false
	for i := range e.args {
		if e.args[i].batched {
			batched = true
		}
	}
	if batched {
		for i := range e.args {
			if !e.args[i].batched || n < 3 {
				if err := e.fixed(fmt.Sprintf("operand %d of attention of shape %v mixes its batch axis", i, e.ins[i].Shape())); err != nil {
					return nil, err
				}
				batched = false
			}
		}
	}
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	perm[n-2], perm[n-1] = n-1, n-2
	kt := append(append([]int{}, k[:n-2]...), k[n-1], k[n-2])
	scores := append(append([]int{}, q[:n-1]...), k[n-2])
	t := e.add("Transpose", map[string]*xgraph.Attr{"perm": intsAttr(perm)}, kt, batched, e.arg(1))
	s := e.add("MatMul", nil, scores, batched, e.arg(0), t.v)
	s = e.add("Mul", nil, scores, batched, s.v, e.t.scalar(e.float("scale")))
	s = e.add("Softmax", map[string]*xgraph.Attr{"axis": intAttr(n - 1)}, scores, batched, s.v)
	return e.add("MatMul", nil, e.out.Shape(), batched, s.v, e.arg(2)), nil
}

// flatten translates Flatten(start, end): ONNX's Flatten where it agrees
// (axis 1 through the last), else a Reshape that copies the leading axes
// (0) and infers the merged one (−1), right for any batch.
func (e *emitter) flatten() (*value, error) {
	start, end := e.int("start"), e.int("end")
	in, out := e.ins[0].Shape(), e.out.Shape()
	if start == 1 && end == len(in)-1 {
		return e.add("Flatten", map[string]*xgraph.Attr{"axis": intAttr(1)}, out, e.batched(), e.arg(0)), nil
	}
	if start == 0 && e.batched() {
		if err := e.fixed("flattening merges the batch axis into others"); err != nil {
			return nil, err
		}
	}
	shape := make([]int64, 0, len(out))
	for range start {
		shape = append(shape, 0)
	}
	shape = append(shape, -1)
	for _, d := range in[end+1:] {
		shape = append(shape, int64(d))
	}
	return e.add("Reshape", nil, out, e.batched() && start > 0, e.arg(0), e.t.intConstant("shape", shape)), nil
}

// reshape translates Reshape to a literal shape.
func (e *emitter) reshape() (*value, error) {
	return e.reshapeTo(e.args[0], e.ins[0].Shape(), e.out.Shape())
}

// reshapeTo reshapes a of shape in to out; with a dynamic batch the batch
// axis must stay in place and is copied (0).
func (e *emitter) reshapeTo(a *value, in, out []int) (*value, error) {
	shape := make([]int64, len(out))
	for i, d := range out {
		if d == 0 {
			return nil, errors.New("ONNX's Reshape reads a 0 as 'copy the input's axis', so a shape with an empty axis cannot be written")
		}
		shape[i] = int64(d)
	}
	batched := false
	if a.batched {
		if len(out) > 0 && out[0] == in[0] {
			batched = true
			if e.t.opt.DynamicBatch {
				shape[0] = 0
			}
		} else if err := e.fixed(fmt.Sprintf("reshaping %v to %v moves the batch axis", in, out)); err != nil {
			return nil, err
		}
	}
	return e.add("Reshape", nil, out, batched, a.v, e.t.intConstant("shape", shape)), nil
}

// sum translates sums and means over axes: ReduceMean where the scale is
// one over the count reduced, else ReduceSum and a Mul by the scale, both
// keeping the reduced axes, then a Reshape when the result drops them.
func (e *emitter) sum() (*value, error) {
	in, keep, shape := e.ins[0].Shape(), e.ints("keep"), e.ints("shape")
	scale := e.float("scale")
	var axes []int
	n := 1
	for i := range in {
		if keep[i] != in[i] {
			axes = append(axes, i)
			n *= in[i]
		}
	}
	if e.batched() && len(axes) > 0 && axes[0] == 0 {
		if err := e.fixed("a reduction over the batch axis"); err != nil {
			return nil, err
		}
	}
	batched := e.batched() && (len(axes) == 0 || axes[0] != 0)
	r := e.args[0]
	if len(axes) > 0 {
		ax := make([]int64, len(axes))
		for i, a := range axes {
			ax[i] = int64(a)
		}
		if scale != 0 && scale == 1/float32(n) {
			r = e.add("ReduceMean", map[string]*xgraph.Attr{"axes": intsAttr(axes), "keepdims": intAttr(1)}, keep, batched, r.v)
		} else {
			r = e.add("ReduceSum", map[string]*xgraph.Attr{"keepdims": intAttr(1)}, keep, batched, r.v, e.t.intConstant("axes", ax))
			if scale != 0 {
				r = e.add("Mul", nil, keep, batched, r.v, e.t.scalar(scale))
			}
		}
	} else if scale != 0 {
		r = e.add("Mul", nil, keep, batched, r.v, e.t.scalar(scale))
	}
	if equal(keep, shape) && r != e.args[0] {
		return r, nil
	}
	return e.reshapeTo(r, keep, shape)
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (e *emitter) concat() (*value, error) {
	axis, out := e.int("axis"), e.out.Shape()
	inputs := make([]*xgraph.Value, len(e.args))
	batched, all := false, true
	for i, a := range e.args {
		inputs[i] = a.v
		batched = batched || a.batched
		all = all && a.batched
	}
	if batched && (axis == 0 || !all) {
		if err := e.fixed("concatenation along the batch axis, or of batched and unbatched tensors"); err != nil {
			return nil, err
		}
	}
	return e.add("Concat", map[string]*xgraph.Attr{"axis": intAttr(axis)}, out, batched && all && axis != 0, inputs...), nil
}

// unique returns name if it is unused, else name_1, name_2, ...
func (t *tracer) unique(name string) string {
	if !t.names[name] {
		t.names[name] = true
		return name
	}
	return t.fresh(name)
}

// norm translates layer and group normalisation, which operator set 13
// lacks, into the reductions they compute: (x − mean)/√(var + eps) over
// the trailing axes (a group norm's over each group of channels, the
// input reshaped to N×groups×rest), times the weight, plus the bias.
func (e *emitter) norm() (*value, error) {
	e.weightBase(1)
	in, out := e.ins[0].Shape(), e.out.Shape()
	b := e.batched()
	x := e.args[0]
	var axes []int
	if e.desc.Kind == "LayerNorm" {
		for i := len(in) - e.int("axes"); i < len(in); i++ {
			axes = append(axes, i)
		}
		if b && axes[0] == 0 {
			if err := e.fixed("a layer norm over the batch axis"); err != nil {
				return nil, err
			}
		}
	} else {
		g := e.int("groups")
		grouped := []int{in[0], g, tensor.NumElements(in) / (in[0] * g)}
		var err error
		if x, err = e.reshapeTo(x, in, grouped); err != nil {
			return nil, err
		}
		in, axes = grouped, []int{2}
	}
	keep := append([]int{}, in...)
	for _, a := range axes {
		keep[a] = 1
	}
	mean := func(v *xgraph.Value) *value {
		return e.add("ReduceMean", map[string]*xgraph.Attr{"axes": intsAttr(axes), "keepdims": intAttr(1)}, keep, b, v)
	}
	d := e.add("Sub", nil, in, b, x.v, mean(x.v).v)
	v := mean(e.add("Mul", nil, in, b, d.v, d.v).v)
	std := e.add("Sqrt", nil, keep, b, e.add("Add", nil, keep, b, v.v, e.t.scalar(e.float("eps"))).v)
	y := e.add("Div", nil, in, b, d.v, std.v)
	if e.desc.Kind == "GroupNorm" {
		var err error
		if y, err = e.reshapeTo(y, in, out); err != nil {
			return nil, err
		}
	}
	// A group norm's per-channel parameters broadcast as C×1×...×1.
	param := func(i int) *xgraph.Value {
		p := e.arg(i)
		if p == nil || e.desc.Kind == "LayerNorm" || len(out) <= 2 {
			return p
		}
		shape := []int64{int64(out[1])}
		for range out[2:] {
			shape = append(shape, 1)
		}
		dims := make([]int, len(shape))
		for j, s := range shape {
			dims[j] = int(s)
		}
		return e.add("Reshape", nil, dims, false, p, e.t.intConstant("shape", shape)).v
	}
	if w := param(1); w != nil {
		y = e.add("Mul", nil, out, b, y.v, w)
	}
	if bias := param(2); bias != nil {
		y = e.add("Add", nil, out, b, y.v, bias)
	}
	return y, nil
}

// resize translates bilinear resizing to ONNX's linear Resize to the
// given sizes: "align_corners", or "half_pixel", whose clamping at the
// borders is PyTorch's; and nearest resizing to the nearest Resize with
// "asymmetric" coordinates and "floor", PyTorch's nearest mode. The sizes
// include the batch and channels, taken from the input's shape when the
// batch is dynamic.
func (e *emitter) resize() (*value, error) {
	size, out := e.ints("size"), e.out.Shape()
	mode := "half_pixel"
	if e.flag("align_corners") {
		mode = "align_corners"
	}
	attrs := map[string]*xgraph.Attr{
		"mode":                           {Kind: xgraph.AttrString, S: "linear"},
		"coordinate_transformation_mode": {Kind: xgraph.AttrString, S: mode},
	}
	if e.desc.Kind == "ResizeNearest" {
		attrs = map[string]*xgraph.Attr{
			"mode":                           {Kind: xgraph.AttrString, S: "nearest"},
			"coordinate_transformation_mode": {Kind: xgraph.AttrString, S: "asymmetric"},
			"nearest_mode":                   {Kind: xgraph.AttrString, S: "floor"},
		}
	}
	t := e.t
	var sizes *xgraph.Value
	if e.batched() && t.opt.DynamicBatch {
		shape := &xgraph.Value{Name: t.fresh("shape"), DType: xgraph.Int64, Shape: []int{4}, Ranked: true}
		t.nodes = append(t.nodes, &xgraph.Node{Name: shape.Name, Op: "Shape", Inputs: []*xgraph.Value{e.arg(0)}, Outputs: []*xgraph.Value{shape}, Attrs: map[string]*xgraph.Attr{}})
		nc := &xgraph.Value{Name: t.fresh("shape"), DType: xgraph.Int64, Shape: []int{2}, Ranked: true}
		t.nodes = append(t.nodes, &xgraph.Node{Name: nc.Name, Op: "Slice", Outputs: []*xgraph.Value{nc}, Attrs: map[string]*xgraph.Attr{},
			Inputs: []*xgraph.Value{shape, t.intConstant("starts", []int64{0}), t.intConstant("ends", []int64{2})}})
		sizes = &xgraph.Value{Name: t.fresh("sizes"), DType: xgraph.Int64, Shape: []int{4}, Ranked: true}
		t.nodes = append(t.nodes, &xgraph.Node{Name: sizes.Name, Op: "Concat", Outputs: []*xgraph.Value{sizes},
			Attrs:  map[string]*xgraph.Attr{"axis": intAttr(0)},
			Inputs: []*xgraph.Value{nc, t.intConstant("size", []int64{int64(size[0]), int64(size[1])})}})
	} else {
		sizes = t.intConstant("sizes", []int64{int64(out[0]), int64(out[1]), int64(size[0]), int64(size[1])})
	}
	return e.add("Resize", attrs, out, e.batched(), e.arg(0), nil, nil, sizes), nil
}

// roiAlignOpset is the operator set of RoiAlign with
// coordinate_transformation_mode; a graph holding one is of that set.
const roiAlignOpset = 16

// roiAlign translates RoIAlign, over one feature map or a pyramid, to one
// ONNX RoiAlign per feature map that pools boxes, the results concatenated
// and, where the levels reorder the boxes, gathered back into the boxes'
// order. The boxes and their images are constants of the trace, so the
// batch must be fixed.
func (e *emitter) roiAlign() (*value, error) {
	if err := e.fixed("RoIAlign's boxes are constants of the traced batch"); err != nil {
		return nil, err
	}
	out, size := e.out.Shape(), e.ints("output")
	rois, levels, batch := e.desc.Tensors["rois"], e.ints("levels"), e.ints("batch")
	scales, _ := e.desc.Attrs["spatial_scales"].([]float32)
	if len(levels) == 0 {
		return nil, errors.New("no boxes to pool")
	}
	mode := "output_half_pixel"
	if e.flag("aligned") {
		mode = "half_pixel"
	}
	var parts []*xgraph.Value
	var order []int64
	for l := range e.args {
		var idx []int64
		for k, lv := range levels {
			if lv == l {
				idx = append(idx, int64(k))
			}
		}
		if len(idx) == 0 {
			continue
		}
		r := tensor.Zeros(len(idx), 4)
		b := make([]int64, len(idx))
		for i, k := range idx {
			copy(r.Data()[4*i:4*i+4], rois.Data()[4*k:4*k+4])
			b[i] = int64(batch[k])
		}
		attrs := map[string]*xgraph.Attr{
			"mode":                           {Kind: xgraph.AttrString, S: "avg"},
			"coordinate_transformation_mode": {Kind: xgraph.AttrString, S: mode},
			"output_height":                  intAttr(size[0]),
			"output_width":                   intAttr(size[1]),
			"sampling_ratio":                 intAttr(max(e.int("sampling_ratio"), 0)),
			"spatial_scale":                  floatAttr(scales[l]),
		}
		v := e.add("RoiAlign", attrs, []int{len(idx), out[1], size[0], size[1]}, false, e.arg(l), e.t.constant(r, ""), e.t.intConstant("batch_indices", b))
		parts = append(parts, v.v)
		order = append(order, idx...)
	}
	e.t.opset = max(e.t.opset, roiAlignOpset)
	res := &value{v: parts[0]}
	if len(parts) > 1 {
		res = e.add("Concat", map[string]*xgraph.Attr{"axis": intAttr(0)}, out, false, parts...)
	}
	inv := make([]int64, len(order))
	moved := false
	for i, k := range order {
		inv[k] = int64(i)
		moved = moved || k != int64(i)
	}
	if moved {
		res = e.add("Gather", map[string]*xgraph.Attr{"axis": intAttr(0)}, out, false, res.v, e.t.intConstant("order", inv))
	}
	return res, nil
}
