package quant

import (
	"fmt"
	"math"

	"argus/compiler/xgraph"
	"argus/dpu/ref"
	"argus/internal/geom"
)

// plan is a graph lowered to layers before calibration: the model with
// its tensors and layers (positions not yet known), the float parameters
// of each layer in the layout of Layer.Weights, and the graph value whose
// float data gives each tensor its position.
type plan struct {
	m      *Model
	fw, fb map[int][]float32 // by layer index
	values map[string]*xgraph.Value
}

// lower turns the nodes of g (optimised, shapes inferred) into layers. A
// Relu, Clip(0, 6) or LeakyRelu(0.1) that is the only reader of a Conv,
// Gemm, Add or Mul becomes that layer's activation, as the DPU applies it
// during requantisation; only the activation's output is then a tensor.
func lower(g *xgraph.Graph) (*plan, error) {
	if len(g.Inputs) != 1 {
		return nil, fmt.Errorf("graph has %d inputs; the quantiser takes one image input", len(g.Inputs))
	}
	in := g.Inputs[0]
	if !in.Ranked || len(in.Shape) != 4 || in.Shape[1] <= 0 || in.Shape[2] <= 0 || in.Shape[3] <= 0 {
		return nil, fmt.Errorf("input %q has shape %v; the quantiser takes N×C×H×W images of a known size", in.Name, in.Shape)
	}
	p := &plan{
		m:      &Model{Name: g.Name, Input: in.Name},
		fw:     map[int][]float32{},
		fb:     map[int][]float32{},
		values: map[string]*xgraph.Value{},
	}
	p.m.Tensors = append(p.m.Tensors, Tensor{Name: in.Name, Shape: [3]int{in.Shape[1], in.Shape[2], in.Shape[3]}})
	p.values[in.Name] = in
	cons := g.Consumers()
	outputs := map[*xgraph.Value]bool{}
	for _, v := range g.Outputs {
		outputs[v] = true
	}
	fused := map[*xgraph.Node]bool{}
	for _, n := range g.Nodes {
		if fused[n] {
			continue
		}
		if n.Domain != "" {
			return nil, &xgraph.UnsupportedError{Node: n.Label(), Op: n.Op, Reason: fmt.Sprintf("operator domain %q", n.Domain)}
		}
		if len(n.Outputs) == 0 || n.Outputs[0] == nil {
			return nil, xgraph.Unsupported(n, "", "no output")
		}
		for _, o := range n.Outputs[1:] {
			if o != nil && (len(cons[o]) > 0 || outputs[o]) {
				return nil, xgraph.Unsupported(n, "", "a second output that is read (%q)", o.Name)
			}
		}
		l := Layer{Name: n.Label(), Output: outName(n)}
		out := n.Outputs[0]
		for _, v := range n.Inputs {
			if v != nil && v.Const == nil {
				l.Inputs = append(l.Inputs, v.Name)
			}
		}
		for _, name := range l.Inputs {
			if p.m.Tensor(name) == nil {
				return nil, xgraph.Unsupported(n, "", "input %q is not an int8 tensor of the model", name)
			}
		}
		// absorb makes the only reader of n's output, when it is an
		// activation the requantisation can apply, part of the layer.
		absorb := func() error {
			o := n.Outputs[0]
			rs := cons[o]
			if len(rs) != 1 || outputs[o] {
				return nil
			}
			act, ok, err := activation(g.Opset, rs[0])
			if err != nil || !ok {
				return err
			}
			l.Act = act
			l.Output, out = outName(rs[0]), rs[0].Outputs[0]
			fused[rs[0]] = true
			return nil
		}
		var err error
		switch n.Op {
		case "Conv":
			err = p.conv(n, &l)
			if err == nil {
				err = absorb()
			}
		case "Gemm":
			err = p.fc(n, &l)
			if err == nil {
				err = absorb()
			}
		case "Add", "Mul":
			l.Op = OpAdd
			if n.Op == "Mul" {
				l.Op = OpMul
			}
			err = p.binary(n, &l)
			if err == nil {
				err = absorb()
			}
		case "MaxPool", "AveragePool", "GlobalAveragePool":
			err = p.pool(n, &l)
		case "Concat":
			err = p.concat(n, &l)
		case "Flatten", "Reshape":
			err = p.flatten(n, &l)
		case "Relu", "Clip":
			var act int
			var ok bool
			act, ok, err = activation(g.Opset, n)
			if err == nil && !ok {
				err = xgraph.Unsupported(n, "", "bounds other than [0, inf) and [0, 6]")
			}
			l.Op = OpReLU
			if act == ref.ActReLU6 {
				l.Op = OpReLU6
			}
		case "Sigmoid":
			l.Op = OpSigmoid
		default:
			err = xgraph.Unsupported(n, "", "operator not supported by the quantiser")
		}
		if err != nil {
			return nil, err
		}
		if (l.Op == OpConcat || l.Op == OpSigmoid) && len(l.Inputs) != len(n.Inputs) {
			return nil, xgraph.Unsupported(n, "", "constant operands")
		}
		shape, err := perImage(n, out)
		if err != nil {
			return nil, err
		}
		if l.Op == OpFlatten {
			shape = [3]int{shape[0] * shape[1] * shape[2], 1, 1}
		}
		p.m.Tensors = append(p.m.Tensors, Tensor{Name: l.Output, Shape: shape})
		p.values[l.Output] = out
		p.m.Layers = append(p.m.Layers, l)
	}
	for _, v := range g.Outputs {
		if p.m.Tensor(v.Name) == nil {
			return nil, fmt.Errorf("graph output %q is not computed by a quantised layer", v.Name)
		}
		p.m.Outputs = append(p.m.Outputs, v.Name)
	}
	return p, nil
}

