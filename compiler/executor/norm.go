package executor

import (
	"math"

	"argus/compiler/xgraph"
)

func init() {
	register("Softmax", softmax)
	register("LogSoftmax", softmax)
	register("Hardmax", softmax)
	register("BatchNormalization", batchNorm)
	register("LayerNormalization", layerNorm)
	register("InstanceNormalization", instanceNorm)
}

// softmax computes Softmax, LogSoftmax and Hardmax. Before set 13 the input
// is read as a matrix whose rows start at axis (default 1); from set 13 the
// operator works along the one axis (default -1).
func softmax(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	a := int64(-1)
	if c.opset < 13 {
		a = 1
	}
	if c.n.Has("axis") {
		a = c.n.Int("axis")
	}
	ax, err := axis(a, max(r, 1))
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	var outer, n, inner int
	if c.opset < 13 {
		outer, n, inner = numel(x.Shape[:ax]), numel(x.Shape[ax:]), 1
	} else if r == 0 {
		outer, n, inner = 1, 1, 1
	} else {
		outer, n, inner = numel(x.Shape[:ax]), x.Shape[ax], numel(x.Shape[ax+1:])
	}
	y := c.zero(x.DType, x.Shape...)
	for o := 0; o < outer; o++ {
		for q := 0; q < inner; q++ {
			base := o*n*inner + q
			m := math.Inf(-1)
			arg := 0
			for i := 0; i < n; i++ {
				if v := float64(x.F[base+i*inner]); v > m {
					m, arg = v, i
				}
			}
			if c.n.Op == "Hardmax" {
				y.F[base+arg*inner] = 1
				continue
			}
			var s float64
			for i := 0; i < n; i++ {
				s += math.Exp(float64(x.F[base+i*inner]) - m)
			}
			for i := 0; i < n; i++ {
				d := float64(x.F[base+i*inner]) - m
				if c.n.Op == "LogSoftmax" {
					y.F[base+i*inner] = float32(d - math.Log(s))
				} else {
					y.F[base+i*inner] = float32(math.Exp(d) / s)
				}
			}
		}
	}
	return one(y), nil
}

func batchNorm(c *call) ([]*xgraph.Tensor, error) {
	var in [5]*xgraph.Tensor
	for i := range in {
		t, err := c.float(i)
		if err != nil {
			return nil, err
		}
		in[i] = t
	}
	x, scale, bias, mean, variance := in[0], in[1], in[2], in[3], in[4]
	if len(x.Shape) < 2 {
		return nil, c.errorf("input %v must be N×C×...", x.Shape)
	}
	if c.opset < 9 && c.n.Int("spatial") == 0 {
		return nil, c.unsupported("spatial", "per-activation statistics (spatial=0)")
	}
	N, C := x.Shape[0], x.Shape[1]
	for _, t := range in[1:] {
		if t.Len() != C {
			return nil, c.errorf("parameter %v does not match %d channels", t.Shape, C)
		}
	}
	eps := float64(c.n.Float("epsilon"))
	momentum := float64(c.n.Float("momentum"))
	inner := numel(x.Shape[2:])
	training := c.n.Int("training_mode") != 0
	if c.opset < 7 && c.n.Int("is_test") == 0 && len(c.n.Outputs) > 1 {
		training = true
	}
	mu, va := mean.F, variance.F
	var outMean, outVar *xgraph.Tensor
	if training {
		bm, bv := make([]float32, C), make([]float32, C)
		cnt := float64(N * inner)
		outMean, outVar = c.zero(x.DType, C), c.zero(x.DType, C)
		for ch := 0; ch < C; ch++ {
			var s, s2 float64
			for n := 0; n < N; n++ {
				for _, v := range x.F[(n*C+ch)*inner : (n*C+ch+1)*inner] {
					s += float64(v)
				}
			}
			m := s / cnt
			for n := 0; n < N; n++ {
				for _, v := range x.F[(n*C+ch)*inner : (n*C+ch+1)*inner] {
					s2 += (float64(v) - m) * (float64(v) - m)
				}
			}
			bm[ch], bv[ch] = float32(m), float32(s2/cnt)
			outMean.F[ch] = float32(float64(mean.F[ch])*momentum + m*(1-momentum))
			outVar.F[ch] = float32(float64(variance.F[ch])*momentum + s2/cnt*(1-momentum))
		}
		mu, va = bm, bv
	}
	y := c.zero(x.DType, x.Shape...)
	for n := 0; n < N; n++ {
		for ch := 0; ch < C; ch++ {
			k := float32(float64(scale.F[ch]) / math.Sqrt(float64(va[ch])+eps))
			b := bias.F[ch] - mu[ch]*k
			src := x.F[(n*C+ch)*inner : (n*C+ch+1)*inner]
			dst := y.F[(n*C+ch)*inner : (n*C+ch+1)*inner]
			for i, v := range src {
				dst[i] = v*k + b
			}
		}
	}
	if training {
		return []*xgraph.Tensor{y, outMean, outVar}, nil
	}
	return one(y), nil
}

