package trace

import (
	"fmt"

	"argus/compiler/executor"
	"argus/nn"
	"argus/tensor"
)

// Compile traces m for inputs of the given shape, with the batch (axis 0)
// left open, runs the standard passes and returns an executor of the
// graph: a model's inference without a translation written for it. The
// executor runs the graph compiled to an infer.Net (batch norm folded,
// fused channels-last convolutions) where the graph allows, as it does for
// the ResNets, and node by node otherwise; Executor.Compiled says which.
// It holds its own copy of the weights, so later changes to m do not
// reach it. Its input is named "input" and its output "output".
func Compile(m nn.Layer, shape []int) (*executor.Executor, error) {
	if len(shape) == 0 {
		return nil, fmt.Errorf("compile: an input shape %v without a batch axis", shape)
	}
	// Traced on a batch of 2, as a dynamic batch needs.
	traced := append([]int{2}, shape[1:]...)
	res, err := Model(m, tensor.Zeros(traced...), Options{DynamicBatch: true})
	if err != nil {
		return nil, err
	}
	g := res.Graph
	for _, v := range g.Values() {
		if v.Const != nil {
			v.Const = v.Const.Clone()
		}
	}
	if _, err := executor.Optimize(g); err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	e, err := executor.New(g)
	if err != nil {
		return nil, fmt.Errorf("compile: %w", err)
	}
	return e, nil
}
