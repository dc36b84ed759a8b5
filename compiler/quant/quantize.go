package quant

import (
	"errors"
	"fmt"

	"argus/compiler/executor"
	"argus/compiler/xgraph"
)

// Source is a set of calibration samples: Len inputs of one image each
// (C×H×W float32, normalised as the model expects), read by index.
type Source interface {
	Len() int
	Sample(i int) (*xgraph.Tensor, error)
}

// Options are Quantize's settings; the zero value is usable.
type Options struct {
	// BatchSize is the number of samples in one calibration batch, each
	// batch voting for one position per activation (8 when zero).
	BatchSize int
	// Progress, when set, is called after each batch with the samples
	// done and the total.
	Progress func(done, total int)
}

// Report says how a model was quantised.
type Report struct {
	Samples int `json:"samples"`
	Batches int `json:"batches"`
	// Changes are the positions legalisation moved, in order.
	Changes []Change `json:"changes"`
}

// Quantize quantises g for the DPU with the calibration samples of src:
// it runs the standard passes on g first (which change g in place: constant
// folding and batch-norm folding among them), lowers the nodes to layers
// (an operator the DPU layers cannot express is an *xgraph.UnsupportedError
// naming the node), gives weights and biases their positions, calibrates
// the activations over the batches of src (Mode of the per-batch
// Positions), legalises the positions (Legalize) and rounds the weights and
// biases onto their final grids.
func Quantize(g *xgraph.Graph, src Source, opt Options) (*Model, *Report, error) {
	if src == nil || src.Len() == 0 {
		return nil, nil, errors.New("no calibration samples")
	}
	if _, err := executor.Optimize(g); err != nil {
		return nil, nil, fmt.Errorf("optimise graph: %w", err)
	}
	if err := executor.Check(g); err != nil {
		return nil, nil, err
	}
	p, err := lower(g)
	if err != nil {
		return nil, nil, err
	}
	m := p.m
	for i := range m.Layers {
		if w, ok := p.fw[i]; ok {
			m.Layers[i].WeightPos = Position(w, RoundParam)
			m.Layers[i].BiasPos = Position(p.fb[i], RoundParam)
		}
	}
	rep := &Report{Samples: src.Len()}
	if rep.Batches, err = p.calibrate(g, src, opt); err != nil {
		return nil, nil, err
	}
	if rep.Changes, err = Legalize(m); err != nil {
		return nil, nil, fmt.Errorf("legalise positions: %w", err)
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		if w, ok := p.fw[i]; ok {
			l.Weights = fixAll(w, l.WeightPos, RoundParam)
			l.Bias = fixAll(p.fb[i], l.BiasPos, RoundParam)
		}
	}
	if err := Check(m); err != nil {
		return nil, nil, fmt.Errorf("quantised model: %w", err)
	}
	return m, rep, nil
}

func fixAll(x []float32, pos, mode int) []int8 {
	q := make([]int8, len(x))
	for i, v := range x {
		q[i] = Fix(float64(v), pos, mode)
	}
	return q
}

// calibrate runs the batches of src through g in float32, node by node so
// that every activation is seen, and sets each tensor's position to the
// mode of its per-batch positions. It returns the number of batches.
func (p *plan) calibrate(g *xgraph.Graph, src Source, opt Options) (int, error) {
	bs := opt.BatchSize
	if bs <= 0 {
		bs = 8
	}
	in := p.m.Tensor(p.m.Input)
	votes := make([][]int, len(p.m.Tensors))
	index := map[*xgraph.Value]int{}
	for i, t := range p.m.Tensors {
		index[p.values[t.Name]] = i
	}
	n, batches := src.Len(), 0
	for lo := 0; lo < n; lo += bs {
		hi := min(lo+bs, n)
		x, err := Batch(src, lo, hi, in.Shape)
		if err != nil {
			return 0, err
		}
		seen := 0
		err = floatValues(g, x, func(v *xgraph.Value, t *xgraph.Tensor) error {
			i, ok := index[v]
			if !ok {
				return nil
			}
			if !t.DType.IsFloat() {
				return fmt.Errorf("tensor %q is not a float tensor", v.Name)
			}
			votes[i] = append(votes[i], Position(t.F, RoundActivation))
			seen++
			return nil
		})
		if err == nil && seen != len(index) {
			err = fmt.Errorf("%d of %d tensors computed", seen, len(index))
		}
		if err != nil {
			return 0, fmt.Errorf("calibration batch %d: %w", batches+1, err)
		}
		batches++
		if opt.Progress != nil {
			opt.Progress(hi, n)
		}
	}
	for i := range p.m.Tensors {
		p.m.Tensors[i].Pos = Mode(votes[i])
	}
	return batches, nil
}

// floatValues evaluates every node of g on input x and calls visit with
// the input and every computed value in turn. A value is dropped after its
// last reader, so that only the live ones are held.
func floatValues(g *xgraph.Graph, x *xgraph.Tensor, visit func(v *xgraph.Value, t *xgraph.Tensor) error) error {
	last := map[*xgraph.Value]int{}
	for i, n := range g.Nodes {
		for _, v := range n.Inputs {
			last[v] = i
		}
	}
	in := g.Inputs[0]
	env := map[*xgraph.Value]*xgraph.Tensor{in: x}
	if err := visit(in, x); err != nil {
		return err
	}
	for i, n := range g.Nodes {
		ins := make([]*xgraph.Tensor, len(n.Inputs))
		for j, v := range n.Inputs {
			switch {
			case v == nil:
			case v.Const != nil:
				ins[j] = v.Const
			default:
				t, ok := env[v]
				if !ok {
					return fmt.Errorf("node %s: input %q has no value", n.Label(), v.Name)
				}
				ins[j] = t
			}
		}
		out, err := executor.Eval(g.Opset, n, ins)
		if err != nil {
			return err
		}
		for j, v := range n.Outputs {
			if v != nil && j < len(out) && out[j] != nil {
				env[v] = out[j]
				if err := visit(v, out[j]); err != nil {
					return err
				}
			}
		}
		for _, v := range n.Inputs {
			if last[v] == i {
				delete(env, v)
			}
		}
	}
	return nil
}

// Batch stacks samples lo…hi−1 of src into one N×C×H×W tensor, checking
// each against the model's input shape (C, H, W).
func Batch(src Source, lo, hi int, shape [3]int) (*xgraph.Tensor, error) {
	per := shape[0] * shape[1] * shape[2]
	data := make([]float32, 0, (hi-lo)*per)
	for i := lo; i < hi; i++ {
		s, err := src.Sample(i)
		if err != nil {
			return nil, err
		}
		if !s.DType.IsFloat() || len(s.Shape) != 3 || [3]int{s.Shape[0], s.Shape[1], s.Shape[2]} != shape {
			return nil, fmt.Errorf("calibration sample %d: %s, the model takes float32%v", i, s, shape[:])
		}
		data = append(data, s.F...)
	}
	return xgraph.NewFloat(data, hi-lo, shape[0], shape[1], shape[2]), nil
}
