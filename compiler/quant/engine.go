package quant

import (
	"fmt"
	"math"

	"argus/compiler/xgraph"
	"argus/dpu/ref"
	"argus/internal/geom"
	"argus/internal/par"
)

// Result is one output of the model for a batch: N images of C×H×W int8
// values each, in NCHW order, on the grid of position Pos.
type Result struct {
	Name  string
	Shape [4]int // N, C, H, W
	Data  []int8
	Pos   int
}

// Float returns the result's real values, Data[i]·2^−Pos.
func (r *Result) Float() []float32 {
	f := make([]float32, len(r.Data))
	s := math.Exp2(-float64(r.Pos))
	for i, q := range r.Data {
		f[i] = float32(float64(q) * s)
	}
	return f
}

// QuantizeInput returns image i of x (N×C×H×W float32) as the DPU reads
// it: an H×W×C int8 tensor on the input's grid, halves rounded toward
// +inf.
func (m *Model) QuantizeInput(x *xgraph.Tensor, i int) ref.Tensor {
	t := m.Tensor(m.Input)
	C, H, W := t.Shape[0], t.Shape[1], t.Shape[2]
	q := ref.New(H, W, C)
	img := x.F[i*C*H*W : (i+1)*C*H*W]
	for c := 0; c < C; c++ {
		for y := 0; y < H; y++ {
			for xx := 0; xx < W; xx++ {
				q.Data[(y*W+xx)*C+c] = Fix(float64(img[(c*H+y)*W+xx]), t.Pos, RoundActivation)
			}
		}
	}
	return q
}

