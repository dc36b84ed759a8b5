package sim

import (
	"math/rand/v2"
	"testing"

	"argus/dpu/isa"
	"argus/dpu/target"
)

// BenchmarkConvLayer simulates one 3x3 convolution, 28x28x64 -> 28x28x64,
// and reports the simulator's speed in multiply-accumulates per second.
func BenchmarkConvLayer(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	l := layer{op: isa.CONV, h: 28, w: 28, c: 64, oc: 64, shiftBias: 4,
		win: pad1Window(), q: refOut(10)}
	prog, ddr, _, _ := l.program(r)
	tg, err := target.Lookup("b4096")
	if err != nil {
		b.Fatal(err)
	}
	var rep *Report
	for b.Loop() {
		img := append([]byte(nil), ddr...)
		if rep, err = Run(prog, tg, img, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	macs := float64(rep.Ops / 2)
	b.ReportMetric(macs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
	b.ReportMetric(float64(rep.Cycles), "dpu-cycles")
}

// BenchmarkExamples simulates every example program once per iteration
// and reports simulated instructions per second.
func BenchmarkExamples(b *testing.B) {
	tg, err := target.Lookup("zcu104")
	if err != nil {
		b.Fatal(err)
	}
	var progs [][]isa.Instr
	n := 0
	for _, ex := range examples {
		p := loadExample(b, ex.file)
		progs = append(progs, p)
		n += len(p)
	}
	for b.Loop() {
		for i, ex := range examples {
			if _, err := Run(progs[i], tg, exampleImage(ex.size, ex.inputs, 0), Options{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "instr/s")
}
