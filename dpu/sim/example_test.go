package sim_test

import (
	"fmt"
	"log"

	"argus/dpu/asm"
	"argus/dpu/sim"
	"argus/dpu/target"
)

// A 2x2 max-pool of one 4x4 channel: load, pool, save, with the tokens
// that order them.
func ExampleRun() {
	prog, err := asm.Parse(`
LOAD signal=compute bank=fm0 ddr=0 h=4 w=4 c=1 row_stride=4 pixel_stride=1
POOLINIT kernel_h=2 kernel_w=2 stride_h=2 stride_w=2 type=max
POOL wait=load signal=save in_bank=fm0 out_bank=fm8 in_h=4 in_w=4 c=1
SAVE wait=compute bank=fm8 ddr=16 h=2 w=2 c=1 row_stride=2 pixel_stride=1
END`)
	if err != nil {
		log.Fatal(err)
	}
	tg, err := target.Lookup("b4096")
	if err != nil {
		log.Fatal(err)
	}
	ddr := []byte{
		1, 2, 3, 4,
		5, 6, 7, 8,
		9, 10, 11, 12,
		13, 14, 15, 16,
		0, 0, 0, 0,
	}
	rep, err := sim.Run(prog, tg, ddr, sim.Options{})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ddr[16:], rep.Cycles, "cycles")
	// Output: [6 8 14 16] 142 cycles
}
