package atss

import (
	"testing"

	"argus/tensor"
)

// BenchmarkAssign times each assigner on one 800×1344 image (22,000
// anchors over P3–P7) with 30 ground truths of every kind and random
// predictions.
func BenchmarkAssign(b *testing.B) {
	p := randomProblemSized(tensor.NewRNG(1), 800, 1344, 30)
	for name, a := range allAssigners() {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := a.Assign(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
