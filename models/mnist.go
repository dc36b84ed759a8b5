// Package models holds network architectures built from nn layers, with
// the parameter names of their reference implementations (torchvision,
// pytorch/examples) so that converted weights load unchanged.
package models

import (
	"argus/autograd"
	"argus/nn"
	"argus/tensor"
)

// MNISTNet is the convolutional network of PyTorch's MNIST example:
// conv 32 3×3, ReLU, conv 64 3×3, ReLU, max-pool 2, dropout 0.25, linear
// 9216→128, ReLU, dropout 0.5, linear 128→10. Forward returns logits.
type MNISTNet struct {
	Conv1, Conv2       *nn.Conv2d
	Dropout1, Dropout2 *nn.Dropout
	FC1, FC2           *nn.Linear
}

// NewMNISTNet returns the network with PyTorch's default initialisation
// drawn from rng; its dropout layers draw their masks from rng too.
func NewMNISTNet(rng *tensor.RNG) *MNISTNet {
	return &MNISTNet{
		Conv1:    nn.NewConv2d(rng, 1, 32, 3, autograd.Conv2dOptions{}, true),
		Conv2:    nn.NewConv2d(rng, 32, 64, 3, autograd.Conv2dOptions{}, true),
		Dropout1: nn.NewDropout(0.25, rng),
		Dropout2: nn.NewDropout(0.5, rng),
		FC1:      nn.NewLinear(rng, 9216, 128, true),
		FC2:      nn.NewLinear(rng, 128, 10, true),
	}
}

// Members implements nn.Module with the example's attribute names.
func (m *MNISTNet) Members() nn.Members {
	return nn.Members{Children: []nn.Child{
		{Name: "conv1", Module: m.Conv1},
		{Name: "conv2", Module: m.Conv2},
		{Name: "dropout1", Module: m.Dropout1},
		{Name: "dropout2", Module: m.Dropout2},
		{Name: "fc1", Module: m.FC1},
		{Name: "fc2", Module: m.FC2},
	}}
}

// Forward maps images (N, 1, 28, 28) to class logits (N, 10).
func (m *MNISTNet) Forward(x *autograd.Var) *autograd.Var {
	x = autograd.ReLU(m.Conv1.Forward(x))
	// ReLU and max-pooling commute (ReLU is monotone), and pooling first
	// leaves a quarter of the elements to rectify; values and gradients are
	// the same as PyTorch's relu-then-pool order.
	x = autograd.MaxPool2d(m.Conv2.Forward(x), autograd.MaxPool2dOptions{Kernel: [2]int{2, 2}})
	x = autograd.ReLU(x)
	x = m.Dropout1.Forward(x)
	x = autograd.Flatten(x, 1, -1)
	x = autograd.ReLU(m.FC1.Forward(x))
	x = m.Dropout2.Forward(x)
	return m.FC2.Forward(x)
}
