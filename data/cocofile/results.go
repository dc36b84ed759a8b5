package cocofile

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
)

// Result is one detection of a results file: a box on an image with a
// category and a confidence score.
type Result struct {
	ImageID    int64      `json:"image_id"`
	CategoryID int64      `json:"category_id"`
	BBox       [4]float64 `json:"bbox"`
	Score      float64    `json:"score"`
}

// ReadResultsFile reads a results file.
func ReadResultsFile(name string) ([]Result, error) { return readFile(name, ReadResults) }

// ReadResults reads and validates a results file of at most MaxFileBytes: a
// JSON array of objects with image_id, category_id, bbox (four finite
// numbers, non-negative size) and a finite score. Other fields are ignored.
func ReadResults(r io.Reader) ([]Result, error) { return readResults(r, MaxFileBytes) }

func readResults(r io.Reader, limit int64) ([]Result, error) {
	l := newLexer(r, limit)
	// A record takes about 90 bytes: size the list from the input's length
	// when it is known, to avoid regrowing half a million records; capped,
	// so that a huge file of garbage costs little before it is refused.
	var rs []Result
	if n := sizeHint(r); n > 0 {
		rs = make([]Result, 0, min(n/90+1, 1<<20))
	}
	err := readList(l, "results", func(i int) error {
		var res Result
		var hasImage, hasCat, hasBox, hasScore bool
		err := fields(l, func(key string) error {
			var err error
			switch key {
			case "image_id":
				res.ImageID, err = l.integer()
				hasImage = true
			case "category_id":
				res.CategoryID, err = l.integer()
				hasCat = true
			case "bbox":
				res.BBox, err = readBox(l)
				if err == nil {
					err = checkBox(res.BBox)
				}
				hasBox = true
			case "score":
				res.Score, err = l.number()
				hasScore = true
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
		for _, f := range []struct {
			name string
			ok   bool
		}{{"image_id", hasImage}, {"category_id", hasCat}, {"bbox", hasBox}, {"score", hasScore}} {
			if !f.ok {
				return fmt.Errorf(": missing field %q", f.name)
			}
		}
		rs = append(rs, res)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := l.finish(); err != nil {
		return nil, err
	}
	return rs, nil
}

// sizeHint returns the length of r's input when r can tell it, or 0.
func sizeHint(r io.Reader) int64 {
	switch v := r.(type) {
	case interface{ Len() int }:
		return int64(v.Len())
	case *os.File:
		if st, err := v.Stat(); err == nil && st.Mode().IsRegular() {
			return st.Size()
		}
	}
	return 0
}

// ValidateResults checks results against the ground truth the way
// pycocotools' loadRes does: every result must name an image of gt. Results
// of categories gt does not list are allowed; evaluation ignores them.
func ValidateResults(gt *Dataset, rs []Result) error {
	imgs := make(map[int64]bool, len(gt.Images))
	for _, im := range gt.Images {
		imgs[im.ID] = true
	}
	for i, r := range rs {
		if !imgs[r.ImageID] {
			return fmt.Errorf("results[%d]: image_id: no image %d in the ground truth", i, r.ImageID)
		}
		if err := checkBox(r.BBox); err != nil {
			return fmt.Errorf("results[%d]: bbox: %w", i, err)
		}
		if math.IsNaN(r.Score) || math.IsInf(r.Score, 0) {
			return fmt.Errorf("results[%d]: score: not finite", i)
		}
	}
	return nil
}

// WriteResultsFile writes results atomically.
func WriteResultsFile(name string, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	return writeFile(name, rs)
}

// WriteResults writes results to w.
func WriteResults(w io.Writer, rs []Result) error {
	if rs == nil {
		rs = []Result{}
	}
	return json.NewEncoder(w).Encode(rs)
}
