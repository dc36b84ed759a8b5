// Package dataset reads datasets in their fields' formats — image folders
// (a class per folder), COCO detection (images and an instances JSON),
// Market-1501, DukeMTMC-reID and MSMT17 re-ID folders (as torchreid reads
// them), and Cityscapes/CamVid-style segmentation (images and label PNGs
// with an id mapping) — into a Set of items that a loader decodes and
// augments. Every format reads into the one Item type.
//
// Malformed input gives one error naming the file at fault.
package dataset

import (
	"fmt"

	"argus/data/imageio"
	"argus/data/transform"
)

// Item is one sample as a file and its annotations.
type Item struct {
	Path string
	// MaskPath is the label PNG of a segmentation sample.
	MaskPath string
	// Label is the class (image folders, fine-grained) or identity (re-ID).
	Label int
	// Camera is the re-ID camera, from 0.
	Camera int
	// Width and Height are the annotated image size (COCO), 0 if unknown.
	Width, Height int
	// Boxes are xyxy in pixels with their class indices (COCO).
	Boxes     [][4]float32
	BoxLabels []int
}

// Set is a list of items that decodes and augments them on demand; it
// implements loader.Dataset.
type Set struct {
	Name  string
	Items []Item
	// Classes names the labels (class folders, COCO categories,
	// segmentation train ids), when known.
	Classes []string
	// Mapping maps the raw ids of label PNGs to train ids (nil: use them
	// as they are).
	Mapping *Mapping
	// Transform is applied to each decoded sample (nil: none).
	Transform transform.Transform
	// Limits bound the decoder.
	Limits imageio.Limits
	// Domain is copied into every sample (CDCL's dataset index, UDA's
	// source or target).
	Domain int
}

// Len returns the number of items.
func (s *Set) Len() int { return len(s.Items) }

// Get decodes item i, checks it against its annotations and applies the
// transform with st.
func (s *Set) Get(i int, st *transform.State) (*transform.Sample, error) {
	it := s.Items[i]
	img, err := imageio.ReadFile(it.Path, s.Limits)
	if err != nil {
		return nil, err
	}
	if it.Width > 0 && (img.W != it.Width || img.H != it.Height) {
		return nil, fmt.Errorf("%s: image is %dx%d, annotations say %dx%d", it.Path, img.W, img.H, it.Width, it.Height)
	}
	smp := &transform.Sample{
		Image:     img,
		Label:     it.Label,
		Camera:    it.Camera,
		Domain:    s.Domain,
		Path:      it.Path,
		Boxes:     append([][4]float32(nil), it.Boxes...),
		BoxLabels: append([]int(nil), it.BoxLabels...),
	}
	if it.MaskPath != "" {
		m, err := imageio.ReadMask(it.MaskPath, s.Limits)
		if err != nil {
			return nil, err
		}
		if m.W != img.W || m.H != img.H {
			return nil, fmt.Errorf("%s: label map is %dx%d, image %s is %dx%d", it.MaskPath, m.W, m.H, it.Path, img.W, img.H)
		}
		if s.Mapping != nil {
			if err := s.Mapping.Check(m); err != nil {
				return nil, fmt.Errorf("%s: %w", it.MaskPath, err)
			}
			s.Mapping.Apply(m)
		}
		smp.Mask = m
	}
	if s.Transform != nil {
		if err := s.Transform.Apply(smp, st); err != nil {
			return nil, fmt.Errorf("%s: %w", it.Path, err)
		}
	}
	return smp, nil
}

// Labels returns every item's label (for identity-balanced sampling).
func (s *Set) Labels() []int {
	out := make([]int, len(s.Items))
	for i, it := range s.Items {
		out[i] = it.Label
	}
	return out
}
