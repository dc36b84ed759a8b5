package autograd

import (
	"fmt"
	"slices"

	"argus/internal/geom"
	"argus/internal/kernels"
	"argus/internal/par"
	"argus/tensor"
)

// Conv2dOptions configures Conv2d: the shared window geometry, of which
// Conv2d reads the strides, padding (Padding before, PadEnd after; a nil
// PadEnd is symmetric), dilations and groups, per spatial dimension (height,
// then width). Nil and zero values take PyTorch's defaults: stride 1, no
// padding, dilation 1, one group. The input, kernel and output sizes come
// from the operands.
type Conv2dOptions = geom.Window

// Conv2d returns the 2-D cross-correlation of x (N×Cin×H×W) with the weights
// w (Cout×Cin/Groups×KH×KW, PyTorch's layout) plus the bias b (Cout, or nil
// for none). The output is N×Cout×OH×OW with
// OH = (H + Padding[0] + PadEnd[0] − Dilation[0]·(KH−1) − 1)/Stride[0] + 1,
// and likewise OW.
//
// Each image and group is lowered to a column matrix (im2col) and multiplied
// with the weights by kernels.Sgemm; a 1×1 kernel with stride 1 and no padding
// multiplies the input directly.
func Conv2d(x, w, b *Var, opt Conv2dOptions) *Var {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd: Conv2d of input %v with weights %v: want 4-D NCHW input and OIHW weights", xs, ws))
	}
	g := max(opt.Groups, 1)
	if xs[1]%g != 0 || ws[0]%g != 0 || ws[1] != xs[1]/g {
		panic(fmt.Sprintf("autograd: Conv2d of input %v with weights %v in %d groups", xs, ws, g))
	}
	if b != nil && (len(b.Shape()) != 1 || b.Shape()[0] != ws[0]) {
		panic(fmt.Sprintf("autograd: Conv2d bias %v for %d output channels", b.Shape(), ws[0]))
	}
	win, err := opt.Resolve(xs[2:], ws[2:], false)
	if err != nil {
		panic(fmt.Sprintf("autograd: Conv2d of input %v with weights %v: %v", xs, ws, err))
	}
	return Apply(&convOp{x: x, w: w, b: b, groups: g, win: win})
}

type convOp struct {
	x, w, b *Var
	groups  int
	win     geom.Window // resolved
	// col is the forward pass's column matrix of the whole batch, kept for
	// the weight gradient when it is small enough (see colBudget).
	col []float32
}

