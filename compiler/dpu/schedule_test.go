package dpu_test

import (
	"slices"
	"testing"

	"argus/compiler/dpu"
	"argus/compiler/partition"
	"argus/dpu/target"
)

// TestSchedule compiles a graph with and without the strategy search on a
// target with small banks, where layers take several tiles: both programs
// give the quant-ref engine's output bit for bit with no hazards, the
// search pipelines some layers and never takes more cycles.
func TestSchedule(t *testing.T) {
	m := inception(t)
	tg, err := target.Lookup("zu2")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := noise{m.Tensor(m.Input).Shape, 1}.Sample(5)
	x.Shape = append([]int{1}, x.Shape...)
	in := m.QuantizeInput(x, 0)
	want, err := m.Eval(in)
	if err != nil {
		t.Fatal(err)
	}
	cycles := map[bool]int64{}
	for _, off := range []bool{false, true} {
		p, err := dpu.Compile(m, tg, partition.Split(m, tg), dpu.Options{NoSchedule: off})
		if err != nil {
			t.Fatal(err)
		}
		got, st, err := p.RunImage(in)
		if err != nil {
			t.Fatal(err)
		}
		if st.Hazards != 0 {
			t.Errorf("no-schedule %v: %d hazards", off, st.Hazards)
		}
		if !slices.Equal(got[0].Data, want[0].Data) {
			t.Errorf("no-schedule %v: sim and quant-ref differ", off)
		}
		if off != (p.Schedule == nil) {
			t.Errorf("no-schedule %v: schedule %v", off, p.Schedule)
		}
		if p.Schedule != nil {
			c, serial, n := p.Schedule.Totals()
			t.Logf("%d layers pipelined; layers alone %d cycles, %d serial", n, c, serial)
			if n == 0 {
				t.Error("no layer pipelined")
			}
			if c > serial {
				t.Errorf("scheduled layers %d cycles > serial %d", c, serial)
			}
		}
		cycles[off] = st.Cycles
	}
	t.Logf("%d cycles scheduled, %d serial", cycles[false], cycles[true])
	if cycles[false] > cycles[true] {
		t.Errorf("scheduled %d cycles > serial %d", cycles[false], cycles[true])
	}
}
