package sim

import (
	"math"

	"argus/dpu/isa"
)

// cost is what one instruction takes and does.
type cost struct {
	cycles int64
	ops    int64
	bytes  int64 // DDR bytes moved
}

func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }

// burstCycles is the DDR bus time of one contiguous run of n bytes: bursts
// of at most BurstBytes, each a whole number of cycles at the DDR's bytes
// per cycle.
func (m *machine) burstCycles(n int64) int64 {
	bpc := m.t.DDRBytesPerCycle()
	b := int64(m.t.BurstBytes)
	per := func(k int64) int64 { return int64(math.Ceil(float64(k) / bpc)) }
	c := (n / b) * per(b)
	if r := n % b; r > 0 {
		c += per(r)
	}
	return c
}

// runs returns the contiguous DDR runs of a transfer: count and length.
func runs(in *isa.Instr) (count, length int64) {
	h, w, c := int64(in.H), int64(in.W), int64(in.C)
	switch {
	case int64(in.PixelStride) == c && int64(in.RowStride) == w*c:
		return 1, h * w * c
	case int64(in.PixelStride) == c:
		return h, w * c
	}
	return h * w, c
}

// cost returns the cycles of in starting at cycle start. LOAD and SAVE wait
// for the DDR latency, then hold the DDR data bus, which all engines of all
// cores share first come first served; the compute instructions follow the
// engine's parallelism.
func (m *machine) cost(c *core, in *isa.Instr, start int64) cost {
	t := m.t
	pp, icp, ocp := int64(t.PixelParallel), int64(t.InputChannelParallel), int64(t.OutputChannelParallel)
	setup := int64(t.ComputeSetup)
	switch in.Op {
	case isa.LOAD, isa.SAVE:
		n, l := runs(in)
		data := n * m.burstCycles(l)
		begin := max(start+int64(t.DDRLatency), m.ddrFree)
		m.ddrFree = begin + data
		m.ddrBusy += data
		return cost{cycles: m.ddrFree - start, bytes: n * l}
	case isa.CONVINIT, isa.DWINIT, isa.POOLINIT, isa.ELEWINIT:
		return cost{cycles: int64(t.InitCycles)}
	case isa.CONV:
		k := int64(c.conv.KernelH * c.conv.KernelW)
		px := outPixels(in, c.conv)
		cyc := ceilDiv(int64(in.C), icp) * ceilDiv(int64(in.OC), ocp) * ceilDiv(px, pp) * k
		return cost{cycles: cyc + setup, ops: 2 * px * int64(in.OC) * int64(in.C) * k}
	case isa.DPTWISE:
		k := int64(c.dw.KernelH * c.dw.KernelW)
		px := outPixels(in, c.dw)
		cyc := ceilDiv(int64(in.C), icp) * ceilDiv(px, int64(t.DepthwisePixelParallel)) * k
		return cost{cycles: cyc + setup, ops: 2 * px * int64(in.C) * k}
	case isa.POOL:
		k := int64(c.pool.KernelH * c.pool.KernelW)
		px := outPixels(in, c.pool)
		cyc := ceilDiv(int64(in.C), icp) * ceilDiv(px, int64(t.PoolPixelParallel)) * k
		return cost{cycles: cyc + setup, ops: px * int64(in.C) * k}
	case isa.ELEW:
		px := int64(in.H) * int64(in.W)
		cyc := ceilDiv(int64(in.C), icp) * ceilDiv(px, int64(t.ElewPixelParallel))
		return cost{cycles: cyc + setup, ops: px * int64(in.C)}
	}
	return cost{}
}

// outPixels is the output pixel count of a windowed instruction, which exec
// has already checked.
func outPixels(in *isa.Instr, cfg *isa.Instr) int64 {
	oh := (in.H+in.PadTop+in.PadBottom-cfg.KernelH)/cfg.StrideH + 1
	ow := (in.W+in.PadLeft+in.PadRight-cfg.KernelW)/cfg.StrideW + 1
	return int64(oh) * int64(ow)
}
