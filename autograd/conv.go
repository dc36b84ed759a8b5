package autograd

import (
	"fmt"

	"argus/internal/kernels"
	"argus/tensor"
)

// Conv2dOptions configures Conv2d. Zero values take PyTorch's defaults:
// stride 1, no padding, dilation 1, one group.
type Conv2dOptions struct {
	Stride   [2]int // vertical and horizontal step
	Padding  [2]int // zeros added on each side, top/bottom and left/right
	Dilation [2]int // spacing between kernel taps
	Groups   int    // input and output channels are split into this many groups; Groups = C gives a depthwise convolution
}

func (o Conv2dOptions) norm() Conv2dOptions {
	for i := range 2 {
		if o.Stride[i] == 0 {
			o.Stride[i] = 1
		}
		if o.Dilation[i] == 0 {
			o.Dilation[i] = 1
		}
	}
	if o.Groups == 0 {
		o.Groups = 1
	}
	return o
}

// Conv2d returns the 2-D cross-correlation of x (N×Cin×H×W) with the weights
// w (Cout×Cin/Groups×KH×KW, PyTorch's layout) plus the bias b (Cout, or nil
// for none). The output is N×Cout×OH×OW with
// OH = (H + 2·PadH − DilH·(KH−1) − 1)/StrideH + 1, and likewise OW.
//
// Each image and group is lowered to a column matrix (im2col) and multiplied
// with the weights by kernels.Sgemm; a 1×1 kernel with stride 1 and no padding
// multiplies the input directly.
func Conv2d(x, w, b *Var, opt Conv2dOptions) *Var {
	opt = opt.norm()
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd: Conv2d of input %v with weights %v: want 4-D NCHW input and OIHW weights", xs, ws))
	}
	g := opt.Groups
	if g < 1 || xs[1]%g != 0 || ws[0]%g != 0 || ws[1] != xs[1]/g {
		panic(fmt.Sprintf("autograd: Conv2d of input %v with weights %v in %d groups", xs, ws, g))
	}
	if b != nil && (len(b.Shape()) != 1 || b.Shape()[0] != ws[0]) {
		panic(fmt.Sprintf("autograd: Conv2d bias %v for %d output channels", b.Shape(), ws[0]))
	}
	op := &convOp{x: x, w: w, b: b, groups: g}
	op.geom = kernels.ConvGeom{
		C: xs[1] / g, H: xs[2], W: xs[3], KH: ws[2], KW: ws[3],
		StrideH: opt.Stride[0], StrideW: opt.Stride[1],
		PadH: opt.Padding[0], PadW: opt.Padding[1],
		DilH: opt.Dilation[0], DilW: opt.Dilation[1],
	}
	if op.geom.OutH() <= 0 || op.geom.OutW() <= 0 || opt.Stride[0] < 0 || opt.Stride[1] < 0 || opt.Padding[0] < 0 || opt.Padding[1] < 0 {
		panic(fmt.Sprintf("autograd: Conv2d of input %v with weights %v and %+v gives no output", xs, ws, opt))
	}
	return Apply(op)
}

type convOp struct {
	x, w, b *Var
	groups  int
	geom    kernels.ConvGeom
	// col is the forward pass's column matrix of the whole batch, kept for
	// the weight gradient when it is small enough (see colBudget).
	col []float32
}

func (o *convOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

// direct reports whether the input itself is the column matrix.
func (o *convOp) direct() bool {
	g := o.geom
	return g.KH == 1 && g.KW == 1 && g.StrideH == 1 && g.StrideW == 1 && g.PadH == 0 && g.PadW == 0
}

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
	return o.direct() && (o.x.Shape()[0] == 1 || o.geom.OutH()*o.geom.OutW() >= 1024)
}

// chunk returns how many images are lowered together.
func (o *convOp) chunk() int {
	n := o.x.Shape()[0]
	per := o.geom.ColRows() * o.geom.OutH() * o.geom.OutW()
	return max(1, min(n, colBudget/max(per, 1)))
}

// depthwise reports whether every group has one input channel, so that
// the direct depthwise kernels apply.
func (o *convOp) depthwise() bool { return o.groups > 1 && o.geom.C == 1 }

