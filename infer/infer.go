// Package infer runs feed-forward convolutional networks for inference
// only: batch norm folded into the convolutions, activations kept in
// channels-last (NHWC) order with a zero border, and every convolution
// computed by kernels.ConvNHWC (kernels.DepthwiseNHWC for one filter per
// channel) with its bias, residual addition, ReLU and clamp applied in the
// same pass, so that no layer but pooling touches an activation twice.
//
// A Net is built once from a network's weights (the executor of package
// compiler/executor builds one from a graph, such as a traced ResNet's;
// models.MNISTNet's Inference method builds one by hand) and then run on
// batches of NCHW images:
//
//	net, x := infer.New(3, 224, 224)
//	y := net.Conv(x, w, infer.ConvOptions{Window: geom.Window{Padding: []int{1, 1}}, Norm: bn, ReLU: true})
//	...
//	net.Output(logits)
//	out, err := net.Run(images)
package infer

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"argus/internal/geom"
	"argus/internal/kernels"
	"argus/internal/par"
	"argus/tensor"
)

// Value is an activation of a Net: a C×H×W image per batch item, or a
// vector of C features once pooled or flattened.
type Value struct {
	C, H, W int
	vector  bool
	id      int
	pad     int // border the consumers need
}

// Net is a compiled inference network. Its methods that add layers are not
// safe for concurrent use; Run is.
type Net struct {
	values []*Value
	steps  []step
	out    *Value
	err    error

	mu   sync.Mutex
	idle []*buffers // activations of finished runs, oldest first
}

// step is one layer of a Net.
type step interface {
	run(b *buffers)
	// io returns the values the step reads and the one it writes.
	io() (reads []int, write int)
}

// New returns an empty Net and its input value, images of c channels of
// h×w pixels.
func New(c, h, w int) (*Net, *Value) {
	n := &Net{}
	if c < 1 || h < 1 || w < 1 {
		n.err = fmt.Errorf("infer: input of %dx%dx%d", c, h, w)
	}
	return n, n.value(c, h, w, false)
}

func (n *Net) value(c, h, w int, vector bool) *Value {
	v := &Value{C: c, H: h, W: w, vector: vector, id: len(n.values)}
	n.values = append(n.values, v)
	return v
}

// fail records the first error of the building calls; Run reports it.
func (n *Net) fail(format string, args ...any) {
	if n.err == nil {
		n.err = fmt.Errorf("infer: "+format, args...)
	}
}

func (n *Net) owns(vs ...*Value) bool {
	for _, v := range vs {
		if v == nil || v.id >= len(n.values) || n.values[v.id] != v {
			n.fail("value from another network")
			return false
		}
	}
	return true
}

// BatchNorm is an evaluation-mode batch normalisation,
// y = (x - Mean) / sqrt(Var + Eps) * Weight + Bias per channel, to fold
// into the convolution before it.
type BatchNorm struct {
	Weight, Bias, Mean, Var []float32
	Eps                     float32
}

// ConvOptions configures Net.Conv.
type ConvOptions struct {
	// Window holds the strides, padding (before and after, a nil PadEnd
	// being symmetric), dilations and groups of the 2-D window; nil and
	// zero values take the defaults: stride 1, no padding, dilation 1,
	// one group. Groups splits the channels as in PyTorch; 1 and the
	// number of input channels (a depthwise convolution, one filter per
	// channel) are supported.
	geom.Window

	Bias     []float32  // per output channel; nil for none
	Norm     *BatchNorm // folded into the weights; nil for none
	Residual *Value     // added after the normalisation; nil for none
	ReLU     bool       // max(x, 0), applied after the residual
	// Clamp, when set, bounds the result to [Clamp[0], Clamp[1]] after
	// the ReLU: {0, 6} gives a ReLU6.
	Clamp *[2]float32
}

// clamp returns the kernels' clamp for the options, nil for none.
func (o ConvOptions) clamp() *kernels.Clamp {
	if !o.ReLU && o.Clamp == nil {
		return nil
	}
	c := &kernels.Clamp{Lo: float32(math.Inf(-1)), Hi: float32(math.Inf(1))}
	if o.ReLU {
		c.Lo = 0
	}
	if o.Clamp != nil {
		c.Lo, c.Hi = max(c.Lo, o.Clamp[0]), o.Clamp[1]
	}
	return c
}

