// Package geom is the geometry of a window sliding over the spatial
// dimensions of an image or a volume: a convolution's, a transposed
// convolution's or a pooling's. Its one type, Window, carries that
// geometry from the kernels (internal/kernels) through the engine
// (autograd), the inference networks (infer) and the compiler's operator
// schema (compiler/xgraph) to the DPU's reference layers (dpu/ref), so that
// an output size, a padding or a dilation has one meaning everywhere.
package geom

import (
	"errors"
	"fmt"
	"slices"
)

// Window is a window sliding over the spatial dimensions of an input.
// Along spatial dimension j, output position o and kernel tap k read the
// input position
//
//	o*Stride[j] - Padding[j] + k*Dilation[j]
//
// and a position outside [0, In[j]) reads padding (zero for a convolution,
// nothing for max pooling). Every slice holds one value per spatial
// dimension, the outermost first (height, then width).
//
// As options (autograd.Conv2dOptions, infer.ConvOptions) a Window needs
// only the fields that differ from the defaults: nil strides and
// dilations are 1, nil padding is 0, a nil PadEnd is Padding (symmetric
// padding, as PyTorch's), zero Groups is one group. Resolve fills in the
// defaults, the input and kernel sizes and the output size.
type Window struct {
	In     []int // input size
	Kernel []int // taps
	Out    []int // output size
	Stride []int
	// Dilation is the spacing between taps.
	Dilation []int
	// Padding is the padding before the first input position, PadEnd
	// after the last.
	Padding, PadEnd []int
	// Groups splits the channels of a convolution into independent groups
	// (Groups = channels is a depthwise convolution); pooling has one.
	Groups int
}

// Resolve returns w with the given input and kernel sizes, the defaults
// filled in and the output size computed: floor((In + Padding + PadEnd -
// span) / Stride) + 1 for a kernel spanning span = (Kernel-1)*Dilation + 1
// positions, or with ceil the ceiling, less one when the last window would
// start past the input and its leading padding (ONNX's and PyTorch's
// ceil_mode). It fails unless every size is positive, padding is not
// negative, the lengths agree and the kernel fits the padded input. w's
// slices are not modified.
func (w Window) Resolve(in, kernel []int, ceil bool) (Window, error) {
	r := len(in)
	if len(kernel) != r {
		return Window{}, fmt.Errorf("kernel %v for %d spatial dimensions", kernel, r)
	}
	fill := func(name string, v []int, def []int) ([]int, error) {
		if v == nil {
			return slices.Clone(def), nil
		}
		if len(v) != r {
			return nil, fmt.Errorf("%s %v for %d spatial dimensions", name, v, r)
		}
		return slices.Clone(v), nil
	}
	ones, zeros := make([]int, r), make([]int, r)
	for i := range ones {
		ones[i] = 1
	}
	out := Window{In: slices.Clone(in), Kernel: slices.Clone(kernel), Out: make([]int, r), Groups: max(w.Groups, 1)}
	var err error
	if out.Stride, err = fill("strides", w.Stride, ones); err != nil {
		return Window{}, err
	}
	if out.Dilation, err = fill("dilations", w.Dilation, ones); err != nil {
		return Window{}, err
	}
	if out.Padding, err = fill("padding", w.Padding, zeros); err != nil {
		return Window{}, err
	}
	if out.PadEnd, err = fill("end padding", w.PadEnd, out.Padding); err != nil {
		return Window{}, err
	}
	if w.Groups < 0 {
		return Window{}, fmt.Errorf("%d groups", w.Groups)
	}
	for j := range r {
		s, d, k := out.Stride[j], out.Dilation[j], kernel[j]
		if s < 1 || d < 1 || k < 1 || in[j] < 1 {
			return Window{}, fmt.Errorf("input %v, kernel %v, strides %v and dilations %v must be positive", in, kernel, out.Stride, out.Dilation)
		}
		if out.Padding[j] < 0 || out.PadEnd[j] < 0 {
			return Window{}, fmt.Errorf("negative padding %v, %v", out.Padding, out.PadEnd)
		}
		span := in[j] + out.Padding[j] + out.PadEnd[j] - ((k-1)*d + 1)
		if span < 0 {
			return Window{}, fmt.Errorf("kernel %v with dilations %v does not fit input %v padded by %v and %v: the window gives no output", kernel, out.Dilation, in, out.Padding, out.PadEnd)
		}
		o := span/s + 1
		if ceil {
			o = (span+s-1)/s + 1
			if (o-1)*s >= in[j]+out.Padding[j] {
				o--
			}
		}
		out.Out[j] = o
	}
	return out, nil
}

// SamePadding returns the padding of ONNX's auto_pad SAME_UPPER (upper set)
// and SAME_LOWER: the output size is ceil(in/stride), and the padding it
// needs is split evenly, the odd position at the end (upper) or at the
// start (lower).
func SamePadding(in, kernel, stride, dilation []int, upper bool) (begin, end []int, err error) {
	r := len(in)
	if len(kernel) != r || len(stride) != r || len(dilation) != r {
		return nil, nil, errors.New("kernel, strides and dilations do not match the input's dimensions")
	}
	begin, end = make([]int, r), make([]int, r)
	for j := range r {
		if stride[j] < 1 {
			return nil, nil, fmt.Errorf("strides %v must be positive", stride)
		}
		out := (in[j] + stride[j] - 1) / stride[j]
		total := max(0, (out-1)*stride[j]+(kernel[j]-1)*dilation[j]+1-in[j])
		begin[j] = total / 2
		if !upper {
			begin[j] = total - total/2
		}
		end[j] = total - begin[j]
	}
	return begin, end, nil
}

// Rank returns the number of spatial dimensions.
func (w Window) Rank() int { return len(w.Kernel) }

// Symmetric reports whether every dimension has as much padding at its end
// as at its start.
func (w Window) Symmetric() bool { return slices.Equal(w.Padding, w.PadEnd) }

// Pointwise reports whether the window is a 1×1 kernel with unit strides
// and no padding, so that every output position reads the input position
// of the same index.
func (w Window) Pointwise() bool {
	for j := range w.Kernel {
		if w.Kernel[j] != 1 || w.Stride[j] != 1 || w.Padding[j] != 0 || w.PadEnd[j] != 0 {
			return false
		}
	}
	return true
}

// Source returns the input position that output position o and tap k of
// spatial dimension j read, or -1 where they read padding.
func (w Window) Source(j, o, k int) int {
	p := o*w.Stride[j] - w.Padding[j] + k*w.Dilation[j]
	if p < 0 || p >= w.In[j] {
		return -1
	}
	return p
}

// String returns the window in a compact form for error messages.
func (w Window) String() string {
	return fmt.Sprintf("in %v kernel %v out %v stride %v dilation %v pads %v/%v groups %d",
		w.In, w.Kernel, w.Out, w.Stride, w.Dilation, w.Padding, w.PadEnd, w.Groups)
}