func (o *convOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

// direct reports whether the input itself is the column matrix.
func (o *convOp) direct() bool { return o.win.Pointwise() }

// positions returns the output positions of one image, OH·OW.
func (o *convOp) positions() int { return o.win.Out[0] * o.win.Out[1] }

// cinG returns the input channels of one group.
func (o *convOp) cinG() int { return o.x.Shape()[1] / o.groups }

// colRows returns the rows of a group's column matrix, Cin/Groups·KH·KW.
func (o *convOp) colRows() int { return o.cinG() * o.win.Kernel[0] * o.win.Kernel[1] }

// colBudget is the most float32s of column matrix a convolution builds at
// once (64 MiB). The images of a batch are lowered together, side by side,
// in chunks of at most this size, so that one matrix product covers many
// images: a late ResNet stage has 2×2 outputs per image, far too few
// columns for an efficient product on their own. A forward pass whose whole
// batch fits in one chunk keeps its column matrix for the weight gradient
// instead of lowering the input again.
var colBudget = 16 << 20 // a variable only so that tests can force chunks

// perImage reports whether the products run image by image on the input in
// place: a 1×1 convolution over a large image, where the input already is
// a wide column matrix and lowering would only copy it.
func (o *convOp) perImage() bool {
	return o.direct() && (o.x.Shape()[0] == 1 || o.positions() >= 1024)
}

// chunk returns how many images are lowered together.
func (o *convOp) chunk() int {
	n := o.x.Shape()[0]
	per := o.colRows() * o.positions()
	return max(1, min(n, colBudget/max(per, 1)))
}

// depthwise reports whether every group has one input channel, so that
// the direct depthwise kernels apply.
func (o *convOp) depthwise() bool { return o.groups > 1 && o.cinG() == 1 }

func (o *convOp) Forward() *tensor.Tensor {
	if o.depthwise() {
		return o.forwardDepthwise()
	}
	if o.perImage() {
		return o.forwardPerImage()
	}
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.win
	l, k, hw := o.positions(), o.colRows(), g.In[0]*g.In[1]
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * hw
	out := tensor.Make[float32](n, cout, g.Out[0], g.Out[1])
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	var bd []float32
	if o.b != nil {
		bd = o.b.value.Data()
	}
	nb := o.chunk()
	keep := o.groups == 1 && nb == n && o.w.requiresGrad && recording(o.x, o.w, o.b)
	col := getBuf(k * nb * l)
	if keep {
		o.col = col
	} else {
		defer putBuf(col)
	}
	var tmp []float32
	if nb > 1 || positionMajor(l, coutG) {
		tmp = getBuf(coutG * nb * l)
		defer putBuf(tmp)
	}
	for i0 := 0; i0 < n; i0 += nb {
		m := min(nb, n-i0)
		ld := m * l
		for grp := 0; grp < o.groups; grp++ {
			lowerImages(m, g, cinG, func(i int) []float32 {
				return xd[((i0+i)*cin+grp*cinG)*hw:][:inSize]
			}, col, ld)
			if positionMajor(ld, coutG) {
				// The product transposed, positions × channels, then
				// transposed into N×C×H×W with the bias.
				kernels.Sgemm(true, true, ld, coutG, k, 1, col, ld, wd[grp*coutG*k:], k, 0, tmp, coutG)
				var b []float32
				if bd != nil {
					b = bd[grp*coutG:][:coutG]
				}
				blocks := (coutG + 15) / 16
				par.Workers(m*blocks, 0, func(_, lo, hi int) {
					for j := lo; j < hi; j++ {
						i, c0 := j/blocks, j%blocks*16
						c1 := min(c0+16, coutG)
						dst := od[((i0+i)*cout+grp*coutG)*l:][:coutG*l]
						transposeBias(tmp[i*l*coutG:][:l*coutG], coutG, c0, c1, b, dst, l)
					}
				})
				continue
			}
			if m == 1 {
				// One image's product is already in N×C×H×W order.
				dst := od[(i0*cout+grp*coutG)*l:][:coutG*l]
				kernels.Sgemm(false, false, coutG, l, k, 1, wd[grp*coutG*k:], k, col, l, 0, dst, l)
				if bd != nil {
					for oc := 0; oc < coutG; oc++ {
						addConst(dst[oc*l:(oc+1)*l], bd[grp*coutG+oc])
					}
				}
				continue
			}
			kernels.Sgemm(false, false, coutG, ld, k, 1, wd[grp*coutG*k:], k, col, ld, 0, tmp, ld)
			// Scatter the channel-major product to N×C×H×W, adding the bias
			// on the way.
			par.Workers(m*coutG, 0, func(_, lo, hi int) {
				for j := lo; j < hi; j++ {
					i, oc := j/coutG, j%coutG
					src := tmp[oc*ld+i*l:][:l]
					dst := od[((i0+i)*cout+grp*coutG+oc)*l:][:l]
					if bd == nil {
						copy(dst, src)
						continue
					}
					b := bd[grp*coutG+oc]
					for t, v := range src {
						dst[t] = v + b
					}
				}
			})
		}
	}
	return out
}

// positionMajor reports whether a convolution product with ld output
// positions (columns of the column matrix) and coutG output channels runs
// faster transposed, positions × channels: the column matrix is then read
// in place as the left operand instead of being packed as the right one.
// Measured with kernels.Sgemm on AVX-512, the transposed product is 1.5–2.6×
// faster when positions outnumber channels, and slower when channels
// clearly outnumber positions (a late ResNet stage at batch 1).
func positionMajor(ld, coutG int) bool { return 4*ld >= 3*coutG }

// transposeBias writes channels [c0, c1) of src (l positions × stride
// channels, row-major) into dst (channels × l) plus the channel's bias b
// (nil for none).
func transposeBias(src []float32, stride, c0, c1 int, b []float32, dst []float32, l int) {
	kernels.Transpose(dst[c0*l:], l, src[c0:], stride, l, c1-c0)
	if b == nil {
		return
	}
	for c := c0; c < c1; c++ {
		addConst(dst[c*l:(c+1)*l], b[c])
	}
}

// lowerImages writes the column matrices of m images side by side into
// col (row stride ld) for the window g over c channels: image i's columns
// start at column i·OH·OW.
// Images are spread over the cores, or, for a single image, its channels.
func lowerImages(m int, g geom.Window, c int, src func(i int) []float32, col []float32, ld int) {
	l := g.Out[0] * g.Out[1]
	if m == 1 {
		im2col(g, c, src(0), col, ld, par.NumWorkers(c, 0))
		return
	}
	par.Workers(m, 0, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			kernels.Im2colTo(g, c, src(i), col[i*l:], ld)
		}
	})
}

