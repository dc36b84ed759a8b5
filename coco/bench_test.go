package coco

import (
	"argus/internal/cputime"
	"testing"

	"argus/data/cocofile"
)

// BenchmarkEvaluate measures the evaluation of 5,000 images x 100 detections
// x 80 categories (the files already parsed).
func BenchmarkEvaluate(b *testing.B) {
	gt, dt := cocofile.Synthetic(1, 5000, 100, 80)
	b.ReportAllocs()
	start := cputime.Now()
	for b.Loop() {
		if _, err := Evaluate(gt, dt); err != nil {
			b.Fatal(err)
		}
	}
	cputime.Report(b, start)
	b.ReportMetric(float64(len(dt))*float64(b.N)/b.Elapsed().Seconds(), "dets/s")
}
