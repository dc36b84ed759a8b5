package sim

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"argus/dpu/asm"
	"argus/dpu/isa"
	"argus/dpu/ref"
	"argus/internal/geom"
)

// region is a block of the DDR image.
type region struct{ off, n int }

func (r region) of(ddr []byte) []int8 {
	out := make([]int8, r.n)
	for i := range out {
		out[i] = int8(ddr[r.off+i])
	}
	return out
}

func tensor(ddr []byte, r region, h, w, c int) ref.Tensor {
	return ref.Tensor{H: h, W: w, C: c, Data: r.of(ddr)}
}

var pad1 = geom.Window{Kernel: []int{3, 3}, Padding: []int{1, 1}}

func conv3x3Tiled(ddr []byte) []int8 {
	x := tensor(ddr, region{0x0000, 8192}, 16, 16, 32)
	return ref.Conv(x, region{0x2000, 9216}.of(ddr), region{0x4400, 32}.of(ddr), 32, pad1, 6,
		ref.Out{ShiftCut: 10, Act: ref.ActReLU, Round: ref.RoundDPU}).Data
}

// examples lists each program under examples/dpu with its DDR layout: the
// regions the test fills with random int8, where the output lies, and the
// reference layers that compute it.
var examples = []struct {
	file    string
	size    int
	inputs  []region
	out     region
	targets []string
	want    func(ddr []byte) []int8
}{
	{"conv3x3_tiled.s", 0x6800, []region{{0, 0x4420}}, region{0x4800, 8192},
		[]string{"b512", "b800", "b1152", "b4096", "zu2"}, conv3x3Tiled},
	{"conv3x3_2core.s", 0x6800, []region{{0, 0x4420}}, region{0x4800, 8192},
		[]string{"zcu104", "zu9"}, conv3x3Tiled},
	{"conv_relu_pool.s", 0x1840, []region{{0, 0x1620}}, region{0x1640, 512},
		[]string{"b512", "b1600", "b4096", "zcu104"}, func(ddr []byte) []int8 {
			x := tensor(ddr, region{0, 1024}, 8, 8, 16)
			y := ref.Conv(x, region{0x400, 4608}.of(ddr), region{0x1600, 32}.of(ddr), 32, pad1, 4,
				ref.Out{ShiftCut: 11, Act: ref.ActReLU, Round: ref.RoundDPU})
			return ref.MaxPool(y, geom.Window{Kernel: []int{2, 2}, Stride: []int{2, 2}}).Data
		}},
	{"residual.s", 0x1140, []region{{0, 0xd10}}, region{0xd40, 1024},
		[]string{"b512", "b2304", "b4096"}, func(ddr []byte) []int8 {
			x := tensor(ddr, region{0, 1024}, 8, 8, 16)
			y := ref.Conv(x, region{0x400, 2304}.of(ddr), region{0xd00, 16}.of(ddr), 16, pad1, 3,
				ref.Out{ShiftCut: 9, Round: ref.RoundDPU})
			return ref.Add(y, x, 1, 0, ref.Out{ShiftCut: 1, Act: ref.ActReLU, Round: ref.RoundDPU}).Data
		}},
	{"depthwise.s", 0x2180, []region{{0, 0x1180}}, region{0x1180, 4096},
		[]string{"b512", "b800", "b3136", "b4096"}, func(ddr []byte) []int8 {
			x := tensor(ddr, region{0, 2048}, 8, 8, 32)
			y := ref.Depthwise(x, region{0x800, 288}.of(ddr), region{0x920, 32}.of(ddr), pad1, 2,
				ref.Out{ShiftCut: 7, Act: ref.ActReLU6, ActFix: 4, Round: ref.RoundDPU})
			return ref.Conv(y, region{0x940, 2048}.of(ddr), region{0x1140, 64}.of(ddr), 64,
				geom.Window{Kernel: []int{1, 1}}, 3, ref.Out{ShiftCut: 8, Act: ref.ActReLU6, ActFix: 4, Round: ref.RoundPy3}).Data
		}},
}

// ExampleImage returns a DDR image for an example with its inputs drawn
// from seed.
func exampleImage(size int, inputs []region, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	ddr := make([]byte, size)
	for _, in := range inputs {
		for i := range in.n {
			ddr[in.off+i] = byte(r.IntN(256))
		}
	}
	return ddr
}

func loadExample(t testing.TB, file string) []isa.Instr {
	t.Helper()
	src, err := os.ReadFile(filepath.Join("..", "..", "examples", "dpu", file))
	if err != nil {
		t.Fatal(err)
	}
	prog, err := asm.Parse(string(src))
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return prog
}

func TestExamplesBitExact(t *testing.T) {
	for _, ex := range examples {
		prog := loadExample(t, ex.file)
		if got := DDRExtent(prog); got > int64(ex.size) {
			t.Fatalf("%s reaches %d DDR bytes, layout has %d", ex.file, got, ex.size)
		}
		for _, name := range ex.targets {
			for seed := range uint64(3) {
				t.Run(ex.file+"/"+name, func(t *testing.T) {
					ddr := exampleImage(ex.size, ex.inputs, seed)
					want := int8Bytes(ex.want(ddr))
					rep, err := Run(prog, mustTarget(t, name), ddr, Options{})
					if err != nil {
						t.Fatal(err)
					}
					got := ddr[ex.out.off : ex.out.off+ex.out.n]
					if !bytes.Equal(got, want) {
						t.Fatalf("output differs from the reference layers")
					}
					if rep.HazardCount != 0 {
						t.Errorf("hazards: %v", rep.Hazards)
					}
					if rep.UnconsumedTokens != 0 {
						t.Errorf("%d tokens never consumed", rep.UnconsumedTokens)
					}
					nonzero := 0
					for _, b := range got {
						if b != 0 {
							nonzero++
						}
					}
					if nonzero < len(got)/8 {
						t.Errorf("only %d of %d outputs nonzero: the example exercises little", nonzero, len(got))
					}
				})
			}
		}
	}
}
