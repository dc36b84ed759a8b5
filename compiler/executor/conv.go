package executor

import (
	"argus/autograd"
	"argus/tensor"
	"sync"

	"argus/compiler/xgraph"
	"argus/internal/kernels"
)

// window is the geometry of a sliding window over the spatial dimensions
// (convolution and pooling): for spatial dimension j, output position o and
// kernel tap k read input position o*stride[j] - padB[j] + k*dil[j].
type window struct {
	in, k, out        []int
	stride, dil, padB []int
	padE              []int
}

// geometry reads kernel_shape (or kernel, when given), strides, dilations,
// pads and auto_pad and computes the output size. ceil selects the ceiling
// division of ceil_mode pooling.
func geometry(c *call, in, kernel []int, ceil bool) (*window, error) {
	r := len(in)
	w := &window{in: in, k: kernel, out: make([]int, r), stride: make([]int, r), dil: make([]int, r), padB: make([]int, r), padE: make([]int, r)}
	if len(kernel) != r {
		return nil, c.errorf("kernel has %d spatial dimensions, input %d", len(kernel), r)
	}
	fill := func(dst []int, name string, def int) error {
		v := c.n.Ints(name)
		if v == nil {
			for i := range dst {
				dst[i] = def
			}
			return nil
		}
		if len(v) != len(dst) {
			return c.errorf("attribute %s has %d values, want %d", name, len(v), len(dst))
		}
		for i, x := range v {
			dst[i] = int(x)
		}
		return nil
	}
	if err := fill(w.stride, "strides", 1); err != nil {
		return nil, err
	}
	if err := fill(w.dil, "dilations", 1); err != nil {
		return nil, err
	}
	if p := c.n.Ints("pads"); p != nil {
		if len(p) != 2*r {
			return nil, c.errorf("attribute pads has %d values, want %d", len(p), 2*r)
		}
		for i := 0; i < r; i++ {
			w.padB[i], w.padE[i] = int(p[i]), int(p[r+i])
		}
	}
	for i := 0; i < r; i++ {
		if w.stride[i] <= 0 || w.dil[i] <= 0 || w.k[i] <= 0 {
			return nil, c.errorf("strides, dilations and kernel must be positive")
		}
	}
	switch ap := c.n.String("auto_pad", "NOTSET"); ap {
	case "NOTSET", "":
	case "VALID":
		for i := range w.padB {
			w.padB[i], w.padE[i] = 0, 0
		}
	case "SAME_UPPER", "SAME_LOWER":
		for i := 0; i < r; i++ {
			out := (in[i] + w.stride[i] - 1) / w.stride[i]
			total := max(0, (out-1)*w.stride[i]+(w.k[i]-1)*w.dil[i]+1-in[i])
			if ap == "SAME_UPPER" {
				w.padB[i] = total / 2
			} else {
				w.padB[i] = total - total/2
			}
			w.padE[i] = total - w.padB[i]
		}
	default:
		return nil, c.unsupported("auto_pad", "value %q", ap)
	}
	for i := 0; i < r; i++ {
		span := in[i] + w.padB[i] + w.padE[i] - ((w.k[i]-1)*w.dil[i] + 1)
		if span < 0 {
			return nil, c.errorf("kernel %v does not fit input %v with pads", kernel, in)
		}
		if ceil {
			w.out[i] = (span+w.stride[i]-1)/w.stride[i] + 1
			// The last window must start inside the input or its
			// leading padding.
			if (w.out[i]-1)*w.stride[i] >= in[i]+w.padB[i] {
				w.out[i]--
			}
		} else {
			w.out[i] = span/w.stride[i] + 1
		}
	}
	return w, nil
}

// taps returns, for spatial dimension j and kernel tap k, the input
// position read by each output position, -1 where it falls in padding.
func (w *window) taps(j, k int) []int {
	t := make([]int, w.out[j])
	for o := range t {
		p := o*w.stride[j] - w.padB[j] + k*w.dil[j]
		if p < 0 || p >= w.in[j] {
			p = -1
		}
		t[o] = p
	}
	return t
}

