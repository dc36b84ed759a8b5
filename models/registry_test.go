package models

import (
	"strings"
	"testing"

	"argus/nn"
	"argus/tensor"
)

func TestRegistry(t *testing.T) {
	want := map[string]int{"mnist-cnn": 1199882, "resnet18": 11689512, "resnet50": 25557032, "deit-tiny": 5717416}
	for name, params := range want {
		m, err := New(name, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if n := nn.NumParams(m); n != params {
			t.Errorf("%s: %d parameters, want %d as torchvision", name, n, params)
		}
	}
	if got := strings.Join(Names(), " "); got != "deit-small deit-tiny mnist-cnn resnet101 resnet152 resnet18 resnet34 resnet50 vit-base" {
		t.Errorf("names %s", got)
	}
	if _, err := New("resnet19", tensor.NewRNG(1)); err == nil || !strings.Contains(err.Error(), `unknown model "resnet19" (have deit-small, deit-tiny, mnist-cnn, `) {
		t.Errorf("error %v", err)
	}
	s, _ := Lookup("mnist-cnn")
	if err := s.CheckSize(32, 32); err == nil {
		t.Error("the MNIST CNN accepts 32×32 images")
	}
	r, _ := Lookup("resnet18")
	if r.CheckSize(64, 48) != nil || r.CheckSize(16, 64) == nil {
		t.Error("ResNet-18 size limits wrong")
	}
	d, _ := Lookup("deit-tiny")
	if d.Height != 224 || d.Width != 224 || d.CheckSize(224, 224) != nil || d.CheckSize(256, 128) == nil {
		t.Error("DeiT-tiny takes 224×224 images only, its position embedding's grid")
	}
}
