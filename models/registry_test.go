package models

import (
	"strings"
	"testing"

	"argus/nn"
	"argus/tensor"
)

func TestRegistry(t *testing.T) {
	want := map[string]int{"mnist-cnn": 1199882, "resnet18": 11689512, "resnet50": 25557032, "deit-tiny": 5717416,
		// The classifier's backbone without fc (head), GeM's p, the neck's
		// weight and bias, 751 bias-free outputs; the ViT's position
		// embedding has 1+16·8 rows instead of 1+14·14.
		"reid-resnet50":  25557032 - (2048*1000 + 1000) + 1 + 2*2048 + 2048*751,
		"reid-resnet18":  11689512 - (512*1000 + 1000) + 1 + 2*512 + 512*751,
		"reid-deit-tiny": 5717416 - (192*1000 + 1000) - (196-128)*192 + 2*192 + 192*751}
	for name, params := range want {
		m, err := New(name, tensor.NewRNG(1))
		if err != nil {
			t.Fatal(err)
		}
		if n := nn.NumParams(m); n != params {
			t.Errorf("%s: %d parameters, want %d as torchvision", name, n, params)
		}
	}
	if got := strings.Join(Names(), " "); got != "atss-r18 atss-r50 deit-small deit-tiny mnist-cnn pspnet-r18 pspnet-r50 reid-deit-tiny reid-resnet18 reid-resnet50 resnet101 resnet152 resnet18 resnet34 resnet50 vit-base" {
		t.Errorf("names %s", got)
	}
	if _, err := New("resnet19", tensor.NewRNG(1)); err == nil || !strings.Contains(err.Error(), `unknown model "resnet19" (have atss-r18, atss-r50, deit-small, deit-tiny, mnist-cnn, `) {
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
	for _, name := range []string{"reid-resnet50", "reid-resnet18", "reid-deit-tiny"} {
		s, _ := Lookup(name)
		if s.Height != 256 || s.Width != 128 || s.CheckSize(256, 128) != nil {
			t.Errorf("%s: default size %d×%d, want 256×128", name, s.Height, s.Width)
		}
	}
}

func TestWithClasses(t *testing.T) {
	tests := []struct {
		name    string
		meta    map[string]string
		classes int    // the fc's outputs built, when no error
		err     string // part of the error, when one is wanted
	}{
		{"default", map[string]string{"model": "resnet18"}, 1000, ""},
		{"twenty", map[string]string{"model": "resnet18", "classes": "20"}, 20, ""},
		{"mnist ten", map[string]string{"model": "mnist-cnn", "classes": "10"}, 10, ""},
		{"mnist fixed", map[string]string{"model": "mnist-cnn", "classes": "20"}, 0, "mnist-cnn has 10 classes only, not 20"},
		{"zero", map[string]string{"model": "resnet34", "classes": "0"}, 0, "0 classes, want at least 1"},
		{"not a number", map[string]string{"model": "resnet18", "classes": "x"}, 0, `classes "x" in the metadata is not a number`},
		{"no model", map[string]string{"classes": "3"}, 0, "names no model"},
		{"unknown", map[string]string{"model": "resnet7"}, 0, `unknown model "resnet7"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := FromMetadata(tc.meta)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			m, err := s.New(tensor.NewRNG(1))
			if err != nil {
				t.Fatal(err)
			}
			if r, ok := m.(*ResNet); ok && r.FC.Weight.Shape()[0] != tc.classes {
				t.Errorf("fc has %d outputs, want %d", r.FC.Weight.Shape()[0], tc.classes)
			}
			if s.Classes != tc.classes {
				t.Errorf("spec has %d classes, want %d", s.Classes, tc.classes)
			}
		})
	}
}
