package sim

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"argus/dpu/asm"
	"argus/dpu/isa"
	"argus/dpu/target"
)

func mustTarget(t testing.TB, name string) *target.Target {
	t.Helper()
	tg, err := target.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

func mustParse(t testing.TB, src string) []isa.Instr {
	t.Helper()
	p, err := asm.Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDeadlock(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"wait never signalled", `
LOAD wait=compute bank=fm0 h=1 w=1 c=1
END`, "core 0 load engine at line 2 LOAD waits for compute"},
		{"cycle", `
LOAD wait=compute signal=compute bank=fm0 h=1 w=1 c=1
CONVINIT wait=load signal=load kernel_h=1 kernel_w=1
END`, "waits for compute"},
		{"too few tokens", `
LOAD signal=save bank=fm0 h=1 w=1 c=1
SAVE wait=load bank=fm0 h=1 w=1 c=1
SAVE wait=load bank=fm0 h=1 w=1 c=1
END`, "save engine at line 4 SAVE waits for load"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(mustParse(t, tt.src), mustTarget(t, "b4096"), make([]byte, 16), Options{})
			var d *DeadlockError
			if !errors.As(err, &d) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want deadlock containing %q", err, tt.want)
			}
		})
	}
}

func TestRuntimeErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"ddr past image", "LOAD bank=fm0 ddr=10 h=1 w=1 c=8\nEND", "line 1: LOAD: DDR bytes [0xa, 0x12) past the 16-byte image"},
		{"no init", "CONV in_bank=fm0 out_bank=fm8 w_bank=w0 in_h=1 in_w=1 ic=1 oc=1\nEND", "no CONVINIT before it"},
		{"tile past group", "LOAD bank=fm7 addr=2047 h=1 w=2 c=1\nEND", "runs past the end of its bank group"},
		{"kernel too big", "CONVINIT kernel_h=3 kernel_w=3\nCONV in_bank=fm0 out_bank=fm8 w_bank=w0 in_h=1 in_w=1 ic=1 oc=1\nEND", "kernel height 3 larger than the padded tile"},
		{"too many cores", "END\nEND\nEND", "program has 3 core programs; target b4096 has 1 cores"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Run(mustParse(t, tt.src), mustTarget(t, "b4096"), make([]byte, 16), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
	// Weight bank w8 exists on B4096 (16 banks) but not on B512 (8).
	_, err := Run(mustParse(t, "LOAD bank=w8 h=1 w=1 c=1\nEND"), mustTarget(t, "b512"), make([]byte, 16), Options{})
	if err == nil || !strings.Contains(err.Error(), "bank w8 does not exist on b512") {
		t.Fatalf("got %v", err)
	}
}

// TestOverlap checks that the three engines run in parallel when the
// dependency fields allow it and in sequence when they demand it.
func TestOverlap(t *testing.T) {
	tg := mustTarget(t, "b4096")
	parallel := `
LOAD bank=fm0 h=16 w=16 c=16 row_stride=256 pixel_stride=16
SAVE bank=fm8 ddr=4096 h=16 w=16 c=16 row_stride=256 pixel_stride=16
END`
	serial := `
LOAD signal=save bank=fm0 h=16 w=16 c=16 row_stride=256 pixel_stride=16
SAVE wait=load bank=fm8 ddr=4096 h=16 w=16 c=16 row_stride=256 pixel_stride=16
END`
	rp, err := Run(mustParse(t, parallel), tg, make([]byte, 8192), Options{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := Run(mustParse(t, serial), tg, make([]byte, 8192), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Both move 8 KiB over the shared DDR bus; in parallel the second
	// transfer's latency hides under the first's data phase.
	if rp.Cycles >= rs.Cycles {
		t.Fatalf("parallel %d cycles, serial %d", rp.Cycles, rs.Cycles)
	}
	if rs.Cycles != 2*(int64(tg.DDRLatency)+rs.DDRBusyCycles/2) {
		t.Fatalf("serial: %d cycles, want 2 x (latency %d + %d)", rs.Cycles, tg.DDRLatency, rs.DDRBusyCycles/2)
	}
	if rp.Cycles != int64(tg.DDRLatency)+rp.DDRBusyCycles {
		t.Fatalf("parallel: %d cycles, want latency + both data phases %d", rp.Cycles, rp.DDRBusyCycles)
	}
}

// TestBounds runs random programs of many layers on several cores and holds
// the report to the target's peak ops per cycle and DDR bandwidth.
func TestBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, name := range []string{"zu2", "zu9", "zcu104", "b1024"} {
		tg := mustTarget(t, name)
		for range 20 {
			var prog []isa.Instr
			var ddr []byte
			cores := 1 + r.IntN(tg.Cores)
			for range cores {
				for range 1 + r.IntN(3) {
					l := randLayer(r)
					p, d, _, _ := l.program(r)
					for i := range p {
						if p[i].Op == isa.LOAD || p[i].Op == isa.SAVE {
							p[i].DDR += len(ddr)
						}
					}
					ddr = append(ddr, d...)
					prog = append(prog, p[:len(p)-1]...)
				}
				prog = append(prog, isa.Instr{Op: isa.END})
			}
			rep, err := Run(prog, tg, ddr, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if float64(rep.Ops) > float64(rep.Cycles)*float64(tg.TotalPeakOpsPerCycle()) || rep.Utilization > 1 {
				t.Fatalf("%s: %d ops in %d cycles exceeds peak %d/cycle", name, rep.Ops, rep.Cycles, tg.TotalPeakOpsPerCycle())
			}
			if rep.DDRBytesPerCycle > tg.DDRBytesPerCycle() || float64(rep.DDRBytes) > float64(rep.DDRBusyCycles)*tg.DDRBytesPerCycle() {
				t.Fatalf("%s: %d DDR bytes in %d cycles (%d bus cycles) exceeds %.2f bytes/cycle", name, rep.DDRBytes, rep.Cycles, rep.DDRBusyCycles, tg.DDRBytesPerCycle())
			}
			for _, e := range rep.Engines {
				if e.Busy > 1 {
					t.Fatalf("%s: engine busy %v", name, e.Busy)
				}
			}
		}
	}
}

func TestTrace(t *testing.T) {
	src := `
LOAD signal=compute bank=fm0 h=4 w=4 c=16 row_stride=64 pixel_stride=16
POOLINIT kernel_h=2 kernel_w=2 stride_h=2 stride_w=2
POOL wait=load signal=save in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=16
SAVE wait=compute bank=fm8 ddr=256 h=2 w=2 c=16 row_stride=32 pixel_stride=16
END`
	tg := mustTarget(t, "b4096")
	rep, err := Run(mustParse(t, src), tg, make([]byte, 512), Options{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, rep, tg.ClockMHz); err != nil {
		t.Fatal(err)
	}
	var tr struct {
		TraceEvents []struct {
			Name string  `json:"name"`
			Ph   string  `json:"ph"`
			Ts   float64 `json:"ts"`
			Dur  float64 `json:"dur"`
			Tid  int     `json:"tid"`
		} `json:"traceEvents"`
	}
	if err := json.Unmarshal(buf.Bytes(), &tr); err != nil {
		t.Fatal(err)
	}
	var names []string
	last := 0.0
	for _, e := range tr.TraceEvents {
		if e.Ph == "X" {
			names = append(names, e.Name)
			last = max(last, e.Ts+e.Dur)
		}
	}
	if strings.Join(names, " ") != "LOAD POOLINIT POOL SAVE" {
		t.Fatalf("events %v", names)
	}
	if want := float64(rep.Cycles) / tg.ClockMHz; last < want-1e-9 || last > want+1e-9 {
		t.Fatalf("trace ends at %v us, report %v us", last, want)
	}
}

func FuzzRun(f *testing.F) {
	r := rand.New(rand.NewPCG(31, 32))
	for range 6 {
		p, _, _, _ := randLayer(r).program(r)
		w, err := isa.EncodeProgram(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(isa.Bytes(w))
	}
	f.Add([]byte{0, 0, 0, 0xF0})
	tg := mustTarget(f, "zcu104")
	f.Fuzz(func(t *testing.T, b []byte) {
		words, err := isa.Words(b)
		if err != nil {
			return
		}
		prog, err := isa.DecodeProgram(words)
		if err != nil {
			return
		}
		_, _ = Run(prog, tg, make([]byte, 1<<16), Options{MaxWork: 1 << 20})
	})
}

// randomProgram draws a program of random valid instructions over one or
// two cores; most fail at run time, which is the point.
func randomProgram(r *rand.Rand) []isa.Instr {
	var prog []isa.Instr
	for range 1 + r.IntN(2) {
		for range r.IntN(12) {
			in := isa.Random(r)
			// Small tiles and addresses reach the datapath more often.
			if r.IntN(2) == 0 {
				in.H, in.W, in.C, in.OC = 1+r.IntN(6), 1+r.IntN(6), 1+r.IntN(20), 1+r.IntN(20)
				in.DDR, in.RowStride, in.PixelStride = r.IntN(512), r.IntN(64), r.IntN(24)
				in.Addr, in.InAddr, in.In2Addr, in.OutAddr, in.WAddr = r.IntN(4), r.IntN(4), r.IntN(4), r.IntN(4), r.IntN(4)
				in.KernelH, in.KernelW = 1+r.IntN(3), 1+r.IntN(3)
				in.PadTop, in.PadBottom, in.PadLeft, in.PadRight = r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3)
			}
			prog = append(prog, in)
		}
		prog = append(prog, isa.Instr{Op: isa.END})
	}
	return prog
}

func TestRandomProgramsNeverPanic(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	tg := mustTarget(t, "zcu104")
	ok := 0
	for range 800 {
		if _, err := Run(randomProgram(r), tg, make([]byte, 1024), Options{MaxWork: 1 << 20}); err == nil {
			ok++
		}
	}
	if ok == 0 {
		t.Fatal("no random program ran to the end")
	}
}

func FuzzRunRandom(f *testing.F) {
	f.Add(uint64(1), uint64(2))
	tg := mustTarget(f, "zcu104")
	f.Fuzz(func(t *testing.T, a, b uint64) {
		prog := randomProgram(rand.New(rand.NewPCG(a, b)))
		_, _ = Run(prog, tg, make([]byte, 1024), Options{MaxWork: 1 << 20})
	})
}

func TestHazards(t *testing.T) {
	tests := []struct {
		name, src string
		want      string // "" for none
	}{
		{"read before load ends", `
LOAD bank=fm0 h=4 w=4 c=16 row_stride=64 pixel_stride=16
POOLINIT kernel_h=2 kernel_w=2 stride_h=2 stride_w=2
POOL in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=16
END`, "core 0: line 4 POOL reads feature-map group 0 lines [0, 16) that line 2 LOAD is still writing"},
		{"overwrite while saving", `
LOAD signal=compute bank=fm0 h=4 w=4 c=16 row_stride=64 pixel_stride=16
POOLINIT kernel_h=1 kernel_w=1
POOL wait=load signal=save in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=16
SAVE wait=compute bank=fm8 ddr=0 h=4 w=4 c=16 row_stride=64 pixel_stride=16
POOL in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=16
END`, "line 6 POOL writes feature-map group 1 lines [0, 16) that line 5 SAVE is still reading"},
		{"synchronised", `
LOAD signal=compute bank=fm0 h=4 w=4 c=16 row_stride=64 pixel_stride=16
POOLINIT kernel_h=1 kernel_w=1
POOL wait=load signal=save in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=16
SAVE wait=compute signal=compute bank=fm8 ddr=0 h=4 w=4 c=16 row_stride=64 pixel_stride=16
POOL wait=save in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=16
END`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(mustParse(t, tt.src), mustTarget(t, "b4096"), make([]byte, 256), Options{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				if rep.HazardCount != 0 {
					t.Fatalf("unexpected hazards %v", rep.Hazards)
				}
				return
			}
			if rep.HazardCount == 0 || !strings.Contains(rep.Hazards[0], tt.want) {
				t.Fatalf("hazards %v, want %q", rep.Hazards, tt.want)
			}
		})
	}
}
