package xgraph_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"argus/compiler/xgraph"
)

func intv(v int64) *xgraph.Attr    { return &xgraph.Attr{Kind: xgraph.AttrInt, I: v} }
func str(s string) *xgraph.Attr    { return &xgraph.Attr{Kind: xgraph.AttrString, S: s} }
func float(v float32) *xgraph.Attr { return &xgraph.Attr{Kind: xgraph.AttrFloat, F: v} }
func floats(v float32) *xgraph.Attr {
	return &xgraph.Attr{Kind: xgraph.AttrFloats, Floats: []float32{v}}
}

func node(op string, attrs map[string]*xgraph.Attr) *xgraph.Node {
	return &xgraph.Node{Name: "n1", Op: op, Attrs: attrs}
}

// TestSchemaDefaults checks that an absent attribute reads as its schema's
// default, and a given one as its value.
func TestSchemaDefaults(t *testing.T) {
	cases := []struct {
		op, attr string
		attrs    map[string]*xgraph.Attr
		read     func(n *xgraph.Node, name string) any
		want     any
	}{
		{"Conv", "group", nil, readInt, int64(1)},
		{"Conv", "group", map[string]*xgraph.Attr{"group": intv(4)}, readInt, int64(4)},
		{"Conv", "auto_pad", nil, readString, "NOTSET"},
		{"Conv", "strides", nil, readInts, []int64(nil)},
		{"Flatten", "axis", nil, readInt, int64(1)},
		{"Gather", "axis", nil, readInt, int64(0)},
		{"TopK", "axis", nil, readInt, int64(-1)},
		{"LeakyRelu", "alpha", nil, readFloat, float32(0.01)},
		{"LeakyRelu", "alpha", map[string]*xgraph.Attr{"alpha": intv(2)}, readFloat, float32(2)},
		{"BatchNormalization", "epsilon", nil, readFloat, float32(1e-5)},
		{"Clip", "max", nil, readFloat, float32(math.Inf(1))},
		{"MaxPool", "ceil_mode", nil, readInt, int64(0)},
		{"Resize", "nearest_mode", nil, readString, "round_prefer_floor"},
		{"MeanVarianceNormalization", "axes", nil, readInts, []int64{0, 2, 3}},
		{"Squeeze", "axes", map[string]*xgraph.Attr{"axes": intv(1)}, readInts, []int64{1}},
		{"Shape", "end", nil, readInt, int64(0)}, // no default: the reader uses the rank
	}
	for _, c := range cases {
		t.Run(c.op+" "+c.attr, func(t *testing.T) {
			got := c.read(node(c.op, c.attrs), c.attr)
			if !equal(got, c.want) {
				t.Errorf("got %v, want %v", got, c.want)
			}
		})
	}
}

func readInt(n *xgraph.Node, name string) any    { return n.Int(name) }
func readFloat(n *xgraph.Node, name string) any  { return n.Float(name) }
func readString(n *xgraph.Node, name string) any { return n.String(name) }
func readInts(n *xgraph.Node, name string) any   { return n.Ints(name) }

func equal(a, b any) bool {
	if x, ok := a.([]int64); ok {
		return slices.Equal(x, b.([]int64))
	}
	return a == b
}

// TestSchemaUnknownAttributePanics checks that reading an attribute the
// schema does not list is caught.
func TestSchemaUnknownAttributePanics(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), "stride") {
			t.Errorf("recover() = %v, want a panic naming the attribute", r)
		}
	}()
	node("Conv", nil).Ints("stride")
}

