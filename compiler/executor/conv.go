package executor

import (
	"sync"

	"argus/autograd"
	"argus/compiler/xgraph"
	"argus/internal/geom"
	"argus/internal/kernels"
	"argus/tensor"
)

// checkWindow checks, before anything is allocated, the output of a
// convolution or pooling window with the leading dimensions lead, the
// input the window reads (a transposed convolution's output) and the tap
// tables forTaps builds, against the node's memory limit.
func (c *call) checkWindow(dt xgraph.DType, lead []int, w geom.Window) {
	c.check(dt, append(append([]int{}, lead...), w.Out...))
	c.check(dt, append(append([]int{}, lead...), w.In...))
	for j := range w.Kernel {
		c.check(xgraph.Int64, []int{w.Kernel[j], w.Out[j]})
	}
}

// forTaps calls fn for every kernel tap of the window (in row-major
// order, index kk) with the per-dimension input positions that every
// output position reads, -1 where it reads padding.
func forTaps(w geom.Window, fn func(kk int, rows [][]int)) {
	r := len(w.Kernel)
	tabs := make([][][]int, r)
	for j := 0; j < r; j++ {
		tabs[j] = make([][]int, w.Kernel[j])
		for k := range tabs[j] {
			t := make([]int, w.Out[j])
			for o := range t {
				t[o] = w.Source(j, o, k)
			}
			tabs[j][k] = t
		}
	}
	kidx := make([]int, r)
	rows := make([][]int, r)
	for kk := 0; kk < numel(w.Kernel); kk++ {
		for j := 0; j < r; j++ {
			rows[j] = tabs[j][kidx[j]]
		}
		fn(kk, rows)
		for j := r - 1; j >= 0; j-- {
			kidx[j]++
			if kidx[j] < w.Kernel[j] {
				break
			}
			kidx[j] = 0
		}
	}
}

// spread calls fn(o, off) for each output position o with the input offset
// it reads for the given tap rows, or off = -1 where it reads padding.
func spread(rows [][]int, inStr []int, out []int, fn func(o, off int)) {
	r := len(rows)
	if r == 0 {
		fn(0, 0)
		return
	}
	outer := numel(out[:r-1])
	last := rows[r-1]
	coord := make([]int, r-1)
	o := 0
	for q := 0; q < outer; q++ {
		base, valid := 0, true
		for j := 0; j < r-1; j++ {
			p := rows[j][coord[j]]
			if p < 0 {
				valid = false
				break
			}
			base += p * inStr[j]
		}
		for _, p := range last {
			if valid && p >= 0 {
				fn(o, base+p)
			} else {
				fn(o, -1)
			}
			o++
		}
		for j := r - 2; j >= 0; j-- {
			coord[j]++
			if coord[j] < out[j] {
				break
			}
			coord[j] = 0
		}
	}
}

// im2col lowers x (channels × input positions) to col, a matrix of
// (channels·taps) rows and output positions columns.
func im2col(w geom.Window, x []float32, channels int, col []float32) {
	inSize, outSize, K := numel(w.In), numel(w.Out), numel(w.Kernel)
	inStr := strides(w.In)
	forTaps(w, func(kk int, rows [][]int) {
		for ch := 0; ch < channels; ch++ {
			src := x[ch*inSize : (ch+1)*inSize]
			dst := col[(ch*K+kk)*outSize : (ch*K+kk+1)*outSize]
			if len(rows) == 2 {
				// The common 2-D case without the callback.
				r0, r1 := rows[0], rows[1]
				o := 0
				for _, p0 := range r0 {
					if p0 < 0 {
						for range r1 {
							dst[o] = 0
							o++
						}
						continue
					}
					row := src[p0*inStr[0]:]
					for _, p1 := range r1 {
						if p1 < 0 {
							dst[o] = 0
						} else {
							dst[o] = row[p1]
						}
						o++
					}
				}
				continue
			}
			spread(rows, inStr, w.Out, func(o, off int) {
				if off < 0 {
					dst[o] = 0
				} else {
					dst[o] = src[off]
				}
			})
		}
	})
}

// col2im is the adjoint of im2col: it adds each column entry into the input
// position it was read from.
func col2im(w geom.Window, col []float32, channels int, x []float32) {
	inSize, outSize, K := numel(w.In), numel(w.Out), numel(w.Kernel)
	inStr := strides(w.In)
	forTaps(w, func(kk int, rows [][]int) {
		for ch := 0; ch < channels; ch++ {
			dst := x[ch*inSize : (ch+1)*inSize]
			src := col[(ch*K+kk)*outSize : (ch*K+kk+1)*outSize]
			spread(rows, inStr, w.Out, func(o, off int) {
				if off >= 0 {
					dst[off] += src[o]
				}
			})
		}
	})
}

func init() {
	register("Conv", conv)
	register("ConvTranspose", convTranspose)
}

func conv(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	wt, err := c.float(1)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 3 || len(wt.Shape) != len(x.Shape) {
		return nil, c.errorf("input %v and weight %v must be N×C×spatial of the same rank", x.Shape, wt.Shape)
	}
	N, C, M := x.Shape[0], x.Shape[1], wt.Shape[0]
	w, err := xgraph.Window(c.n, x.Shape[2:], wt.Shape[2:])
	if err != nil {
		return nil, err
	}
	c.checkWindow(x.DType, []int{N, max(C, M)}, w)
	group := w.Groups
	if C%group != 0 || M%group != 0 || wt.Shape[1] != C/group {
		return nil, c.errorf("group %d does not divide input %v and weight %v", group, x.Shape, wt.Shape)
	}
	var bias []float32
	if b := c.input(2); b != nil {
		if b.Len() != M || !b.DType.IsFloat() {
			return nil, c.errorf("bias %v does not match %d output channels", b.Shape, M)
		}
		bias = b.F
	}
	if w.Rank() == 2 {
		return one(conv2d(x, wt, bias, w, c.relu)), nil
	}
	y := c.alloc(x.DType, append([]int{N, M}, w.Out...)...)
	convForward(x.F, wt.F, bias, y.F, N, C, M, group, w, c.relu)
	return one(y), nil
}