func (o *convOp) Backward(gout *tensor.Tensor) []*tensor.Tensor {
	if o.depthwise() {
		return o.backwardDepthwise(gout)
	}
	if o.perImage() {
		return o.backwardPerImage(gout)
	}
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.win
	l, k, hw := o.positions(), o.colRows(), g.In[0]*g.In[1]
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * hw
	xd, wd, gd := o.x.value.Data(), o.w.value.Data(), gout.Data()
	needX, needW := o.x.requiresGrad, o.w.requiresGrad
	var gx, gw *tensor.Tensor
	if needX {
		gx = tensor.Zeros(xs...)
	}
	if needW {
		gw = tensor.Zeros(ws...)
	}
	nb := o.chunk()
	var col []float32
	if needW && o.col == nil || needX {
		col = getBuf(k * nb * l)
		defer putBuf(col)
	}
	var gT []float32
	if nb > 1 {
		gT = getBuf(coutG * nb * l)
		defer putBuf(gT)
	}
	for i0 := 0; i0 < n; i0 += nb {
		m := min(nb, n-i0)
		ld := m * l
		for grp := 0; grp < o.groups; grp++ {
			// The output gradient, channel-major like the product's output;
			// one image's is that already.
			gT := gT
			if m == 1 {
				gT = gd[(i0*cout+grp*coutG)*l:][:coutG*l]
			} else {
				par.Workers(m*coutG, 0, func(_, lo, hi int) {
					for j := lo; j < hi; j++ {
						i, oc := j/coutG, j%coutG
						copy(gT[oc*ld+i*l:][:l], gd[((i0+i)*cout+grp*coutG+oc)*l:][:l])
					}
				})
			}
			if needW {
				c := o.col
				if c == nil {
					lowerImages(m, g, cinG, func(i int) []float32 {
						return xd[((i0+i)*cin+grp*cinG)*hw:][:inSize]
					}, col, ld)
					c = col
				}
				kernels.Sgemm(false, true, coutG, k, ld, 1, gT, ld, c, ld, 1, gw.Data()[grp*coutG*k:], k)
			}
			if needX {
				kernels.Sgemm(true, false, k, ld, coutG, 1, wd[grp*coutG*k:], k, gT, ld, 0, col, ld)
				gxd := gx.Data()
				if m == 1 {
					col2im(g, cinG, col, ld, gxd[(i0*cin+grp*cinG)*hw:][:inSize], par.NumWorkers(cinG, 0))
					continue
				}
				par.Workers(m, 0, func(_, lo, hi int) {
					for i := lo; i < hi; i++ {
						kernels.Col2imFrom(g, cinG, col[i*l:], ld, gxd[((i0+i)*cin+grp*cinG)*hw:][:inSize])
					}
				})
			}
		}
	}
	var gb *tensor.Tensor
	if o.b != nil && o.b.requiresGrad {
		gb = channelSums(gout)
	}
	return []*tensor.Tensor{gx, gw, gb}
}

// release gives the kept column matrix back to the buffer cache.
func (o *convOp) release() {
	if o.col != nil {
		putBuf(o.col)
		o.col = nil
	}
}

// forwardDepthwise runs the direct kernel on every output plane; output
// channel oc reads input channel oc/(Cout/Cin).
func (o *convOp) forwardDepthwise() *tensor.Tensor {
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.win
	l, hw, kk := o.positions(), g.In[0]*g.In[1], g.Kernel[0]*g.Kernel[1]
	mult := cout / cin
	out := tensor.Make[float32](n, cout, g.Out[0], g.Out[1])
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	par.Workers(n*cout, 0, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			i, oc := p/cout, p%cout
			var b float32
			if o.b != nil {
				b = o.b.value.Data()[oc]
			}
			kernels.DepthwiseConv(g, xd[(i*cin+oc/mult)*hw:][:hw], wd[oc*kk:][:kk], b, od[p*l:][:l])
		}
	})
	return out
}