// outName is the name of n's first output.
func outName(n *xgraph.Node) string {
	if len(n.Outputs) == 0 || n.Outputs[0] == nil {
		return ""
	}
	return n.Outputs[0].Name
}

// perImage returns the C×H×W shape of a value of rank 4, or K×1×1 for one
// of rank 2 (batch first).
func perImage(n *xgraph.Node, v *xgraph.Value) ([3]int, error) {
	if v == nil || !v.Ranked {
		return [3]int{}, xgraph.Unsupported(n, "", "output of unknown shape")
	}
	s := v.Shape
	var shape [3]int
	switch len(s) {
	case 4:
		shape = [3]int{s[1], s[2], s[3]}
	case 2:
		shape = [3]int{s[1], 1, 1}
	default:
		return shape, xgraph.Unsupported(n, "", "output of shape %v (want N×C×H×W or N×K)", s)
	}
	for _, d := range shape {
		if d <= 0 {
			return shape, xgraph.Unsupported(n, "", "output of shape %v with unknown dimensions", s)
		}
	}
	return shape, nil
}

// activation returns the requantisation activation that node n computes,
// if it is one: Relu, Clip to [0, inf) or [0, 6], LeakyRelu with the slope
// 0.1 that the DPU approximates by 26/256.
func activation(opset int, n *xgraph.Node) (act int, ok bool, err error) {
	switch n.Op {
	case "Relu":
		return ref.ActReLU, true, nil
	case "LeakyRelu":
		if math.Abs(float64(n.Float("alpha"))-0.1) < 1e-3 {
			return ref.ActLeaky, true, nil
		}
	case "Clip":
		lo, hi := float32(math.Inf(-1)), float32(math.Inf(1))
		if opset < 11 {
			lo, hi = n.Float("min"), n.Float("max")
		} else {
			for i, b := range []*float32{&lo, &hi} {
				v := n.Input(i + 1)
				if v == nil {
					continue
				}
				if v.Const == nil || !v.Const.DType.IsFloat() || v.Const.Len() != 1 {
					return 0, false, xgraph.Unsupported(n, "", "bound %q is not a constant scalar", v.Name)
				}
				*b = v.Const.F[0]
			}
		}
		switch {
		case lo == 0 && math.IsInf(float64(hi), 1):
			return ref.ActReLU, true, nil
		case lo == 0 && hi == 6:
			return ref.ActReLU6, true, nil
		}
	}
	return 0, false, nil
}

// window resolves n's 2-D window over its input tensor and stores it in l.
// dpu/ref's layers have no dilation and round the output size down.
func (p *plan) window(n *xgraph.Node, l *Layer, kernel []int) (geom.Window, error) {
	t := p.m.Tensor(l.Inputs[0])
	w, err := xgraph.Window(n, []int{t.Shape[1], t.Shape[2]}, kernel)
	if err != nil {
		return w, err
	}
	if w.Rank() != 2 {
		return w, xgraph.Unsupported(n, "", "%d-D window", w.Rank())
	}
	if w.Dilation[0] != 1 || w.Dilation[1] != 1 {
		return w, xgraph.Unsupported(n, "dilations", "dilation %v", w.Dilation)
	}
	plain, err := geom.Window{Stride: w.Stride, Padding: w.Padding, PadEnd: w.PadEnd}.Resolve(w.In, w.Kernel, false)
	if err == nil && (plain.Out[0] != w.Out[0] || plain.Out[1] != w.Out[1]) && n.Op == "MaxPool" {
		// Ceil mode adds a window that runs past the end: for max pooling
		// that is more padding at the end, which never wins.
		end := append([]int(nil), w.PadEnd...)
		for j := range 2 {
			end[j] = max(end[j], (w.Out[j]-1)*w.Stride[j]+w.Kernel[j]-w.In[j]-w.Padding[j])
		}
		w.PadEnd = end
		plain, err = geom.Window{Stride: w.Stride, Padding: w.Padding, PadEnd: w.PadEnd}.Resolve(w.In, w.Kernel, false)
	}
	if err != nil || plain.Out[0] != w.Out[0] || plain.Out[1] != w.Out[1] {
		return w, xgraph.Unsupported(n, "ceil_mode", "ceil mode that adds an output row or column (average pooling)")
	}
	for j := range 2 {
		if w.Padding[j] >= w.Kernel[j] || w.PadEnd[j] >= w.Kernel[j] {
			return w, xgraph.Unsupported(n, "pads", "padding %v, %v as wide as the kernel %v", w.Padding, w.PadEnd, w.Kernel)
		}
	}
	l.Kernel = [2]int{w.Kernel[0], w.Kernel[1]}
	l.Stride = [2]int{w.Stride[0], w.Stride[1]}
	l.Pad = [4]int{w.Padding[0], w.Padding[1], w.PadEnd[0], w.PadEnd[1]}
	return w, nil
}

