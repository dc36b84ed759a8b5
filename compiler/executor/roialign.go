package executor

import (
	"argus/autograd"
	"argus/compiler/xgraph"
	"argus/tensor"
)

func init() {
	register("RoiAlign", roiAlign)
}

// roiAlign runs ONNX's RoiAlign in average mode on the engine's
// autograd.RoIAlign: coordinate_transformation_mode "half_pixel" (operator
// set 16's default) is torchvision's aligned=True, "output_half_pixel"
// (and every RoiAlign before set 16) aligned=False.
func roiAlign(c *call) ([]*xgraph.Tensor, error) {
	x, err := c.float(0)
	if err != nil {
		return nil, err
	}
	rois, err := c.float(1)
	if err != nil {
		return nil, err
	}
	idx, err := c.need(2)
	if err != nil {
		return nil, err
	}
	if mode := c.n.String("mode"); mode != "avg" {
		return nil, c.unsupported("mode", "value %q (only avg)", mode)
	}
	aligned := c.n.String("coordinate_transformation_mode") == "half_pixel"
	if c.opset < 16 {
		aligned = false
	}
	if len(x.Shape) != 4 || len(rois.Shape) != 2 || rois.Shape[1] != 4 || idx.Len() != rois.Shape[0] {
		return nil, c.errorf("RoiAlign of %v with rois %v and %d batch indices", x.Shape, rois.Shape, idx.Len())
	}
	batch := make([]int, idx.Len())
	for i, b := range idx.Ints() {
		if b < 0 || int(b) >= x.Shape[0] {
			return nil, c.errorf("batch index %d of %d images", b, x.Shape[0])
		}
		batch[i] = int(b)
	}
	oh, ow := int(c.n.Int("output_height")), int(c.n.Int("output_width"))
	scale := c.n.Float("spatial_scale")
	if oh <= 0 || ow <= 0 || !(scale > 0) {
		return nil, c.errorf("RoiAlign to %d×%d at spatial scale %v", oh, ow, scale)
	}
	y := autograd.RoIAlign(autograd.Const(tensor.Wrap(x.F, x.Shape...)), tensor.Wrap(rois.F, rois.Shape...), batch,
		autograd.RoIAlignOptions{OutputSize: [2]int{oh, ow}, SpatialScale: scale, SamplingRatio: int(c.n.Int("sampling_ratio")), Aligned: aligned})
	return one(xgraph.FromDense(y.Value())), nil
}