// TestCheckAttrs checks that attributes the schema does not list, of the
// wrong kind or with values it rejects give errors naming the node and the
// attribute.
func TestCheckAttrs(t *testing.T) {
	cases := []struct {
		name        string
		op          string
		attrs       map[string]*xgraph.Attr
		attr        string
		unsupported bool // an *UnsupportedError rather than an *AttrError
	}{
		{"unknown attribute", "Conv", map[string]*xgraph.Attr{"winograd": intv(1)}, "winograd", true},
		{"unknown operator", "Frobnicate", nil, "", true},
		{"wrong kind", "Conv", map[string]*xgraph.Attr{"strides": floats(1)}, "strides", true},
		{"type name before set 6", "Cast", map[string]*xgraph.Attr{"to": str("FLOAT")}, "to", true},
		{"zero stride", "Conv", map[string]*xgraph.Attr{"strides": ints(1, 0)}, "strides", false},
		{"zero group", "Conv", map[string]*xgraph.Attr{"group": intv(0)}, "group", false},
		{"negative pads", "MaxPool", map[string]*xgraph.Attr{"pads": ints(0, -1, 0, 0)}, "pads", false},
		{"auto_pad value", "Conv", map[string]*xgraph.Attr{"auto_pad": str("SAME")}, "auto_pad", false},
		{"ceil_mode value", "AveragePool", map[string]*xgraph.Attr{"ceil_mode": intv(2)}, "ceil_mode", false},
		{"Gelu approximation", "Gelu", map[string]*xgraph.Attr{"approximate": str("erf")}, "approximate", false},
		{"dilations on AveragePool", "AveragePool", map[string]*xgraph.Attr{"dilations": ints(1, 1)}, "dilations", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := xgraph.CheckAttrs(node(c.op, c.attrs))
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "n1") || !strings.Contains(err.Error(), c.attr) {
				t.Errorf("error %q does not name the node and the attribute %q", err, c.attr)
			}
			var ue *xgraph.UnsupportedError
			var ae *xgraph.AttrError
			switch {
			case c.unsupported && (!errors.As(err, &ue) || ue.Attr != c.attr):
				t.Errorf("error %#v, want an *UnsupportedError about %q", err, c.attr)
			case !c.unsupported && (!errors.As(err, &ae) || ae.Attr != c.attr || ae.Node != "n1 ("+c.op+")"):
				t.Errorf("error %#v, want an *AttrError about %q", err, c.attr)
			}
		})
	}
	good := node("Conv", map[string]*xgraph.Attr{"strides": ints(2, 2), "pads": ints(1, 1, 1, 1), "group": intv(2), "auto_pad": str("NOTSET")})
	if err := xgraph.CheckAttrs(good); err != nil {
		t.Errorf("valid attributes: %v", err)
	}
}

// TestWindow checks the windows of the windowed operators: defaults,
// explicit and automatic padding, ceil mode, groups and the transposed
// convolution's.
func TestWindow(t *testing.T) {
	cases := []struct {
		name           string
		op             string
		attrs          map[string]*xgraph.Attr
		in, kernel     []int
		out            []int
		padB, padE     []int
		stride, groups int
	}{
		{"conv defaults", "Conv", nil, []int{7, 9}, []int{3, 3}, []int{5, 7}, []int{0, 0}, []int{0, 0}, 1, 1},
		{"conv pads and group", "Conv", map[string]*xgraph.Attr{"pads": ints(1, 2, 1, 0), "group": intv(3)},
			[]int{7, 9}, []int{3, 3}, []int{7, 9}, []int{1, 2}, []int{1, 0}, 1, 3},
		{"VALID drops the pads", "Conv", map[string]*xgraph.Attr{"auto_pad": str("VALID"), "pads": ints(1, 1, 1, 1)},
			[]int{7, 9}, []int{3, 3}, []int{5, 7}, []int{0, 0}, []int{0, 0}, 1, 1},
		{"SAME_UPPER puts the odd pad at the end", "Conv", map[string]*xgraph.Attr{"auto_pad": str("SAME_UPPER"), "strides": ints(2, 2)},
			[]int{7, 8}, []int{4, 3}, []int{4, 4}, []int{1, 0}, []int{2, 1}, 2, 1},
		{"SAME_LOWER puts it at the start", "Conv", map[string]*xgraph.Attr{"auto_pad": str("SAME_LOWER"), "strides": ints(2, 2)},
			[]int{7, 8}, []int{4, 3}, []int{4, 4}, []int{2, 1}, []int{1, 0}, 2, 1},
		{"max pool floor", "MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2)},
			[]int{5, 6}, nil, []int{2, 3}, []int{0, 0}, []int{0, 0}, 2, 1},
		{"max pool ceil mode", "MaxPool", map[string]*xgraph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2), "ceil_mode": intv(1)},
			[]int{5, 6}, nil, []int{3, 3}, []int{0, 0}, []int{0, 0}, 2, 1},
		{"ceil mode drops a window starting in the end padding", "AveragePool",
			map[string]*xgraph.Attr{"kernel_shape": ints(2), "strides": ints(2), "pads": ints(1, 1), "ceil_mode": intv(1)},
			[]int{5}, nil, []int{3}, []int{1}, []int{1}, 2, 1},
		{"global pool", "GlobalAveragePool", nil, []int{4, 5}, nil, []int{1, 1}, []int{0, 0}, []int{0, 0}, 1, 1},
		// The transposed convolution's window is the forward one's: its
		// output (In) is 2·(3−1) + 1 + (3−1) + 1 − 1 − 1 = 6.
		{"transposed", "ConvTranspose", map[string]*xgraph.Attr{"strides": ints(2), "pads": ints(1, 1), "output_padding": ints(1)},
			[]int{3}, []int{3}, []int{3}, []int{1}, []int{1}, 2, 1},
		// output_shape 8 is one more than the 7 of no padding: the
		// padding is -1, at the end without SAME_UPPER.
		{"transposed output_shape", "ConvTranspose", map[string]*xgraph.Attr{"strides": ints(2), "output_shape": ints(1, 1, 8)},
			[]int{3}, []int{3}, []int{3}, []int{0}, []int{-1}, 2, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, err := xgraph.Window(node(c.op, c.attrs), c.in, c.kernel)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(w.Out, c.out) || !slices.Equal(w.Padding, c.padB) || !slices.Equal(w.PadEnd, c.padE) ||
				w.Stride[0] != c.stride || w.Groups != c.groups {
				t.Errorf("window %v, want out %v, pads %v/%v, stride %d, %d groups", w, c.out, c.padB, c.padE, c.stride, c.groups)
			}
		})
	}
}

