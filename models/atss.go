package models

import (
	"fmt"

	"argus/detect/atss"
	"argus/nn"
	"argus/tensor"
)

// NewATSS returns the ATSS detector of the given ResNet depth and number
// of classes: the P3–P7 pyramid of NewResNetFPNP3P7 with 256 channels and
// ATSS's head (atss.DefaultConfig). Its state dict's names are
// backbone.body.*, backbone.fpn.* and head.*.
func NewATSS(rng *tensor.RNG, depth, classes int) (*atss.Detector, error) {
	b, err := NewResNetFPNP3P7(rng, depth, 256)
	if err != nil {
		return nil, err
	}
	return atss.NewDetector(rng, b, atss.DefaultConfig(classes))
}

// ATSS detectors take images of any size from one position of P7 on
// (stride 128); their outputs are the predictions of every anchor
// (atss.Detector.Forward), 80 classes by default (COCO's).
func init() {
	for _, depth := range []int{18, 50} {
		registry[fmt.Sprintf("atss-r%d", depth)] = Spec{Name: fmt.Sprintf("atss-r%d", depth), Task: TaskDetect,
			Channels: 3, Height: 512, Width: 512, MinSize: 128, Classes: 80, AnyClasses: true,
			build: func(rng *tensor.RNG, classes int) (nn.Layer, error) { return NewATSS(rng, depth, classes) }}
	}
}
