package coco

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"argus/data/cocofile"
	"argus/internal/golden"
)

// TestGolden reproduces pycocotools' numbers on the randomised golden cases.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/golden/case_*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			gt, err := cocofile.ReadDatasetFile(filepath.Join(dir, "gt.json"))
			if err != nil {
				t.Fatal(err)
			}
			dt, err := cocofile.ReadResultsFile(filepath.Join(dir, "dt.json"))
			if err != nil {
				t.Fatal(err)
			}
			var want Summary
			golden.Load(t, filepath.Join(dir, "expected.json"), &want)
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

// TestCategoryAP checks that the per-category APs average to AP (every
// category with ground truth contributes the same number of entries) and
// that the mean PR curve at IoU 0.5 averages to AP50.
func TestCategoryAP(t *testing.T) {
	gt, dt := cocofile.Synthetic(11, 40, 30, 7)
	e, err := Evaluate(gt, dt)
	if err != nil {
		t.Fatal(err)
	}
	s := e.Summary()
	var sum float64
	var n int
	for k := range e.CategoryIDs {
		if ap := e.CategoryAP(k); ap > -1 {
			sum += ap
			n++
		}
	}
	if n == 0 || math.Abs(sum/float64(n)-s.AP) > 1e-12 {
		t.Errorf("mean category AP %v over %d, AP %v", sum/float64(n), n, s.AP)
	}
	pr := e.PRCurve(0, -1)
	if len(pr) != 101 || math.Abs(mean(pr)-s.AP50) > 1e-12 {
		t.Errorf("mean of the IoU 0.5 curve %v, AP50 %v", mean(pr), s.AP50)
	}
	// Recall at maxDets 100, area all, mean over IoU and categories is AR100.
	var rs []float64
	for ti := range e.Params.IoUThresholds {
		for k := range e.CategoryIDs {
			if r := e.RecallAt(ti, k, 0, 2); r > -1 {
				rs = append(rs, r)
			}
		}
	}
	if math.Abs(mean(rs)-s.AR100) > 1e-12 {
		t.Errorf("mean recall %v, AR100 %v", mean(rs), s.AR100)
	}
}

// TestEvaluateErrors checks the refusals of loadRes and of bad parameters.
func TestEvaluateErrors(t *testing.T) {
	gt, dt := cocofile.Synthetic(2, 3, 4, 2)
	dt[5].ImageID = 999
	if _, err := Evaluate(gt, dt); err == nil || !strings.Contains(err.Error(), "results[5]: image_id: no image 999") {
		t.Errorf("unknown image: %v", err)
	}
	dt[5].ImageID = 1
	p := DefaultParams()
	p.MaxDets = []int{10, 1}
	if _, err := EvaluateParams(gt, dt, p); err == nil {
		t.Error("descending maxDets accepted")
	}
	// Categories the ground truth does not list are ignored, as in
	// pycocotools.
	e1, _ := Evaluate(gt, dt)
	dt = append(dt, cocofile.Result{ImageID: 1, CategoryID: 77, BBox: [4]float64{1, 1, 5, 5}, Score: 0.9})
	e2, err := Evaluate(gt, dt)
	if err != nil || e1.Summary() != e2.Summary() {
		t.Errorf("unknown category changed the result: %v", err)
	}
}
