package quant_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"argus/compiler/quant"
	"argus/compiler/xgraph"
)

// smallModel quantises a graph with every kind of layer that has
// parameters or shifts.
func smallModel(t testing.TB) (*quant.Model, samples) {
	b := newGraph(3, 6, 6)
	pad1 := []int64{1, 1, 1, 1}
	b.conv("x", "a", 3, 4, 3, 1, pad1, 1)
	b.conv("a", "d", 4, 4, 3, 1, pad1, 4)
	b.node("Add", []string{"a", "d"}, "s", nil)
	b.node("Relu", []string{"s"}, "r", nil)
	b.node("MaxPool", []string{"r"}, "p", map[string]*xgraph.Attr{"kernel_shape": ints(2, 2), "strides": ints(2, 2)})
	b.node("GlobalAveragePool", []string{"p"}, "g", nil)
	b.node("Flatten", []string{"g"}, "f", map[string]*xgraph.Attr{"axis": one(1)})
	w := b.constant("fc.w", xgraph.NewFloat(b.grid(3*4, 4, 4), 3, 4))
	g := b.outputs(b.node("Gemm", []string{"f", w}, "y", map[string]*xgraph.Attr{"transB": one(1)}))
	src := b.inputs(4, 3, 6, 6)
	m, _, err := quant.Quantize(g, src, quant.Options{BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return m, src
}

func TestFileRoundTrip(t *testing.T) {
	m, src := smallModel(t)
	path := filepath.Join(t.TempDir(), "m.quant")
	if err := quant.Write(path, m); err != nil {
		t.Fatal(err)
	}
	got, err := quant.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("read back\n%+v\nwrote\n%+v", got, m)
	}
	x, err := quant.Batch(src, 0, len(src), [3]int{3, 6, 6})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := m.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := got.Run(x)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Error("the model read back computes other outputs")
	}
}

func TestFileErrors(t *testing.T) {
	m, _ := smallModel(t)
	good, err := quant.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m *quant.Model)) []byte {
		c, err := quant.Unmarshal(good)
		if err != nil {
			t.Fatal(err)
		}
		f(c)
		b, err := quant.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "header length"},
		{"not safetensors", []byte("hello, world"), "header length"},
		{"version", bytes.Replace(good, []byte(`"version":"1"`), []byte(`"version":"2"`), 1), "version"},
		{"format", bytes.Replace(good, []byte(`"format":"argus.quant"`), []byte(`"format":"argus.other"`), 1), "format"},
		{"shift", edit(func(m *quant.Model) { m.Layers[0].ShiftCut++ }), "shifts"},
		{"weights", edit(func(m *quant.Model) { m.Layers[0].Weights = m.Layers[0].Weights[1:] }), "weights"},
		{"order", edit(func(m *quant.Model) { m.Layers[0], m.Layers[1] = m.Layers[1], m.Layers[0] }), "not computed before"},
		{"shape", edit(func(m *quant.Model) { m.Tensors[1].Shape[1]++ }), "shape"},
		{"op", edit(func(m *quant.Model) { m.Layers[3].Op = "softmax" }), "unknown operation"},
		{"output", edit(func(m *quant.Model) { m.Outputs = []string{"nowhere"} }), "not computed"},
		{"position", edit(func(m *quant.Model) { m.Tensors[0].Pos = 1000 }), "position"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := quant.Unmarshal(tt.data)
			if err == nil || !errors.Is(err, quant.ErrFormat) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want an ErrFormat naming %q", err, tt.want)
			}
		})
	}
	if _, err := quant.Read(filepath.Join(t.TempDir(), "none.quant")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

// FuzzUnmarshal feeds the reader model files and corruptions of them: it
// must return a model that passes Check, and runs, or an error, and never
// panic.
func FuzzUnmarshal(f *testing.F) {
	m, _ := smallModel(f)
	good, err := quant.Marshal(m)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := quant.Unmarshal(data)
		if err != nil {
			if !errors.Is(err, quant.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if err := quant.Check(m); err != nil {
			t.Fatal(err)
		}
		b, err := quant.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := quant.Unmarshal(b)
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("round trip: %v", err)
		}
		// Run it where it is small enough to be quick.
		size := 0
		for _, tt := range m.Tensors {
			size += tt.Shape[0] * tt.Shape[1] * tt.Shape[2]
		}
		if size < 1<<14 {
			in := m.Tensor(m.Input)
			x := xgraph.Zero(xgraph.Float32, 1, in.Shape[0], in.Shape[1], in.Shape[2])
			if _, err := m.Run(x); err != nil {
				t.Fatalf("a checked model fails to run: %v", err)
			}
		}
	})
}
