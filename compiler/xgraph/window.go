package xgraph

import (
	"fmt"
	"slices"

	"argus/internal/geom"
)

// attrError returns an *AttrError about attribute attr of n.
func (n *Node) attrError(attr, format string, args ...any) error {
	return &AttrError{Node: n.Label(), Op: n.Op, Attr: attr, Reason: fmt.Sprintf(format, args...)}
}

// maxWindowValue bounds the magnitude of every window attribute (kernel
// sizes, strides, dilations, pads, output sizes), so that the sizes
// computed from them cannot overflow; real networks stay far below it.
const maxWindowValue = 1 << 24

// windowInts returns the values of the window attribute name as ints,
// refusing any whose magnitude exceeds maxWindowValue.
func (n *Node) windowInts(name string, v []int64) ([]int, error) {
	for _, x := range v {
		if x > maxWindowValue || x < -maxWindowValue {
			return nil, n.attrError(name, "value %d is out of range (magnitude at most %d)", x, maxWindowValue)
		}
	}
	return toInts(v), nil
}

// spatialAttr returns the integer-list attribute name with one value per
// spatial dimension, or def in each when it is absent.
func (n *Node) spatialAttr(name string, r, def int) ([]int, error) {
	v := n.Ints(name)
	if v == nil {
		return filled(r, def), nil
	}
	if len(v) != r {
		return nil, n.attrError(name, "%d values for %d spatial dimensions", len(v), r)
	}
	return n.windowInts(name, v)
}

// filled returns r copies of v.
func filled(r, v int) []int {
	out := make([]int, r)
	for i := range out {
		out[i] = v
	}
	return out
}

// padsAttr returns the begin and end values of the pads attribute (ONNX's
// layout: the begin values, then the end values), zeros when absent.
func (n *Node) padsAttr(r int) (begin, end []int, err error) {
	begin, end = make([]int, r), make([]int, r)
	p := n.Ints("pads")
	if p == nil {
		return begin, end, nil
	}
	if len(p) != 2*r {
		return nil, nil, n.attrError("pads", "%d values for %d spatial dimensions, want %d", len(p), r, 2*r)
	}
	all, err := n.windowInts("pads", p)
	if err != nil {
		return nil, nil, err
	}
	return all[:r], all[r:], nil
}

// kernelAttr checks that a kernel_shape attribute, when given, agrees with
// the weights' spatial dimensions.
func (n *Node) kernelAttr(kernel []int) error {
	if ks := n.Ints("kernel_shape"); ks != nil && !slices.Equal(toInts(ks), kernel) {
		return n.attrError("kernel_shape", "%v disagrees with the weights' kernel %v", ks, kernel)
	}
	return nil
}

// slidingWindow reads the strides, dilations, pads and auto_pad of a
// convolution or pooling node with the given kernel over the input
// spatial dimensions in, and resolves the window: SAME_UPPER and
// SAME_LOWER choose the padding that gives ceil(in/stride) outputs (the
// odd position at the end or the start), VALID drops the padding.
func slidingWindow(n *Node, in, kernel []int, ceil bool, groups int) (geom.Window, error) {
	r := len(in)
	if len(kernel) != r {
		return geom.Window{}, fmt.Errorf("node %s: kernel %v for %d spatial dimensions", n.Label(), kernel, r)
	}
	stride, err := n.spatialAttr("strides", r, 1)
	if err != nil {
		return geom.Window{}, err
	}
	// AveragePool has no dilations attribute (before set 19).
	dil := filled(r, 1)
	if schemas[n.Op].Attr("dilations") != nil {
		if dil, err = n.spatialAttr("dilations", r, 1); err != nil {
			return geom.Window{}, err
		}
	}
	begin, end, err := n.padsAttr(r)
	if err != nil {
		return geom.Window{}, err
	}
	switch ap := n.String("auto_pad"); ap {
	case "VALID":
		clear(begin)
		clear(end)
	case "SAME_UPPER", "SAME_LOWER":
		if begin, end, err = geom.SamePadding(in, kernel, stride, dil, ap == "SAME_UPPER"); err != nil {
			return geom.Window{}, fmt.Errorf("node %s: %w", n.Label(), err)
		}
	}
	w, err := geom.Window{Stride: stride, Dilation: dil, Padding: begin, PadEnd: end, Groups: groups}.Resolve(in, kernel, ceil)
	if err != nil {
		return geom.Window{}, fmt.Errorf("node %s: %w", n.Label(), err)
	}
	return w, nil
}

// convWindow is the window of a Conv node.
func convWindow(n *Node, in, kernel []int) (geom.Window, error) {
	if err := n.kernelAttr(kernel); err != nil {
		return geom.Window{}, err
	}
	return slidingWindow(n, in, kernel, false, int(n.Int("group")))
}

// poolWindow is the window of a MaxPool or AveragePool node, whose kernel
// is its kernel_shape attribute.
func poolWindow(n *Node, in, _ []int) (geom.Window, error) {
	ks := n.Ints("kernel_shape")
	if len(ks) != len(in) {
		return geom.Window{}, n.attrError("kernel_shape", "%v for %d spatial dimensions", ks, len(in))
	}
	kernel, err := n.windowInts("kernel_shape", ks)
	if err != nil {
		return geom.Window{}, err
	}
	return slidingWindow(n, in, kernel, n.Int("ceil_mode") != 0, 1)
}

