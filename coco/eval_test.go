package coco

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestGolden reproduces pycocotools' numbers on the randomised golden cases.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/case_*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			gt, err := ReadDatasetFile(filepath.Join(dir, "gt.json"))
			if err != nil {
				t.Fatal(err)
			}
			dt, err := ReadResultsFile(filepath.Join(dir, "dt.json"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want Summary
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{1, 2} {
				p := DefaultParams()
				p.Workers = workers
				e, err := EvaluateParams(gt, dt, p)
				if err != nil {
					t.Fatal(err)
				}
				got := e.Summary().Values()
				names := []string{"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"}
				for i, w := range want.Values() {
					if math.Abs(got[i]-w) > 1e-9 {
						t.Errorf("workers %d: %s = %.17g, want %.17g", workers, names[i], got[i], w)
					}
				}
			}
		})
	}
}
