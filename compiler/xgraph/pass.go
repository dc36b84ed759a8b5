package xgraph

import (
	"fmt"
	"slices"

	"argus/internal/kernels"
)

// Pass is one graph rewrite. Run reports whether it changed the graph.
type Pass interface {
	Name() string
	Run(g *Graph) (changed bool, err error)
}

// PassFunc adapts a function to the Pass interface.
type PassFunc struct {
	Label string
	Fn    func(g *Graph) (bool, error)
}

// Name returns the pass's label.
func (p PassFunc) Name() string { return p.Label }

// Run calls the function.
func (p PassFunc) Run(g *Graph) (bool, error) { return p.Fn(g) }

// maxRounds bounds the fixed-point iteration of Optimize.
const maxRounds = 16

// Optimize runs the passes in order, repeating the sequence until a round
// changes nothing, then sorts the graph and infers shapes again. It returns
// how many times each pass changed the graph.
func Optimize(g *Graph, passes ...Pass) (map[string]int, error) {
	stats := make(map[string]int)
	for round := 0; round < maxRounds; round++ {
		any := false
		for _, p := range passes {
			changed, err := p.Run(g)
			if err != nil {
				return stats, fmt.Errorf("pass %s: %w", p.Name(), err)
			}
			if changed {
				stats[p.Name()]++
				any = true
				if err := g.Validate(); err != nil {
					return stats, fmt.Errorf("pass %s left an invalid graph: %w", p.Name(), err)
				}
			}
		}
		if !any {
			break
		}
	}
	InferShapes(g)
	return stats, nil
}

// Evaluator computes a node's outputs from constant inputs; the executor
// (package runtime) provides one, so that folding agrees with execution.
type Evaluator func(opset int, n *Node, in []*Tensor) ([]*Tensor, error)

// nondeterministic lists operators whose outputs must not be folded even
// with constant inputs.
var nondeterministic = map[string]bool{
	"RandomNormal": true, "RandomUniform": true, "RandomNormalLike": true,
	"RandomUniformLike": true, "Multinomial": true, "Bernoulli": true,
}

// MaxFoldElements bounds the size of a folded constant, so that folding
// does not blow a small graph up into a large one (an Expand to a big
// shape, say).
const MaxFoldElements = 1 << 22

// FoldConstants returns the pass that evaluates nodes whose inputs are all
// constants and replaces their outputs by constants. A Shape node whose
// input shape is fully known folds too. Nodes that fail to evaluate are
// left for the executor to report.
func FoldConstants(eval Evaluator) Pass {
	return PassFunc{"fold-constants", func(g *Graph) (bool, error) {
		changed := false
		keep := g.Nodes[:0]
		for _, n := range g.Nodes {
			if foldNode(g, n, eval) {
				changed = true
				continue
			}
			keep = append(keep, n)
		}
		g.Nodes = keep
		return changed, nil
	}}
}

func foldNode(g *Graph, n *Node, eval Evaluator) bool {
	if n.Domain != "" || nondeterministic[n.Op] {
		return false
	}
	if n.Op == "Shape" {
		if x := n.Input(0); x != nil && x.Const == nil && x.Ranked && product(x.Shape) >= 0 && len(n.Attrs) == 0 && len(n.Outputs) == 1 && n.Outputs[0] != nil {
			dims := make([]int64, len(x.Shape))
			for i, d := range x.Shape {
				dims[i] = int64(d)
			}
			setConst(n.Outputs[0], NewInt(Int64, dims, len(dims)))
			return true
		}
	}
	in := make([]*Tensor, len(n.Inputs))
	for i, v := range n.Inputs {
		if v == nil {
			continue
		}
		if v.Const == nil {
			return false
		}
		in[i] = v.Const
	}
	out, err := eval(g.Opset, n, in)
	if err != nil {
		return false
	}
	for i, v := range n.Outputs {
		if v != nil && (i >= len(out) || out[i] == nil || out[i].Len() > MaxFoldElements) {
			return false
		}
	}
	for i, v := range n.Outputs {
		if v != nil {
			setConst(v, out[i])
		}
	}
	return true
}

func setConst(v *Value, t *Tensor) {
	v.Const = t
	v.Producer = nil
	v.DType = t.DType
	v.Shape = append([]int{}, t.Shape...)
	v.Ranked = true
}

// replaceUses makes every reader of old (nodes and graph outputs) read nw.
// A graph output keeps its name: when it is replaced, nw takes the name
// where nw is an intermediate value that is not an output itself.
func (g *Graph) replaceUses(old, nw *Value) bool {
	for i, v := range g.Outputs {
		if v != old {
			continue
		}
		if nw.Producer == nil || g.isOutput(nw) || g.isInput(nw) {
			return false
		}
		nw.Name = old.Name
		g.Outputs[i] = nw
	}
	for _, n := range g.Nodes {
		for i, v := range n.Inputs {
			if v == old {
				n.Inputs[i] = nw
			}
		}
	}
	return true
}

func (g *Graph) isOutput(v *Value) bool {
	for _, o := range g.Outputs {
		if o == v {
			return true
		}
	}
	return false
}

func (g *Graph) isInput(v *Value) bool {
	for _, o := range g.Inputs {
		if o == v {
			return true
		}
	}
	return false
}