type convStep struct {
	in, out, res int
	pc           *kernels.PackedConv
	pd           *kernels.PackedDepthwise // instead of pc for a depthwise convolution
	win          geom.Window              // resolved
	clamp        *kernels.Clamp
}

func (s *convStep) io() ([]int, int) {
	if s.res >= 0 {
		return []int{s.in, s.res}, s.out
	}
	return []int{s.in}, s.out
}

func (s *convStep) run(b *buffers) {
	var res *kernels.NHWC
	if s.res >= 0 {
		res = &b.acts[s.res]
	}
	if s.pd != nil {
		kernels.DepthwiseNHWC(b.acts[s.out], b.acts[s.in], s.pd, s.win, res, s.clamp)
		return
	}
	kernels.ConvNHWC(b.acts[s.out], b.acts[s.in], s.pc, s.win, res, s.clamp)
}

// Conv adds a 2-D convolution of x with w (Cout×C/Groups×KH×KW, PyTorch's
// layout) and returns its output.
func (n *Net) Conv(x *Value, w *tensor.Tensor, opt ConvOptions) *Value {
	ws := w.Shape()
	if !n.owns(x) || (opt.Residual != nil && !n.owns(opt.Residual)) {
		return x
	}
	groups := max(opt.Groups, 1)
	depthwise := groups > 1
	if len(ws) != 4 || x.vector || ws[1]*groups != x.C || (depthwise && (groups != x.C || ws[0] != x.C)) {
		n.fail("convolution of %dx%dx%d input with weights %v in %d groups (supported: 1 group, or one filter per channel)", x.C, x.H, x.W, ws, groups)
		return x
	}
	if c := opt.Clamp; c != nil && !(c[0] <= c[1]) {
		n.fail("convolution clamp to [%v, %v]", c[0], c[1])
		return x
	}
	cout, kh, kw := ws[0], ws[2], ws[3]
	win, err := opt.Window.Resolve([]int{x.H, x.W}, []int{kh, kw}, false)
	if err != nil {
		n.fail("convolution %v of %dx%dx%d input: %v", ws, x.C, x.H, x.W, err)
		return x
	}
	oh, ow := win.Out[0], win.Out[1]
	if opt.Bias != nil && len(opt.Bias) != cout {
		n.fail("convolution bias of %d values for %d channels", len(opt.Bias), cout)
		return x
	}
	weights := w.Data()
	bias := opt.Bias
	if nb := opt.Norm; nb != nil {
		if len(nb.Weight) != cout || len(nb.Bias) != cout || len(nb.Mean) != cout || len(nb.Var) != cout {
			n.fail("batch norm of %d/%d/%d/%d values after %d channels", len(nb.Weight), len(nb.Bias), len(nb.Mean), len(nb.Var), cout)
			return x
		}
		weights, bias = kernels.FoldBatchNorm(weights, bias, nb.Weight, nb.Bias, nb.Mean, nb.Var, float64(nb.Eps))
	}
	if r := opt.Residual; r != nil && (r.vector || r.C != cout || r.H != oh || r.W != ow) {
		n.fail("residual %dx%dx%d for a %dx%dx%d convolution output", r.C, r.H, r.W, cout, oh, ow)
		return x
	}
	out := n.value(cout, oh, ow, false)
	x.pad = max(x.pad, slices.Max(win.Padding), slices.Max(win.PadEnd))
	s := &convStep{in: x.id, out: out.id, res: -1, win: win, clamp: opt.clamp()}
	if depthwise {
		s.pd = kernels.PackDepthwise(weights, bias, cout, kh, kw)
	} else {
		s.pc = kernels.PackConv(weights, bias, cout, x.C, kh, kw)
	}
	if opt.Residual != nil {
		s.res = opt.Residual.id
	}
	n.steps = append(n.steps, s)
	return out
}

type maxPoolStep struct {
	in, out int
	win     geom.Window // resolved
}

func (s *maxPoolStep) io() ([]int, int) { return []int{s.in}, s.out }

func (s *maxPoolStep) run(b *buffers) { kernels.MaxPoolNHWC(b.acts[s.out], b.acts[s.in], s.win) }