// forTaps calls fn for every kernel tap (in row-major order, index kk) with
// the per-dimension input positions of every output position.
func (w *window) forTaps(fn func(kk int, rows [][]int)) {
	r := len(w.k)
	tabs := make([][][]int, r)
	for j := 0; j < r; j++ {
		tabs[j] = make([][]int, w.k[j])
		for k := range tabs[j] {
			tabs[j][k] = w.taps(j, k)
		}
	}
	kidx := make([]int, r)
	rows := make([][]int, r)
	for kk := 0; kk < numel(w.k); kk++ {
		for j := 0; j < r; j++ {
			rows[j] = tabs[j][kidx[j]]
		}
		fn(kk, rows)
		for j := r - 1; j >= 0; j-- {
			kidx[j]++
			if kidx[j] < w.k[j] {
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
func (w *window) im2col(x []float32, channels int, col []float32) {
	inSize, outSize, K := numel(w.in), numel(w.out), numel(w.k)
	inStr := strides(w.in)
	w.forTaps(func(kk int, rows [][]int) {
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
			spread(rows, inStr, w.out, func(o, off int) {
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
func (w *window) col2im(col []float32, channels int, x []float32) {
	inSize, outSize, K := numel(w.in), numel(w.out), numel(w.k)
	inStr := strides(w.in)
	w.forTaps(func(kk int, rows [][]int) {
		for ch := 0; ch < channels; ch++ {
			dst := x[ch*inSize : (ch+1)*inSize]
			src := col[(ch*K+kk)*outSize : (ch*K+kk+1)*outSize]
			spread(rows, inStr, w.out, func(o, off int) {
				if off >= 0 {
					dst[off] += src[o]
				}
			})
		}
	})
}

// pointwise reports whether the window is a 1×1 kernel with unit strides and
// no padding, where the input is its own im2col matrix.
func (w *window) pointwise() bool {
	for j := range w.k {
		if w.k[j] != 1 || w.stride[j] != 1 || w.padB[j] != 0 || w.padE[j] != 0 {
			return false
		}
	}
	return true
}

func init() {
	register("Conv", conv, "auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
	register("ConvTranspose", convTranspose, "auto_pad", "dilations", "group", "kernel_shape", "output_padding", "output_shape", "pads", "strides")
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
	group := int(c.n.Int("group", 1))
	if group <= 0 || C%group != 0 || M%group != 0 || wt.Shape[1] != C/group {
		return nil, c.errorf("group %d does not divide input %v and weight %v", group, x.Shape, wt.Shape)
	}
	kernel := wt.Shape[2:]
	if ks := c.n.Ints("kernel_shape"); ks != nil && !equalInts(ints(ks), kernel) {
		return nil, c.errorf("kernel_shape %v disagrees with weight %v", ks, wt.Shape)
	}
	w, err := geometry(c, x.Shape[2:], kernel, false)
	if err != nil {
		return nil, err
	}
	var bias []float32
	if b := c.input(2); b != nil {
		if b.Len() != M || !b.DType.IsFloat() {
			return nil, c.errorf("bias %v does not match %d output channels", b.Shape, M)
		}
		bias = b.F
	}
	if len(w.in) == 2 && w.padB[0] == w.padE[0] && w.padB[1] == w.padE[1] {
		return one(conv2d(x, wt, bias, group, w, c.relu)), nil
	}
	y := c.alloc(x.DType, append([]int{N, M}, w.out...)...)
	convForward(x.F, wt.F, bias, y.F, N, C, M, group, w, c.relu)
	return one(y), nil
}

// conv2d runs a 2-D convolution with symmetric padding on the engine's
// convolution, which lowers a whole batch into one product, transposes
// products with more positions than channels and has a direct depthwise
// kernel; the executor's own lowering handles the other geometries.
func conv2d(x, wt *xgraph.Tensor, bias []float32, group int, w *window, relu bool) *xgraph.Tensor {
	var b *autograd.Var
	if bias != nil {
		b = autograd.Const(tensor.Wrap(bias, len(bias)))
	}
	opt := autograd.Conv2dOptions{
		Stride:   [2]int{w.stride[0], w.stride[1]},
		Padding:  [2]int{w.padB[0], w.padB[1]},
		Dilation: [2]int{w.dil[0], w.dil[1]},
		Groups:   group,
	}
	var y *tensor.Tensor
	y = autograd.Conv2d(autograd.Const(tensor.Wrap(x.F, x.Shape...)), autograd.Const(tensor.Wrap(wt.F, wt.Shape...)), b, opt).Value()
	out := y.Data()
	if relu {
		for i, v := range out {
			out[i] = max(v, 0)
		}
	}
	return &xgraph.Tensor{DType: x.DType, Shape: append([]int{}, y.Shape()...), F: out}
}

// convForward computes a grouped N-d convolution by im2col and Sgemm.
func convForward(x, wt, bias, y []float32, N, C, M, group int, w *window, relu bool) {
	inSize, outSize, K := numel(w.in), numel(w.out), numel(w.k)
	cg, mg := C/group, M/group
	rows := cg * K
	pw := w.pointwise()
	var col []float32
	if !pw {
		// im2col writes every element, so a recycled buffer needs no
		// clearing.
		buf := getCol(rows * outSize)
		defer colPool.Put(buf)
		col = (*buf)[:rows*outSize]
	}
	// The engine's 2-D im2col covers symmetric padding; the window's own
	// N-d lowering handles the rest.
	var geom *kernels.ConvGeom
	if len(w.in) == 2 && w.padB[0] == w.padE[0] && w.padB[1] == w.padE[1] {
		geom = &kernels.ConvGeom{C: cg, H: w.in[0], W: w.in[1], KH: w.k[0], KW: w.k[1],
			StrideH: w.stride[0], StrideW: w.stride[1], PadH: w.padB[0], PadW: w.padB[1], DilH: w.dil[0], DilW: w.dil[1]}
	}
	for n := 0; n < N; n++ {
		for g := 0; g < group; g++ {
			xs := x[(n*C+g*cg)*inSize : (n*C+(g+1)*cg)*inSize]
			b := xs
			if !pw {
				if geom != nil {
					kernels.Im2col(*geom, xs, col)
				} else {
					w.im2col(xs, cg, col)
				}
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
	group := int(c.n.Int("group", 1))
	if group <= 0 || C%group != 0 || wt.Shape[0] != C {
		return nil, c.errorf("group %d does not fit input %v and weight %v", group, x.Shape, wt.Shape)
	}
	mg := wt.Shape[1]
	M := mg * group
	kernel := wt.Shape[2:]
	in := x.Shape[2:]
	r := len(in)
	stride, dil, outPad := make([]int, r), make([]int, r), make([]int, r)
	get := func(dst []int, name string, def int) error {
		v := c.n.Ints(name)
		for i := range dst {
			dst[i] = def
			if v != nil {
				if len(v) != r {
					return c.errorf("attribute %s has %d values, want %d", name, len(v), r)
				}
				dst[i] = int(v[i])
			}
		}
		return nil
	}
	if err := get(stride, "strides", 1); err != nil {
		return nil, err
	}
	if err := get(dil, "dilations", 1); err != nil {
		return nil, err
	}
	if err := get(outPad, "output_padding", 0); err != nil {
		return nil, err
	}
	padB, padE := make([]int, r), make([]int, r)
	if p := c.n.Ints("pads"); p != nil {
		if len(p) != 2*r {
			return nil, c.errorf("attribute pads has %d values, want %d", len(p), 2*r)
		}
		for i := 0; i < r; i++ {
			padB[i], padE[i] = int(p[i]), int(p[r+i])
		}
	}
	autoPad := c.n.String("auto_pad", "NOTSET")
	switch autoPad {
	case "NOTSET", "", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return nil, c.unsupported("auto_pad", "value %q", autoPad)
	}
	if autoPad == "VALID" {
		clear(padB)
		clear(padE)
	}
	out := make([]int, r)
	outShape := c.n.Ints("output_shape")
	if len(outShape) > r {
		outShape = outShape[len(outShape)-r:]
	}
	for i := 0; i < r; i++ {
		full := stride[i]*(in[i]-1) + outPad[i] + (kernel[i]-1)*dil[i] + 1
		switch {
		case outShape != nil || autoPad == "SAME_UPPER" || autoPad == "SAME_LOWER":
			target := in[i] * stride[i]
			if outShape != nil {
				target = int(outShape[i])
			}
			total := full - target
			// Floor division: with output_shape the total may be
			// negative, and the specification's arithmetic is Python's.
			half := floorDiv(total, 2)
			if autoPad == "SAME_UPPER" {
				padB[i], padE[i] = half, total-half
			} else {
				padB[i], padE[i] = total-half, half
			}
			out[i] = target
		default:
			out[i] = full - padB[i] - padE[i]
		}
		if out[i] <= 0 {
			return nil, c.errorf("output size %d in dimension %d", out[i], i)
		}
	}
	// Reading the convolution backwards: the transposed convolution's
	// output is the window's input and its input the window's output.
	w := &window{in: out, k: kernel, out: in, stride: stride, dil: dil, padB: padB, padE: padE}
	inSize, outSize, K := numel(in), numel(out), numel(kernel)
	cg := C / group
	col := make([]float32, mg*K*inSize)
	y := xgraph.Zero(x.DType, append([]int{N, M}, out...)...)
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
			w.col2im(col, mg, y.F[(n*M+g*mg)*outSize:(n*M+(g+1)*mg)*outSize])
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

// floorDiv returns a/b rounded towards negative infinity.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}