// backwardDepthwise is the backward pass of forwardDepthwise. Work is split
// by output channel so that no two workers touch the same kernel gradient;
// the output channels of one input channel stay with one worker.
func (o *convOp) backwardDepthwise(gout *tensor.Tensor) []*tensor.Tensor {
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.win
	l, hw, kk := o.positions(), g.In[0]*g.In[1], g.Kernel[0]*g.Kernel[1]
	mult := cout / cin
	xd, wd, gd := o.x.value.Data(), o.w.value.Data(), gout.Data()
	var gx, gw *tensor.Tensor
	if o.x.requiresGrad {
		gx = tensor.Zeros(xs...)
	}
	if o.w.requiresGrad {
		gw = tensor.Zeros(ws...)
	}
	par.Workers(cin, 0, func(_, lo, hi int) {
		for ic := lo; ic < hi; ic++ {
			for i := 0; i < n; i++ {
				var gsrc []float32
				if gx != nil {
					gsrc = gx.Data()[(i*cin+ic)*hw:][:hw]
				}
				for oc := ic * mult; oc < (ic+1)*mult; oc++ {
					var gwp []float32
					if gw != nil {
						gwp = gw.Data()[oc*kk:][:kk]
					}
					kernels.DepthwiseConvGrad(g, xd[(i*cin+ic)*hw:][:hw], wd[oc*kk:][:kk], gd[(i*cout+oc)*l:][:l], gsrc, gwp)
				}
			}
		}
	})
	var gb *tensor.Tensor
	if o.b != nil && o.b.requiresGrad {
		gb = channelSums(gout)
	}
	return []*tensor.Tensor{gx, gw, gb}
}

// forwardPerImage multiplies the weights with each image in place.
func (o *convOp) forwardPerImage() *tensor.Tensor {
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.win
	l, k, hw := o.positions(), o.colRows(), g.In[0]*g.In[1]
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * hw
	out := tensor.Make[float32](n, cout, g.Out[0], g.Out[1])
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	var bd []float32
	if o.b != nil {
		bd = o.b.value.Data()
	}
	par.Workers(n, itemWorkers(n, 2*float64(coutG*l*k)), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				src := xd[(i*cin+grp*cinG)*hw:][:inSize]
				dst := od[(i*cout+grp*coutG)*l:][:coutG*l]
				kernels.Sgemm(false, false, coutG, l, k, 1, wd[grp*coutG*k:], k, src, l, 0, dst, l)
				if bd != nil {
					for oc := 0; oc < coutG; oc++ {
						addConst(dst[oc*l:(oc+1)*l], bd[grp*coutG+oc])
					}
				}
			}
		}
	})
	return out
}

// backwardPerImage is the backward pass of forwardPerImage.
func (o *convOp) backwardPerImage(gout *tensor.Tensor) []*tensor.Tensor {
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.win
	l, k, hw := o.positions(), o.colRows(), g.In[0]*g.In[1]
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * hw
	xd, wd, gd := o.x.value.Data(), o.w.value.Data(), gout.Data()
	needX, needW := o.x.requiresGrad, o.w.requiresGrad
	var gx, gw *tensor.Tensor
	if needX {
		gx = tensor.Make[float32](xs...)
	}
	workers := itemWorkers(n, 2*float64(coutG*l*k))
	var gws [][]float32
	if needW {
		gw = tensor.Zeros(ws...)
		gws = make([][]float32, workers)
		gws[0] = gw.Data()
		for i := 1; i < workers; i++ {
			gws[i] = make([]float32, gw.Len())
		}
	}
	par.Workers(n, workers, func(worker, lo, hi int) {
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				gslice := gd[(i*cout+grp*coutG)*l:][:coutG*l]
				if needW {
					src := xd[(i*cin+grp*cinG)*hw:][:inSize]
					kernels.Sgemm(false, true, coutG, k, l, 1, gslice, l, src, l, 1, gws[worker][grp*coutG*k:], k)
				}
				if needX {
					dst := gx.Data()[(i*cin+grp*cinG)*hw:][:inSize]
					kernels.Sgemm(true, false, k, l, coutG, 1, wd[grp*coutG*k:], k, gslice, l, 0, dst, l)
				}
			}
		}
	})
	for i := 1; i < len(gws); i++ {
		addTo(gws[0], gws[i])
	}
	var gb *tensor.Tensor
	if o.b != nil && o.b.requiresGrad {
		gb = channelSums(gout)
	}
	return []*tensor.Tensor{gx, gw, gb}
}