// conv lowers a Conv node: ungrouped or depthwise, constant weights.
func (p *plan) conv(n *xgraph.Node, l *Layer) error {
	if len(l.Inputs) != 1 {
		return xgraph.Unsupported(n, "", "weights that are not constants")
	}
	wv := n.Input(1)
	if wv == nil || wv.Const == nil || !wv.Const.DType.IsFloat() || len(wv.Const.Shape) != 4 {
		return xgraph.Unsupported(n, "", "weights that are not a constant 4-D float tensor")
	}
	W := wv.Const
	M, Cg, KH, KW := W.Shape[0], W.Shape[1], W.Shape[2], W.Shape[3]
	if _, err := p.window(n, l, []int{KH, KW}); err != nil {
		return err
	}
	C := p.m.Tensor(l.Inputs[0]).Shape[0]
	group := int(n.Int("group"))
	var w []float32
	switch {
	case group == 1 && Cg == C:
		l.Op = OpConv
		w = make([]float32, len(W.F))
		for m := 0; m < M; m++ {
			for c := 0; c < C; c++ {
				for ky := 0; ky < KH; ky++ {
					for kx := 0; kx < KW; kx++ {
						w[((m*KH+ky)*KW+kx)*C+c] = W.F[((m*C+c)*KH+ky)*KW+kx]
					}
				}
			}
		}
	case group == C && M == C && Cg == 1:
		l.Op = OpDepthwise
		w = make([]float32, len(W.F))
		for c := 0; c < C; c++ {
			for k := 0; k < KH*KW; k++ {
				w[k*C+c] = W.F[c*KH*KW+k]
			}
		}
	default:
		return xgraph.Unsupported(n, "group", "grouped convolution of %d groups over %d channels", group, C)
	}
	b, err := biasOf(n, n.Input(2), M)
	if err != nil {
		return err
	}
	i := len(p.m.Layers)
	p.fw[i], p.fb[i] = w, b
	return nil
}

// fc lowers a Gemm node of a vector input and constant weights: alpha and
// beta 1, A not transposed.
func (p *plan) fc(n *xgraph.Node, l *Layer) error {
	if len(l.Inputs) != 1 || n.Float("alpha") != 1 || n.Float("beta") != 1 || n.Int("transA") != 0 {
		return xgraph.Unsupported(n, "", "only Gemm(x, constant W, constant bias) with alpha = beta = 1 and x not transposed")
	}
	t := p.m.Tensor(l.Inputs[0])
	if t.Shape[1] != 1 || t.Shape[2] != 1 {
		return xgraph.Unsupported(n, "", "input %q of shape %v is not a vector", t.Name, t.Shape)
	}
	B := n.Input(1).Const
	if B == nil || !B.DType.IsFloat() || len(B.Shape) != 2 {
		return xgraph.Unsupported(n, "", "weights that are not a constant matrix")
	}
	K := t.Shape[0]
	N := B.Shape[1]
	if n.Int("transB") != 0 {
		N = B.Shape[0]
	}
	if B.Len() != N*K {
		return xgraph.Unsupported(n, "", "weights of shape %v for %d inputs", B.Shape, K)
	}
	w := make([]float32, N*K)
	for o := 0; o < N; o++ {
		for k := 0; k < K; k++ {
			if n.Int("transB") != 0 {
				w[o*K+k] = B.F[o*K+k]
			} else {
				w[o*K+k] = B.F[k*N+o]
			}
		}
	}
	b, err := biasOf(n, n.Input(2), N)
	if err != nil {
		return err
	}
	l.Op = OpFC
	l.Kernel, l.Stride = [2]int{1, 1}, [2]int{1, 1}
	i := len(p.m.Layers)
	p.fw[i], p.fb[i] = w, b
	return nil
}