// TestWindowErrors checks that windows that cannot be formed give errors
// naming the node, and the attribute where one is at fault.
func TestWindowErrors(t *testing.T) {
	cases := []struct {
		name       string
		op         string
		attrs      map[string]*xgraph.Attr
		in, kernel []int
		attr       string // empty: no attribute is at fault
	}{
		{"strides length", "Conv", map[string]*xgraph.Attr{"strides": ints(1)}, []int{5, 5}, []int{3, 3}, "strides"},
		{"pads length", "Conv", map[string]*xgraph.Attr{"pads": ints(1, 1)}, []int{5, 5}, []int{3, 3}, "pads"},
		{"kernel_shape disagrees", "Conv", map[string]*xgraph.Attr{"kernel_shape": ints(3, 1)}, []int{5, 5}, []int{3, 3}, "kernel_shape"},
		{"pool without kernel_shape", "MaxPool", nil, []int{5, 5}, nil, "kernel_shape"},
		{"output_shape length", "ConvTranspose", map[string]*xgraph.Attr{"output_shape": ints(4)}, []int{3, 3}, []int{3, 3}, "output_shape"},
		{"kernel larger than the input", "Conv", nil, []int{2, 5}, []int{3, 3}, ""},
		{"no window", "Relu", nil, []int{5}, nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := xgraph.Window(node(c.op, c.attrs), c.in, c.kernel)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), "n1") {
				t.Errorf("error %q does not name the node", err)
			}
			var ae *xgraph.AttrError
			if c.attr != "" && (!errors.As(err, &ae) || ae.Attr != c.attr) {
				t.Errorf("error %v, want an *AttrError about %q", err, c.attr)
			}
		})
	}
}

// TestInferUnknownSpatialDims checks that shape inference keeps the known
// spatial sizes of a window and leaves unknown ones unknown.
func TestInferUnknownSpatialDims(t *testing.T) {
	b := newBuilder()
	b.input("x", -1, 3, -1, 9)
	b.node("MaxPool", []string{"x"}, []string{"y"}, map[string]*xgraph.Attr{"kernel_shape": ints(3, 3), "strides": ints(2, 2), "dilations": ints(2, 1)})
	b.g.Outputs = []*xgraph.Value{b.v("y")}
	b.constant("w", xgraph.NewFloat(make([]float32, 3*2*3*3), 3, 2, 3, 3))
	b.node("ConvTranspose", []string{"x", "w"}, []string{"t"}, map[string]*xgraph.Attr{"strides": ints(2, 2)})
	b.node("ConvTranspose", []string{"x", "w"}, []string{"s"}, map[string]*xgraph.Attr{"strides": ints(2, 2), "output_shape": ints(10, 20)})
	b.g.Outputs = append(b.g.Outputs, b.v("t"), b.v("s"))
	xgraph.InferShapes(b.g)
	for _, c := range []struct {
		v    string
		want []int
	}{
		{"y", []int{-1, 3, -1, 4}},
		{"t", []int{-1, 2, -1, 19}},
		{"s", []int{-1, 2, 10, 20}}, // output_shape gives the sizes
	} {
		if v := b.v(c.v); !v.Ranked || !slices.Equal(v.Shape, c.want) {
			t.Errorf("%s has shape %v (ranked %v), want %v", c.v, v.Shape, v.Ranked, c.want)
		}
	}
}
