package xgraph

import "math"

// The schemas of the operators Argus implements, with ONNX's attribute
// names and defaults. Attributes of the operator sets before 7 that only
// older exporters write (consumed_inputs, broadcast, is_test) are listed
// where the executor understands them.

func init() {
	consumed := optional("consumed_inputs", AttrInts)
	same := func(_ int, n *Node) { copyType(n, 0, 0) }
	unary := func(op string, attrs ...AttrDef) {
		register(&Schema{Op: op, Attrs: append([]AttrDef{consumed}, attrs...), Shape: same})
	}
	for _, op := range []string{
		"Relu", "Sigmoid", "Tanh", "Sqrt", "Exp", "Log", "Erf", "Reciprocal", "Floor", "Ceil",
		"Round", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh",
		"Atanh", "Softplus", "Softsign", "HardSwish", "Abs",
	} {
		unary(op)
	}
	unary("LeakyRelu", floatAttr("alpha", 0.01))
	unary("Elu", floatAttr("alpha", 1))
	unary("Celu", floatAttr("alpha", 1))
	unary("Selu", floatAttr("alpha", 1.67326319217681884765625), floatAttr("gamma", 1.05070102214813232421875))
	unary("HardSigmoid", floatAttr("alpha", 0.2), floatAttr("beta", 0.5))
	unary("ThresholdedRelu", floatAttr("alpha", 1))
	unary("Shrink", floatAttr("lambd", 0.5), floatAttr("bias", 0))
	unary("Gelu", stringAttr("approximate", "none").with(oneOf("none", "tanh")))
	// Before set 11 the bounds are attributes, infinite when absent.
	unary("Clip", floatAttr("min", float32(math.Inf(-1))), floatAttr("max", float32(math.Inf(1))))
	for _, op := range []string{"Neg", "Sign", "Identity"} {
		register(&Schema{Op: op, Shape: same})
	}
	register(&Schema{Op: "IsNaN", Shape: boolRule})
	register(&Schema{Op: "Not", Shape: boolRule})
	register(&Schema{Op: "IsInf", Attrs: []AttrDef{intAttr("detect_negative", 1), intAttr("detect_positive", 1)}, Shape: boolRule})

	// Element-wise binary operators, with the explicit broadcasting of
	// the sets before 7 (broadcast=1 lines the second operand up with the
	// first from axis).
	binary := []AttrDef{intAttr("broadcast", 0).with(flag), optional("axis", AttrInt), consumed}
	for _, op := range []string{"Add", "Sub", "Mul", "Div", "Pow", "Max", "Min"} {
		register(&Schema{Op: op, Attrs: binary, Shape: func(_ int, n *Node) { broadcastRule(n, n.Inputs, dtypeOf(n.Input(0))) }})
	}
	for _, op := range []string{"Equal", "Greater", "Less", "GreaterOrEqual", "LessOrEqual", "And", "Or", "Xor"} {
		register(&Schema{Op: op, Attrs: binary, Shape: func(_ int, n *Node) { broadcastRule(n, n.Inputs, Bool) }})
	}
	// The slope broadcasts to the input.
	register(&Schema{Op: "PRelu", Attrs: binary, Shape: same})
	for _, op := range []string{"Sum", "Mean"} {
		register(&Schema{Op: op, Attrs: []AttrDef{consumed}, Shape: func(_ int, n *Node) { broadcastRule(n, n.Inputs, dtypeOf(n.Input(0))) }})
	}
	register(&Schema{Op: "Mod", Attrs: []AttrDef{intAttr("fmod", 0).with(flag)}, Shape: func(_ int, n *Node) { broadcastRule(n, n.Inputs, dtypeOf(n.Input(0))) }})
	register(&Schema{Op: "Where", Shape: func(_ int, n *Node) { broadcastRule(n, n.Inputs, dtypeOf(n.Input(1))) }})
	register(&Schema{Op: "BitShift", Attrs: []AttrDef{optional("direction", AttrString).with(oneOf("LEFT", "RIGHT"))},
		Shape: func(_ int, n *Node) { broadcastRule(n, n.Inputs, dtypeOf(n.Input(0))) }})

	// Windows.
	autoPad := stringAttr("auto_pad", "NOTSET").with(oneOf("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID", ""))
	positive := func(name string) AttrDef { return optional(name, AttrInts).with(atLeast(1)) }
	pads := optional("pads", AttrInts).with(atLeast(0))
	register(&Schema{Op: "Conv", Shape: convRule, Window: convWindow, Attrs: []AttrDef{
		autoPad, positive("dilations"), intAttr("group", 1).with(atLeast(1)), positive("kernel_shape"), pads, positive("strides"),
	}})
	register(&Schema{Op: "ConvTranspose", Shape: convTransposeRule, Window: convTransposeWindow, Attrs: []AttrDef{
		autoPad, positive("dilations"), intAttr("group", 1).with(atLeast(1)), positive("kernel_shape"),
		optional("output_padding", AttrInts).with(atLeast(0)), optional("output_shape", AttrInts), pads, positive("strides"),
	}})
	register(&Schema{Op: "MaxPool", Shape: poolRule, Window: poolWindow, Attrs: []AttrDef{
		autoPad, intAttr("ceil_mode", 0).with(flag), positive("dilations"), positive("kernel_shape"), pads,
		intAttr("storage_order", 0).with(flag), positive("strides"),
	}})
	register(&Schema{Op: "AveragePool", Shape: poolRule, Window: poolWindow, Attrs: []AttrDef{
		autoPad, intAttr("ceil_mode", 0).with(flag), intAttr("count_include_pad", 0).with(flag), positive("kernel_shape"), pads, positive("strides"),
	}})
	for _, op := range []string{"GlobalAveragePool", "GlobalMaxPool"} {
		register(&Schema{Op: op, Shape: globalPoolRule, Window: globalPoolWindow})
	}

	// Normalisation and soft maxima. The axis of the soft maxima has no
	// default here: it is 1 before set 13 and -1 from then on.
	for _, op := range []string{"Softmax", "LogSoftmax", "Hardmax"} {
		register(&Schema{Op: op, Attrs: []AttrDef{optional("axis", AttrInt)}, Shape: same})
	}
	register(&Schema{Op: "BatchNormalization", Shape: same, Attrs: []AttrDef{
		floatAttr("epsilon", 1e-5), floatAttr("momentum", 0.9), intAttr("spatial", 1).with(flag),
		intAttr("is_test", 0).with(flag), intAttr("training_mode", 0).with(flag), consumed,
	}})
	register(&Schema{Op: "LayerNormalization", Shape: same, Attrs: []AttrDef{intAttr("axis", -1), floatAttr("epsilon", 1e-5), intAttr("stash_type", 1)}})
	register(&Schema{Op: "InstanceNormalization", Shape: same, Attrs: []AttrDef{floatAttr("epsilon", 1e-5)}})
	register(&Schema{Op: "LRN", Shape: same, Attrs: []AttrDef{
		floatAttr("alpha", 1e-4), floatAttr("beta", 0.75), floatAttr("bias", 1), optional("size", AttrInt).with(atLeast(1)),
	}})
	register(&Schema{Op: "MeanVarianceNormalization", Shape: same, Attrs: []AttrDef{
		{Name: "axes", Kind: AttrInts, Default: &Attr{Kind: AttrInts, Ints: []int64{0, 2, 3}}},
	}})
	register(&Schema{Op: "Dropout", Shape: dropoutRule, Attrs: []AttrDef{
		floatAttr("ratio", 0.5), intAttr("is_test", 0).with(flag), optional("seed", AttrInt), consumed,
	}})

	// Matrix products.
	register(&Schema{Op: "Gemm", Shape: gemmRule, Attrs: []AttrDef{
		floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transA", 0).with(flag), intAttr("transB", 0).with(flag), intAttr("broadcast", 0).with(flag),
	}})
	register(&Schema{Op: "MatMul", Shape: matmulRule})

	// Reductions.
	reduce := []AttrDef{optional("axes", AttrInts), intAttr("keepdims", 1).with(flag), intAttr("noop_with_empty_axes", 0).with(flag)}
	for _, op := range []string{"ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"} {
		register(&Schema{Op: op, Attrs: reduce, Shape: reduceRule})
	}
	for _, op := range []string{"ArgMax", "ArgMin"} {
		register(&Schema{Op: op, Attrs: []AttrDef{intAttr("axis", 0), intAttr("keepdims", 1).with(flag), intAttr("select_last_index", 0).with(flag)}})
	}

	// Shapes and data movement.
	register(&Schema{Op: "Reshape", Shape: reshapeRule, Attrs: []AttrDef{intAttr("allowzero", 0).with(flag), optional("shape", AttrInts)}})
	register(&Schema{Op: "Flatten", Shape: flattenRule, Attrs: []AttrDef{intAttr("axis", 1)}})
	register(&Schema{Op: "Transpose", Shape: transposeRule, Attrs: []AttrDef{optional("perm", AttrInts)}})
	register(&Schema{Op: "Squeeze", Shape: squeezeRule, Attrs: []AttrDef{optional("axes", AttrInts)}})
	register(&Schema{Op: "Unsqueeze", Shape: unsqueezeRule, Attrs: []AttrDef{optional("axes", AttrInts)}})
	register(&Schema{Op: "Concat", Shape: concatRule, Attrs: []AttrDef{intAttr("axis", 1)}})
	register(&Schema{Op: "Split", Shape: splitRule, Attrs: []AttrDef{intAttr("axis", 0), optional("split", AttrInts)}})
	register(&Schema{Op: "Slice", Shape: sliceRule, Attrs: []AttrDef{optional("starts", AttrInts), optional("ends", AttrInts), optional("axes", AttrInts)}})
	register(&Schema{Op: "Gather", Shape: gatherRule, Attrs: []AttrDef{intAttr("axis", 0)}})
	register(&Schema{Op: "GatherElements", Attrs: []AttrDef{intAttr("axis", 0)}})
	register(&Schema{Op: "GatherND", Attrs: []AttrDef{intAttr("batch_dims", 0).with(atLeast(0))}})
	reduction := stringAttr("reduction", "none").with(oneOf("none", "add", "mul", "max", "min"))
	register(&Schema{Op: "ScatterElements", Shape: same, Attrs: []AttrDef{intAttr("axis", 0), reduction}})
	register(&Schema{Op: "Scatter", Shape: same, Attrs: []AttrDef{intAttr("axis", 0)}})
	register(&Schema{Op: "ScatterND", Shape: same, Attrs: []AttrDef{reduction}})
	// Shape's end defaults to the input's rank.
	register(&Schema{Op: "Shape", Shape: shapeOfRule, Attrs: []AttrDef{intAttr("start", 0), optional("end", AttrInt)}})
	register(&Schema{Op: "Size"})
	register(&Schema{Op: "Constant", Shape: constantRule, Attrs: []AttrDef{
		optional("value", AttrTensor), optional("value_float", AttrFloat), optional("value_floats", AttrFloats),
		optional("value_int", AttrInt), optional("value_ints", AttrInts),
	}})
	register(&Schema{Op: "ConstantOfShape", Shape: constantOfShapeRule, Attrs: []AttrDef{optional("value", AttrTensor)}})
	register(&Schema{Op: "Expand", Shape: expandRule})
	register(&Schema{Op: "Tile"})
	register(&Schema{Op: "Range"})
	register(&Schema{Op: "Cast", Shape: castRule, Attrs: []AttrDef{optional("to", AttrInt), intAttr("saturate", 1).with(flag)}})
	register(&Schema{Op: "CastLike", Attrs: []AttrDef{intAttr("saturate", 1).with(flag)}})
	register(&Schema{Op: "Pad", Shape: padRule, Attrs: []AttrDef{
		stringAttr("mode", "constant").with(oneOf("constant", "reflect", "edge", "wrap")), optional("pads", AttrInts),
		floatAttr("value", 0), optional("paddings", AttrInts),
	}})
	register(&Schema{Op: "Resize", Shape: resizeRule, Attrs: []AttrDef{
		stringAttr("coordinate_transformation_mode", "half_pixel"), floatAttr("cubic_coeff_a", -0.75),
		intAttr("exclude_outside", 0).with(flag), floatAttr("extrapolation_value", 0), stringAttr("mode", "nearest"),
		stringAttr("nearest_mode", "round_prefer_floor"),
	}})
	// RoiAlign's coordinate_transformation_mode arrived in set 16; before
	// it the operator computed "output_half_pixel".
	register(&Schema{Op: "RoiAlign", Shape: roiAlignRule, Attrs: []AttrDef{
		stringAttr("coordinate_transformation_mode", "half_pixel").with(oneOf("half_pixel", "output_half_pixel")),
		stringAttr("mode", "avg").with(oneOf("avg", "max")), intAttr("output_height", 1).with(atLeast(1)),
		intAttr("output_width", 1).with(atLeast(1)), intAttr("sampling_ratio", 0).with(atLeast(0)), floatAttr("spatial_scale", 1),
	}})
	register(&Schema{Op: "Upsample", Attrs: []AttrDef{
		stringAttr("mode", "nearest"), optional("scales", AttrFloats), floatAttr("height_scale", 1), floatAttr("width_scale", 1),
	}})
	register(&Schema{Op: "DepthToSpace", Attrs: []AttrDef{optional("blocksize", AttrInt).with(atLeast(1)), stringAttr("mode", "DCR").with(oneOf("DCR", "CRD"))}})
	register(&Schema{Op: "SpaceToDepth", Attrs: []AttrDef{optional("blocksize", AttrInt).with(atLeast(1))}})
	register(&Schema{Op: "Trilu", Shape: same, Attrs: []AttrDef{intAttr("upper", 1).with(flag)}})
	register(&Schema{Op: "CumSum", Shape: same, Attrs: []AttrDef{intAttr("exclusive", 0).with(flag), intAttr("reverse", 0).with(flag)}})
	register(&Schema{Op: "OneHot", Attrs: []AttrDef{intAttr("axis", -1)}})
	register(&Schema{Op: "EyeLike", Attrs: []AttrDef{optional("dtype", AttrInt), intAttr("k", 0)}})
	register(&Schema{Op: "TopK", Attrs: []AttrDef{intAttr("axis", -1), intAttr("largest", 1).with(flag), intAttr("sorted", 1).with(flag)}})
	register(&Schema{Op: "Compress", Attrs: []AttrDef{optional("axis", AttrInt)}})
	register(&Schema{Op: "NonZero"})
	loss := []AttrDef{stringAttr("reduction", "mean").with(oneOf("none", "sum", "mean")), optional("ignore_index", AttrInt)}
	register(&Schema{Op: "NegativeLogLikelihoodLoss", Attrs: loss})
	register(&Schema{Op: "SoftmaxCrossEntropyLoss", Attrs: loss})
}
