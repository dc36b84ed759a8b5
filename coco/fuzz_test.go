package coco

import (
	"bytes"
	"os"
	"testing"

	"argus/data/cocofile"
)

// FuzzEvaluate checks that every instances file the reader accepts can be
// evaluated.
func FuzzEvaluate(f *testing.F) {
	b, err := os.ReadFile("testdata/golden/case_0014/gt.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte(`{"images":[],"categories":[],"annotations":[]}`))
	f.Add([]byte(`[[[[[[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := cocofile.ReadDataset(bytes.NewReader(b))
		if err != nil {
			return
		}
		if _, err := Evaluate(d, nil); err != nil {
			t.Fatalf("evaluate accepted dataset: %v", err)
		}
	})
}
