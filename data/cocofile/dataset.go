// Package cocofile reads and writes COCO instances and results files: the
// ground truth and detections of the COCO detection benchmark, which
// data/dataset loads for training, data/synth writes and coco evaluates.
//
// Boxes in COCO files are [x, y, width, height] in pixels. The readers stream
// their input and validate every record strictly: an error names the record
// (by index and, where it has one, id) and the field at fault.
package cocofile

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"

	"argus/internal/atomicfile"
)

// Image is an entry of an instances file's "images" list.
type Image struct {
	ID       int64  `json:"id"`
	Width    int    `json:"width"`
	Height   int    `json:"height"`
	FileName string `json:"file_name"`
}

// Category is an entry of an instances file's "categories" list.
type Category struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Supercategory string `json:"supercategory,omitempty"`
}

// Annotation is a ground-truth object. Area is the annotated area, which
// decides the object's size range in evaluation (it is not recomputed from
// the box). Segmentation is kept verbatim.
type Annotation struct {
	ID           int64           `json:"id"`
	ImageID      int64           `json:"image_id"`
	CategoryID   int64           `json:"category_id"`
	BBox         [4]float64      `json:"bbox"`
	Area         float64         `json:"area"`
	IsCrowd      bool            `json:"-"`
	Segmentation json.RawMessage `json:"segmentation,omitempty"`
}

// MarshalJSON writes the annotation with iscrowd as 0 or 1, as COCO does.
func (a Annotation) MarshalJSON() ([]byte, error) {
	type wire Annotation
	crowd := 0
	if a.IsCrowd {
		crowd = 1
	}
	return json.Marshal(struct {
		wire
		IsCrowd int `json:"iscrowd"`
	}{wire(a), crowd})
}

// Dataset is a COCO instances file. Info and Licenses are kept verbatim.
type Dataset struct {
	Info        json.RawMessage `json:"info,omitempty"`
	Licenses    json.RawMessage `json:"licenses,omitempty"`
	Images      []Image         `json:"images"`
	Annotations []Annotation    `json:"annotations"`
	Categories  []Category      `json:"categories"`
}

// ReadDatasetFile reads an instances file.
func ReadDatasetFile(name string) (*Dataset, error) { return readFile(name, ReadDataset) }

// readFile opens name and decodes it with read, naming the file in errors.
func readFile[T any](name string, read func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(name)
	if err != nil {
		return zero, err
	}
	defer f.Close()
	v, err := read(f)
	if err != nil {
		return zero, fmt.Errorf("read %s: %w", name, err)
	}
	return v, nil
}

// ReadDataset reads and validates an instances file of at most MaxFileBytes.
// Ids must be unique per list, every annotation must name a listed image and
// category, boxes and areas must be finite with non-negative sizes, and
// iscrowd, when present, must be 0 or 1.
func ReadDataset(r io.Reader) (*Dataset, error) { return readDataset(r, MaxFileBytes) }

