package xgraph

import (
	"strings"
	"testing"
)

// TestInferOverflow: shape inference never records a size that overflowed
// an int, nor a negative one; it leaves such a dimension unknown.
func TestInferOverflow(t *testing.T) {
	if p := product([]int{1 << 32, 1 << 32}); p != -1 {
		t.Errorf("product of [2^32 2^32] = %d, want -1 (unknown)", p)
	}
	if p := product([]int{1 << 20, 0, 1 << 50}); p != 0 {
		t.Errorf("product with a zero dimension = %d", p)
	}
	x := &Value{Name: "x", DType: Float32, Shape: []int{1 << 40, 1 << 40}, Ranked: true}
	y := &Value{Name: "y"}
	flat := &Node{Op: "Flatten", Attrs: map[string]*Attr{"axis": {Kind: AttrInt, I: 0}}, Inputs: []*Value{x}, Outputs: []*Value{y}}
	flattenRule(13, flat)
	if y.Shape[1] != -1 {
		t.Errorf("Flatten of %v inferred %v", x.Shape, y.Shape)
	}
	s := &Value{Name: "s", DType: Int64, Shape: []int{2}, Ranked: true, Const: NewInt(Int64, []int64{-4, 2}, 2)}
	z := &Value{Name: "z"}
	constantOfShapeRule(13, &Node{Op: "ConstantOfShape", Attrs: map[string]*Attr{}, Inputs: []*Value{s}, Outputs: []*Value{z}})
	if z.Ranked {
		t.Errorf("ConstantOfShape of [-4 2] inferred shape %v", z.Shape)
	}
}

// TestWindowAttrBounds: window attributes beyond any real network's are
// refused by name before sizes are computed from them.
func TestWindowAttrBounds(t *testing.T) {
	ints := func(v ...int64) *Attr { return &Attr{Kind: AttrInts, Ints: v} }
	for _, c := range []struct {
		attrs map[string]*Attr
		want  string
	}{
		{map[string]*Attr{"kernel_shape": ints(2, 2), "pads": ints(0, 0, 1<<40, 0)}, "pads"},
		{map[string]*Attr{"kernel_shape": ints(1<<30, 2)}, "kernel_shape"},
		{map[string]*Attr{"kernel_shape": ints(2, 2), "strides": ints(1<<62, 1)}, "strides"},
		{map[string]*Attr{"kernel_shape": ints(2, 2), "dilations": ints(1, -1<<40)}, "dilations"},
	} {
		n := &Node{Name: "p", Op: "MaxPool", Attrs: c.attrs}
		_, err := Window(n, []int{8, 8}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "out of range") {
			t.Errorf("%v: error %v, want one naming %s out of range", c.attrs, err, c.want)
		}
	}
}
