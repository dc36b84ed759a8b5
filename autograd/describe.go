package autograd

import (
	"argus/internal/geom"
	"argus/tensor"
	"slices"
)

// Description is an op's account of what it computes, in terms that do not
// depend on how autograd implements it, so that an exporter can translate a
// recorded graph to another format (ONNX, say) without knowing the ops'
// types. The op's operands are its Operands, in order, nil where an
// optional operand is absent.
//
// Attribute values are int, float32, bool, []int or []float32. The kinds,
// their operands and attributes:
//
//	Conv2d             x, w, b      stride, dilation []int (2 each), pads []int (4: begin, end), groups int
//	ConvTranspose2d    x, w, b      stride, output_padding, dilation []int, pads []int (4), groups int
//	Linear             x, w, b      (x·wᵀ + b over the last axis)
//	BatchNorm2d        x, w, b      eps, momentum float32, training bool;
//	                                Tensors running_mean, running_var (nil when absent)
//	LayerNorm          x, w, b      axes int (the trailing axes normalised), eps float32
//	GroupNorm          x, w, b      groups int, eps float32
//	ResizeBilinear     x            size []int (height, width), align_corners bool
//	ResizeNearest      x            size []int (height, width)
//	RoIAlign           x...         output []int (height, width), sampling_ratio int (≤ 0:
//	                                adaptive), aligned bool, spatial_scales []float32 (one
//	                                per feature map), levels []int (each box's feature map),
//	                                batch []int (each box's image); Tensors rois (K×4 xyxy)
//	MaxPool2d          x            kernel, stride, padding, dilation []int, ceil_mode bool
//	AvgPool2d          x            kernel, stride, padding []int, ceil_mode, exclude_pad bool
//	AdaptiveAvgPool2d  x            output []int (height, width)
//	Add, Sub, Mul, Div a, b         (NumPy broadcasting)
//	MatMul             a, b         (2-D)
//	BatchMatMul        a, b         (batched; one operand may be a shared matrix)
//	Attention          q, k, v      scale float32 (softmax(scale·q·kᵀ)·v over the last two axes)
//	ReLU, Sigmoid, Tanh, Exp, Log, Sqrt, Abs, Softplus, GELU   x
//	LeakyReLU          x            slope float32
//	Clamp              x            min, max float32 (±Inf for a one-sided clamp)
//	Scale              x            factor float32 (factor·x)
//	AddScalar          x            value float32 (x + value)
//	Pow                x            exponent float32
//	SmoothL1           x            beta float32 (the element-wise smooth L1 term)
//	Reshape            x            shape []int (resolved, no −1)
//	Flatten            x            start, end int (normalised axes), shape []int
//	Permute            x            perm []int
//	Slice              x            axis, start, end int
//	Concat             x...         axis int
//	Softmax, LogSoftmax x           axis int
//	Sum                x            keep []int (x's shape with the summed axes 1), shape []int
//	                                (the result's), scale float32 (0: none; Mean is Sum scaled by 1/n)
//	Dropout            x            p float32, training bool (only recorded in training);
//	                                channels bool (present and true for Dropout2d: whole
//	                                channels dropped)
type Description struct {
	Kind  string
	Attrs map[string]any
	// Tensors holds constant tensors that the op reads besides its
	// operands, by role: a batch norm's running statistics.
	Tensors map[string]*tensor.Tensor
}

// Describer is implemented by the ops that can describe themselves for
// exporters.
type Describer interface {
	Describe() Description
}

// Op returns the op that computed v when it was recorded (some operand
// required a gradient), or nil for a leaf. With Operands it lets a caller
// walk the recorded graph from an output back to the leaves, as an
// exporter's trace does.
func (v *Var) Op() Op { return v.op }

// Describe implements Describer.
func (o *convOp) Describe() Description {
	g := o.win
	return Description{Kind: "Conv2d", Attrs: map[string]any{
		"stride":   slices.Clone(g.Stride),
		"pads":     windowPads(g),
		"dilation": slices.Clone(g.Dilation),
		"groups":   o.groups,
	}}
}

// windowPads returns a resolved window's padding in ONNX's order: the
// beginning of each axis, then the end of each.
func windowPads(g geom.Window) []int {
	return append(slices.Clone(g.Padding), g.PadEnd...)
}

// Describe implements Describer.
func (o *linearOp) Describe() Description { return Description{Kind: "Linear"} }

// Describe implements Describer.
func (o *batchNormOp) Describe() Description {
	return Description{
		Kind:    "BatchNorm2d",
		Attrs:   map[string]any{"eps": o.eps, "momentum": o.momentum, "training": o.training},
		Tensors: map[string]*tensor.Tensor{"running_mean": o.rm, "running_var": o.rv},
	}
}

// Describe implements Describer.
func (o *maxPoolOp) Describe() Description {
	h, w := o.g[0], o.g[1]
	return Description{Kind: "MaxPool2d", Attrs: map[string]any{
		"kernel":    []int{h.k, w.k},
		"stride":    []int{h.stride, w.stride},
		"padding":   []int{h.pad, w.pad},
		"dilation":  []int{h.dil, w.dil},
		"ceil_mode": o.ceil,
	}}
}

