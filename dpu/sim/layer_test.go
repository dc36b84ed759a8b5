package sim

import (
	"bytes"

	"math/rand/v2"
	"testing"

	"argus/dpu/isa"
	"argus/dpu/ref"
	"argus/dpu/target"
	"argus/internal/geom"
)

// layer is one randomly drawn layer, run alone on the simulator and by the
// reference.
type layer struct {
	op        isa.Op // CONV, DPTWISE, POOL or ELEW
	h, w, c   int
	oc        int
	win       geom.Window
	shiftBias int
	q         ref.Out
	avg       bool
	mult      int
	mul       bool
	shiftA    int
	shiftB    int
}

func randInt8s(r *rand.Rand, n int) []int8 {
	s := make([]int8, n)
	for i := range s {
		s[i] = int8(r.IntN(256) - 128)
	}
	return s
}

func int8Bytes(s []int8) []byte {
	b := make([]byte, len(s))
	for i, v := range s {
		b[i] = byte(v)
	}
	return b
}

func randLayer(r *rand.Rand) layer {
	ops := []isa.Op{isa.CONV, isa.DPTWISE, isa.POOL, isa.ELEW}
	l := layer{op: ops[r.IntN(len(ops))], h: 1 + r.IntN(12), w: 1 + r.IntN(12), c: 1 + r.IntN(40), oc: 1 + r.IntN(40)}
	l.win = geom.Window{Kernel: []int{1 + r.IntN(5), 1 + r.IntN(5)}, Stride: []int{1 + r.IntN(3), 1 + r.IntN(3)},
		Padding: []int{r.IntN(3), r.IntN(3)}, PadEnd: []int{r.IntN(3), r.IntN(3)}}
	// Grow the end padding until the kernel fits.
	for l.h+l.win.Padding[0]+l.win.PadEnd[0] < l.win.Kernel[0] {
		l.win.PadEnd[0]++
	}
	for l.w+l.win.Padding[1]+l.win.PadEnd[1] < l.win.Kernel[1] {
		l.win.PadEnd[1]++
	}
	l.shiftBias = r.IntN(8)
	l.q = ref.Out{ShiftCut: r.IntN(14), Act: r.IntN(4), ActFix: r.IntN(6), Round: r.IntN(3)}
	l.avg, l.mult = r.IntN(2) == 1, r.IntN(256)
	l.mul, l.shiftA, l.shiftB = r.IntN(2) == 1, r.IntN(8), r.IntN(8)
	return l
}

// program builds the layer's program and DDR image; it returns both and
// where the output lies.
func (l layer) program(r *rand.Rand) ([]isa.Instr, []byte, ref.Tensor, int) {
	in := ref.Tensor{H: l.h, W: l.w, C: l.c, Data: randInt8s(r, l.h*l.w*l.c)}
	in2 := ref.Tensor{H: l.h, W: l.w, C: l.c, Data: randInt8s(r, l.h*l.w*l.c)}
	var wts []int8
	switch l.op {
	case isa.CONV:
		wts = randInt8s(r, l.oc*l.win.Kernel[0]*l.win.Kernel[1]*l.c)
	case isa.DPTWISE:
		wts = randInt8s(r, l.win.Kernel[0]*l.win.Kernel[1]*l.c)
	}
	bias := randInt8s(r, max(l.oc, l.c))
	var want ref.Tensor
	switch l.op {
	case isa.CONV:
		want = ref.Conv(in, wts, bias, l.oc, l.win, l.shiftBias, l.q)
	case isa.DPTWISE:
		want = ref.Depthwise(in, wts, bias, l.win, l.shiftBias, l.q)
	case isa.POOL:
		if l.avg {
			want = ref.AvgPool(in, l.win, l.mult, l.q.ShiftCut, l.q.Round)
		} else {
			want = ref.MaxPool(in, l.win)
		}
	case isa.ELEW:
		if l.mul {
			want = ref.Mul(in, in2, l.shiftA, l.shiftB, l.q)
		} else {
			want = ref.Add(in, in2, l.shiftA, l.shiftB, l.q)
		}
	}
	var ddr []byte
	put := func(b []byte) int { off := len(ddr); ddr = append(ddr, b...); return off }
	aIn, aIn2, aW, aB := put(int8Bytes(in.Data)), put(int8Bytes(in2.Data)), put(int8Bytes(wts)), put(int8Bytes(bias))
	aOut := put(make([]byte, len(want.Data)))

	load := func(bank, ddr, h, w, c int) isa.Instr {
		return isa.Instr{Op: isa.LOAD, Bank: bank, DDR: ddr, H: h, W: w, C: c, RowStride: w * c, PixelStride: c}
	}
	prog := []isa.Instr{load(0, aIn, l.h, l.w, l.c), load(1, aIn2, l.h, l.w, l.c)}
	kk := l.win.Kernel[0] * l.win.Kernel[1]
	switch l.op {
	case isa.CONV:
		prog = append(prog, load(isa.WeightBank0, aW, l.oc, kk, l.c), load(isa.BiasBank, aB, 1, 1, l.oc))
	case isa.DPTWISE:
		prog = append(prog, load(isa.WeightBank0, aW, l.win.Kernel[0], l.win.Kernel[1], l.c), load(isa.BiasBank, aB, 1, 1, l.c))
	}
	prog[len(prog)-1].Signal = 1 << isa.ComputeEngine
	init := isa.Instr{KernelH: l.win.Kernel[0], KernelW: l.win.Kernel[1], StrideH: l.win.Stride[0], StrideW: l.win.Stride[1],
		Act: l.q.Act, Round: l.q.Round, ShiftCut: l.q.ShiftCut, ShiftBias: l.shiftBias, ActFix: l.q.ActFix}
	op := isa.Instr{Op: l.op, Wait: 1 << isa.LoadEngine, Signal: 1 << isa.SaveEngine,
		InBank: 0, In2Bank: 1, OutBank: 8, WBank: isa.WeightBank0, H: l.h, W: l.w, C: l.c, OC: l.oc,
		PadTop: l.win.Padding[0], PadBottom: l.win.PadEnd[0], PadLeft: l.win.Padding[1], PadRight: l.win.PadEnd[1]}
	switch l.op {
	case isa.CONV:
		init.Op = isa.CONVINIT
	case isa.DPTWISE:
		init.Op, op.OC = isa.DWINIT, 0
	case isa.POOL:
		init = isa.Instr{Op: isa.POOLINIT, KernelH: l.win.Kernel[0], KernelW: l.win.Kernel[1], StrideH: l.win.Stride[0], StrideW: l.win.Stride[1],
			Round: l.q.Round, ShiftCut: l.q.ShiftCut, AvgMult: l.mult}
		if l.avg {
			init.Pool = isa.PoolAvg
		}
		op.OC = 0
	case isa.ELEW:
		init = isa.Instr{Op: isa.ELEWINIT, Act: l.q.Act, Round: l.q.Round, ShiftCut: l.q.ShiftCut, ActFix: l.q.ActFix,
			ShiftA: l.shiftA, ShiftB: l.shiftB}
		if l.mul {
			init.ElewOp = isa.ElewMul
		}
		op.OC, op.PadTop, op.PadBottom, op.PadLeft, op.PadRight = 0, 0, 0, 0, 0
	}
	if l.op != isa.CONV && l.op != isa.DPTWISE {
		op.WBank = 0
	}
	if l.op != isa.ELEW {
		op.In2Bank = 0
	}
	prog = append(prog, init, op,
		isa.Instr{Op: isa.SAVE, Wait: 1 << isa.ComputeEngine, Bank: 8, DDR: aOut, H: want.H, W: want.W, C: want.C, RowStride: want.W * want.C, PixelStride: want.C},
		isa.Instr{Op: isa.END})
	return prog, ddr, want, aOut
}

func TestLayersMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, name := range []string{"b512", "b800", "b1152", "b4096"} {
		tg, err := target.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 150 {
			l := randLayer(r)
			prog, ddr, want, at := l.program(r)
			if _, err := isa.EncodeProgram(prog); err != nil {
				t.Fatalf("%s #%d: %+v: %v", name, i, l, err)
			}
			rep, err := Run(prog, tg, ddr, Options{})
			if err != nil {
				t.Fatalf("%s #%d %s: %+v: %v", name, i, l.op, l, err)
			}
			if got := ddr[at : at+len(want.Data)]; !bytes.Equal(got, int8Bytes(want.Data)) {
				t.Fatalf("%s #%d %s %+v: output differs from reference\n got %v\nwant %v", name, i, l.op, l, got, int8Bytes(want.Data))
			}
			if rep.HazardCount != 0 {
				t.Fatalf("%s: hazards in a correctly synchronised program: %v", name, rep.Hazards)
			}
			if float64(rep.Ops) > float64(rep.Cycles)*float64(rep.PeakOpsPerCycle) {
				t.Fatalf("%s: %d ops in %d cycles exceeds the peak", name, rep.Ops, rep.Cycles)
			}
		}
	}
}

func TestShiftRounding(t *testing.T) {
	tests := []struct {
		x             int64
		s             int
		dpu, std, py3 int64
	}{
		{5, 1, 3, 3, 2},
		{-5, 1, -2, -3, -2},
		{7, 1, 4, 4, 4},
		{-3, 1, -1, -2, -2},
		{6, 2, 2, 2, 2},
		{-6, 2, -1, -2, -2},
		{10, 2, 3, 3, 2},
		{9, 0, 9, 9, 9},
	}
	for _, tt := range tests {
		for mode, want := range []int64{tt.dpu, tt.std, tt.py3} {
			if got := Shift(tt.x, tt.s, mode); got != want {
				t.Errorf("Shift(%d, %d, mode %d) = %d, want %d", tt.x, tt.s, mode, got, want)
			}
			if got := ref.Round(tt.x, tt.s, mode); got != want {
				t.Errorf("ref.Round(%d, %d, mode %d) = %d, want %d", tt.x, tt.s, mode, got, want)
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 100000 {
		acc := r.Int64N(1<<34) - 1<<33
		cut, act, fix, mode := r.IntN(32), r.IntN(4), r.IntN(16), r.IntN(3)
		if got, want := Requant(acc, cut, act, fix, mode), (ref.Out{ShiftCut: cut, Act: act, ActFix: fix, Round: mode}).Apply(acc); got != want {
			t.Fatalf("Requant(%d, cut %d, act %d, fix %d, mode %d) = %d, reference %d", acc, cut, act, fix, mode, got, want)
		}
	}
}

func pad1Window() geom.Window { return pad1 }

func refOut(cut int) ref.Out { return ref.Out{ShiftCut: cut, Act: ref.ActReLU, Round: ref.RoundDPU} }
