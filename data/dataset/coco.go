package dataset

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"argus/data/cocofile"
)

// ReadCOCO reads a COCO detection split: the instances file ann and the
// images under dir (file_name relative to it). Categories become labels
// 0..K−1 in ascending id order (Classes holds their names). Crowd
// annotations are left out, as detectors' training loaders do; images
// without boxes are kept. A missing image file is an error naming it.
func ReadCOCO(ann, dir string) (*Set, []int64, error) {
	d, err := cocofile.ReadDatasetFile(ann)
	if err != nil {
		return nil, nil, err
	}
	cats := slices.Clone(d.Categories)
	slices.SortFunc(cats, func(a, b cocofile.Category) int { return cmp.Compare(a.ID, b.ID) })
	label := map[int64]int{}
	s := &Set{Name: filepath.Base(ann)}
	ids := make([]int64, len(cats))
	for i, c := range cats {
		label[c.ID] = i
		ids[i] = c.ID
		s.Classes = append(s.Classes, c.Name)
	}
	byImage := map[int64]int{}
	for _, im := range d.Images {
		if filepath.IsAbs(im.FileName) || slices.Contains(strings.Split(filepath.ToSlash(im.FileName), "/"), "..") {
			return nil, nil, fmt.Errorf("read %s: image %d: file_name %q leaves the image folder", ann, im.ID, im.FileName)
		}
		p := filepath.Join(dir, im.FileName)
		if _, err := os.Stat(p); err != nil {
			return nil, nil, fmt.Errorf("read %s: image %d: %w", ann, im.ID, err)
		}
		byImage[im.ID] = len(s.Items)
		s.Items = append(s.Items, Item{Path: p, Width: im.Width, Height: im.Height})
	}
	for i, a := range d.Annotations {
		if a.IsCrowd {
			continue
		}
		k, ok := byImage[a.ImageID]
		if !ok {
			return nil, nil, fmt.Errorf("read %s: annotation %d (id %d): no image %d", ann, i, a.ID, a.ImageID)
		}
		l, ok := label[a.CategoryID]
		if !ok {
			return nil, nil, fmt.Errorf("read %s: annotation %d (id %d): no category %d", ann, i, a.ID, a.CategoryID)
		}
		b := a.BBox
		it := &s.Items[k]
		it.Boxes = append(it.Boxes, [4]float32{float32(b[0]), float32(b[1]), float32(b[0] + b[2]), float32(b[1] + b[3])})
		it.BoxLabels = append(it.BoxLabels, l)
	}
	return s, ids, nil
}
