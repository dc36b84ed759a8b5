package sim

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"argus/dpu/asm"
	"argus/dpu/ref"
)

// convJob describes a 3x3, padding 1, stride 1 convolution with ReLU over
// an H x W x C input, split by a program generator into row tiles (Rows
// output rows each), output-channel groups (Groups) and cores (Cores).
type convJob struct {
	H, W, C, OC         int
	Rows, Groups, Cores int
	ShiftCut, ShiftBias int
	lanes               int
	aIn, aW, aB, aOut   int // DDR layout
	size                int
}

func (j *convJob) layout() {
	j.aIn = 0
	j.aW = j.H * j.W * j.C
	j.aB = j.aW + j.OC*9*j.C
	j.aOut = j.aB + j.OC
	j.size = j.aOut + j.H*j.W*j.OC
}

// program writes the job as assembly. Each core takes a band of output
// rows; for each output-channel group it loads that group's weights, then
// convolves its band tile by tile. Input tiles alternate between fm0 and
// fm4 and output tiles between fm8 and fm12 (double buffering); tokens
// order every reuse of a buffer: load -> compute for each tile, compute ->
// save for each output, save -> compute before an output buffer is
// rewritten, and compute -> load before an input buffer or the weights
// are.
func (j *convJob) program() string {
	j.layout()
	var b strings.Builder
	ocg := j.OC / j.Groups
	band := (j.H + j.Cores - 1) / j.Cores
	for core := range j.Cores {
		lo, hi := core*band, min(j.H, (core+1)*band)
		fmt.Fprintf(&b, "; core %d: output rows %d-%d\n", core, lo, hi-1)
		fmt.Fprintf(&b, "LOAD bank=bias ddr=%#x h=1 w=1 c=%d row_stride=%d pixel_stride=%d\n", j.aB, j.OC, j.OC, j.OC)
		fmt.Fprintf(&b, "CONVINIT kernel_h=3 kernel_w=3 act=relu shift_cut=%d shift_bias=%d\n", j.ShiftCut, j.ShiftBias)
		type tileJob struct{ g, r0, r1 int }
		var jobs []tileJob
		for g := range j.Groups {
			for r := lo; r < hi; r += j.Rows {
				jobs = append(jobs, tileJob{g, r, min(hi, r+j.Rows)})
			}
		}
		consumed := 0 // compute -> load tokens taken so far; token k is CONV k's
		var loads, convs, saves []string
		for k, t := range jobs {
			var ls []string
			wait := func(need int) string { // the LOAD must follow CONV need
				if need < consumed {
					return ""
				}
				if need != consumed {
					panic("generator: one token cannot cover the dependency")
				}
				consumed++
				return " wait=compute"
			}
			in0, in1 := max(0, t.r0-1), min(j.H, t.r1+1)
			inBank := []string{"fm0", "fm4"}[k%2]
			w := ""
			if k >= 2 {
				w = wait(k - 2)
			}
			ls = append(ls, fmt.Sprintf("LOAD%s bank=%s ddr=%#x h=%d w=%d c=%d row_stride=%d pixel_stride=%d",
				w, inBank, j.aIn+in0*j.W*j.C, in1-in0, j.W, j.C, j.W*j.C, j.C))
			if k == 0 || t.g != jobs[k-1].g {
				w = ""
				if k >= 1 {
					w = wait(k - 1)
				}
				ls = append(ls, fmt.Sprintf("LOAD%s bank=w0 ddr=%#x h=%d w=9 c=%d row_stride=%d pixel_stride=%d",
					w, j.aW+t.g*ocg*9*j.C, ocg, j.C, 9*j.C, j.C))
			}
			ls[len(ls)-1] = strings.Replace(ls[len(ls)-1], " bank=", " signal=compute bank=", 1)
			loads = append(loads, ls...)

			outBank := []string{"fm8", "fm12"}[k%2]
			cw := "load"
			if k >= 2 {
				cw = "load,save"
			}
			pt, pb := 0, 0
			if t.r0 == 0 {
				pt = 1
			}
			if t.r1 == j.H {
				pb = 1
			}
			convs = append(convs, fmt.Sprintf("CONV wait=%s signal=load,save in_bank=%s in_h=%d in_w=%d ic=%d out_bank=%s oc=%d w_bank=w0 bias_addr=%d pad_top=%d pad_bottom=%d pad_left=1 pad_right=1",
				cw, inBank, in1-in0, j.W, j.C, outBank, ocg, t.g*ocg/j.lanes, pt, pb))
			sig := ""
			if k+2 < len(jobs) {
				sig = " signal=compute"
			}
			saves = append(saves, fmt.Sprintf("SAVE wait=compute%s bank=%s ddr=%#x h=%d w=%d c=%d row_stride=%d pixel_stride=%d",
				sig, outBank, j.aOut+t.r0*j.W*j.OC+t.g*ocg, t.r1-t.r0, j.W, ocg, j.W*j.OC, j.OC))
		}
		for _, s := range [][]string{loads, convs, saves} {
			for _, l := range s {
				b.WriteString(l + "\n")
			}
		}
		b.WriteString("END\n")
	}
	return b.String()
}

