package segmetric

import (
	"math/rand/v2"
	"testing"
)

// benchMaps returns n Cityscapes-sized label maps (512×1024, 19 classes,
// runs of equal labels and some ignored pixels) and predictions that agree
// with them on most pixels.
func benchMaps(n int) (preds, labels [][]uint8) {
	const w, h = 1024, 512
	rng := rand.New(rand.NewPCG(7, 8))
	for range n {
		p, l := make([]uint8, w*h), make([]uint8, w*h)
		for i := 0; i < len(l); {
			run := 1 + rng.IntN(64)
			v := uint8(rng.IntN(20))
			if v == 19 {
				v = 255
			}
			for k := i; k < min(i+run, len(l)); k++ {
				l[k] = v
				p[k] = v
				if rng.IntN(8) == 0 {
					p[k] = uint8(rng.IntN(19))
				}
			}
			i += run
		}
		preds, labels = append(preds, p), append(labels, l)
	}
	return preds, labels
}

func BenchmarkAdd(b *testing.B) {
	preds, labels := benchMaps(4)
	wide := func(x []uint8) []uint16 { return widen(x) }
	p16, l16 := wide(preds[0]), wide(labels[0])
	for _, bb := range []struct {
		name string
		add  func(a *Accumulator, i int) error
	}{
		{"8bit", func(a *Accumulator, i int) error { return a.Add(preds[i%4], labels[i%4], 1024, 512) }},
		{"16bit", func(a *Accumulator, i int) error { return a.Add16(p16, l16, 1024, 512) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			a, _ := New(DefaultOptions(19))
			b.SetBytes(2 * 1024 * 512)
			i := 0
			for b.Loop() {
				if err := bb.add(a, i); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(i*1024*512)/b.Elapsed().Seconds()/1e6, "Mpixel/s")
		})
	}
}
