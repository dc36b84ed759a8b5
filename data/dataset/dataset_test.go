package dataset

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"argus/data/cocofile"
	"argus/data/imageio"
	"argus/data/transform"
)

func writeImage(t *testing.T, p string, w, h int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range m.Pix {
		m.Pix[i] = uint8(i * 31)
	}
	if err := imageio.WriteFile(p, m); err != nil {
		t.Fatal(err)
	}
}

func writeLabels(t *testing.T, p string, w, h int, v func(x, y int) uint8) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.SetGray(x, y, color.Gray{v(x, y)})
		}
	}
	if err := imageio.WriteFile(p, g); err != nil {
		t.Fatal(err)
	}
}

func TestFolder(t *testing.T) {
	root := t.TempDir()
	writeImage(t, filepath.Join(root, "b_class", "x.png"), 4, 3)
	writeImage(t, filepath.Join(root, "a_class", "sub", "y.jpg"), 5, 3)
	writeImage(t, filepath.Join(root, "a_class", "z.png"), 5, 3)
	os.WriteFile(filepath.Join(root, "a_class", "notes.txt"), []byte("x"), 0o644)
	s, err := ReadFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.Classes, []string{"a_class", "b_class"}) || len(s.Items) != 3 {
		t.Fatalf("classes %v items %v", s.Classes, s.Items)
	}
	if s.Items[2].Label != 1 || s.Items[0].Label != 0 {
		t.Fatalf("labels %+v", s.Items)
	}
	smp, err := s.Get(2, transform.NewState(0))
	if err != nil || smp.Image.W != 4 || smp.Label != 1 {
		t.Fatalf("get: %v %+v", err, smp)
	}
	os.MkdirAll(filepath.Join(root, "c_empty"), 0o755)
	if _, err := ReadFolder(root); err == nil || !strings.Contains(err.Error(), "c_empty") {
		t.Fatalf("empty class: %v", err)
	}
	// A corrupt image fails at Get with its name.
	bad := filepath.Join(root, "c_empty", "bad.jpg")
	os.WriteFile(bad, []byte("\xff\xd8\xff garbage"), 0o644)
	s, err = ReadFolder(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(3, transform.NewState(0)); err == nil || !strings.Contains(err.Error(), "bad.jpg") {
		t.Fatalf("corrupt image: %v", err)
	}
}

