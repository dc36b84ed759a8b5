package coco

import (
	"path/filepath"
	"testing"

	"argus/data/cocofile"
	"argus/data/synth"
)

// TestSynthPerfect scores the ground truth that data/synth writes as its own
// detections: it must give AP 1, so that every object is a valid, matchable
// box of its image.
func TestSynthPerfect(t *testing.T) {
	out := filepath.Join(t.TempDir(), "det")
	if _, err := synth.Detection(out, synth.Options{Seed: 1, Size: 30}); err != nil {
		t.Fatal(err)
	}
	for _, split := range []string{"train2017", "val2017"} {
		gt, err := cocofile.ReadDatasetFile(filepath.Join(out, "annotations", "instances_"+split+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var dt []cocofile.Result
		for _, a := range gt.Annotations {
			dt = append(dt, cocofile.Result{ImageID: a.ImageID, CategoryID: a.CategoryID, BBox: a.BBox, Score: 1})
		}
		ev, err := Evaluate(gt, dt)
		if err != nil {
			t.Fatal(err)
		}
		if s := ev.Summary(); s.AP != 1 {
			t.Fatalf("%s: ground truth as detections gives AP %v", split, s.AP)
		}
	}
}