// RemoveIdentity returns the pass that removes Identity nodes and
// inference-mode Dropout nodes, wiring their readers to their inputs.
func RemoveIdentity() Pass {
	return PassFunc{"remove-identity", func(g *Graph) (bool, error) {
		g.link()
		cons := g.Consumers()
		changed := false
		keep := g.Nodes[:0]
		for _, n := range g.Nodes {
			if passThrough(n, cons) && g.replaceUses(n.Outputs[0], n.Inputs[0]) {
				changed = true
				continue
			}
			keep = append(keep, n)
		}
		g.Nodes = keep
		return changed, nil
	}}
}

// passThrough reports whether n copies its first input unchanged.
func passThrough(n *Node, cons map[*Value][]*Node) bool {
	if n.Domain != "" || len(n.Inputs) == 0 || n.Inputs[0] == nil || len(n.Outputs) == 0 || n.Outputs[0] == nil {
		return false
	}
	switch n.Op {
	case "Identity":
		return true
	case "Dropout":
		if len(n.Outputs) > 1 && n.Outputs[1] != nil && len(cons[n.Outputs[1]]) > 0 {
			return false // the mask is used
		}
		if n.Has("is_test") && n.Int("is_test") == 0 && !n.Has("training_mode") && len(n.Inputs) < 3 {
			// Sets before 7 train unless is_test is set.
			return false
		}
		if t := n.Input(2); t != nil {
			return t.Const != nil && t.Const.Len() == 1 && t.Const.Float(0) == 0
		}
		return true
	}
	return false
}

// RemoveDead returns the pass that removes nodes none of whose outputs is
// read by another node or is a graph output.
func RemoveDead() Pass {
	return PassFunc{"remove-dead", func(g *Graph) (bool, error) {
		changed := false
		for {
			cons := g.Consumers()
			keep := g.Nodes[:0]
			removed := false
			for _, n := range g.Nodes {
				live := false
				for _, o := range n.Outputs {
					if o != nil && (len(cons[o]) > 0 || g.isOutput(o)) {
						live = true
						break
					}
				}
				if live {
					keep = append(keep, n)
				} else {
					removed = true
				}
			}
			g.Nodes = keep
			if !removed {
				return changed, nil
			}
			changed = true
		}
	}}
}

// FoldBatchNorm returns the pass that folds an inference BatchNormalization
// into the Conv before it when the convolution's output feeds only the
// normalisation and all parameters are constants:
// W'[m] = W[m]·k[m] and b'[m] = (b[m]-mean[m])·k[m] + beta[m], with
// k = scale/sqrt(var+eps), computed by kernels.FoldBatchNorm as infer's
// networks fold theirs.
func FoldBatchNorm() Pass {
	return PassFunc{"fold-batchnorm", func(g *Graph) (bool, error) {
		g.link()
		cons := g.Consumers()
		changed := false
		drop := map[*Node]bool{}
		for _, bn := range g.Nodes {
			if bn.Op != "BatchNormalization" || bn.Domain != "" || len(bn.Inputs) != 5 || bn.Int("training_mode") != 0 {
				continue
			}
			if g.Opset < 9 && bn.Int("spatial") == 0 {
				continue
			}
			live := 0
			for _, o := range bn.Outputs {
				if o != nil {
					live++
				}
			}
			if live != 1 || bn.Outputs[0] == nil {
				continue
			}
			x := bn.Inputs[0]
			conv := x.Producer
			if conv == nil || conv.Op != "Conv" || conv.Domain != "" || len(cons[x]) != 1 || g.isOutput(x) {
				continue
			}
			w := conv.Input(1)
			if w == nil || w.Const == nil || !w.Const.DType.IsFloat() || len(w.Const.Shape) < 2 {
				continue
			}
			var p [4]*Tensor
			ok := true
			M := w.Const.Shape[0]
			for i := range p {
				v := bn.Inputs[i+1]
				if v == nil || v.Const == nil || !v.Const.DType.IsFloat() || v.Const.Len() != M {
					ok = false
					break
				}
				p[i] = v.Const
			}
			b := conv.Input(2)
			if !ok || (b != nil && (b.Const == nil || !b.Const.DType.IsFloat() || b.Const.Len() != M)) {
				continue
			}
			bias := []float32(nil)
			if b != nil {
				bias = b.Const.F
			}
			fw, nb := kernels.FoldBatchNorm(w.Const.F, bias, p[0].F, p[1].F, p[2].F, p[3].F, float64(bn.Float("epsilon")))
			nw := &Tensor{DType: w.Const.DType, Shape: slices.Clone(w.Const.Shape), F: fw}
			wv := &Value{Name: w.Name + "_bnfold", DType: nw.DType, Shape: nw.Shape, Ranked: true, Const: nw}
			bv := &Value{Name: conv.Label() + "_bnfold_bias", DType: Float32, Shape: []int{M}, Ranked: true, Const: NewFloat(nb, M)}
			if conv.Name != "" {
				bv.Name = conv.Name + "_bnfold_bias"
			}
			out := bn.Outputs[0]
			if !g.replaceUses(out, x) {
				continue
			}
			conv.Inputs = []*Value{conv.Inputs[0], wv, bv}
			drop[bn] = true
			changed = true
		}
		if changed {
			keep := g.Nodes[:0]
			for _, n := range g.Nodes {
				if !drop[n] {
					keep = append(keep, n)
				}
			}
			g.Nodes = keep
		}
		return changed, nil
	}}
}

// Standard returns the default optimisation pipeline: constant folding,
// identity and dropout removal, batch-norm folding and dead-node removal.
func Standard(eval Evaluator) []Pass {
	return []Pass{FoldConstants(eval), RemoveIdentity(), FoldBatchNorm(), RemoveDead()}
}
