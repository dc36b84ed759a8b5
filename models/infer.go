package models

import (
	"argus/infer"
	"argus/internal/geom"
	"argus/nn"
)

// Inference compiles the network in evaluation mode (no dropout) for
// 28×28 images: every convolution's bias and ReLU run in the same pass over
// channels-last activations. The Net copies the weights it needs; later
// changes to the model do not reach it.
//
// The ResNets have no such method: their export runs on the same compiled
// network (trace.Compile in package compiler/trace, or `argus export` and
// `argus run`) as fast as a hand-written translation did. This one stays
// until the executor's compiled path takes a ReLU after max pooling and
// after a fully connected layer, and a Flatten of a feature map; until
// then the export of this network runs node by node, 2–3.5× slower.
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