// MaxPool adds a max pooling with the 2-D window opt: its Kernel, and its
// strides and padding (nil strides are 1, a nil PadEnd is Padding; at most
// half the kernel on either side). Pixels outside the image are ignored, as
// in PyTorch.
func (n *Net) MaxPool(x *Value, opt geom.Window) *Value {
	if !n.owns(x) {
		return x
	}
	win, err := opt.Resolve([]int{x.H, x.W}, opt.Kernel, false)
	if err == nil && (x.vector || slices.Max(win.Dilation) != 1 || 2*win.Padding[0] > win.Kernel[0] || 2*win.Padding[1] > win.Kernel[1] ||
		2*win.PadEnd[0] > win.Kernel[0] || 2*win.PadEnd[1] > win.Kernel[1]) {
		err = errors.New("want a 2-D window without dilation, padding at most half the kernel")
	}
	if err != nil {
		n.fail("max pooling %v of %dx%dx%d input: %v", opt, x.C, x.H, x.W, err)
		return x
	}
	out := n.value(x.C, win.Out[0], win.Out[1], false)
	n.steps = append(n.steps, &maxPoolStep{in: x.id, out: out.id, win: win})
	return out
}

type avgPoolStep struct{ in, out int }

func (s *avgPoolStep) io() ([]int, int) { return []int{s.in}, s.out }

func (s *avgPoolStep) run(b *buffers) {
	src, dst := b.acts[s.in], b.acts[s.out]
	c := src.C
	inv := 1 / float32(src.H*src.W)
	for n := range src.N {
		out := dst.Data[n*c:][:c]
		clear(out)
		for y := range src.H {
			for x := range src.W {
				for i, v := range src.Data[src.Offset(n, y, x):][:c] {
					out[i] += v
				}
			}
		}
		for i := range out {
			out[i] *= inv
		}
	}
}

// GlobalAvgPool adds the mean over all pixels of each channel, giving a
// vector of x.C features.
func (n *Net) GlobalAvgPool(x *Value) *Value {
	if !n.owns(x) {
		return x
	}
	if x.vector {
		n.fail("global average pooling of a feature vector")
		return x
	}
	out := n.value(x.C, 1, 1, true)
	n.steps = append(n.steps, &avgPoolStep{in: x.id, out: out.id})
	return out
}

type linearStep struct {
	in, out int
	w, b    []float32
	k, m    int
}

func (s *linearStep) io() ([]int, int) { return []int{s.in}, s.out }

func (s *linearStep) run(b *buffers) {
	src, dst := b.acts[s.in], b.acts[s.out]
	kernels.Sgemm(false, true, src.N, s.m, s.k, 1, src.Data, s.k, s.w, s.k, 0, dst.Data, s.m)
	if s.b != nil {
		for i := range src.N {
			for j, v := range s.b {
				dst.Data[i*s.m+j] += v
			}
		}
	}
}

// Linear adds y = x·wᵀ + b for a feature vector x, with w of shape
// out×in (PyTorch's layout) and b of out values or nil.
func (n *Net) Linear(x *Value, w *tensor.Tensor, b []float32) *Value {
	ws := w.Shape()
	if !n.owns(x) {
		return x
	}
	if !x.vector || len(ws) != 2 || ws[1] != x.C || (b != nil && len(b) != ws[0]) {
		n.fail("linear layer %v (bias %d) on input of %d features", ws, len(b), x.C)
		return x
	}
	out := n.value(ws[0], 1, 1, true)
	var bias []float32
	if b != nil {
		bias = append(bias, b...)
	}
	n.steps = append(n.steps, &linearStep{in: x.id, out: out.id, w: append([]float32(nil), w.Data()...), b: bias, k: ws[1], m: ws[0]})
	return out
}

type flattenStep struct{ in, out int }

func (s *flattenStep) io() ([]int, int) { return []int{s.in}, s.out }

func (s *flattenStep) run(b *buffers) {
	src, dst := b.acts[s.in], b.acts[s.out]
	fromNHWC(dst.Data, src)
}

// Flatten turns an image value into a vector of C·H·W features in
// PyTorch's order (channel-major), as torch.flatten(x, 1) does on NCHW.
func (n *Net) Flatten(x *Value) *Value {
	if !n.owns(x) {
		return x
	}
	if x.vector {
		return x
	}
	out := n.value(x.C*x.H*x.W, 1, 1, true)
	n.steps = append(n.steps, &flattenStep{in: x.id, out: out.id})
	return out
}

