package checkpoint

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"argus/autograd"
	"argus/nn"
	"argus/optim"
	"argus/tensor"
)

func smallNet(rng *tensor.RNG, out int) nn.Module {
	return nn.NewSequential(
		nn.NewConv2d(rng, 1, 2, 3, autograd.Conv2dOptions{}, false),
		nn.NewBatchNorm2d(2),
		nn.Flatten{},
		nn.NewLinear(rng, 8, out, true),
	)
}

func TestSaveLoadModelAndOptimizer(t *testing.T) {
	rng := tensor.NewRNG(1)
	m := smallNet(rng, 3)
	m.(*nn.Sequential).Layers[1].(*nn.BatchNorm2d).NumBatchesTracked.Data()[0] = 42
	o := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.1, 0, nn.Parameters(m)...))
	for _, p := range nn.Parameters(m) {
		p.Var.SetGrad(tensor.Ones(p.Var.Shape()...))
	}
	o.Step()
	path := filepath.Join(t.TempDir(), "m.safetensors")
	err := Save(path, m, Contents{Optimizer: o, Extra: map[string][]byte{"rng": {1, 2, 3}}, Metadata: map[string]string{MetaModel: "small", MetaEpoch: "2"}})
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Tensors["1.num_batches_tracked"]; e.DType != I64 || len(e.Shape) != 0 {
		t.Errorf("num_batches_tracked stored as %s %v, want I64 scalar", e.DType, e.Shape)
	}
	if f.Metadata[MetaModel] != "small" || f.Metadata[MetaEpoch] != "2" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if b, ok := f.Extra("rng"); !ok || string(b) != "\x01\x02\x03" {
		t.Errorf("extra %v %v", b, ok)
	}
	m2 := smallNet(tensor.NewRNG(2), 3)
	if err := LoadModel(f, m2); err != nil {
		t.Fatal(err)
	}
	a, b := nn.StateDict(m), nn.StateDict(m2)
	for i := range a {
		for j, v := range a[i].Value.Data() {
			if b[i].Value.Data()[j] != v {
				t.Fatalf("%s differs after load", a[i].Name)
			}
		}
	}
	o2 := optim.NewSGD(0.9, 0, false, optim.NewGroup(0.1, 0, nn.Parameters(m2)...))
	if err := LoadOptimizer(f, o2); err != nil {
		t.Fatal(err)
	}
	if len(o2.State()) != len(o.State()) {
		t.Errorf("optimiser state has %d entries, want %d", len(o2.State()), len(o.State()))
	}
}

func TestLoadModelReportsEveryMismatch(t *testing.T) {
	rng := tensor.NewRNG(1)
	f, err := EncodeModel(smallNet(rng, 3), Contents{})
	if err != nil {
		t.Fatal(err)
	}
	f.Add("extra.weight", Float32Entry(tensor.Zeros(1)))
	delete(f.Tensors, "1.running_var")
	for i, n := range f.Names {
		if n == "1.running_var" {
			f.Names = append(f.Names[:i], f.Names[i+1:]...)
			break
		}
	}
	m := smallNet(rng, 5)
	before := m.(*nn.Sequential).Layers[0].(*nn.Conv2d).Weight.Value().Clone()
	err = LoadModel(f, m)
	var mis *MismatchError
	if !errors.As(err, &mis) {
		t.Fatalf("error %v", err)
	}
	if len(mis.Shapes) != 2 || len(mis.Missing) != 1 || len(mis.Unexpected) != 1 {
		t.Errorf("mismatch %+v", mis)
	}
	for _, want := range []string{"3.weight (file [3 8], model [5 8])", "3.bias", "missing: 1.running_var", "unexpected: extra.weight"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not mention %q", err, want)
		}
	}
	after := m.(*nn.Sequential).Layers[0].(*nn.Conv2d).Weight.Value()
	for i, v := range before.Data() {
		if after.Data()[i] != v {
			t.Fatal("a failed load changed the model")
		}
	}
}
