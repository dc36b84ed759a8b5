package dist_test

import (
	"fmt"

	"argus/autograd"
	"argus/dist"
	"argus/nn"
	"argus/tensor"
)

// A data-parallel step by hand: the backward pass hands each gradient to
// the Reducer as it completes, and Wait leaves the mean over the ranks.
// train.Options.Sync does the same inside the training loop. A command
// takes its Comm from dist.Open, which gives MPI_COMM_WORLD under mpirun
// and Local, a run of one process, otherwise; the example uses Local.
func ExampleReducer() {
	var c dist.Comm = dist.Local{}
	fc := nn.NewLinear(tensor.NewRNG(1), 4, 2, true)
	params := []*autograd.Var{fc.Weight, fc.Bias}
	red, err := dist.NewReducer(c, params, dist.ReducerOptions{Algorithm: dist.Butterfly})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer red.Close()
	x := autograd.Const(tensor.Ones(3, 4))
	loss := autograd.CrossEntropy(fc.Forward(x), []int{0, 1, 1}, autograd.CrossEntropyOptions{})
	loss.Backward(autograd.OnLeafGrad(red.Ready))
	if err := red.Wait(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("ranks:", c.Size(), "buckets:", red.Buckets())
	// Output: ranks: 1 buckets: [10]
}
