package executor

import (
	"math"

	"argus/compiler/xgraph"
	"argus/internal/geom"
)

func init() {
	register("MaxPool", maxPool)
	register("AveragePool", avgPool)
	register("GlobalAveragePool", func(c *call) ([]*xgraph.Tensor, error) { return globalPool(c, false) })
	register("GlobalMaxPool", func(c *call) ([]*xgraph.Tensor, error) { return globalPool(c, true) })
}

// poolWindow returns the pooling window of the node over input x.
func poolWindow(c *call, x *xgraph.Tensor) (geom.Window, error) {
	if len(x.Shape) < 3 {
		return geom.Window{}, c.errorf("input %v must be N×C×spatial", x.Shape)
	}
	w, err := xgraph.Window(c.n, x.Shape[2:], nil)
	if err == nil {
		c.checkWindow(x.DType, x.Shape[:2], w)
	}
	return w, err
}

func maxPool(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.need(0)
	if err != nil {
		return nil, err
	}
	if !x.DType.IsFloat() {
		// Integer inputs (uint8 images) pool exactly through float64.
		f := make([]float32, x.Len())
		for i, v := range x.I {
			f[i] = float32(v)
		}
		out, err := maxPoolFloat(c, xgraph.NewFloat(f, x.Shape...))
		if err != nil {
			return nil, err
		}
		y := c.zero(x.DType, out[0].Shape...)
		for i, v := range out[0].F {
			y.I[i] = int64(v)
		}
		return []*xgraph.Tensor{y, out[1]}, nil
	}
	return maxPoolFloat(c, x)
}

func maxPoolFloat(c *call, x *xgraph.Tensor) ([]*xgraph.Tensor, error) {
	w, err := poolWindow(c, x)
	if err != nil {
		return nil, err
	}
	// Indices count within the batch item and channel in row-major
	// order, or with storage_order=1 in column-major order of the
	// spatial dimensions.
	colMajor := c.n.Int("storage_order") != 0
	cst := make([]int, len(w.In))
	for j, s := 0, 1; j < len(w.In); j++ {
		cst[j] = s
		s *= w.In[j]
	}
	N, C := x.Shape[0], x.Shape[1]
	inSize, outSize := numel(w.In), numel(w.Out)
	shape := append([]int{N, C}, w.Out...)
	y := c.alloc(x.DType, shape...)
	// The indices cost twice the values' memory; compute them only when
	// the node asks for them.
	wantIdx := len(c.n.Outputs) > 1 && c.n.Outputs[1] != nil
	idx := &xgraph.Tensor{DType: xgraph.Int64, Shape: append([]int{}, shape...)}
	if wantIdx {
		idx = c.zero(xgraph.Int64, shape...)
	}
	best := make([]float32, outSize)
	arg := make([]int, outSize)
	inStr := strides(w.In)
	for nc := 0; nc < N*C; nc++ {
		src := x.F[nc*inSize : (nc+1)*inSize]
		if len(w.In) == 2 && !wantIdx {
			max2dValues(w, src, best)
		} else if len(w.In) == 2 {
			max2d(w, src, best, arg)
		} else {
			maxNd(w, src, best, arg, inStr)
		}
		copy(y.F[nc*outSize:], best)
		if !wantIdx {
			continue
		}
		for o, a := range arg {
			if colMajor && a >= 0 {
				off := 0
				for j := range w.In {
					off += (a / inStr[j] % w.In[j]) * cst[j]
				}
				a = off
			}
			idx.I[nc*outSize+o] = int64(nc*inSize + a)
		}
	}
	return []*xgraph.Tensor{y, idx}, nil
}

// maxNd finds the maximum of each window of src and its position, for any
// number of spatial dimensions.
func maxNd(w geom.Window, src, best []float32, arg []int, inStr []int) {
	for i := range best {
		best[i] = float32(math.Inf(-1))
		arg[i] = -1
	}
	forTaps(w, func(_ int, rows [][]int) {
		spread(rows, inStr, w.Out, func(o, off int) {
			if off >= 0 && (src[off] > best[o] || arg[o] < 0) {
				best[o], arg[o] = src[off], off
			}
		})
	})
}