func (o *convOp) Forward() *tensor.Tensor {
	if o.depthwise() {
		return o.forwardDepthwise()
	}
	if o.perImage() {
		return o.forwardPerImage()
	}
	xs, ws := o.x.Shape(), o.w.Shape()
	n, cin, cout := xs[0], xs[1], ws[0]
	g := o.geom
	l, k := g.OutH()*g.OutW(), g.ColRows()
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * g.H * g.W
	out := tensor.Make[float32](n, cout, g.OutH(), g.OutW())
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
			lowerImages(m, g, func(i int) []float32 {
				return xd[((i0+i)*cin+grp*cinG)*g.H*g.W:][:inSize]
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
				parallel(m*blocks, func(_, lo, hi int) {
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
			parallel(m*coutG, func(_, lo, hi int) {
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
	var bias [16]float32
	if b != nil {
		copy(bias[:c1-c0], b[c0:c1])
	}
	// Tiles of 16 positions × the channels: the tile's rows of src stay
	// in L1 while each channel's run of dst is written contiguously.
	for p0 := 0; p0 < l; p0 += 16 {
		pw := min(16, l-p0)
		tile := src[p0*stride : (p0+pw-1)*stride+c1]
		for c := c0; c < c1; c++ {
			out := dst[c*l+p0:][:pw]
			b := bias[c-c0]
			for q := range out {
				out[q] = tile[q*stride+c] + b
			}
		}
	}
}

// lowerImages writes the column matrices of m images side by side into
// col (row stride ld): image i's columns start at column i·OutH·OutW.
// Images are spread over the cores, or, for a single image, its channels.
func lowerImages(m int, g kernels.ConvGeom, src func(i int) []float32, col []float32, ld int) {
	l := g.OutH() * g.OutW()
	if m == 1 {
		im2col(g, src(0), col, ld, parallelWorkers(g.C))
		return
	}
	parallel(m, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			kernels.Im2colTo(g, src(i), col[i*l:], ld)
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
	g := o.geom
	l, k := g.OutH()*g.OutW(), g.ColRows()
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * g.H * g.W
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
				parallel(m*coutG, func(_, lo, hi int) {
					for j := lo; j < hi; j++ {
						i, oc := j/coutG, j%coutG
						copy(gT[oc*ld+i*l:][:l], gd[((i0+i)*cout+grp*coutG+oc)*l:][:l])
					}
				})
			}
			if needW {
				c := o.col
				if c == nil {
					lowerImages(m, g, func(i int) []float32 {
						return xd[((i0+i)*cin+grp*cinG)*g.H*g.W:][:inSize]
					}, col, ld)
					c = col
				}
				kernels.Sgemm(false, true, coutG, k, ld, 1, gT, ld, c, ld, 1, gw.Data()[grp*coutG*k:], k)
			}
			if needX {
				kernels.Sgemm(true, false, k, ld, coutG, 1, wd[grp*coutG*k:], k, gT, ld, 0, col, ld)
				gxd := gx.Data()
				if m == 1 {
					col2im(g, col, ld, gxd[(i0*cin+grp*cinG)*g.H*g.W:][:inSize], parallelWorkers(g.C))
					continue
				}
				parallel(m, func(_, lo, hi int) {
					for i := lo; i < hi; i++ {
						kernels.Col2imFrom(g, col[i*l:], ld, gxd[((i0+i)*cin+grp*cinG)*g.H*g.W:][:inSize])
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
	g := o.geom
	l, hw, kk := g.OutH()*g.OutW(), g.H*g.W, g.KH*g.KW
	mult := cout / cin
	out := tensor.Make[float32](n, cout, g.OutH(), g.OutW())
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	parallel(n*cout, func(_, lo, hi int) {
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
	g := o.geom
	l, hw, kk := g.OutH()*g.OutW(), g.H*g.W, g.KH*g.KW
	mult := cout / cin
	xd, wd, gd := o.x.value.Data(), o.w.value.Data(), gout.Data()
	var gx, gw *tensor.Tensor
	if o.x.requiresGrad {
		gx = tensor.Zeros(xs...)
	}
	if o.w.requiresGrad {
		gw = tensor.Zeros(ws...)
	}
	parallel(cin, func(_, lo, hi int) {
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
	g := o.geom
	l, k := g.OutH()*g.OutW(), g.ColRows()
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * g.H * g.W
	out := tensor.Make[float32](n, cout, g.OutH(), g.OutW())
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	var bd []float32
	if o.b != nil {
		bd = o.b.value.Data()
	}
	parallelWith(n, itemWorkers(n, 2*float64(coutG*l*k)), func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				src := xd[(i*cin+grp*cinG)*g.H*g.W:][:inSize]
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
	g := o.geom
	l, k := g.OutH()*g.OutW(), g.ColRows()
	cinG, coutG := cin/o.groups, cout/o.groups
	inSize := cinG * g.H * g.W
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
	parallelWith(n, workers, func(worker, lo, hi int) {
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				gslice := gd[(i*cout+grp*coutG)*l:][:coutG*l]
				if needW {
					src := xd[(i*cin+grp*cinG)*g.H*g.W:][:inSize]
					kernels.Sgemm(false, true, coutG, k, l, 1, gslice, l, src, l, 1, gws[worker][grp*coutG*k:], k)
				}
				if needX {
					dst := gx.Data()[(i*cin+grp*cinG)*g.H*g.W:][:inSize]
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
	c := Conv2dOptions{Stride: opt.Stride, Padding: opt.Padding, Dilation: opt.Dilation, Groups: opt.Groups}.norm()
	xs, ws := x.Shape(), w.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		panic(fmt.Sprintf("autograd: ConvTranspose2d of input %v with weights %v: want 4-D NCHW input and IOHW weights", xs, ws))
	}
	g := c.Groups
	if g < 1 || xs[1]%g != 0 || ws[0] != xs[1] {
		panic(fmt.Sprintf("autograd: ConvTranspose2d of input %v with weights %v in %d groups", xs, ws, g))
	}
	cout := ws[1] * g
	if b != nil && (len(b.Shape()) != 1 || b.Shape()[0] != cout) {
		panic(fmt.Sprintf("autograd: ConvTranspose2d bias %v for %d output channels", b.Shape(), cout))
	}
	for i := range 2 {
		if opt.OutputPadding[i] < 0 || opt.OutputPadding[i] >= c.Stride[i] {
			panic(fmt.Sprintf("autograd: ConvTranspose2d output padding %v must be below the stride %v", opt.OutputPadding, c.Stride))
		}
	}
	oh := (xs[2]-1)*c.Stride[0] - 2*c.Padding[0] + c.Dilation[0]*(ws[2]-1) + opt.OutputPadding[0] + 1
	ow := (xs[3]-1)*c.Stride[1] - 2*c.Padding[1] + c.Dilation[1]*(ws[3]-1) + opt.OutputPadding[1] + 1
	if oh <= 0 || ow <= 0 {
		panic(fmt.Sprintf("autograd: ConvTranspose2d of input %v with weights %v and %+v gives no output", xs, ws, opt))
	}
	op := &convTOp{x: x, w: w, b: b, groups: g, cout: cout, outPad: opt.OutputPadding}
	// The geometry of the forward convolution whose input gradient this is.
	op.geom = kernels.ConvGeom{
		C: ws[1], H: oh, W: ow, KH: ws[2], KW: ws[3],
		StrideH: c.Stride[0], StrideW: c.Stride[1],
		PadH: c.Padding[0], PadW: c.Padding[1],
		DilH: c.Dilation[0], DilW: c.Dilation[1],
	}
	return Apply(op)
}

type convTOp struct {
	x, w, b *Var
	groups  int
	cout    int
	geom    kernels.ConvGeom
	outPad  [2]int // for Describe; geom holds the output size
}

func (o *convTOp) Operands() []*Var { return []*Var{o.x, o.w, o.b} }

func (o *convTOp) Forward() *tensor.Tensor {
	xs := o.x.Shape()
	n, cin, hw := xs[0], xs[1], xs[2]*xs[3]
	g := o.geom
	cinG, coutG := cin/o.groups, o.cout/o.groups
	k := g.ColRows() // coutG*KH*KW
	outSize := coutG * g.H * g.W
	out := tensor.Zeros(n, o.cout, g.H, g.W)
	xd, wd, od := o.x.value.Data(), o.w.value.Data(), out.Data()
	var bd []float32
	if o.b != nil {
		bd = o.b.value.Data()
	}
	workers := itemWorkers(n, 2*float64(k*hw*cinG))
	ways := lowerWays(workers)
	parallelWith(n, workers, func(_, lo, hi int) {
		col := make([]float32, k*hw)
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				xg := xd[(i*cin+grp*cinG)*hw:][:cinG*hw]
				kernels.Sgemm(true, false, k, hw, cinG, 1, wd[grp*cinG*k:], k, xg, hw, 0, col, hw)
				dst := od[(i*o.cout+grp*coutG)*g.H*g.W:][:outSize]
				col2im(g, col, hw, dst, ways)
				if bd != nil {
					for oc := 0; oc < coutG; oc++ {
						addConst(dst[oc*g.H*g.W:(oc+1)*g.H*g.W], bd[grp*coutG+oc])
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
	g := o.geom
	cinG, coutG := cin/o.groups, o.cout/o.groups
	k := g.ColRows()
	outSize := coutG * g.H * g.W
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
	parallelWith(n, workers, func(worker, lo, hi int) {
		col := make([]float32, k*hw)
		for i := lo; i < hi; i++ {
			for grp := 0; grp < o.groups; grp++ {
				im2col(g, gd[(i*o.cout+grp*coutG)*g.H*g.W:][:outSize], col, hw, ways)
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
	return parallelWorkers(1 << 30)
}

// im2col runs kernels.Im2colTo with the channels split over ways
// goroutines; both layouts are channel-major, so each share is contiguous.
func im2col(g kernels.ConvGeom, src, dst []float32, ld, ways int) {
	if ways <= 1 || g.C < 2 {
		kernels.Im2colTo(g, src, dst, ld)
		return
	}
	hw, kl := g.H*g.W, g.KH*g.KW*ld
	parallelWith(g.C, ways, func(_, lo, hi int) {
		sub := g
		sub.C = hi - lo
		kernels.Im2colTo(sub, src[lo*hw:hi*hw], dst[lo*kl:], ld)
	})
}

// col2im runs kernels.Col2imFrom with the channels split over ways
// goroutines.
func col2im(g kernels.ConvGeom, col []float32, ld int, dst []float32, ways int) {
	if ways <= 1 || g.C < 2 {
		kernels.Col2imFrom(g, col, ld, dst)
		return
	}
	hw, kl := g.H*g.W, g.KH*g.KW*ld
	parallelWith(g.C, ways, func(_, lo, hi int) {
		sub := g
		sub.C = hi - lo
		kernels.Col2imFrom(sub, col[lo*kl:], ld, dst[lo*hw:hi*hw])
	})
}

func (o *convOp) ownsGrads() {}
