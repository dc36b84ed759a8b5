package dpu_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/partition"
	"argus/dpu/target"
)

// smallProgram compiles the MNIST CNN for zu2 with two layers on the CPU.
func smallProgram(tb testing.TB) *dpu.Program {
	tb.Helper()
	m := quantized(tb, "../quant/testdata/mnist_cnn.onnx")
	tg, err := target.Lookup("zu2")
	if err != nil {
		tb.Fatal(err)
	}
	plan := partition.Split(m, tg)
	plan.Placements[2].Device, plan.Placements[2].Reason = partition.CPU, "test"
	plan.Group()
	p, err := dpu.Compile(m, tg, plan, dpu.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

func TestFileRoundTrip(t *testing.T) {
	p := smallProgram(t)
	path := filepath.Join(t.TempDir(), "m.dpu")
	if err := dpu.Write(path, p); err != nil {
		t.Fatal(err)
	}
	q, err := dpu.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Buffers, p.Buffers) || !bytes.Equal(q.Const, p.Const) || q.DDRSize != p.DDRSize ||
		!reflect.DeepEqual(q.Plan, p.Plan) || len(q.Subgraphs) != len(p.Subgraphs) {
		t.Fatal("program differs after the round trip")
	}
	for i := range p.Subgraphs {
		a, b := p.Subgraphs[i], q.Subgraphs[i]
		if len(a.Code) != len(b.Code) || !slices.Equal(a.LayerOf, b.LayerOf) {
			t.Fatalf("subgraph %d differs", i)
		}
		for k := range a.Code {
			x, y := a.Code[k], b.Code[k]
			x.Line, y.Line = 0, 0
			if x != y {
				t.Fatalf("subgraph %d instruction %d: %+v, read back %+v", i, k, x, y)
			}
		}
	}
	in := p.Model.QuantizeInput(mustSample(t, p), 0)
	a, _, err := p.RunImage(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := q.RunImage(in)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a[0].Data, b[0].Data) {
		t.Error("the program read back computes another output")
	}
	zu9, _ := target.Lookup("zu9")
	if err := q.CheckTarget(zu9); err == nil || !strings.Contains(err.Error(), "compiled for target zu2") {
		t.Errorf("CheckTarget(zu9) = %v, want an error naming zu2", err)
	}
	zu2, _ := target.Lookup("zu2")
	if err := q.CheckTarget(zu2); err != nil {
		t.Error(err)
	}
}

func TestFileRejects(t *testing.T) {
	good, err := dpu.Marshal(smallProgram(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		edit func(s string) string
	}{
		{"version", func(s string) string { return strings.Replace(s, `"version":"1"`, `"version":"9"`, 1) }},
		{"format", func(s string) string { return strings.Replace(s, `"argus.dpu"`, `"argus.xyz"`, 1) }},
		{"fingerprint", func(s string) string { return strings.Replace(s, `\"clock_mhz\":`, `\"clock_mhz\":1`, 1) }},
		{"ddr size", func(s string) string { return strings.Replace(s, `\"ddr_size\":`, `\"ddr_size\":-`, 1) }},
		{"device", func(s string) string { return strings.Replace(s, `\"device\":\"cpu\"`, `\"device\":\"gpu\"`, 1) }},
		{"truncated", func(s string) string { return s[:len(s)/2] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := []byte(tt.edit(string(good)))
			if bytes.Equal(b, good) {
				t.Fatal("the edit changed nothing")
			}
			if _, err := dpu.Unmarshal(b); !errors.Is(err, dpu.ErrFormat) {
				t.Errorf("Unmarshal = %v, want ErrFormat", err)
			}
		})
	}
}

// FuzzUnmarshal feeds the reader .dpu files and corruptions of them: it
// returns a program that marshals again, or an error wrapping ErrFormat,
// and never panics.
func FuzzUnmarshal(f *testing.F) {
	good, err := dpu.Marshal(smallProgram(f))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := dpu.Unmarshal(data)
		if err != nil {
			if !errors.Is(err, dpu.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if _, err := dpu.Marshal(p); err != nil {
			t.Fatal(err)
		}
	})
}
