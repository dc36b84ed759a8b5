package dataset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestImageNet(t *testing.T) {
	// train/ has two classes; each case builds val/ its own way.
	tests := []struct {
		name  string
		setup func(t *testing.T, root string)
		// labels is the --val-labels file relative to root ("" to find it).
		labels string
		want   []int  // the val labels in item order
		err    string // part of the error, when one is wanted
	}{
		{"class folders", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "n02", "a.JPEG"), 4, 4)
			writeImage(t, filepath.Join(root, "val", "n01", "b.JPEG"), 4, 4)
		}, "", []int{0, 1}, ""},
		{"kaggle csv", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "v1.JPEG"), 4, 4)
			writeImage(t, filepath.Join(root, "val", "v2.JPEG"), 4, 4)
			os.WriteFile(filepath.Join(root, "LOC_val_solution.csv"), []byte("ImageId,PredictionString\nv1,n02 1 2 3 4\nv2,n01 5 6 7 8 n01 1 1 1 1\n"), 0o644)
		}, "", []int{1, 0}, ""},
		{"pairs file", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "v1.JPEG"), 4, 4)
			os.WriteFile(filepath.Join(root, "mine.txt"), []byte("# file class\nv1.JPEG n02\n"), 0o644)
		}, "mine.txt", []int{1}, ""},
		{"val only class", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "n03", "a.JPEG"), 4, 4)
			writeImage(t, filepath.Join(root, "val", "n01", "a.JPEG"), 4, 4)
			writeImage(t, filepath.Join(root, "val", "n02", "a.JPEG"), 4, 4)
		}, "", nil, "class folder n03 is in val/ but not in train/"},
		{"train only class", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "n01", "a.JPEG"), 4, 4)
		}, "", nil, "class folder n02 is in train/ but not in val/"},
		{"no labels file", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "v1.JPEG"), 4, 4)
		}, "", nil, "no labels file (LOC_val_solution.csv, val_labels.txt"},
		{"unlabelled image", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "v1.JPEG"), 4, 4)
			writeImage(t, filepath.Join(root, "val", "v9.JPEG"), 4, 4)
			os.WriteFile(filepath.Join(root, "val_labels.txt"), []byte("v1.JPEG n01\n"), 0o644)
		}, "", nil, "v9.JPEG has no label in"},
		{"unknown class", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "v1.JPEG"), 4, 4)
			os.WriteFile(filepath.Join(root, "val_labels.txt"), []byte("v1.JPEG n07\n"), 0o644)
		}, "", nil, "labels v1.JPEG as n07, which is not a class folder in train/"},
		{"bad line", func(t *testing.T, root string) {
			writeImage(t, filepath.Join(root, "val", "v1.JPEG"), 4, 4)
			os.WriteFile(filepath.Join(root, "val_labels.txt"), []byte("v1.JPEG\n"), 0o644)
		}, "", nil, "val_labels.txt:1: want a file name and a class"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			writeImage(t, filepath.Join(root, "train", "n01", "x.JPEG"), 4, 4)
			writeImage(t, filepath.Join(root, "train", "n02", "y.JPEG"), 4, 4)
			tc.setup(t, root)
			labels := ""
			if tc.labels != "" {
				labels = filepath.Join(root, tc.labels)
			}
			tr, val, err := ReadImageNet(root, labels)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("error %v, want one line with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Items) != 2 || strings.Join(val.Classes, ",") != "n01,n02" {
				t.Fatalf("train %d items, val classes %v", len(tr.Items), val.Classes)
			}
			var got []int
			for _, it := range val.Items {
				got = append(got, it.Label)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("val labels %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("val labels %v, want %v", got, tc.want)
				}
			}
		})
	}
}
