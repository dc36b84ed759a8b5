package segment

import (
	"context"
	"fmt"

	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/models"
	"argus/segmetric"
)

// Evaluate runs m's label set d over set as inf says and returns mmsegmentation's metrics of the
// arg-max predictions against the label maps (255 ignored). onImage, when
// not nil, is called after each image.
func Evaluate(m *models.PSPNet, d int, set *dataset.Set, inf Inference, onImage func()) (*segmetric.Metrics, error) {
	acc, err := segmetric.New(segmetric.DefaultOptions(m.Config.Classes[d]))
	if err != nil {
		return nil, err
	}
	err = Predict(m, d, set, inf, func(path string, pred, label []uint8, w, h int) error {
		if err := acc.Add(pred, label, w, h); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if onImage != nil {
			onImage()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return acc.Metrics(), nil
}

// Predict runs m's label set d over the images of set in order, one at a
// time as inf says, and calls fn with each image's path, predicted
// classes and label map (nil for items without one), w×h each.
func Predict(m *models.PSPNet, d int, set *dataset.Set, inf Inference,
	fn func(path string, pred, label []uint8, w, h int) error) error {
	plain := *set
	plain.Transform = nil
	l := loader.New([]loader.Dataset{&plain}, loader.Indices{N: plain.Len(), BatchSize: 1},
		// Two decoders keep the next image ready while the network runs.
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: 2})
	it, err := l.Epoch(context.Background(), 0)
	if err != nil {
		return err
	}
	defer it.Close()
	for {
		b, err := it.Next()
		if err == loader.ErrDone {
			return nil
		}
		if err != nil {
			return err
		}
		lg, err := Logits(m, d, b.Data.X, inf)
		if err != nil {
			return err
		}
		sh := b.Data.X.Shape()
		var label []uint8
		if b.Data.Masks != nil {
			label = make([]uint8, b.Data.Masks.Len())
			for i, v := range b.Data.Masks.Data() {
				label[i] = uint8(v)
			}
		}
		if err := fn(b.Data.Paths[0], Argmax(lg), label, sh[3], sh[2]); err != nil {
			return err
		}
	}
}
