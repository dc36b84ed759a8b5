package quant

import (
	"fmt"
	"math"

	"argus/compiler/xgraph"
	"argus/dpu/ref"
	"argus/internal/par"
)

// Agreement measures how closely the quantised model follows the float
// one on a set of samples, over the first output: the cosine similarity
// of each image's output vectors (mean and worst) and the fraction of
// images whose top-1 class agrees. Networks with random weights (the test
// models) give nearly the same output for every input, which makes those
// numbers close to 1 whatever the quantisation does; the centred numbers
// measure the part that depends on the input, each output less the mean
// of the float outputs over the samples.
type Agreement struct {
	Images     int     `json:"images"`
	CosineMean float64 `json:"cosine_mean"`
	CosineMin  float64 `json:"cosine_min"`
	Top1       float64 `json:"top1_agreement"`
	// CenteredCosine and CenteredTop1 compare f − mean(f) with q − mean(f).
	CenteredCosine float64 `json:"centered_cosine_mean"`
	CenteredTop1   float64 `json:"centered_top1_agreement"`
	// FloatCosine is the mean cosine similarity between the float outputs
	// of consecutive images: what the raw cosine is worth on these
	// samples.
	FloatCosine float64 `json:"float_cosine_between_images"`
}

// TensorAgreement compares one tensor's float values f with its int8
// values q (dequantised), averaged over the batches: their cosine
// similarity, and the relative error ‖q − f‖/‖f‖, which also sees a wrong
// scale that the cosine does not.
type TensorAgreement struct {
	Name     string  `json:"name"`
	Pos      int     `json:"pos"`
	Cosine   float64 `json:"cosine"`
	RelError float64 `json:"rel_error"`
}

// Compare runs g in float32 and the quantised model m on the samples of
// src in batches of batch and measures their agreement: on the first
// output, and tensor by tensor (in the order of m.Tensors). Progress, when
// set, is called after each batch. g is the graph m was quantised from,
// as Quantize left it.
func Compare(g *xgraph.Graph, m *Model, src Source, batch int, progress func(done, total int)) (Agreement, []TensorAgreement, error) {
	if batch <= 0 {
		batch = 8
	}
	in := m.Tensor(m.Input)
	vals := map[string]*xgraph.Value{}
	for _, v := range g.Values() {
		vals[v.Name] = v
	}
	ts := make([]TensorAgreement, len(m.Tensors))
	index := map[*xgraph.Value]int{}
	for i, t := range m.Tensors {
		if vals[t.Name] == nil {
			return Agreement{}, nil, fmt.Errorf("tensor %q is not a value of the graph", t.Name)
		}
		index[vals[t.Name]] = i
		ts[i] = TensorAgreement{Name: t.Name, Pos: t.Pos}
	}
	var fs, qs [][]float32
	n, batches := src.Len(), 0
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		x, err := Batch(src, lo, hi, in.Shape)
		if err != nil {
			return Agreement{}, nil, err
		}
		traces := make([]map[string]ref.Tensor, hi-lo)
		errs := make([]error, hi-lo)
		par.For(hi-lo, 1, func(i int) { traces[i], errs[i] = m.Trace(m.QuantizeInput(x, i)) })
		for _, err := range errs {
			if err != nil {
				return Agreement{}, nil, fmt.Errorf("quantised model: %w", err)
			}
		}
		seen := 0
		err = floatValues(g, x, func(v *xgraph.Value, f *xgraph.Tensor) error {
			k, ok := index[v]
			if !ok {
				return nil
			}
			t := m.Tensors[k]
			if !f.DType.IsFloat() {
				return fmt.Errorf("tensor %q has no float value", t.Name)
			}
			q := dequantize(traces, t)
			if len(q) != len(f.F) {
				return fmt.Errorf("tensor %q: %d float values, %d quantised", t.Name, len(f.F), len(q))
			}
			ts[k].Cosine += Cosine(f.F, q)
			ts[k].RelError += relError(f.F, q)
			if t.Name == m.Outputs[0] {
				per := len(q) / (hi - lo)
				for i := 0; i < hi-lo; i++ {
					fs = append(fs, f.F[i*per:(i+1)*per])
					qs = append(qs, q[i*per:(i+1)*per])
				}
			}
			seen++
			return nil
		})
		if err == nil && seen != len(index) {
			err = fmt.Errorf("%d of %d tensors computed", seen, len(index))
		}
		if err != nil {
			return Agreement{}, nil, fmt.Errorf("float model: %w", err)
		}
		batches++
		if progress != nil {
			progress(hi, n)
		}
	}
	for k := range ts {
		ts[k].Cosine /= float64(batches)
		ts[k].RelError /= float64(batches)
	}
	return agreement(fs, qs), ts, nil
}

// dequantize returns tensor t of every traced image as real values in
// NCHW order.
func dequantize(traces []map[string]ref.Tensor, t Tensor) []float32 {
	per := t.Shape[0] * t.Shape[1] * t.Shape[2]
	q := make([]int8, len(traces)*per)
	for i, tr := range traces {
		CHW(q[i*per:(i+1)*per], tr[t.Name])
	}
	r := Result{Data: q, Pos: t.Pos}
	return r.Float()
}

// agreement measures float outputs fs against quantised outputs qs.
func agreement(fs, qs [][]float32) Agreement {
	a := Agreement{Images: len(fs), CosineMin: math.Inf(1)}
	if len(fs) == 0 {
		return Agreement{}
	}
	mean := make([]float64, len(fs[0]))
	for _, f := range fs {
		for j, v := range f {
			mean[j] += float64(v) / float64(len(fs))
		}
	}
	centre := func(x []float32) []float32 {
		c := make([]float32, len(x))
		for j, v := range x {
			c[j] = float32(float64(v) - mean[j])
		}
		return c
	}
	agree, cagree := 0, 0
	for i := range fs {
		c := Cosine(fs[i], qs[i])
		a.CosineMean += c / float64(len(fs))
		a.CosineMin = min(a.CosineMin, c)
		if argmax(fs[i]) == argmax(qs[i]) {
			agree++
		}
		cf, cq := centre(fs[i]), centre(qs[i])
		a.CenteredCosine += Cosine(cf, cq) / float64(len(fs))
		if argmax(cf) == argmax(cq) {
			cagree++
		}
		if i > 0 {
			a.FloatCosine += Cosine(fs[i-1], fs[i]) / float64(len(fs)-1)
		}
	}
	a.Top1 = float64(agree) / float64(len(fs))
	a.CenteredTop1 = float64(cagree) / float64(len(fs))
	return a
}

// Cosine returns the cosine similarity of a and b; 1 when both are zero,
// 0 when one is.
func Cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	switch {
	case aa == 0 && bb == 0:
		return 1
	case aa == 0 || bb == 0:
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

// relError returns ‖q − f‖/‖f‖, 0 when both are zero.
func relError(f, q []float32) float64 {
	var d, n float64
	for i := range f {
		e := float64(q[i]) - float64(f[i])
		d += e * e
		n += float64(f[i]) * float64(f[i])
	}
	if n == 0 {
		if d == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Sqrt(d / n)
}

// argmax returns the index of the first largest value.
func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