type reluStep struct{ in, out int }

func (s *reluStep) io() ([]int, int) { return []int{s.in}, s.out }

func (s *reluStep) run(b *buffers) {
	src, dst := b.acts[s.in], b.acts[s.out]
	// The two may have borders of different widths: rectify row by row.
	for n := range src.N {
		for y := range src.H {
			out := dst.Data[dst.Offset(n, y, 0):][:src.W*src.C]
			for i, v := range src.Data[src.Offset(n, y, 0):][:len(out)] {
				if v < 0 {
					v = 0
				}
				out[i] = v
			}
		}
	}
}

// ReLU adds max(x, 0) as a layer of its own, for a value no convolution
// can rectify on its way out (a feature vector, say).
func (n *Net) ReLU(x *Value) *Value {
	if !n.owns(x) {
		return x
	}
	out := n.value(x.C, x.H, x.W, x.vector)
	n.steps = append(n.steps, &reluStep{in: x.id, out: out.id})
	return out
}

// Output marks the value Run returns.
func (n *Net) Output(v *Value) {
	if n.owns(v) {
		n.out = v
	}
}

// Err returns the first error found while building the network.
func (n *Net) Err() error { return n.err }

// Run computes the output for a batch of images x (N×C×H×W): N×C×H×W
// for an image output, N×C for a feature vector.
func (n *Net) Run(x *tensor.Tensor) (*tensor.Tensor, error) {
	if n.err != nil {
		return nil, n.err
	}
	if n.out == nil {
		return nil, errors.New("infer: network has no output")
	}
	in := n.values[0]
	xs := x.Shape()
	if len(xs) != 4 || xs[1] != in.C || xs[2] != in.H || xs[3] != in.W {
		return nil, fmt.Errorf("infer: input of shape %v for a network of %dx%dx%d images", xs, in.C, in.H, in.W)
	}
	b := n.buffers(xs[0])
	defer n.release(b)
	b.clearBorder(0)
	toNHWC(b.acts[0], x.Data())
	for _, s := range n.steps {
		_, w := s.io()
		b.clearBorder(w)
		s.run(b)
	}
	o := b.acts[n.out.id]
	if n.out.vector {
		return tensor.FromSlice(append([]float32(nil), o.Data[:o.N*o.C]...), o.N, o.C), nil
	}
	out := tensor.Zeros(o.N, o.C, o.H, o.W)
	fromNHWC(out.Data(), o)
	return out, nil
}

// buffers returns a set of activations for batch size bs.
func (n *Net) buffers(bs int) *buffers {
	n.mu.Lock()
	for i := len(n.idle) - 1; i >= 0; i-- {
		if b := n.idle[i]; b.n == bs && len(b.acts) == len(n.values) {
			n.idle = append(n.idle[:i], n.idle[i+1:]...)
			n.mu.Unlock()
			return b
		}
	}
	n.mu.Unlock()
	return n.plan(bs)
}

// release keeps b for a later run. At most one set per thread stays idle,
// the most recent ones, so that a batch size used once does not hold its
// memory for the life of the Net.
func (n *Net) release(b *buffers) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.idle = append(n.idle, b)
	if over := len(n.idle) - runtime.GOMAXPROCS(0); over > 0 {
		clear(n.idle[:over])
		n.idle = n.idle[over:]
	}
}

// toNHWC copies NCHW images into the interior of dst.
func toNHWC(dst kernels.NHWC, src []float32) {
	hw := dst.H * dst.W
	par.For(dst.N*dst.H, 8, func(r int) {
		n, y := r/dst.H, r%dst.H
		img := src[n*dst.C*hw:]
		for x := range dst.W {
			out := dst.Data[dst.Offset(n, y, x):][:dst.C]
			for c := range out {
				out[c] = img[c*hw+y*dst.W+x]
			}
		}
	})
}

// fromNHWC copies the interior of src into NCHW images.
func fromNHWC(dst []float32, src kernels.NHWC) {
	hw := src.H * src.W
	for n := range src.N {
		img := dst[n*src.C*hw:]
		for y := range src.H {
			for x := range src.W {
				for c, v := range src.Data[src.Offset(n, y, x):][:src.C] {
					img[c*hw+y*src.W+x] = v
				}
			}
		}
	}
}