// Run evaluates the model on a batch x (N×C×H×W float32 of the input's
// shape) in integer arithmetic: each image quantised by QuantizeInput and
// run by Eval, in parallel over the images.
func (m *Model) Run(x *xgraph.Tensor) ([]Result, error) {
	t := m.Tensor(m.Input)
	if t == nil {
		return nil, fmt.Errorf("model has no input tensor %q", m.Input)
	}
	if !x.DType.IsFloat() || len(x.Shape) != 4 || [3]int{x.Shape[1], x.Shape[2], x.Shape[3]} != t.Shape {
		return nil, fmt.Errorf("input %s, the model takes float32[N %d %d %d]", x, t.Shape[0], t.Shape[1], t.Shape[2])
	}
	n := x.Shape[0]
	res := make([]Result, len(m.Outputs))
	for k, name := range m.Outputs {
		o := m.Tensor(name)
		res[k] = Result{Name: name, Shape: [4]int{n, o.Shape[0], o.Shape[1], o.Shape[2]}, Pos: o.Pos,
			Data: make([]int8, n*o.Shape[0]*o.Shape[1]*o.Shape[2])}
	}
	errs := make([]error, n)
	par.For(n, 1, func(i int) {
		outs, err := m.Eval(m.QuantizeInput(x, i))
		if err != nil {
			errs[i] = err
			return
		}
		for k, o := range outs {
			per := o.H * o.W * o.C
			CHW(res[k].Data[i*per:(i+1)*per], o)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// CHW writes the H×W×C tensor t to dst in C, H, W order.
func CHW(dst []int8, t ref.Tensor) {
	for c := 0; c < t.C; c++ {
		for y := 0; y < t.H; y++ {
			for x := 0; x < t.W; x++ {
				dst[(c*t.H+y)*t.W+x] = t.Data[(y*t.W+x)*t.C+c]
			}
		}
	}
}

// Eval runs the layers on one int8 image (H×W×C on the input's grid) and
// returns the output tensors in the order of m.Outputs: convolutions,
// depthwise convolutions, fully connected layers, pooling and element-wise
// layers on dpu/ref's reference layers, and the moves and tables between
// them on the int8 values.
func (m *Model) Eval(in ref.Tensor) ([]ref.Tensor, error) {
	env, err := m.Trace(in)
	if err != nil {
		return nil, err
	}
	outs := make([]ref.Tensor, len(m.Outputs))
	for k, name := range m.Outputs {
		t, ok := env[name]
		if !ok {
			return nil, fmt.Errorf("output %q has no value", name)
		}
		outs[k] = t
	}
	return outs, nil
}

// Trace is Eval returning every tensor of the model by name, the input
// included, for comparisons layer by layer.
func (m *Model) Trace(in ref.Tensor) (map[string]ref.Tensor, error) {
	if t := m.Tensor(m.Input); t == nil || [3]int{in.C, in.H, in.W} != t.Shape || len(in.Data) != in.C*in.H*in.W {
		return nil, fmt.Errorf("input %dx%dx%d does not match the model's input", in.C, in.H, in.W)
	}
	env := map[string]ref.Tensor{m.Input: in}
	for i := range m.Layers {
		l := &m.Layers[i]
		ins := make([]ref.Tensor, len(l.Inputs))
		for j, name := range l.Inputs {
			t, ok := env[name]
			if !ok {
				return nil, fmt.Errorf("layer %s: input %q has no value", l.String(), name)
			}
			ins[j] = t
		}
		out, err := m.layer(l, ins)
		if err != nil {
			return nil, err
		}
		if want := m.Tensor(l.Output); want == nil || [3]int{out.C, out.H, out.W} != want.Shape {
			return nil, fmt.Errorf("layer %s: output %dx%dx%d does not match tensor %q", l.String(), out.C, out.H, out.W, l.Output)
		}
		env[l.Output] = out
	}
	return env, nil
}

// layer computes one layer. The layers of dpu/ref panic on a window that
// does not fit their input, which a model read from a file could carry;
// the panic becomes an error naming the layer.
func (m *Model) layer(l *Layer, in []ref.Tensor) (out ref.Tensor, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("layer %s: %v", l.String(), r)
		}
	}()
	k := geom.Window{Kernel: l.Kernel[:], Stride: l.Stride[:], Padding: l.Pad[:2], PadEnd: l.Pad[2:]}
	x := in[0]
	switch l.Op {
	case OpConv:
		return ref.Conv(x, l.Weights, l.Bias, len(l.Bias), k, l.ShiftBias, l.out()), nil
	case OpFC:
		v := ref.Tensor{H: 1, W: 1, C: x.H * x.W * x.C, Data: x.Data}
		return ref.Conv(v, l.Weights, l.Bias, len(l.Bias), k, l.ShiftBias, l.out()), nil
	case OpDepthwise:
		return ref.Depthwise(x, l.Weights, l.Bias, k, l.ShiftBias, l.out()), nil
	case OpMaxPool:
		return ref.MaxPool(x, k), nil
	case OpAvgPool:
		return ref.AvgPool(x, k, l.AvgMult, l.ShiftCut, RoundActivation), nil
	case OpAdd:
		return ref.Add(x, in[1], l.ShiftA, l.ShiftB, l.out()), nil
	case OpMul:
		return ref.Mul(x, in[1], l.ShiftA, l.ShiftB, l.out()), nil
	case OpConcat:
		return concat(in), nil
	case OpFlatten:
		v := ref.New(1, 1, x.H*x.W*x.C)
		CHW(v.Data, x)
		return v, nil
	case OpReLU, OpReLU6:
		hi := int8(127)
		if l.Op == OpReLU6 && l.ActFix < 5 {
			hi = int8(6 << l.ActFix)
		}
		v := ref.New(x.H, x.W, x.C)
		for i, q := range x.Data {
			v.Data[i] = min(max(q, 0), hi)
		}
		return v, nil
	case OpSigmoid:
		return sigmoid(x, m.Tensor(l.Inputs[0]).Pos, m.Tensor(l.Output).Pos), nil
	}
	return ref.Tensor{}, fmt.Errorf("layer %s: unknown operation", l.String())
}

// concat joins tensors of one height and width along the channels.
func concat(in []ref.Tensor) ref.Tensor {
	c := 0
	for _, t := range in {
		c += t.C
	}
	out := ref.New(in[0].H, in[0].W, c)
	for p := 0; p < out.H*out.W; p++ {
		off := p * c
		for _, t := range in {
			off += copy(out.Data[off:off+t.C], t.Data[p*t.C:(p+1)*t.C])
		}
	}
	return out
}

// sigmoid maps every value through the table of the logistic function
// from the input's grid to the output's.
func sigmoid(x ref.Tensor, pi, po int) ref.Tensor {
	var table [256]int8
	for q := -128; q < 128; q++ {
		v := math.Ldexp(float64(q), -pi)
		table[q+128] = Fix(1/(1+math.Exp(-v)), po, RoundActivation)
	}
	out := ref.New(x.H, x.W, x.C)
	for i, q := range x.Data {
		out.Data[i] = table[int(q)+128]
	}
	return out
}

// EvalLayer computes one layer of m on its int8 inputs (in the order of
// l.Inputs), as Eval does: the way a compiled program runs the layers the
// partition left on the CPU.
func (m *Model) EvalLayer(l *Layer, in []ref.Tensor) (ref.Tensor, error) {
	if len(in) != len(l.Inputs) {
		return ref.Tensor{}, fmt.Errorf("layer %s: %d inputs, want %d", l.String(), len(in), len(l.Inputs))
	}
	return m.layer(l, in)
}