// conv2d runs a 2-D convolution on the engine's convolution, which lowers
// a whole batch into one product, transposes products with more positions
// than channels and has a direct depthwise kernel; the executor's own
// lowering handles the other ranks.
func conv2d(x, wt *xgraph.Tensor, bias []float32, w geom.Window, relu bool) *xgraph.Tensor {
	var b *autograd.Var
	if bias != nil {
		b = autograd.Const(tensor.Wrap(bias, len(bias)))
	}
	y := autograd.Conv2d(autograd.Const(tensor.Wrap(x.F, x.Shape...)), autograd.Const(tensor.Wrap(wt.F, wt.Shape...)), b, w).Value()
	out := y.Data()
	if relu {
		for i, v := range out {
			out[i] = max(v, 0)
		}
	}
	return &xgraph.Tensor{DType: x.DType, Shape: append([]int{}, y.Shape()...), F: out}
}

// convForward computes a grouped convolution of any rank by im2col and
// Sgemm.
func convForward(x, wt, bias, y []float32, N, C, M, group int, w geom.Window, relu bool) {
	inSize, outSize, K := numel(w.In), numel(w.Out), numel(w.Kernel)
	cg, mg := C/group, M/group
	rows := cg * K
	pw := w.Pointwise()
	var col []float32
	if !pw {
		// im2col writes every element, so a recycled buffer needs no
		// clearing.
		buf := getCol(rows * outSize)
		defer colPool.Put(buf)
		col = (*buf)[:rows*outSize]
	}
	for n := 0; n < N; n++ {
		for g := 0; g < group; g++ {
			xs := x[(n*C+g*cg)*inSize : (n*C+(g+1)*cg)*inSize]
			b := xs
			if !pw {
				im2col(w, xs, cg, col)
				b = col
			}
			ys := y[(n*M+g*mg)*outSize : (n*M+(g+1)*mg)*outSize]
			kernels.Sgemm(false, false, mg, outSize, rows, 1, wt[g*mg*rows:(g+1)*mg*rows], rows, b, outSize, 0, ys, outSize)
		}
		// Bias and a fused ReLU in one pass over the output.
		switch {
		case bias != nil && relu:
			for m := 0; m < M; m++ {
				ys := y[(n*M+m)*outSize : (n*M+m+1)*outSize]
				bv := bias[m]
				for i, v := range ys {
					ys[i] = max(v+bv, 0)
				}
			}
		case bias != nil:
			for m := 0; m < M; m++ {
				ys := y[(n*M+m)*outSize : (n*M+m+1)*outSize]
				bv := bias[m]
				for i := range ys {
					ys[i] += bv
				}
			}
		case relu:
			ys := y[n*M*outSize : (n+1)*M*outSize]
			for i, v := range ys {
				ys[i] = max(v, 0)
			}
		}
	}
}

func convTranspose(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	wt, err := c.float(1)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 3 || len(wt.Shape) != len(x.Shape) {
		return nil, c.errorf("input %v and weight %v must be N×C×spatial of the same rank", x.Shape, wt.Shape)
	}
	N, C := x.Shape[0], x.Shape[1]
	// The window is the convolution's that this one transposes: its
	// input is the output here.
	w, err := xgraph.Window(c.n, x.Shape[2:], wt.Shape[2:])
	if err != nil {
		return nil, err
	}
	group := w.Groups
	if C%group != 0 || wt.Shape[0] != C {
		return nil, c.errorf("group %d does not fit input %v and weight %v", group, x.Shape, wt.Shape)
	}
	mg := wt.Shape[1]
	M := mg * group
	c.checkWindow(x.DType, []int{N, max(C, M)}, w)
	in, out, kernel := w.Out, w.In, w.Kernel
	c.check(x.DType, []int{mg, numel(kernel), numel(in)}) // the column buffer
	inSize, outSize, K := numel(in), numel(out), numel(kernel)
	cg := C / group
	col := make([]float32, mg*K*inSize)
	y := c.zero(x.DType, append([]int{N, M}, out...)...)
	var bias []float32
	if b := c.input(2); b != nil {
		if b.Len() != M || !b.DType.IsFloat() {
			return nil, c.errorf("bias %v does not match %d output channels", b.Shape, M)
		}
		bias = b.F
	}
	for n := 0; n < N; n++ {
		for g := 0; g < group; g++ {
			xs := x.F[(n*C+g*cg)*inSize : (n*C+(g+1)*cg)*inSize]
			ws := wt.F[g*cg*mg*K : (g+1)*cg*mg*K]
			kernels.Sgemm(true, false, mg*K, inSize, cg, 1, ws, mg*K, xs, inSize, 0, col, inSize)
			col2im(w, col, mg, y.F[(n*M+g*mg)*outSize:(n*M+(g+1)*mg)*outSize])
		}
		if bias != nil {
			for m := 0; m < M; m++ {
				ys := y.F[(n*M+m)*outSize : (n*M+m+1)*outSize]
				for i := range ys {
					ys[i] += bias[m]
				}
			}
		}
	}
	return one(y), nil
}

// colPool recycles im2col buffers between convolutions.
var colPool sync.Pool

func getCol(n int) *[]float32 {
	if b, ok := colPool.Get().(*[]float32); ok && cap(*b) >= n {
		return b
	}
	b := make([]float32, n)
	return &b
}