// ConvTranspose2dOptions configures ConvTranspose2d. Zero values take
// PyTorch's defaults: stride 1, no padding or output padding, dilation 1,
// one group.
type ConvTranspose2dOptions struct {
	Stride        [2]int
	Padding       [2]int // removed from each side of the full output
	OutputPadding [2]int // added to the bottom and right; must be below the stride
	Dilation      [2]int
	Groups        int
}

// ConvTranspose2d returns the transposed convolution (the gradient of Conv2d
// with respect to its input) of x (N×Cin×H×W) with weights w
// (Cin×Cout/Groups×KH×KW, PyTorch's layout) plus the bias b (Cout, or nil).
// The output is N×Cout×OH×OW with
// OH = (H−1)·StrideH − 2·PadH + DilH·(KH−1) + OutputPadH + 1, and likewise OW.
func ConvTranspose2d(x, w, b *Var, opt ConvTranspose2dOptions) *Var {
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd: ConvTranspose2d of input %v with weights %v: want 4-D NCHW input and IOHW weights", xs, ws))
	}
	g := max(opt.Groups, 1)
	if xs[1]%g != 0 || ws[0] != xs[1] {
		panic(fmt.Sprintf("autograd: ConvTranspose2d of input %v with weights %v in %d groups", xs, ws, g))
	}
	cout := ws[1] * g
	if b != nil && (len(b.Shape()) != 1 || b.Shape()[0] != cout) {
		panic(fmt.Sprintf("autograd: ConvTranspose2d bias %v for %d output channels", b.Shape(), cout))
	}
	// The window of the forward convolution whose input gradient this is:
	// its input is this output, its output this input.
	win := geom.Window{Kernel: slices.Clone(ws[2:]), Out: slices.Clone(xs[2:]), Stride: make([]int, 2), Dilation: make([]int, 2),
		Padding: opt.Padding[:], PadEnd: opt.Padding[:], In: make([]int, 2), Groups: g}
	for i := range 2 {
		win.Stride[i], win.Dilation[i] = max(opt.Stride[i], 1), max(opt.Dilation[i], 1)
		if opt.OutputPadding[i] < 0 || opt.OutputPadding[i] >= win.Stride[i] || opt.Padding[i] < 0 || opt.Stride[i] < 0 || opt.Dilation[i] < 0 {
			panic(fmt.Sprintf("autograd: ConvTranspose2d with %+v: output padding must be below the stride, and nothing negative", opt))
		}
		win.In[i] = (xs[2+i]-1)*win.Stride[i] - 2*opt.Padding[i] + win.Dilation[i]*(ws[2+i]-1) + opt.OutputPadding[i] + 1
		if win.In[i] <= 0 {
			panic(fmt.Sprintf("autograd: ConvTranspose2d of input %v with weights %v and %+v gives no output", xs, ws, opt))
		}
	}
	return Apply(&convTOp{x: x, w: w, b: b, groups: g, cout: cout, win: win, outPad: opt.OutputPadding})
}

type convTOp struct {
	x, w, b *Var
	groups  int
	cout    int
	win     geom.Window // the forward convolution's, see ConvTranspose2d
	outPad  [2]int      // for Describe; win holds the output size
}

func (o *convTOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

func (o *convTOp) Forward() *tensor.Tensor {
	xs := o.x.Shape()
	n, cin, hw := xs[0], xs[1], xs[2]*xs[3]
	g := o.win
	cinG, coutG := cin/o.groups, o.cout/o.groups
	k := coutG * g.Kernel[0] * g.Kernel[1]
	ohw := g.In[0] * g.In[1]
	outSize := coutG * ohw
	out := tensor.Zeros(n, o.cout, g.In[0], g.In[1])
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	var bd []float32
	if o.b != nil {
		bd = o.b.value.Data()
	}
	workers := itemWorkers(n, 2*float64(k*hw*cinG))
	ways := lowerWays(workers)
	par.Workers(n, workers, func(_, lo, hi int) {
		col := make([]float32, k*hw)
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				xg := xd[(i*cin+grp*cinG)*hw:][:cinG*hw]
				kernels.Sgemm(true, false, k, hw, cinG, 1, wd[grp*cinG*k:], k, xg, hw, 0, col, hw)
				dst := od[(i*o.cout+grp*coutG)*ohw:][:outSize]
				col2im(g, coutG, col, hw, dst, ways)
				if bd != nil {
					for oc := 0; oc < coutG; oc++ {
						addConst(dst[oc*ohw:(oc+1)*ohw], bd[grp*coutG+oc])
					}
				}
			}
		}
	})
	return out
}

