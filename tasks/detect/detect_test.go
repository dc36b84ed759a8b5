package detect

import (
	"errors"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"argus/data/cocofile"
	"argus/data/imageio"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"recipe", func(*Config) {}, ""},
		{"assign", func(c *Config) { c.Assign = "greedy" }, "assign must be"},
		{"proposals", func(c *Config) { c.ProposalMode = "rpn" }, "proposals must be"},
		{"num proposals", func(c *Config) { c.Proposals = 0 }, "num proposals"},
		{"size", func(c *Config) { c.Size = 8 }, "size must be"},
		{"model", func(c *Config) { c.Model = "yolo" }, "unknown detection model"},
		{"flip", func(c *Config) { c.Flip = 2 }, "flip must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Recipe()
			c.edit(&cfg)
			cfg.Fill()
			err := cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

// writeSplit writes a COCO split of three 40×30 images: category ids 3 and
// 7 (non-contiguous), a crowd box, and an image without annotations.
func writeSplit(t *testing.T, dir string, boxes [][4]float64) {
	t.Helper()
	if err := errors.Join(os.MkdirAll(filepath.Join(dir, "val2017"), 0o755), os.MkdirAll(filepath.Join(dir, "annotations"), 0o755)); err != nil {
		t.Fatal(err)
	}
	d := &cocofile.Dataset{Categories: []cocofile.Category{{ID: 7, Name: "seven"}, {ID: 3, Name: "three"}}}
	for i := range 3 {
		name := []string{"a.png", "b.png", "c.png"}[i]
		if err := imageio.WriteFile(filepath.Join(dir, "val2017", name), image.NewNRGBA(image.Rect(0, 0, 40, 30))); err != nil {
			t.Fatal(err)
		}
		d.Images = append(d.Images, cocofile.Image{ID: int64(10 + i), FileName: name, Width: 40, Height: 30})
	}
	for i, b := range boxes {
		d.Annotations = append(d.Annotations, cocofile.Annotation{ID: int64(i + 1), ImageID: int64(10 + i%2), CategoryID: []int64{3, 7}[i%2],
			BBox: b, Area: b[2] * b[3], IsCrowd: i == 2})
	}
	if err := cocofile.WriteDatasetFile(filepath.Join(dir, "annotations", "instances_val2017.json"), d); err != nil {
		t.Fatal(err)
	}
}

func TestReadSplit(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, [][4]float64{{1, 2, 10, 8}, {5, 5, 20, 20}, {0, 0, 30, 20}})
	s, err := ReadSplit(dir, "val2017")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.CategoryIDs, []int64{3, 7}) || !slices.Equal(s.Set.Classes, []string{"three", "seven"}) {
		t.Fatalf("categories %v %v", s.CategoryIDs, s.Set.Classes)
	}
	it := s.Set.Items
	// The crowd box (annotation 3, on image 10) is left out.
	if len(it[0].Boxes) != 1 || it[0].BoxLabels[0] != 0 || len(it[1].Boxes) != 1 || it[1].BoxLabels[0] != 1 || len(it[2].Boxes) != 0 {
		t.Fatalf("items %+v", it)
	}
	ids, names, err := Classes(Metadata(s))
	if err != nil || !slices.Equal(ids, s.CategoryIDs) || !slices.Equal(names, s.Set.Classes) {
		t.Fatalf("metadata round trip: %v %v %v", ids, names, err)
	}
}

func TestReadSplitRefusesBoxOutside(t *testing.T) {
	dir := t.TempDir()
	writeSplit(t, dir, [][4]float64{{30, 2, 20, 8}})
	if _, err := ReadSplit(dir, "val2017"); err == nil || !strings.Contains(err.Error(), "outside its 40x30 image") {
		t.Fatalf("error %v", err)
	}
}