// globalPoolWindow is the window of a global pooling: one window covering
// the input.
func globalPoolWindow(n *Node, in, _ []int) (geom.Window, error) {
	w, err := geom.Window{}.Resolve(in, in, false)
	if err != nil {
		return geom.Window{}, fmt.Errorf("node %s: %w", n.Label(), err)
	}
	return w, nil
}

// convTransposeWindow is the window of a ConvTranspose node: the window of
// the convolution it transposes, whose input is the node's output and
// whose output is the node's input in. The output size is
// stride·(in−1) + output_padding + (kernel−1)·dilation + 1 − pads, or
// output_shape when given; with output_shape or a SAME auto_pad the pads
// follow from the size (then they may be negative, and the window does
// not come from Resolve).
func convTransposeWindow(n *Node, in, kernel []int) (geom.Window, error) {
	r := len(in)
	if len(kernel) != r {
		return geom.Window{}, fmt.Errorf("node %s: kernel %v for %d spatial dimensions", n.Label(), kernel, r)
	}
	if err := n.kernelAttr(kernel); err != nil {
		return geom.Window{}, err
	}
	stride, err := n.spatialAttr("strides", r, 1)
	if err != nil {
		return geom.Window{}, err
	}
	dil, err := n.spatialAttr("dilations", r, 1)
	if err != nil {
		return geom.Window{}, err
	}
	outPad, err := n.spatialAttr("output_padding", r, 0)
	if err != nil {
		return geom.Window{}, err
	}
	begin, end, err := n.padsAttr(r)
	if err != nil {
		return geom.Window{}, err
	}
	ap := n.String("auto_pad")
	if ap == "VALID" {
		clear(begin)
		clear(end)
	}
	outShape := n.Ints("output_shape")
	if len(outShape) > r {
		outShape = outShape[len(outShape)-r:]
	}
	if outShape != nil && len(outShape) != r {
		return geom.Window{}, n.attrError("output_shape", "%v for %d spatial dimensions", outShape, r)
	}
	if _, err := n.windowInts("output_shape", outShape); err != nil {
		return geom.Window{}, err
	}
	out := make([]int, r)
	for i := range r {
		if in[i] < 1 {
			return geom.Window{}, fmt.Errorf("node %s: input size %v", n.Label(), in)
		}
		full := stride[i]*(in[i]-1) + outPad[i] + (kernel[i]-1)*dil[i] + 1
		switch {
		case outShape != nil || ap == "SAME_UPPER" || ap == "SAME_LOWER":
			target := in[i] * stride[i]
			if outShape != nil {
				target = int(outShape[i])
			}
			total := full - target
			// Floor division: with output_shape the total may be
			// negative, and the specification's arithmetic is Python's.
			half := floorDiv(total, 2)
			if ap == "SAME_UPPER" {
				begin[i], end[i] = half, total-half
			} else {
				begin[i], end[i] = total-half, half
			}
			out[i] = target
		default:
			out[i] = full - begin[i] - end[i]
		}
		if out[i] <= 0 {
			return geom.Window{}, fmt.Errorf("node %s: output size %d in spatial dimension %d", n.Label(), out[i], i)
		}
	}
	return geom.Window{In: out, Kernel: slices.Clone(kernel), Out: slices.Clone(in), Stride: stride, Dilation: dil,
		Padding: begin, PadEnd: end, Groups: int(n.Int("group"))}, nil
}

// floorDiv returns a/b rounded towards negative infinity.
func floorDiv(a, b int) int {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// Window returns the window of a node whose schema has one (convolution,
// transposed convolution, pooling) over an input whose spatial dimensions
// are in, for weights whose spatial dimensions are kernel (nil for
// pooling). The error names the node, and the attribute where one is at
// fault (an *AttrError).
func Window(n *Node, in, kernel []int) (geom.Window, error) {
	s, ok := schemas[n.Op]
	if !ok || n.Domain != "" || s.Window == nil {
		return geom.Window{}, fmt.Errorf("node %s: operator without a window", n.Label())
	}
	return s.Window(n, in, kernel)
}

// windowDims returns the output spatial dimensions of n's window over in,
// for shape inference: dimensions unknown in the input (-1) are unknown in
// the output, and a window that does not resolve gives ok false.
func windowDims(n *Node, in, kernel []int) (out []int, ok bool) {
	// Each dimension's size depends on that dimension alone, so an
	// unknown one is resolved with the smallest input the kernel fits
	// and then marked unknown.
	s, ok := schemas[n.Op]
	if !ok || s.Window == nil {
		return nil, false
	}
	kern := kernel
	if kern == nil && s.Attr("kernel_shape") != nil {
		kern = toInts(n.Ints("kernel_shape"))
	}
	var dil []int64
	if s.Attr("dilations") != nil {
		dil = n.Ints("dilations")
	}
	known := slices.Clone(in)
	for j, d := range known {
		if d >= 0 {
			continue
		}
		k, dl := 1, 1
		if j < len(kern) {
			k = max(1, kern[j])
		}
		if j < len(dil) {
			dl = max(1, int(dil[j]))
		}
		known[j] = (k-1)*dl + 1
	}
	w, err := Window(n, known, kernel)
	if err != nil {
		return nil, false
	}
	out = w.Out
	if n.Op == "ConvTranspose" {
		out = w.In
	}
	out = slices.Clone(out)
	if n.Op == "ConvTranspose" && n.Ints("output_shape") != nil {
		return out, true // the sizes are given
	}
	for j, d := range in {
		if d < 0 {
			out[j] = -1
		}
	}
	return out, true
}
