package autograd

import (
	"argus/tensor"
)

func layerCases() []gradCase {
	conv := func(name string, xs, ws []int, bias bool, opt Conv2dOptions) gradCase {
		in := []*tensor.Tensor{randn(31, xs...), randn(32, ws...)}
		if bias {
			in = append(in, randn(33, ws[0]))
		}
		return gradCase{name: name, inputs: in, f: func(x []*Var) *Var {
			var b *Var
			if len(x) > 2 {
				b = x[2]
			}
			return Conv2d(x[0], x[1], b, opt)
		}}
	}
	convT := func(name string, xs, ws []int, bias bool, opt ConvTranspose2dOptions) gradCase {
		in := []*tensor.Tensor{randn(34, xs...), randn(35, ws...)}
		if bias {
			in = append(in, randn(36, ws[1]*max(opt.Groups, 1)))
		}
		return gradCase{name: name, inputs: in, f: func(x []*Var) *Var {
			var b *Var
			if len(x) > 2 {
				b = x[2]
			}
			return ConvTranspose2d(x[0], x[1], b, opt)
		}}
	}
	targets := []int{2, 0, 4, 1, -100, 3}
	return []gradCase{
		{name: "Linear", inputs: []*tensor.Tensor{randn(1, 4, 3), randn(2, 5, 3), randn(3, 5)},
			f: func(x []*Var) *Var { return Linear(x[0], x[1], x[2]) }},
		{name: "Linear3D/nobias", inputs: []*tensor.Tensor{randn(1, 2, 2, 3), randn(2, 1, 3)},
			f: func(x []*Var) *Var { return Linear(x[0], x[1], nil) }},
		{name: "MatMul", inputs: []*tensor.Tensor{randn(4, 3, 4), randn(5, 4, 2)},
			f: func(x []*Var) *Var { return MatMul(x[0], x[1]) }},
		{name: "BatchMatMul", inputs: []*tensor.Tensor{randn(4, 2, 3, 4), randn(5, 2, 4, 2)},
			f: func(x []*Var) *Var { return BatchMatMul(x[0], x[1]) }},
		{name: "BatchMatMul/shared", inputs: []*tensor.Tensor{randn(4, 2, 2, 3, 4), randn(5, 4, 2)},
			f: func(x []*Var) *Var { return BatchMatMul(x[0], x[1]) }},
		{name: "BatchMatMul/sharedA", inputs: []*tensor.Tensor{randn(4, 3, 4), randn(5, 3, 4, 2)},
			f: func(x []*Var) *Var { return BatchMatMul(x[0], x[1]) }},
		conv("Conv2d", []int{2, 3, 5, 6}, []int{4, 3, 3, 3}, true, Conv2dOptions{Padding: []int{1, 1}}),
		conv("Conv2d/stride-dil", []int{1, 2, 7, 6}, []int{3, 2, 3, 2}, true, Conv2dOptions{Stride: []int{2, 1}, Padding: []int{2, 1}, Dilation: []int{2, 2}}),
		conv("Conv2d/groups", []int{2, 4, 4, 4}, []int{6, 2, 3, 3}, false, Conv2dOptions{Padding: []int{1, 1}, Groups: 2}),
		conv("Conv2d/depthwise", []int{1, 3, 4, 5}, []int{3, 1, 3, 3}, true, Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}, Groups: 3}),
		conv("Conv2d/1x1", []int{2, 3, 3, 2}, []int{2, 3, 1, 1}, true, Conv2dOptions{}),
		conv("Conv2d/asymmetric", []int{2, 2, 5, 4}, []int{3, 2, 3, 2}, true, Conv2dOptions{Stride: []int{2, 1}, Padding: []int{0, 2}, PadEnd: []int{2, 0}}),
		conv("Conv2d/depthwise-asymmetric", []int{1, 3, 5, 5}, []int{3, 1, 3, 3}, false, Conv2dOptions{Padding: []int{1, 0}, PadEnd: []int{0, 2}, Groups: 3}),
		convT("ConvTranspose2d", []int{2, 3, 3, 4}, []int{3, 2, 3, 3}, true, ConvTranspose2dOptions{Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, OutputPadding: [2]int{1, 0}}),
		convT("ConvTranspose2d/groups", []int{1, 4, 3, 3}, []int{4, 1, 2, 3}, true, ConvTranspose2dOptions{Stride: [2]int{1, 2}, Dilation: [2]int{2, 1}, Groups: 2}),
		{name: "MaxPool2d", inputs: []*tensor.Tensor{distinct(40, 2, 2, 5, 6)},
			f: func(x []*Var) *Var {
				return MaxPool2d(x[0], MaxPool2dOptions{Kernel: [2]int{2, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}})
			}},
		{name: "MaxPool2d/ceil-dil", inputs: []*tensor.Tensor{distinct(41, 1, 2, 7, 7)},
			f: func(x []*Var) *Var {
				return MaxPool2d(x[0], MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Dilation: [2]int{2, 1}, CeilMode: true})
			}},
		{name: "AvgPool2d", inputs: []*tensor.Tensor{randn(42, 2, 2, 5, 6)},
			f: func(x []*Var) *Var {
				return AvgPool2d(x[0], AvgPool2dOptions{Kernel: [2]int{3, 2}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}, CeilMode: true})
			}},
		{name: "AvgPool2d/excludepad", inputs: []*tensor.Tensor{randn(43, 1, 2, 5, 5)},
			f: func(x []*Var) *Var {
				return AvgPool2d(x[0], AvgPool2dOptions{Kernel: [2]int{3, 3}, Padding: [2]int{1, 1}, ExcludePad: true})
			}},
		{name: "AdaptiveAvgPool2d", inputs: []*tensor.Tensor{randn(44, 2, 2, 5, 7)},
			f: func(x []*Var) *Var { return AdaptiveAvgPool2d(x[0], 3, 4) }},
		// Positive inputs away from the clamp, where central differences hold.
		{name: "GeM", inputs: []*tensor.Tensor{uniform(48, 0.2, 2, 2, 3, 4, 3), tensor.Wrap([]float32{3}, 1)},
			f: func(x []*Var) *Var { return GeM(x[0], x[1], 1e-6) }},
		{name: "Softmax", inputs: []*tensor.Tensor{randn(45, 2, 3, 4)},
			f: func(x []*Var) *Var { return Softmax(x[0], 1) }},
		{name: "LogSoftmax", inputs: []*tensor.Tensor{randn(46, 3, 5)},
			f: func(x []*Var) *Var { return LogSoftmax(x[0], -1) }},
		{name: "CrossEntropy", inputs: []*tensor.Tensor{randn(47, 6, 5)},
			f: func(x []*Var) *Var { return CrossEntropy(x[0], targets, CrossEntropyOptions{}) }},
		{name: "CrossEntropy/all", inputs: []*tensor.Tensor{randn(48, 6, 5)},
			f: func(x []*Var) *Var {
				return CrossEntropy(x[0], []int{2, 0, 4, 1, 255, 3}, CrossEntropyOptions{
					Weight: tensor.FromSlice([]float32{0.5, 1, 2, 1.5, 0.7}), LabelSmoothing: 0.2, IgnoreIndex: 255})
			}},
		{name: "CrossEntropy/spatial", inputs: []*tensor.Tensor{randn(49, 2, 3, 2, 2)},
			f: func(x []*Var) *Var {
				return CrossEntropy(x[0], []int{0, 1, 2, 1, -100, 2, 0, 0}, CrossEntropyOptions{LabelSmoothing: 0.1})
			}},
		{name: "Sum", inputs: []*tensor.Tensor{randn(50, 3, 4)}, f: func(x []*Var) *Var { return Sum(x[0]) }},
		{name: "Mean", inputs: []*tensor.Tensor{randn(51, 3, 4)}, f: func(x []*Var) *Var { return Mean(x[0]) }},
		{name: "SumAxes", inputs: []*tensor.Tensor{randn(52, 2, 3, 4)}, f: func(x []*Var) *Var { return SumAxes(x[0], false, 0, 2) }},
		{name: "SumAxes/keep", inputs: []*tensor.Tensor{randn(53, 2, 3, 4)}, f: func(x []*Var) *Var { return SumAxes(x[0], true, 1) }},
		{name: "MeanAxes", inputs: []*tensor.Tensor{randn(54, 2, 1, 4)}, f: func(x []*Var) *Var { return MeanAxes(x[0], true, -1, 1) }},
		{name: "Reshape", inputs: []*tensor.Tensor{randn(55, 2, 3, 4)}, f: func(x []*Var) *Var { return Tanh(Reshape(x[0], 4, -1)) }},
		{name: "Flatten", inputs: []*tensor.Tensor{randn(56, 2, 3, 2, 2)}, f: func(x []*Var) *Var { return Flatten(x[0], 1, -1) }},
		{name: "Permute", inputs: []*tensor.Tensor{randn(57, 2, 3, 4)}, f: func(x []*Var) *Var { return Permute(x[0], 2, 0, 1) }},
		{name: "Transpose", inputs: []*tensor.Tensor{randn(58, 2, 3)}, f: func(x []*Var) *Var { return Transpose(x[0], 0, 1) }},
		{name: "BatchNorm2d/train", inputs: []*tensor.Tensor{randn(60, 3, 2, 2, 3), randn(61, 2), randn(62, 2)},
			f: func(x []*Var) *Var {
				return BatchNorm2d(x[0], x[1], x[2], tensor.Zeros(2), tensor.Ones(2), BatchNormOptions{Training: true, Momentum: 0.1})
			}},
		{name: "BatchNorm2d/eval", inputs: []*tensor.Tensor{randn(63, 2, 2, 2, 2), randn(64, 2), randn(65, 2)},
			f: func(x []*Var) *Var {
				return BatchNorm2d(x[0], x[1], x[2], tensor.FromSlice([]float32{0.1, -0.2}), tensor.FromSlice([]float32{0.5, 2}), BatchNormOptions{})
			}},
		{name: "BatchNorm1d/noaffine", inputs: []*tensor.Tensor{randn(66, 5, 3)},
			f: func(x []*Var) *Var { return BatchNorm2d(x[0], nil, nil, nil, nil, BatchNormOptions{Training: true}) }},
		{name: "LayerNorm", inputs: []*tensor.Tensor{randn(67, 2, 3, 4), randn(68, 3, 4), randn(69, 3, 4)},
			f: func(x []*Var) *Var { return LayerNorm(x[0], []int{3, 4}, x[1], x[2], 0) }},
		{name: "GroupNorm", inputs: []*tensor.Tensor{randn(70, 2, 4, 2, 3), randn(71, 4), randn(72, 4)},
			f: func(x []*Var) *Var { return GroupNorm(x[0], 2, x[1], x[2], 0) }},
		{name: "Dropout", inputs: []*tensor.Tensor{randn(73, 4, 5)},
			f: func(x []*Var) *Var { return Dropout(x[0], 0.3, true, tensor.NewRNG(5)) }},
	}
}
