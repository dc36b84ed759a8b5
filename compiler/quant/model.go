// Package quant is the compiler's post-training int8 quantiser: it turns
// an XGraph of float32 operators into a Model, a graph of DPU layers over
// int8 tensors with power-of-two scales, as the Vitis AI quantiser does,
// and evaluates that model in integer arithmetic exactly as the DPU does.
//
// A tensor's fix position p says that int8 value q stands for q·2^−p.
// Quantize folds batch normalisation into the convolutions first (the
// graph's standard passes, xgraph.FoldBatchNorm), then gives every weight
// and bias tensor the position its values ask for (Position: the max-abs
// position refined by a squared-error search over five positions), runs
// the calibration batches through the float executor and gives every
// activation the most frequent of its per-batch positions (Mode), and
// finally legalises the positions so that the DPU's shifts can express the
// arithmetic between them (Legalize). Weights and biases are rounded with
// halves away from zero, activations with halves toward +inf; everything
// saturates at [−128, 127].
//
// Model.Run is the quant-ref engine: the layers on dpu/ref's bit-exact
// reference layers (int8 inputs, 32-bit accumulation, the bias shifted
// left by ShiftBias, the accumulator shifted right by ShiftCut with DPU
// rounding, the activation, saturation), so that the simulator's output
// for a compiled model can be compared with it bit for bit. The later
// stages (partition, fuse, schedule, code generation) read the same
// Model: its Layers in topological order, each naming its input and output
// tensors, with the int8 parameters and the shifts the instructions carry.
package quant

import (
	"fmt"

	"argus/dpu/ref"
)

// Op is the kind of a quantised layer.
type Op string

// The layer kinds. Each maps onto one DPU engine, except Flatten (a change
// of layout the load and save engines do) and Sigmoid (a table).
const (
	// OpConv is an ungrouped convolution: ref.Conv.
	OpConv Op = "conv"
	// OpDepthwise is a convolution with one filter per channel:
	// ref.Depthwise.
	OpDepthwise Op = "depthwise"
	// OpFC is a fully connected layer (Gemm): a 1×1 convolution of a
	// 1×1×K input.
	OpFC Op = "fc"
	// OpMaxPool is max pooling; input and output share a position.
	OpMaxPool Op = "maxpool"
	// OpAvgPool is average pooling (GlobalAveragePool too): the window sum
	// times AvgMult, shifted right by ShiftCut; input and output share a
	// position.
	OpAvgPool Op = "avgpool"
	// OpAdd is the element-wise sum of two tensors, each shifted left to
	// the finer of their positions (ShiftA, ShiftB), then shifted right by
	// ShiftCut onto the output's position, with the layer's activation.
	OpAdd Op = "add"
	// OpMul is the element-wise product, shifted right by ShiftCut.
	OpMul Op = "mul"
	// OpConcat joins its inputs along the channels; they share the
	// output's position, so it moves bytes only.
	OpConcat Op = "concat"
	// OpFlatten turns a C×H×W tensor into a vector in C, H, W order
	// (ONNX's Flatten and Reshape of NCHW data); the position is kept.
	OpFlatten Op = "flatten"
	// OpReLU and OpReLU6 are activations that no convolution or sum
	// absorbed; the position is kept.
	OpReLU  Op = "relu"
	OpReLU6 Op = "relu6"
	// OpSigmoid maps each int8 value through the logistic function, a
	// table from the input's position to the output's.
	OpSigmoid Op = "sigmoid"
)

// Tensor describes one int8 tensor of the model: a graph input, or the
// output of a layer. Shape is per image, C×H×W (a vector is C×1×1); the
// batch is free.
type Tensor struct {
	Name  string `json:"name"`
	Shape [3]int `json:"shape"`
	Pos   int    `json:"pos"`
}

// Layer is one quantised operation. The fields after Output apply to the
// kinds their comments name and are zero for the others.
type Layer struct {
	// Name is the graph node's label (the first node of a fused group).
	Name   string   `json:"name"`
	Op     Op       `json:"op"`
	Inputs []string `json:"inputs"`
	Output string   `json:"output"`

	// Kernel, Stride and Pad (top, left, bottom, right): conv,
	// depthwise, maxpool, avgpool.
	Kernel [2]int `json:"kernel,omitempty"`
	Stride [2]int `json:"stride,omitempty"`
	Pad    [4]int `json:"pad,omitempty"`

	// Weights are OC×KH×KW×C for conv and fc, KH×KW×C for depthwise, as
	// dpu/ref reads them; Bias has one value per output channel. Their
	// positions are WeightPos and BiasPos.
	Weights   []int8 `json:"-"`
	Bias      []int8 `json:"-"`
	WeightPos int    `json:"weight_pos,omitempty"`
	BiasPos   int    `json:"bias_pos,omitempty"`

	// ShiftBias aligns the bias with the accumulator (input position +
	// weight position − bias position): conv, depthwise, fc.
	ShiftBias int `json:"shift_bias,omitempty"`
	// ShiftCut is the right shift onto the output's position: conv,
	// depthwise, fc (input + weight − output), add (finer input −
	// output), mul (sum of the inputs − output), avgpool (the factor's
	// shift).
	ShiftCut int `json:"shift_cut,omitempty"`
	// ShiftA and ShiftB are the left shifts of add's inputs onto the
	// finer of their positions.
	ShiftA int `json:"shift_a,omitempty"`
	ShiftB int `json:"shift_b,omitempty"`
	// Act is the activation the requantisation applies (ref.ActNone,
	// ActReLU, ActReLU6, ActLeaky): conv, depthwise, fc, add, mul. ActFix
	// is the output's position, where ReLU6 clips at 6·2^ActFix.
	Act    int `json:"act,omitempty"`
	ActFix int `json:"act_fix,omitempty"`
	// AvgMult times the window sum, shifted right by ShiftCut,
	// approximates the window's mean (avgpool).
	AvgMult int `json:"avg_mult,omitempty"`
}

// Model is a network quantised for the DPU.
type Model struct {
	Name string `json:"name"`
	// Input is the graph input (one image batch, NCHW float32 at the
	// float model's boundary) and Outputs name the output tensors.
	Input   string   `json:"input"`
	Outputs []string `json:"outputs"`
	// Tensors lists every int8 tensor: the input and each layer's output.
	Tensors []Tensor `json:"tensors"`
	// Layers is in topological order.
	Layers []Layer `json:"layers"`
}

// Tensor returns the tensor called name, or nil.
func (m *Model) Tensor(name string) *Tensor {
	for i := range m.Tensors {
		if m.Tensors[i].Name == name {
			return &m.Tensors[i]
		}
	}
	return nil
}

// out is the requantisation of a layer as dpu/ref applies it.
func (l *Layer) out() ref.Out {
	return ref.Out{ShiftCut: l.ShiftCut, Act: l.Act, ActFix: l.ActFix, Round: RoundActivation}
}

// String returns a short description of the layer for errors and reports.
func (l *Layer) String() string { return fmt.Sprintf("%s (%s)", l.Name, l.Op) }