// Describe implements Describer.
func (o *avgPoolOp) Describe() Description {
	if o.adaptive {
		return Description{Kind: "AdaptiveAvgPool2d", Attrs: map[string]any{"output": []int{o.out[0], o.out[1]}}}
	}
	opt := o.opt
	stride := opt.Stride
	for i := range stride {
		if stride[i] == 0 {
			stride[i] = opt.Kernel[i]
		}
	}
	return Description{Kind: "AvgPool2d", Attrs: map[string]any{
		"kernel":      opt.Kernel[:],
		"stride":      stride[:],
		"padding":     opt.Padding[:],
		"ceil_mode":   opt.CeilMode,
		"exclude_pad": opt.ExcludePad,
	}}
}

// binKinds names the binary operations for Describe.
var binKinds = [...]string{binAdd: "Add", binSub: "Sub", binMul: "Mul", binDiv: "Div"}

// Describe implements Describer.
func (o *binaryOp) Describe() Description { return Description{Kind: binKinds[o.kind]} }

// Describe implements Describer.
func (o *matMulOp) Describe() Description { return Description{Kind: "MatMul"} }

// Describe implements Describer.
func (o *bmmOp) Describe() Description { return Description{Kind: "BatchMatMul"} }

// Describe implements Describer.
func (o *unaryOp) Describe() Description { return o.desc }

// Describe implements Describer.
func (o *reshapeOp) Describe() Description {
	shape := append([]int{}, o.shape...)
	if o.flatten != nil {
		return Description{Kind: "Flatten", Attrs: map[string]any{"start": o.flatten[0], "end": o.flatten[1], "shape": shape}}
	}
	return Description{Kind: "Reshape", Attrs: map[string]any{"shape": shape}}
}

// Describe implements Describer.
func (o *permuteOp) Describe() Description {
	return Description{Kind: "Permute", Attrs: map[string]any{"perm": append([]int{}, o.perm...)}}
}

// Describe implements Describer.
func (o *sliceOp) Describe() Description {
	return Description{Kind: "Slice", Attrs: map[string]any{"axis": o.axis, "start": o.start, "end": o.end}}
}

// Describe implements Describer.
func (o *concatOp) Describe() Description {
	return Description{Kind: "Concat", Attrs: map[string]any{"axis": o.axis}}
}

// Describe implements Describer.
func (o *softmaxOp) Describe() Description {
	kind := "Softmax"
	if o.log {
		kind = "LogSoftmax"
	}
	return Description{Kind: kind, Attrs: map[string]any{"axis": o.axis}}
}

// Describe implements Describer.
func (o *maskOp) Describe() Description {
	a := map[string]any{"p": o.p, "training": true}
	if o.channels {
		a["channels"] = true
	}
	return Description{Kind: "Dropout", Attrs: a}
}

// Describe implements Describer.
func (o *sumOp) Describe() Description {
	return Description{Kind: "Sum", Attrs: map[string]any{
		"keep": append([]int{}, o.keep...), "shape": append([]int{}, o.shape...), "scale": o.scale,
	}}
}

// Describe implements Describer.
func (o *convTOp) Describe() Description {
	g := o.win
	return Description{Kind: "ConvTranspose2d", Attrs: map[string]any{
		"stride":         slices.Clone(g.Stride),
		"pads":           windowPads(g),
		"output_padding": []int{o.outPad[0], o.outPad[1]},
		"dilation":       slices.Clone(g.Dilation),
		"groups":         o.groups,
	}}
}

// Describe implements Describer.
func (o *groupNormOp) Describe() Description {
	if o.perElem {
		return Description{Kind: "LayerNorm", Attrs: map[string]any{"axes": o.axes, "eps": o.eps}}
	}
	return Description{Kind: "GroupNorm", Attrs: map[string]any{"groups": o.groups, "eps": o.eps}}
}

// Describe implements Describer.
func (o *resizeOp) Describe() Description {
	return Description{Kind: "ResizeBilinear", Attrs: map[string]any{"size": []int{len(o.ys), len(o.xs)}, "align_corners": o.align}}
}

// Describe implements Describer.
func (o *nearestOp) Describe() Description {
	return Description{Kind: "ResizeNearest", Attrs: map[string]any{"size": []int{len(o.ys), len(o.xs)}}}
}

// Describe implements Describer. Operand l is the feature map of level l.
func (o *roiAlignOp) Describe() Description {
	return Description{
		Kind: "RoIAlign",
		Attrs: map[string]any{
			"output":         []int{o.opt.OutputSize[0], o.opt.OutputSize[1]},
			"sampling_ratio": o.opt.SamplingRatio,
			"aligned":        o.opt.Aligned,
			"spatial_scales": slices.Clone(o.scales),
			"levels":         slices.Clone(o.levels),
			"batch":          slices.Clone(o.batch),
		},
		Tensors: map[string]*tensor.Tensor{"rois": o.boxes},
	}
}