func (o *convTOp) Backward(gout *tensor.Tensor) []*tensor.Tensor {
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, hw := xs[0], xs[1], xs[2]*xs[3]
	g := o.win
	cinG, coutG := cin/o.groups, o.cout/o.groups
	k := coutG * g.Kernel[0] * g.Kernel[1]
	ohw := g.In[0] * g.In[1]
	outSize := coutG * ohw
	xd, wd, gd := o.x.value.Data(), o.w.value.Data(), gout.Data()
	needX, needW := o.x.requiresGrad, o.w.requiresGrad
	var gx, gw *tensor.Tensor
	if needX {
		gx = tensor.Zeros(xs...)
	}
	workers := itemWorkers(n, 2*float64(k*hw*cinG))
	var gws [][]float32
	if needW {
		gw = tensor.Zeros(ws...)
		gws = make([][]float32, workers)
		gws[0] = gw.Data()
		for i := 1; i < workers; i++ {
			gws[i] = make([]float32, gw.Len())
		}
	}
	ways := lowerWays(workers)
	par.Workers(n, workers, func(worker, lo, hi int) {
		col := make([]float32, k*hw)
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				im2col(g, coutG, gd[(i*o.cout+grp*coutG)*ohw:][:outSize], col, hw, ways)
				wg := wd[grp*cinG*k:]
				if needX {
					dst := gx.Data()[(i*cin+grp*cinG)*hw:][:cinG*hw]
					kernels.Sgemm(false, false, cinG, hw, k, 1, wg, k, col, hw, 0, dst, hw)
				}
				if needW {
					xg := xd[(i*cin+grp*cinG)*hw:][:cinG*hw]
					kernels.Sgemm(false, true, cinG, k, hw, 1, xg, hw, col, hw, 1, gws[worker][grp*cinG*k:], k)
				}
			}
		}
	})
	for i := 1; i < len(gws); i++ {
		addTo(gws[0], gws[i])
	}
	var gb *tensor.Tensor
	if o.b != nil && o.b.requiresGrad {
		gb = channelSums(gout)
	}
	return []*tensor.Tensor{gx, gw, gb}
}

// channelSums returns the sums of an N×C×... tensor over every axis but 1.
func channelSums(t *tensor.Tensor) *tensor.Tensor {
	s := t.Shape()
	n, c := s[0], s[1]
	inner := t.Len() / max(1, n*c)
	out := tensor.Zeros(c)
	od, td := out.Data(), t.Data()
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			var acc float32
			for _, v := range td[(i*c+ch)*inner:][:inner] {
				acc += v
			}
			od[ch] += acc
		}
	}
	return out
}

// addConst adds v to every element of dst.
func addConst(dst []float32, v float32) {
	for i := range dst {
		dst[i] += v
	}
}

// addTo adds src element-wise into dst.
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// lowerWays returns how many goroutines share one image's im2col or col2im:
// all cores when the images are processed one after another, else one.
func lowerWays(workers int) int {
	if workers > 1 {
		return 1
	}
	return par.NumWorkers(1<<30, 0)
}

// im2col runs kernels.Im2colTo on c channels with the channels split over
// ways goroutines; both layouts are channel-major, so each share is
// contiguous.
func im2col(g geom.Window, c int, src, dst []float32, ld, ways int) {
	if ways <= 1 || c < 2 {
		kernels.Im2colTo(g, c, src, dst, ld)
		return
	}
	hw, kl := g.In[0]*g.In[1], g.Kernel[0]*g.Kernel[1]*ld
	par.Workers(c, ways, func(_, lo, hi int) {
		kernels.Im2colTo(g, hi-lo, src[lo*hw:hi*hw], dst[lo*kl:], ld)
	})
}

// col2im runs kernels.Col2imFrom on c channels with the channels split
// over ways goroutines.
func col2im(g geom.Window, c int, col []float32, ld int, dst []float32, ways int) {
	if ways <= 1 || c < 2 {
		kernels.Col2imFrom(g, c, col, ld, dst)
		return
	}
	hw, kl := g.In[0]*g.In[1], g.Kernel[0]*g.Kernel[1]*ld
	par.Workers(c, ways, func(_, lo, hi int) {
		kernels.Col2imFrom(g, hi-lo, col[lo*kl:], ld, dst[lo*hw:hi*hw])
	})
}

func (o *convOp) ownsGrads() {}