// max2d is maxNd for two spatial dimensions without callbacks, scanning
// each window in row-major order so ties keep the first position.
func max2d(w geom.Window, src, best []float32, arg []int) {
	H, W := w.In[0], w.In[1]
	OH, OW := w.Out[0], w.Out[1]
	sy, sx, dy, dx := w.Stride[0], w.Stride[1], w.Dilation[0], w.Dilation[1]
	for oy := 0; oy < OH; oy++ {
		y0 := oy*sy - w.Padding[0]
		for ox := 0; ox < OW; ox++ {
			x0 := ox*sx - w.Padding[1]
			// The taps inside the image: kx in [klo, khi).
			klo, khi := 0, w.Kernel[1]
			for klo < khi && x0+klo*dx < 0 {
				klo++
			}
			for khi > klo && x0+(khi-1)*dx >= W {
				khi--
			}
			m, a := float32(math.Inf(-1)), -1
			for ky := 0; ky < w.Kernel[0]; ky++ {
				y := y0 + ky*dy
				if y < 0 || y >= H {
					continue
				}
				row := src[y*W : (y+1)*W]
				for kx := klo; kx < khi; kx++ {
					x := x0 + kx*dx
					if v := row[x]; v > m || a < 0 {
						m, a = v, y*W+x
					}
				}
			}
			best[oy*OW+ox], arg[oy*OW+ox] = m, a
		}
	}
}

// max2dValues is max2d without the positions: each kernel tap sweeps a
// whole output row, which keeps the inner loop free of bookkeeping.
func max2dValues(w geom.Window, src, best []float32) {
	H, W := w.In[0], w.In[1]
	OH, OW := w.Out[0], w.Out[1]
	sx := w.Stride[1]
	inf := float32(math.Inf(-1))
	for oy := 0; oy < OH; oy++ {
		out := best[oy*OW : (oy+1)*OW]
		for i := range out {
			out[i] = inf
		}
		for ky := 0; ky < w.Kernel[0]; ky++ {
			y := oy*w.Stride[0] - w.Padding[0] + ky*w.Dilation[0]
			if y < 0 || y >= H {
				continue
			}
			row := src[y*W : (y+1)*W]
			for kx := 0; kx < w.Kernel[1]; kx++ {
				off := kx*w.Dilation[1] - w.Padding[1]
				// Output columns whose tap lies inside the row.
				lo := 0
				if off < 0 {
					lo = (-off + sx - 1) / sx
				}
				hi := 0
				if last := W - 1 - off; last >= 0 {
					hi = min(OW, last/sx+1)
				}
				for ox := lo; ox < hi; ox++ {
					if v := row[ox*sx+off]; v > out[ox] {
						out[ox] = v
					}
				}
			}
		}
	}
}

func avgPool(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	w, err := poolWindow(c, x)
	if err != nil {
		return nil, err
	}
	includePad := c.n.Int("count_include_pad") != 0
	N, C := x.Shape[0], x.Shape[1]
	inSize, outSize := numel(w.In), numel(w.Out)
	// The divisor of each output position: the taps inside the input, or
	// with count_include_pad the taps inside the padded input.
	count := make([]float32, outSize)
	if includePad {
		padded := w
		padded.In, padded.Padding = make([]int, len(w.In)), make([]int, len(w.In))
		for j := range w.In {
			padded.In[j] = w.In[j] + w.Padding[j] + w.PadEnd[j]
		}
		forTaps(padded, func(_ int, rows [][]int) {
			spread(rows, strides(padded.In), w.Out, func(o, off int) {
				if off >= 0 {
					count[o]++
				}
			})
		})
	} else {
		forTaps(w, func(_ int, rows [][]int) {
			spread(rows, strides(w.In), w.Out, func(o, off int) {
				if off >= 0 {
					count[o]++
				}
			})
		})
	}
	y := c.zero(x.DType, append([]int{N, C}, w.Out...)...)
	inStr := strides(w.In)
	for nc := 0; nc < N*C; nc++ {
		src := x.F[nc*inSize : (nc+1)*inSize]
		dst := y.F[nc*outSize : (nc+1)*outSize]
		forTaps(w, func(_ int, rows [][]int) {
			spread(rows, inStr, w.Out, func(o, off int) {
				if off >= 0 {
					dst[o] += src[off]
				}
			})
		})
		for o := range dst {
			if count[o] > 0 {
				dst[o] /= count[o]
			}
		}
	}
	return one(y), nil
}

func globalPool(c *call, isMax bool) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	if len(x.Shape) < 2 {
		return nil, c.errorf("input %v must be N×C×spatial", x.Shape)
	}
	N, C := x.Shape[0], x.Shape[1]
	shape := []int{N, C}
	for range x.Shape[2:] {
		shape = append(shape, 1)
	}
	size := numel(x.Shape[2:])
	y := c.zero(x.DType, shape...)
	for nc := 0; nc < N*C; nc++ {
		src := x.F[nc*size : (nc+1)*size]
		if isMax {
			m := float32(math.Inf(-1))
			for _, v := range src {
				m = max(m, v)
			}
			y.F[nc] = m
			continue
		}
		var s float64
		for _, v := range src {
			s += float64(v)
		}
		y.F[nc] = float32(s / float64(size))
	}
	return one(y), nil
}