func readDataset(r io.Reader, limit int64) (*Dataset, error) {
	l := newLexer(r, limit)
	d := &Dataset{}
	empty, err := l.begin('{', '}')
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for !empty {
		name, err := l.key()
		if err != nil {
			return nil, err
		}
		if seen[name] {
			return nil, fmt.Errorf("duplicate key %q", name)
		}
		seen[name] = true
		switch name {
		case "images":
			err = readList(l, name, func(i int) error { return readImage(l, d, i) })
		case "annotations":
			err = readList(l, name, func(i int) error { return readAnnotation(l, d, i) })
		case "categories":
			err = readList(l, name, func(i int) error { return readCategory(l, d, i) })
		case "info":
			d.Info, err = l.capture()
		case "licenses":
			d.Licenses, err = l.capture()
		default:
			err = l.skip(0)
		}
		if err != nil {
			return nil, err
		}
		more, err := l.more('}')
		if err != nil {
			return nil, err
		}
		empty = !more
	}
	if err := l.finish(); err != nil {
		return nil, err
	}
	for _, k := range []string{"images", "annotations", "categories"} {
		if !seen[k] {
			return nil, fmt.Errorf("missing %q", k)
		}
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}

// readList reads a JSON array, calling elem for each element's index; errors
// are prefixed with the list name and index.
func readList(l *lexer, name string, elem func(i int) error) error {
	empty, err := l.begin('[', ']')
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for i := 0; !empty; i++ {
		if err := elem(i); err != nil {
			return fmt.Errorf("%s[%d]%w", name, i, err)
		}
		more, err := l.more(']')
		if err != nil {
			return fmt.Errorf("%s[%d]: %w", name, i, err)
		}
		empty = !more
	}
	return nil
}

// fields reads a JSON object, calling field for each key. A key may appear
// only once.
func fields(l *lexer, field func(key string) error) error {
	empty, err := l.begin('{', '}')
	if err != nil {
		return fmt.Errorf(": %w", err)
	}
	var seenBuf [8]string
	seen := seenBuf[:0]
	for !empty {
		key, err := l.key()
		if err != nil {
			return fmt.Errorf(": %w", err)
		}
		for _, s := range seen {
			if s == key {
				return fmt.Errorf(": duplicate field %q", key)
			}
		}
		seen = append(seen, key)
		if err := field(key); err != nil {
			return err
		}
		more, err := l.more('}')
		if err != nil {
			return fmt.Errorf(": %w", err)
		}
		empty = !more
	}
	return nil
}

// fieldErr formats an error about a field of the current record.
func fieldErr(field string, err error) error { return fmt.Errorf(": %s: %w", field, err) }

func readImage(l *lexer, d *Dataset, i int) error {
	var im Image
	var has [1]bool
	err := fields(l, func(key string) error {
		var err error
		switch key {
		case "id":
			im.ID, err = l.integer()
			has[0] = true
		case "width", "height":
			var v int64
			v, err = l.integer()
			if err == nil && (v < 0 || v > math.MaxInt32) {
				err = fmt.Errorf("%d out of range", v)
			}
			if key == "width" {
				im.Width = int(v)
			} else {
				im.Height = int(v)
			}
		case "file_name":
			im.FileName, err = l.str()
		default:
			err = l.skip(0)
		}
		if err != nil {
			return fieldErr(key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !has[0] {
		return fmt.Errorf(": missing field \"id\"")
	}
	d.Images = append(d.Images, im)
	return nil
}

func readCategory(l *lexer, d *Dataset, i int) error {
	var c Category
	hasID := false
	err := fields(l, func(key string) error {
		var err error
		switch key {
		case "id":
			c.ID, err = l.integer()
			hasID = true
		case "name":
			c.Name, err = l.str()
		case "supercategory":
			c.Supercategory, err = l.str()
		default:
			err = l.skip(0)
		}
		if err != nil {
			return fieldErr(key, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !hasID {
		return fmt.Errorf(": missing field \"id\"")
	}
	d.Categories = append(d.Categories, c)
	return nil
}

// readBox reads a [x, y, w, h] array of four finite numbers.
func readBox(l *lexer) ([4]float64, error) {
	var b [4]float64
	if err := l.expect('['); err != nil {
		return b, err
	}
	for j := range 4 {
		v, err := l.number()
		if err != nil {
			return b, err
		}
		b[j] = v
		want := byte(',')
		if j == 3 {
			want = ']'
		}
		if err := l.expect(want); err != nil {
			return b, fmt.Errorf("want exactly 4 numbers: %w", err)
		}
	}
	return b, nil
}

func checkBox(b [4]float64) error {
	for j, v := range b {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("element %d is not finite", j)
		}
	}
	if b[2] < 0 || b[3] < 0 {
		return fmt.Errorf("negative size %vx%v", b[2], b[3])
	}
	return nil
}

func readAnnotation(l *lexer, d *Dataset, i int) error {
	var a Annotation
	var hasID, hasImage, hasCat, hasBox, hasArea bool
	err := fields(l, func(key string) error {
		var err error
		switch key {
		case "id":
			a.ID, err = l.integer()
			hasID = err == nil
		case "image_id":
			a.ImageID, err = l.integer()
			hasImage = true
		case "category_id":
			a.CategoryID, err = l.integer()
			hasCat = true
		case "bbox":
			a.BBox, err = readBox(l)
			hasBox = true
		case "area":
			a.Area, err = l.number()
			hasArea = true
		case "iscrowd":
			var v int64
			v, err = l.integer()
			if err == nil && v != 0 && v != 1 {
				err = fmt.Errorf("%d is not 0 or 1", v)
			}
			a.IsCrowd = v == 1
		case "segmentation":
			a.Segmentation, err = l.capture()
		default:
			err = l.skip(0)
		}
		if err != nil {
			return fieldErr(key, err)
		}
		return nil
	})
	if err != nil {
		if hasID {
			return fmt.Errorf(" (id %d)%w", a.ID, err)
		}
		return err
	}
	for _, f := range []struct {
		name string
		ok   bool
	}{{"id", hasID}, {"image_id", hasImage}, {"category_id", hasCat}, {"bbox", hasBox}, {"area", hasArea}} {
		if !f.ok {
			return fmt.Errorf(": missing field %q", f.name)
		}
	}
	d.Annotations = append(d.Annotations, a)
	return nil
}

// Validate checks the cross-record rules of an instances file: unique ids,
// annotations that name listed images and categories, finite boxes of
// non-negative size and finite non-negative areas.
func (d *Dataset) Validate() error {
	imgs := make(map[int64]bool, len(d.Images))
	for i, im := range d.Images {
		if imgs[im.ID] {
			return fmt.Errorf("images[%d]: id: duplicate id %d", i, im.ID)
		}
		if im.Width < 0 || im.Height < 0 {
			return fmt.Errorf("images[%d] (id %d): negative size", i, im.ID)
		}
		imgs[im.ID] = true
	}
	cats := make(map[int64]bool, len(d.Categories))
	for i, c := range d.Categories {
		if cats[c.ID] {
			return fmt.Errorf("categories[%d]: id: duplicate id %d", i, c.ID)
		}
		cats[c.ID] = true
	}
	ids := make(map[int64]bool, len(d.Annotations))
	for i, a := range d.Annotations {
		switch {
		case ids[a.ID]:
			return fmt.Errorf("annotations[%d]: id: duplicate id %d", i, a.ID)
		case !imgs[a.ImageID]:
			return fmt.Errorf("annotations[%d] (id %d): image_id: no image %d", i, a.ID, a.ImageID)
		case !cats[a.CategoryID]:
			return fmt.Errorf("annotations[%d] (id %d): category_id: no category %d", i, a.ID, a.CategoryID)
		case math.IsNaN(a.Area) || math.IsInf(a.Area, 0) || a.Area < 0:
			return fmt.Errorf("annotations[%d] (id %d): area: %v is not a finite non-negative number", i, a.ID, a.Area)
		}
		if err := checkBox(a.BBox); err != nil {
			return fmt.Errorf("annotations[%d] (id %d): bbox: %w", i, a.ID, err)
		}
		ids[a.ID] = true
	}
	return nil
}

// writeFile writes v as JSON to name atomically.
func writeFile(name string, v any) error {
	return atomicfile.Write(name, func(w io.Writer) error { return json.NewEncoder(w).Encode(v) })
}

// WriteDatasetFile validates d and writes it as an instances file.
func WriteDatasetFile(name string, d *Dataset) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return writeFile(name, d.lists())
}

// lists returns d with nil lists made empty, so they are written as [].
func (d *Dataset) lists() *Dataset {
	out := *d
	if out.Images == nil {
		out.Images = []Image{}
	}
	if out.Annotations == nil {
		out.Annotations = []Annotation{}
	}
	if out.Categories == nil {
		out.Categories = []Category{}
	}
	return &out
}

// WriteDataset validates d and writes it as an instances file to w.
func WriteDataset(w io.Writer, d *Dataset) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(d.lists())
}