// TestGeneratedTiledConv checks the generator's synchronisation and tiling
// on a small layer, bit for bit, with no hazards and no deadlock.
func TestGeneratedTiledConv(t *testing.T) {
	tests := []struct {
		target string
		job    convJob
	}{
		{"zcu104", convJob{H: 12, W: 10, C: 32, OC: 64, Rows: 3, Groups: 2, Cores: 2, ShiftCut: 11, ShiftBias: 5, lanes: 16}},
		{"zu9", convJob{H: 13, W: 7, C: 16, OC: 48, Rows: 2, Groups: 3, Cores: 3, ShiftCut: 10, ShiftBias: 4, lanes: 16}},
		{"zu2", convJob{H: 9, W: 9, C: 24, OC: 24, Rows: 4, Groups: 1, Cores: 1, ShiftCut: 10, ShiftBias: 4, lanes: 12}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			j := tt.job
			prog, err := asm.Parse(j.program())
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(j.H), uint64(j.OC)))
			ddr := make([]byte, j.size)
			for i := range j.aOut {
				ddr[i] = byte(r.IntN(256))
			}
			x := ref.Tensor{H: j.H, W: j.W, C: j.C, Data: region{j.aIn, j.H * j.W * j.C}.of(ddr)}
			want := ref.Conv(x, region{j.aW, j.OC * 9 * j.C}.of(ddr), region{j.aB, j.OC}.of(ddr), j.OC, pad1, j.ShiftBias,
				ref.Out{ShiftCut: j.ShiftCut, Act: ref.ActReLU})
			rep, err := Run(prog, mustTarget(t, tt.target), ddr, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ddr[j.aOut:], int8Bytes(want.Data)) {
				t.Fatal("generated program's output differs from the reference")
			}
			if rep.HazardCount != 0 {
				t.Fatalf("hazards: %v", rep.Hazards)
			}
			timing, err := Run(prog, mustTarget(t, tt.target), make([]byte, j.size), Options{TimingOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			if timing.Cycles != rep.Cycles || timing.Ops != rep.Ops || timing.DDRBytes != rep.DDRBytes {
				t.Fatalf("timing-only run differs: %d vs %d cycles", timing.Cycles, rep.Cycles)
			}
		})
	}
}

// vggConv3 is VGG-16's conv3_2: 56x56x256 -> 56x56x256, 3x3, tiled in
// 7-row tiles and two groups of 128 output channels.
func vggConv3(cores int) convJob {
	return convJob{H: 56, W: 56, C: 256, OC: 256, Rows: 7, Groups: 2, Cores: cores, ShiftCut: 12, ShiftBias: 6, lanes: 16}
}

// BenchmarkVGGConv3Model reports what the cycle model predicts for VGG-16
// conv3_2 on each B4096 target (timing only), as model TOPS and utilisation.
func BenchmarkVGGConv3Model(b *testing.B) {
	for _, tc := range []struct {
		target string
		cores  int
	}{{"b4096", 1}, {"zcu104", 2}, {"zu9", 3}} {
		b.Run(tc.target, func(b *testing.B) {
			j := vggConv3(tc.cores)
			prog, err := asm.Parse(j.program())
			if err != nil {
				b.Fatal(err)
			}
			tg := mustTarget(b, tc.target)
			var rep *Report
			for b.Loop() {
				if rep, err = Run(prog, tg, make([]byte, j.size), Options{TimingOnly: true}); err != nil {
					b.Fatal(err)
				}
			}
			if rep.HazardCount != 0 {
				b.Fatalf("hazards: %v", rep.Hazards)
			}
			b.ReportMetric(rep.OpsPerSecond/1e12, "model-TOPS")
			b.ReportMetric(100*rep.Utilization, "util-%")
			b.ReportMetric(float64(rep.Cycles), "dpu-cycles")
			b.ReportMetric(rep.DDRBytesPerCycle, "ddr-B/cycle")
		})
	}
}