// biasOf returns the constant bias v of m values, zeros when absent.
func biasOf(n *xgraph.Node, v *xgraph.Value, m int) ([]float32, error) {
	if v == nil {
		return make([]float32, m), nil
	}
	if v.Const == nil || !v.Const.DType.IsFloat() || v.Const.Len() != m {
		return nil, xgraph.Unsupported(n, "", "bias that is not a constant vector of %d values", m)
	}
	return append([]float32(nil), v.Const.F...), nil
}

// binary lowers Add or Mul of two tensors of one shape.
func (p *plan) binary(n *xgraph.Node, l *Layer) error {
	if len(l.Inputs) != 2 || len(n.Inputs) != 2 {
		return xgraph.Unsupported(n, "", "operands that are not two computed tensors")
	}
	a, b := p.m.Tensor(l.Inputs[0]), p.m.Tensor(l.Inputs[1])
	if a.Shape != b.Shape {
		return xgraph.Unsupported(n, "", "broadcasting %v with %v", a.Shape, b.Shape)
	}
	return nil
}

// pool lowers max and average pooling.
func (p *plan) pool(n *xgraph.Node, l *Layer) error {
	if len(l.Inputs) != 1 {
		return xgraph.Unsupported(n, "", "a constant input")
	}
	if _, err := p.window(n, l, nil); err != nil {
		return err
	}
	l.Op = OpMaxPool
	if n.Op != "MaxPool" {
		l.Op = OpAvgPool
		l.AvgMult, l.ShiftCut = AvgFactor(l.Kernel[0], l.Kernel[1])
	}
	return nil
}

// concat lowers a Concat along the channels.
func (p *plan) concat(n *xgraph.Node, l *Layer) error {
	if ax := n.Int("axis"); ax != 1 && ax != -3 {
		return xgraph.Unsupported(n, "axis", "concatenation along axis %d (want the channels)", ax)
	}
	for _, name := range l.Inputs {
		t := p.m.Tensor(name)
		if len(n.Outputs[0].Shape) != 4 {
			return xgraph.Unsupported(n, "", "concatenation of vectors")
		}
		if t.Shape[1] != n.Outputs[0].Shape[2] || t.Shape[2] != n.Outputs[0].Shape[3] {
			return xgraph.Unsupported(n, "", "inputs of different sizes")
		}
	}
	l.Op = OpConcat
	return nil
}

// flatten lowers Flatten(axis 1) and a Reshape to N×K of a tensor.
func (p *plan) flatten(n *xgraph.Node, l *Layer) error {
	if len(l.Inputs) != 1 {
		return xgraph.Unsupported(n, "", "a constant input")
	}
	o := n.Outputs[0]
	t := p.m.Tensor(l.Inputs[0])
	if !o.Ranked || len(o.Shape) != 2 || o.Shape[1] != t.Shape[0]*t.Shape[1]*t.Shape[2] {
		return xgraph.Unsupported(n, "", "reshape of %v to %v (want N×(C·H·W))", t.Shape, o.Shape)
	}
	if n.Op == "Flatten" && n.Int("axis") != 1 {
		return xgraph.Unsupported(n, "axis", "flatten from axis %d", n.Int("axis"))
	}
	l.Op = OpFlatten
	return nil
}

// AvgFactor returns the multiplier and shift by which the DPU turns the sum
// of a kh×kw window into its mean, mult/2^shift ≈ 1/(kh·kw): the Vitis AI
// quantiser's fixed factors for 3×3 (7/64), 5×5 (10/256), 6×6, 3×6 and
// 6×3 (7/256), 7×7 (21/1024) and 14×14 (21/4096); for other sizes the
// shift below ceil(log2(128·kh·kw)) whose rounded multiplier (halves to
// even, as Python's round) comes closest, the first of equals.
func AvgFactor(kh, kw int) (mult, shift int) {
	switch [2]int{kh, kw} {
	case [2]int{3, 3}:
		return 7, 6
	case [2]int{5, 5}:
		return 10, 8
	case [2]int{6, 6}, [2]int{3, 6}, [2]int{6, 3}:
		return 7, 8
	case [2]int{7, 7}:
		return 21, 10
	case [2]int{14, 14}:
		return 21, 12
	}
	rec := float64(kh * kw)
	maxShift := int(math.Ceil(math.Log2(rec * 128)))
	diff := 1.0
	for s := 0; s < maxShift; s++ {
		f := math.RoundToEven(math.Exp2(float64(s)) / rec)
		if d := math.Abs(f/math.Exp2(float64(s)) - 1/rec); d < diff {
			mult, shift, diff = int(f), s, d
		}
	}
	return mult, shift
}
