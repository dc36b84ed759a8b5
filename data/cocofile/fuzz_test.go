package cocofile

import (
	"bytes"
	"os"
	"testing"
)

func seedFiles(f *testing.F, name string) {
	b, err := os.ReadFile("testdata/case_0014/" + name)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)/2])
	f.Add([]byte(`{"images":[],"categories":[],"annotations":[]}`))
	f.Add([]byte(`[{"image_id":1,"category_id":1,"bbox":[1,2,3,4],"score":0.5}]`))
	f.Add([]byte(`[[[[[[`))
	f.Add([]byte("\"\\u00e9\xff\""))
}

// FuzzReadDataset checks that no input makes the instances reader panic and
// that what it accepts survives a write and a second read.
func FuzzReadDataset(f *testing.F) {
	seedFiles(f, "gt.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ReadDataset(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteDataset(&buf, d); err != nil {
			t.Fatalf("write accepted dataset: %v", err)
		}
		d2, err := ReadDataset(&buf)
		if err != nil {
			t.Fatalf("reread: %v", err)
		}
		if len(d2.Annotations) != len(d.Annotations) || len(d2.Images) != len(d.Images) {
			t.Fatal("round trip changed the dataset")
		}
	})
}

// FuzzReadResults checks that no input makes the results reader panic and
// that what it accepts round-trips.
func FuzzReadResults(f *testing.F) {
	seedFiles(f, "dt.json")
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := ReadResults(bytes.NewReader(b))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteResults(&buf, rs); err != nil {
			t.Fatalf("write accepted results: %v", err)
		}
		rs2, err := ReadResults(&buf)
		if err != nil || len(rs2) != len(rs) {
			t.Fatalf("reread: %v", err)
		}
		for i := range rs {
			if rs[i] != rs2[i] {
				t.Fatalf("result %d changed: %+v -> %+v", i, rs[i], rs2[i])
			}
		}
	})
}
