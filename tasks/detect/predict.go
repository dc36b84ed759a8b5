package detect

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"

	"argus/checkpoint"
	"argus/data/grid"
	"argus/data/imageio"
	"argus/data/transform"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// Model is a trained detector read back from its checkpoint: the network
// (its moving average of the weights when the run kept one), the settings
// it was trained with, and its classes.
type Model struct {
	Detector    Detector
	Config      Config
	CategoryIDs []int64
	Names       []string
}

// Load reads a detection checkpoint.
func Load(path string) (*Model, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if err := train.StoredConfig(f, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ids, names, err := Classes(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	cfg.Fill()
	det, err := Build(tensor.NewRNG(cfg.Seed), cfg, len(ids))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	ema := cfg.EMA > 0
	if _, err := train.LoadWeights(path, cfg.Model, det, ema); err != nil {
		return nil, err
	}
	return &Model{Detector: det, Config: cfg, CategoryIDs: ids, Names: names}, nil
}

// PredictImage detects objects in one image as evaluation does (the
// shorter side resized to the training size) and returns the detections
// of score at least minScore, boxes in the image's own pixels.
func (m *Model) PredictImage(img *imageio.Image, minScore float32) ([]Detection, error) {
	s := &transform.Sample{Image: img}
	if err := m.Config.Transforms(false).Apply(s, transform.NewState(0)); err != nil {
		return nil, err
	}
	b, err := Collate()(0, []*transform.Sample{s})
	if err != nil {
		return nil, err
	}
	var dets [][]Detection
	nn.Train(m.Detector, false)
	defer nn.Train(m.Detector, true)
	nn.NoGrad(m.Detector, func() { dets, err = m.Detector.Predict(b) })
	if err != nil {
		return nil, err
	}
	sx := float32(img.W) / float32(b.Sizes[0][1])
	sy := float32(img.H) / float32(b.Sizes[0][0])
	var out []Detection
	for _, d := range dets[0] {
		if d.Score < minScore {
			continue
		}
		d.Box = scaleBox(d.Box, sx, sy, float32(img.W), float32(img.H))
		out = append(out, d)
	}
	return out, nil
}

// Draw returns img with each detection's box outlined in its class's
// colour and its class name and score written above it.
func Draw(img *imageio.Image, dets []Detection, names []string) *image.NRGBA {
	s := &transform.Sample{Image: img}
	for _, d := range dets {
		s.Boxes = append(s.Boxes, d.Box)
		s.BoxLabels = append(s.BoxLabels, d.Label)
	}
	out := imageio.ToNRGBA(grid.Render(s))
	face := basicfont.Face7x13
	for _, d := range dets {
		name := fmt.Sprint(d.Label)
		if d.Label < len(names) {
			name = names[d.Label]
		}
		text := fmt.Sprintf("%s %.2f", name, d.Score)
		c := grid.Color(d.Label)
		col := color.NRGBA{imageio.To8(c[0]), imageio.To8(c[1]), imageio.To8(c[2]), 255}
		x, y := int(d.Box[0]), int(d.Box[1])-2
		if y < 11 {
			y = int(d.Box[1]) + 12
		}
		w := font.MeasureString(face, text).Ceil()
		draw.Draw(out, image.Rect(x, y-11, x+w+2, y+2), image.NewUniform(col), image.Point{}, draw.Src)
		dr := font.Drawer{Dst: out, Src: image.NewUniform(color.White), Face: face, Dot: fixed.P(x+1, y)}
		dr.DrawString(text)
	}
	return out
}

// scaleBox maps a box by the factors sx, sy and clips it to a w×h image.
func scaleBox(b [4]float32, sx, sy, w, h float32) [4]float32 {
	return [4]float32{min(max(b[0]*sx, 0), w), min(max(b[1]*sy, 0), h), min(max(b[2]*sx, 0), w), min(max(b[3]*sy, 0), h)}
}
