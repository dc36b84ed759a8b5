package autograd_test

import (
	"fmt"

	"argus/autograd"
	"argus/tensor"
)

// A two-layer classifier step: forward, loss, backward, and the gradients
// that an optimiser would read.
func Example() {
	rng := tensor.NewRNG(1)
	x := autograd.Const(rng.Normal(0, 1, 4, 3)) // a batch of 4 samples
	w1 := autograd.Param(rng.Normal(0, 0.5, 8, 3))
	b1 := autograd.Param(tensor.Zeros(8))
	w2 := autograd.Param(rng.Normal(0, 0.5, 2, 8))
	h := autograd.ReLU(autograd.Linear(x, w1, b1))
	loss := autograd.CrossEntropy(autograd.Linear(h, w2, nil), []int{0, 1, 1, 0}, autograd.CrossEntropyOptions{})
	loss.Backward()
	fmt.Println(loss.Shape(), w1.Grad().Shape(), b1.Grad().Shape(), w2.Grad().Shape())
	// Output: [] [8 3] [8] [2 8]
}

func ExampleConv2d() {
	x := autograd.Const(tensor.Ones(2, 3, 32, 32))
	w := autograd.Param(tensor.Full(0.1, 16, 3, 3, 3))
	y := autograd.Conv2d(x, w, nil, autograd.Conv2dOptions{Stride: []int{2, 2}, Padding: []int{1, 1}})
	fmt.Println(y.Shape())
	// Depthwise: one group per channel, weights Cout×1×KH×KW.
	dw := autograd.Param(tensor.Ones(3, 1, 3, 3))
	fmt.Println(autograd.Conv2d(x, dw, nil, autograd.Conv2dOptions{Padding: []int{1, 1}, Groups: 3}).Shape())
	// Output:
	// [2 16 16 16]
	// [2 3 32 32]
}

func ExampleTopK() {
	x := autograd.Const(tensor.FromSlice([]float32{0.1, 0.7, 0.2, 0.9, 0.3, 0.5}, 2, 3))
	v, idx := autograd.TopK(x, 2, 1, true)
	fmt.Println(v.Value().Data(), idx)
	// Output: [0.7 0.2 0.9 0.5] [1 2 0 2]
}

func ExampleNoGrad() {
	w := autograd.Param(tensor.Ones(2, 2))
	var y *autograd.Var
	autograd.NoGrad([]*autograd.Var{w}, func() { y = autograd.MatMul(w, w) })
	fmt.Println(y.RequiresGrad(), y.Value().Data())
	// Output: false [2 2 2 2]
}