func TestCOCO(t *testing.T) {
	dir := t.TempDir()
	writeImage(t, filepath.Join(dir, "images", "1.jpg"), 40, 30)
	writeImage(t, filepath.Join(dir, "images", "2.jpg"), 20, 20)
	d := &cocofile.Dataset{
		Images: []cocofile.Image{{ID: 1, Width: 40, Height: 30, FileName: "1.jpg"}, {ID: 2, Width: 21, Height: 20, FileName: "2.jpg"}},
		Annotations: []cocofile.Annotation{
			{ID: 1, ImageID: 1, CategoryID: 9, BBox: [4]float64{2, 3, 10, 5}, Area: 50},
			{ID: 2, ImageID: 1, CategoryID: 4, BBox: [4]float64{0, 0, 4, 4}, Area: 16},
			{ID: 3, ImageID: 1, CategoryID: 4, BBox: [4]float64{0, 0, 40, 30}, Area: 1200, IsCrowd: true},
		},
		Categories: []cocofile.Category{{ID: 9, Name: "nine"}, {ID: 4, Name: "four"}},
	}
	ann := filepath.Join(dir, "instances.json")
	if err := cocofile.WriteDatasetFile(ann, d); err != nil {
		t.Fatal(err)
	}
	s, ids, err := ReadCOCO(ann, filepath.Join(dir, "images"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids, []int64{4, 9}) || !slices.Equal(s.Classes, []string{"four", "nine"}) {
		t.Fatalf("categories %v %v", ids, s.Classes)
	}
	it := s.Items[0]
	if len(it.Boxes) != 2 || it.Boxes[0] != [4]float32{2, 3, 12, 8} || !slices.Equal(it.BoxLabels, []int{1, 0}) {
		t.Fatalf("item %+v", it)
	}
	smp, err := s.Get(0, transform.NewState(0))
	if err != nil || len(smp.Boxes) != 2 {
		t.Fatalf("get %v", err)
	}
	if _, err := s.Get(1, transform.NewState(0)); err == nil || !strings.Contains(err.Error(), "2.jpg") {
		t.Fatalf("size mismatch: %v", err)
	}
	d.Images = append(d.Images, cocofile.Image{ID: 3, Width: 5, Height: 5, FileName: "missing.jpg"})
	cocofile.WriteDatasetFile(ann, d)
	if _, _, err := ReadCOCO(ann, filepath.Join(dir, "images")); err == nil || !strings.Contains(err.Error(), "missing.jpg") {
		t.Fatalf("missing image: %v", err)
	}
	os.WriteFile(ann, []byte(`{"images": [{"id": 1,}]}`), 0o644)
	if _, _, err := ReadCOCO(ann, dir); err == nil || !strings.Contains(err.Error(), "instances.json") {
		t.Fatalf("malformed JSON: %v", err)
	}
}

func TestSegmentation(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "leftImg8bit", "train", "town", "a_000001_leftImg8bit.png")
	lab := filepath.Join(root, "gtFine", "train", "town", "a_000001_gtFine_labelIds.png")
	writeImage(t, img, 6, 4)
	writeLabels(t, lab, 6, 4, func(x, y int) uint8 { return []uint8{7, 26, 0, 23}[(x+y)%4] })
	s, err := ReadSegmentation("cityscapes", root, "train")
	if err != nil {
		t.Fatal(err)
	}
	smp, err := s.Get(0, transform.NewState(0))
	if err != nil {
		t.Fatal(err)
	}
	// Raw ids 7 (road), 26 (car), 0 (unlabeled), 23 (sky).
	if want := []uint8{0, 13, 255, 10}; !slices.Equal(smp.Mask.Pix[:4], want) {
		t.Fatalf("mapped labels %v, want %v", smp.Mask.Pix[:4], want)
	}
	if len(s.Classes) != 19 {
		t.Fatalf("%d classes", len(s.Classes))
	}
	// A custom mapping in mapping.txt.
	os.WriteFile(filepath.Join(root, "mapping.txt"), []byte("# merged\n7 0 flat\n26 1 vehicle\n23 2 sky\n"), 0o644)
	s, _ = ReadSegmentation("cityscapes", root, "train")
	smp, _ = s.Get(0, transform.NewState(0))
	if want := []uint8{0, 1, 255, 2}; !slices.Equal(smp.Mask.Pix[:4], want) || !slices.Equal(s.Classes, []string{"flat", "vehicle", "sky"}) {
		t.Fatalf("custom mapping: %v %v", smp.Mask.Pix[:4], s.Classes)
	}
	// A wrong-size label map and a missing one.
	writeLabels(t, lab, 5, 4, func(x, y int) uint8 { return 7 })
	if _, err := s.Get(0, transform.NewState(0)); err == nil || !strings.Contains(err.Error(), "labelIds.png") {
		t.Fatalf("size mismatch: %v", err)
	}
	os.Remove(lab)
	if _, err := ReadSegmentation("cityscapes", root, "train"); err == nil || !strings.Contains(err.Error(), "a_000001_gtFine_labelIds.png") {
		t.Fatalf("missing label: %v", err)
	}
	// CamVid layout.
	writeImage(t, filepath.Join(root, "cv", "val", "f1.png"), 3, 3)
	writeLabels(t, filepath.Join(root, "cv", "valannot", "f1.png"), 3, 3, func(x, y int) uint8 { return uint8(x + 9) })
	s, err = ReadSegmentation("camvid", filepath.Join(root, "cv"), "val")
	if err != nil {
		t.Fatal(err)
	}
	smp, _ = s.Get(0, transform.NewState(0))
	if !slices.Equal(smp.Mask.Pix[:3], []uint8{9, 10, 255}) {
		t.Fatalf("camvid labels %v", smp.Mask.Pix[:3])
	}
}

func TestParseMapping(t *testing.T) {
	bad := []string{"", "1\n", "1 2 x y\n", "300 1\n", "1 0\n1 1\n", "1 1\n", "a b\n"}
	for _, b := range bad {
		if _, err := ParseMapping(strings.NewReader(b)); err == nil {
			t.Errorf("%q accepted", b)
		}
	}
	mp, err := ParseMapping(strings.NewReader("0 255\n5 1 b\n3 0 a\n4 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if mp.Table[3] != 0 || mp.Table[4] != 0 || mp.Table[5] != 1 || mp.Table[0] != 255 || mp.Table[9] != 255 || !slices.Equal(mp.Names, []string{"a", "b"}) {
		t.Fatalf("mapping %v %v", mp.Table[:10], mp.Names)
	}
}

func FuzzParseMapping(f *testing.F) {
	f.Add("7 0 road\n8 1 sidewalk\n# c\n0 255\n")
	f.Add("1 1\n")
	f.Fuzz(func(t *testing.T, s string) {
		mp, err := ParseMapping(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, v := range mp.Table {
			if v != 255 && int(v) >= len(mp.Names) {
				t.Fatalf("train id %d of %d classes", v, len(mp.Names))
			}
		}
	})
}

// TestSegmentationUndefinedLabel checks that a label map holding an id the
// layout's label set does not define is an error naming the file.
func TestSegmentationUndefinedLabel(t *testing.T) {
	root := t.TempDir()
	img := filepath.Join(root, "train", "a.png")
	lab := filepath.Join(root, "trainannot", "a.png")
	writeImage(t, img, 6, 4)
	writeLabels(t, lab, 6, 4, func(x, y int) uint8 { return []uint8{0, 11, 255, 40}[(x+y)%4] })
	s, err := ReadSegmentation("camvid", root, "train")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(0, transform.NewState(0)); err == nil || !strings.Contains(err.Error(), "trainannot/a.png: label 40") {
		t.Fatalf("undefined label: %v", err)
	}
}
