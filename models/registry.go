package models

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"argus/checkpoint"
	"argus/nn"
	"argus/tensor"
)

// Spec describes a model of the registry: how to build it and the images
// it takes.
type Spec struct {
	// Name is the model's name in checkpoints' metadata and on the
	// command line.
	Name string
	// Channels, Height and Width are the default input size.
	Channels, Height, Width int
	// FixedSize marks a model that takes images of its default size only
	// (a fully connected layer reads the flattened feature map).
	FixedSize bool
	// MinSize is the smallest height and width the model takes.
	MinSize int
	// Task is what the model does: TaskClassify (Forward gives class
	// logits) or TaskDetect (a detector; Forward gives its raw
	// predictions).
	Task string
	// Classes is the number of outputs (of classes, for a detector).
	Classes int
	// AnyClasses marks a model built for any number of classes (see
	// WithClasses); the others have Classes outputs only.
	AnyClasses bool
	build      func(rng *tensor.RNG, classes int) (nn.Layer, error)
}

// The tasks of Spec.Task.
const (
	// TaskClassify is the zero value: an image classifier.
	TaskClassify = ""
	// TaskDetect marks an object detector.
	TaskDetect = "detect"
)

// New builds the model with weights initialised from rng.
func (s Spec) New(rng *tensor.RNG) (nn.Layer, error) { return s.build(rng, s.Classes) }

// WithClasses returns the spec of the model with n outputs, for training a
// classifier on a dataset of n classes. It fails for a model whose number
// of classes is fixed, unless n is that number.
func (s Spec) WithClasses(n int) (Spec, error) {
	switch {
	case n < 1:
		return Spec{}, fmt.Errorf("model %s: %d classes, want at least 1", s.Name, n)
	case n != s.Classes && !s.AnyClasses:
		return Spec{}, fmt.Errorf("model %s has %d classes only, not %d", s.Name, s.Classes, n)
	}
	s.Classes = n
	return s, nil
}

// FromMetadata returns the spec of the model a checkpoint's metadata names:
// the model under checkpoint.MetaModel and, when checkpoint.MetaClasses is
// present, its number of classes.
func FromMetadata(meta map[string]string) (Spec, error) {
	name, ok := meta[checkpoint.MetaModel]
	if !ok || name == "" {
		return Spec{}, fmt.Errorf("the metadata names no model")
	}
	s, err := Lookup(name)
	if err != nil {
		return Spec{}, err
	}
	c, ok := meta[checkpoint.MetaClasses]
	if !ok {
		return s, nil
	}
	n, err := strconv.Atoi(c)
	if err != nil {
		return Spec{}, fmt.Errorf("model %s: classes %q in the metadata is not a number", name, c)
	}
	return s.WithClasses(n)
}

// CheckSize returns an error unless the model takes h×w images.
func (s Spec) CheckSize(h, w int) error {
	if s.FixedSize && (h != s.Height || w != s.Width) {
		return fmt.Errorf("model %s takes %d×%d images only, not %d×%d", s.Name, s.Height, s.Width, h, w)
	}
	if h < s.MinSize || w < s.MinSize {
		return fmt.Errorf("model %s needs images of at least %d×%d, not %d×%d", s.Name, s.MinSize, s.MinSize, h, w)
	}
	return nil
}

// registry holds the models by name. It is built once and only read.
var registry = map[string]Spec{}

func init() {
	add := func(s Spec) { registry[s.Name] = s }
	add(Spec{Name: "mnist-cnn", Channels: 1, Height: 28, Width: 28, FixedSize: true, MinSize: 28, Classes: 10,
		build: func(rng *tensor.RNG, _ int) (nn.Layer, error) { return NewMNISTNet(rng), nil }})
	for depth := range resNetDepths {
		add(Spec{Name: fmt.Sprintf("resnet%d", depth), Channels: 3, Height: 224, Width: 224,
			// Five stride-2 stages leave one position from 32 pixels on.
			MinSize: 32, Classes: 1000, AnyClasses: true,
			build: func(rng *tensor.RNG, classes int) (nn.Layer, error) { return NewResNet(rng, depth, classes) }})
	}
	for name, c := range vitPresets {
		// The position embedding fixes the patch grid, and so the size;
		// LoadWeights resamples it for other grids.
		add(Spec{Name: name, Channels: 3, Height: c.GridH * c.Patch, Width: c.GridW * c.Patch, FixedSize: true,
			MinSize: c.GridH * c.Patch, Classes: c.Classes, AnyClasses: true,
			build: func(rng *tensor.RNG, classes int) (nn.Layer, error) {
				c.Classes = classes
				return NewViT(rng, c)
			}})
	}
	// Re-ID networks take 256×128 pedestrian crops and have one output per
	// training identity, 751 by default (Market-1501's).
	for _, depth := range []int{18, 50} {
		add(Spec{Name: fmt.Sprintf("reid-resnet%d", depth), Channels: 3, Height: 256, Width: 128,
			// Four stride-2 steps with the last stride at 1.
			MinSize: 16, Classes: 751, AnyClasses: true,
			build: func(rng *tensor.RNG, classes int) (nn.Layer, error) { return NewReIDResNet(rng, depth, classes) }})
	}
	c := vitPresets["deit-tiny"]
	c.GridH, c.GridW = 16, 8
	add(Spec{Name: "reid-deit-tiny", Channels: 3, Height: c.GridH * c.Patch, Width: c.GridW * c.Patch, FixedSize: true,
		MinSize: c.GridW * c.Patch, Classes: 751, AnyClasses: true,
		build: func(rng *tensor.RNG, classes int) (nn.Layer, error) { return NewReIDViT(rng, c, classes) }})
}

func init() {
	// PSPNet-D8 segmentation networks of one label set, 19 classes by
	// default (Cityscapes'), at mmsegmentation's 512×1024 crop. The
	// output stride is 8; at 48 pixels the pyramid's bins 1, 2, 3 and 6
	// divide the 6×6 feature map, which its export as ONNX pooling needs
	// (training takes smaller crops).
	for name, cfg := range map[string]func([]int, int) PSPNetConfig{"pspnet-r18": PSPNetR18, "pspnet-r50": PSPNetR50} {
		registry[name] = Spec{Name: name, Channels: 3, Height: 512, Width: 1024, MinSize: 48, Classes: 19, AnyClasses: true,
			build: func(rng *tensor.RNG, classes int) (nn.Layer, error) { return NewPSPNet(rng, cfg([]int{classes}, 1)) }}
	}
}

// Names returns the registered model names, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Lookup returns the named model's Spec.
func Lookup(name string) (Spec, error) {
	s, ok := registry[name]
	if !ok {
		return Spec{}, fmt.Errorf("unknown model %q (have %s)", name, strings.Join(Names(), ", "))
	}
	return s, nil
}

// New builds the named model with weights initialised from rng.
func New(name string, rng *tensor.RNG) (nn.Layer, error) {
	s, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return s.New(rng)
}
