package models

import (
	"fmt"

	"argus/infer"
	"argus/internal/geom"
	"argus/nn"
)

// Inference compiles the network in evaluation mode for images of h×w
// pixels: each batch norm is folded into the convolution before it (with
// its running statistics, whatever the modules' training flags say), and
// every convolution's bias, residual addition and ReLU run in the same pass
// over channels-last activations. The Net copies the weights it needs; later
// changes to the model do not reach it.
func (r *ResNet) Inference(h, w int) (*infer.Net, error) {
	net, x := infer.New(3, h, w)
	grouped := false
	conv := func(x *infer.Value, c *nn.Conv2d, bn *nn.BatchNorm2d, res *infer.Value, relu bool) *infer.Value {
		if c.Options.Groups > 1 {
			grouped = true
		}
		opt := infer.ConvOptions{Window: c.Options, Norm: foldable(bn), Residual: res, ReLU: relu}
		if c.Bias != nil {
			opt.Bias = c.Bias.Value().Data()
		}
		return net.Conv(x, c.Weight.Value(), opt)
	}
	x = conv(x, r.Conv1, r.BN1, nil, true)
	x = net.MaxPool(x, geom.Window{Kernel: []int{3, 3}, Stride: []int{2, 2}, Padding: []int{1, 1}})
	for _, l := range r.Layers {
		for _, m := range l.Layers {
			b, ok := m.(*Block)
			if !ok {
				return nil, fmt.Errorf("models: ResNet stage holds a %T, not a block", m)
			}
			id := x
			if b.Downsample != nil {
				dc, ok1 := b.Downsample.Layers[0].(*nn.Conv2d)
				dn, ok2 := b.Downsample.Layers[1].(*nn.BatchNorm2d)
				if len(b.Downsample.Layers) != 2 || !ok1 || !ok2 {
					return nil, fmt.Errorf("models: ResNet downsample is not a convolution and a batch norm")
				}
				id = conv(x, dc, dn, nil, false)
			}
			out := conv(x, b.Conv1, b.BN1, nil, true)
			if b.Conv3 != nil {
				out = conv(out, b.Conv2, b.BN2, nil, true)
				out = conv(out, b.Conv3, b.BN3, id, true)
			} else {
				out = conv(out, b.Conv2, b.BN2, id, true)
			}
			x = out
		}
	}
	x = net.GlobalAvgPool(x)
	var bias []float32
	if r.FC.Bias != nil {
		bias = r.FC.Bias.Value().Data()
	}
	x = net.Linear(x, r.FC.Weight.Value(), bias)
	net.Output(x)
	if grouped {
		return nil, fmt.Errorf("models: ResNet with grouped convolutions has no compiled inference")
	}
	return net, net.Err()
}

// foldable returns bn's evaluation-mode statistics.
func foldable(bn *nn.BatchNorm2d) *infer.BatchNorm {
	return &infer.BatchNorm{Weight: bn.Weight.Value().Data(), Bias: bn.Bias.Value().Data(),
		Mean: bn.RunningMean.Data(), Var: bn.RunningVar.Data(), Eps: bn.Eps}
}

// Inference compiles the network in evaluation mode (no dropout) for
// 28×28 images; see ResNet.Inference.
func (m *MNISTNet) Inference() (*infer.Net, error) {
	net, x := infer.New(1, 28, 28)
	conv := func(x *infer.Value, c *nn.Conv2d) *infer.Value {
		opt := infer.ConvOptions{Window: c.Options, ReLU: true}
		if c.Bias != nil {
			opt.Bias = c.Bias.Value().Data()
		}
		return net.Conv(x, c.Weight.Value(), opt)
	}
	linear := func(x *infer.Value, l *nn.Linear) *infer.Value {
		var bias []float32
		if l.Bias != nil {
			bias = l.Bias.Value().Data()
		}
		return net.Linear(x, l.Weight.Value(), bias)
	}
	x = conv(conv(x, m.Conv1), m.Conv2)
	x = net.MaxPool(x, geom.Window{Kernel: []int{2, 2}, Stride: []int{2, 2}})
	x = net.ReLU(linear(net.Flatten(x), m.FC1))
	net.Output(linear(x, m.FC2))
	return net, net.Err()
}
