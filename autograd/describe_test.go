package autograd

import (
	"reflect"
	"testing"

	"argus/tensor"
)

// TestDescribe checks that the ops an exporter needs name themselves and
// their attributes as Description documents.
func TestDescribe(t *testing.T) {
	rng := tensor.NewRNG(1)
	x := Param(rng.Normal(0, 1, 2, 4, 6, 6))
	w := Param(rng.Normal(0, 1, 8, 2, 3, 3))
	mean, vari := tensor.Zeros(4), tensor.Ones(4)
	m := Param(rng.Normal(0, 1, 6, 5))
	attn, _ := Attention(x, x, x, 0.5)
	cases := []struct {
		name  string
		v     *Var
		kind  string
		attrs map[string]any
	}{
		{"conv", Conv2d(x, w, nil, Conv2dOptions{Stride: []int{2, 1}, Padding: []int{1, 0}, Groups: 2}), "Conv2d",
			map[string]any{"stride": []int{2, 1}, "pads": []int{1, 0, 1, 0}, "dilation": []int{1, 1}, "groups": 2}},
		{"batchnorm", BatchNorm2d(x, nil, nil, mean, vari, BatchNormOptions{}), "BatchNorm2d",
			map[string]any{"eps": float32(1e-5), "momentum": float32(0), "training": false}},
		{"maxpool", MaxPool2d(x, MaxPool2dOptions{Kernel: [2]int{3, 3}, Stride: [2]int{2, 2}, Padding: [2]int{1, 1}}), "MaxPool2d",
			map[string]any{"kernel": []int{3, 3}, "stride": []int{2, 2}, "padding": []int{1, 1}, "dilation": []int{1, 1}, "ceil_mode": false}},
		{"avgpool", AvgPool2d(x, AvgPool2dOptions{Kernel: [2]int{2, 2}, ExcludePad: true}), "AvgPool2d",
			map[string]any{"kernel": []int{2, 2}, "stride": []int{2, 2}, "padding": []int{0, 0}, "ceil_mode": false, "exclude_pad": true}},
		{"adaptive", AdaptiveAvgPool2d(x, 1, 1), "AdaptiveAvgPool2d", map[string]any{"output": []int{1, 1}}},
		{"relu", ReLU(x), "ReLU", nil},
		{"nearest", ResizeNearest(x, 12, 7), "ResizeNearest", map[string]any{"size": []int{12, 7}}},
		{"roialign", MultiLevelRoIAlign([]*Var{x, x}, tensor.FromSlice([]float32{0, 0, 4, 4, 1, 1, 30, 30}, 2, 4), []int{1, 0},
			PoolerOptions{RoIAlignOptions: RoIAlignOptions{OutputSize: [2]int{2, 3}, SamplingRatio: 2, Aligned: true},
				MinLevel: 2, CanonicalLevel: 4, CanonicalSize: 16}), "RoIAlign",
			map[string]any{"output": []int{2, 3}, "sampling_ratio": 2, "aligned": true, "spatial_scales": []float32{0.25, 0.125},
				"levels": []int{0, 1}, "batch": []int{1, 0}}},
		{"clamp", Clamp(x, 0, 6), "Clamp", map[string]any{"min": float32(0), "max": float32(6)}},
		{"sub", Sub(x, x), "Sub", nil},
		{"flatten", Flatten(x, 1, -1), "Flatten", map[string]any{"start": 1, "end": 3, "shape": []int{2, 144}}},
		{"reshape", Reshape(x, 2, -1, 6), "Reshape", map[string]any{"shape": []int{2, 24, 6}}},
		{"linear", Linear(m, Param(rng.Normal(0, 1, 3, 5)), nil), "Linear", nil},
		{"logsoftmax", LogSoftmax(m, -1), "LogSoftmax", map[string]any{"axis": 1}},
		{"mean", MeanAxes(x, false, 2, 3), "Sum", map[string]any{"keep": []int{2, 4, 1, 1}, "shape": []int{2, 4}, "scale": float32(1.0 / 36)}},
		{"layernorm", LayerNorm(x, []int{6, 6}, nil, nil, 0), "LayerNorm", map[string]any{"axes": 2, "eps": float32(1e-5)}},
		{"groupnorm", GroupNorm(x, 2, nil, nil, 1e-3), "GroupNorm", map[string]any{"groups": 2, "eps": float32(1e-3)}},
		{"resize", ResizeBilinear(x, 3, 9, true), "ResizeBilinear", map[string]any{"size": []int{3, 9}, "align_corners": true}},
		{"convtranspose", ConvTranspose2d(x, Param(rng.Normal(0, 1, 4, 3, 3, 3)), nil, ConvTranspose2dOptions{Stride: [2]int{2, 2}, OutputPadding: [2]int{1, 0}}), "ConvTranspose2d",
			map[string]any{"stride": []int{2, 2}, "pads": []int{0, 0, 0, 0}, "output_padding": []int{1, 0}, "dilation": []int{1, 1}, "groups": 1}},
		{"dropout", Dropout(x, 0.5, true, rng), "Dropout", map[string]any{"p": float32(0.5), "training": true}},
		{"dropout2d", Dropout2d(x, 0.1, true, rng), "Dropout", map[string]any{"p": float32(0.1), "training": true, "channels": true}},
		{"attention", attn, "Attention", map[string]any{"scale": float32(0.5)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, ok := c.v.Op().(Describer)
			if !ok {
				t.Fatalf("%T does not describe itself", c.v.Op())
			}
			got := d.Describe()
			if got.Kind != c.kind || !reflect.DeepEqual(got.Attrs, c.attrs) {
				t.Errorf("described as %s %v, want %s %v", got.Kind, got.Attrs, c.kind, c.attrs)
			}
		})
	}
	if bn := BatchNorm2d(x, nil, nil, mean, vari, BatchNormOptions{}).Op().(Describer).Describe(); bn.Tensors["running_mean"] != mean || bn.Tensors["running_var"] != vari {
		t.Error("batch norm does not hand out its running statistics")
	}
	if Param(tensor.Zeros(1)).Op() != nil {
		t.Error("a leaf has an op")
	}
}
