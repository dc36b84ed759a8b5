package atss

import (
	"math"
	"slices"
	"strings"
	"testing"

	"argus/nn"
	"argus/tensor"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"classes", func(c *Config) { c.Classes = 0 }, "0 classes"},
		{"groups", func(c *Config) { c.Groups = 48 }, "do not split into 48 groups"},
		{"levels", func(c *Config) { c.Strides = nil }, "no pyramid levels"},
		{"prior", func(c *Config) { c.Prior = 1 }, "prior 1"},
		{"stride", func(c *Config) { c.Strides = []int{8, 0} }, "stride 0"},
	}
	for _, tc := range tests {
		c := DefaultConfig(80)
		tc.edit(&c)
		err := c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig(3)
	c.Strides = []int{8, 16}
	if _, err := NewDetector(tensor.NewRNG(1), newStepBackbone(16), c); err == nil || !strings.Contains(err.Error(), "backbone of strides") {
		t.Errorf("strides mismatch: %v", err)
	}
}

// TestHeadInit checks the official initialisation and the state dict's
// names.
func TestHeadInit(t *testing.T) {
	h, err := NewHead(tensor.NewRNG(1), DefaultConfig(80))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range nn.StateDict(h) {
		names = append(names, s.Name)
	}
	for _, want := range []string{"cls_tower.0.weight", "cls_tower.1.weight", "cls_tower.9.bias", "cls_tower.10.bias",
		"bbox_tower.0.weight", "cls_logits.bias", "bbox_pred.weight", "centerness.weight", "scales.4.scale"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if len(names) != 2*4*4+6+5 {
		t.Errorf("%d states", len(names))
	}
	prior := float32(-math.Log(99))
	for _, v := range h.ClsLogits.Bias.Value().Data() {
		if math.Abs(float64(v-prior)) > 1e-6 {
			t.Fatalf("classifier bias %v, want %v", v, prior)
		}
	}
	w := h.ClsTower.Layers[0].(*nn.Conv2d).Weight.Value().Data()
	var s, ss float64
	for _, v := range w {
		s += float64(v)
		ss += float64(v) * float64(v)
	}
	n := float64(len(w))
	if std := math.Sqrt(ss/n - (s/n)*(s/n)); math.Abs(std-0.01) > 0.0005 || math.Abs(s/n) > 0.0005 {
		t.Errorf("tower weights of mean %.5f and std %.5f, want N(0, 0.01)", s/n, std)
	}
	if v := h.Scales[2].Scale.Value().Data()[0]; v != 1 {
		t.Errorf("scale %v", v)
	}
}

// TestAnchors checks the anchors' centres, sides and order.
func TestAnchors(t *testing.T) {
	a := Anchors([]Level{{H: 2, W: 3, Stride: 8}, {H: 1, W: 1, Stride: 16}}, 8)
	if len(a) != 4*7 {
		t.Fatalf("%d coordinates", len(a))
	}
	// Row 1, column 2 of the first level: centre (20, 12), side 64.
	if got := a[4*5 : 4*5+4]; !slices.Equal(got, []float64{-12, -20, 52, 44}) {
		t.Errorf("anchor 5 %v", got)
	}
	if got := a[4*6:]; !slices.Equal(got, []float64{-56, -56, 72, 72}) {
		t.Errorf("anchor 6 %v", got)
	}
}