func layerNorm(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	scale, err := c.float(1)
	if err != nil {
		return nil, err
	}
	r := len(x.Shape)
	ax, err := axis(c.n.Int("axis"), r)
	if err != nil {
		return nil, c.errorf("%v", err)
	}
	eps := float64(c.n.Float("epsilon"))
	outer, n := numel(x.Shape[:ax]), numel(x.Shape[ax:])
	norm := x.Shape[ax:]
	is := bindex(scale.Shape, norm)
	var ib []int
	bias := c.input(2)
	if bias != nil {
		ib = bindex(bias.Shape, norm)
	}
	statShape := append([]int{}, x.Shape...)
	for i := ax; i < r; i++ {
		statShape[i] = 1
	}
	y := c.zero(x.DType, x.Shape...)
	meanT, invT := c.zero(xgraph.Float32, statShape...), c.zero(xgraph.Float32, statShape...)
	for o := 0; o < outer; o++ {
		src := x.F[o*n : (o+1)*n]
		var s float64
		for _, v := range src {
			s += float64(v)
		}
		m := s / float64(n)
		var s2 float64
		for _, v := range src {
			s2 += (float64(v) - m) * (float64(v) - m)
		}
		inv := 1 / math.Sqrt(s2/float64(n)+eps)
		meanT.F[o], invT.F[o] = float32(m), float32(inv)
		dst := y.F[o*n : (o+1)*n]
		for i, v := range src {
			out := (float64(v) - m) * inv * float64(scale.F[is[i]])
			if bias != nil {
				out += float64(bias.F[ib[i]])
			}
			dst[i] = float32(out)
		}
	}
	return []*xgraph.Tensor{y, meanT, invT}, nil
}

func instanceNorm(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	scale, err := c.float(1)
	if err != nil {
		return nil, err
	}
	bias, err := c.float(2)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 3 || scale.Len() != x.Shape[1] || bias.Len() != x.Shape[1] {
		return nil, c.errorf("input %v, scale %v and bias %v do not match", x.Shape, scale.Shape, bias.Shape)
	}
	eps := float64(c.n.Float("epsilon"))
	N, C, inner := x.Shape[0], x.Shape[1], numel(x.Shape[2:])
	y := c.zero(x.DType, x.Shape...)
	for nc := 0; nc < N*C; nc++ {
		src := x.F[nc*inner : (nc+1)*inner]
		var s, s2 float64
		for _, v := range src {
			s += float64(v)
		}
		m := s / float64(inner)
		for _, v := range src {
			s2 += (float64(v) - m) * (float64(v) - m)
		}
		k := float64(scale.F[nc%C]) / math.Sqrt(s2/float64(inner)+eps)
		for i, v := range src {
			y.F[nc*inner+i] = float32((float64(v)-m)*k + float64(bias.F[nc%C]))
		}
	}
	return one(y), nil
}
