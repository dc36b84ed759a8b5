package transform

import "fmt"

// Mix derives a seed from seed and a list of integers (epoch, index, ...)
// with SplitMix64 steps, so that each sample of each epoch has its own
// independent stream whatever goroutine computes it.
func Mix(seed uint64, parts ...int) uint64 {
	z := seed
	for _, p := range parts {
		z += 0x9e3779b97f4a7c15 ^ uint64(p)*0xbf58476d1ce4e5b9
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		z ^= z >> 31
	}
	return z
}

// MultiScale is multi-scale training: every batch gets one size drawn from
// Sizes, the same for the same seed, epoch and batch. A loader passes it
// to its samples in State.Size, where ResizeShorter (Size 0),
// RandomResizedCrop (W and H 0) and BatchResize read it.
type MultiScale struct {
	Sizes []int
	Seed  uint64
}

// Size returns the size of the given batch of the given epoch.
func (m MultiScale) Size(epoch, batch int) int {
	if len(m.Sizes) == 0 {
		return 0
	}
	return m.Sizes[Mix(m.Seed, epoch, batch)%uint64(len(m.Sizes))]
}

// BatchResize resizes to the batch's square multi-scale size.
type BatchResize struct{}

// Apply implements Transform.
func (BatchResize) Apply(s *Sample, st *State) error {
	if st == nil || st.Size <= 0 {
		return fmt.Errorf("batch resize: no batch size (use a multi-scale loader)")
	}
	return Resize{W: st.Size, H: st.Size}.Apply(s, st)
}

// View is one test-time view of a sample: resized so that its shorter side
// is a test scale, possibly mirrored.
type View struct {
	Sample *Sample
	// ScaleX and ScaleY map original coordinates to the view's
	// (before the flip).
	ScaleX, ScaleY float64
	Flipped        bool
}

// TestViews returns multi-scale test views of s: one per size in sizes
// (the shorter side, longer side at most maxSize if maxSize > 0), and with
// flip also each view mirrored. s is not changed.
func TestViews(s *Sample, sizes []int, maxSize int, flip bool) ([]View, error) {
	var out []View
	for _, size := range sizes {
		if size <= 0 {
			return nil, fmt.Errorf("test views: size %d", size)
		}
		c := s.Clone()
		w, h := ShorterSize(c.Image.W, c.Image.H, size, maxSize)
		if err := (Resize{W: w, H: h}).Apply(c, nil); err != nil {
			return nil, err
		}
		v := View{Sample: c, ScaleX: float64(w) / float64(s.Image.W), ScaleY: float64(h) / float64(s.Image.H)}
		out = append(out, v)
		if flip {
			f := c.Clone()
			Flip(f)
			v.Sample, v.Flipped = f, true
			out = append(out, v)
		}
	}
	return out, nil
}

// BoxesToOriginal maps xyxy boxes predicted on the view back to the
// original image's coordinates.
func (v View) BoxesToOriginal(boxes [][4]float32) [][4]float32 {
	out := make([][4]float32, len(boxes))
	w := float32(v.Sample.Image.W)
	for i, b := range boxes {
		if v.Flipped {
			b = [4]float32{w - b[2], b[1], w - b[0], b[3]}
		}
		out[i] = [4]float32{
			b[0] / float32(v.ScaleX), b[1] / float32(v.ScaleY),
			b[2] / float32(v.ScaleX), b[3] / float32(v.ScaleY),
		}
	}
	return out
}

// Clone returns a deep copy of s.
func (s *Sample) Clone() *Sample {
	c := *s
	if s.Image != nil {
		c.Image = s.Image.Clone()
	}
	if s.Mask != nil {
		c.Mask = s.Mask.Clone()
	}
	c.Boxes = append([][4]float32(nil), s.Boxes...)
	if s.BoxLabels != nil {
		c.BoxLabels = append([]int(nil), s.BoxLabels...)
	}
	c.Keypoints = append([][2]float32(nil), s.Keypoints...)
	return &c
}
