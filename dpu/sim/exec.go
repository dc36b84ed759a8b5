package sim

import (
	"errors"
	"fmt"

	"argus/dpu/isa"
	"argus/internal/par"
)

// ErrWorkLimit is returned when a program needs more work than
// Options.MaxWork allows.
var ErrWorkLimit = errors.New("program exceeds the work limit")

// errSkip tells an instruction to stop after its checks in a timing-only
// run.
var errSkip = errors.New("timing only")

// outSize is the output length of a window of k with stride s over n
// inputs padded by lo and hi, or an error when the window does not fit.
func outSize(n, lo, hi, k, s int, what string) (int, error) {
	if n+lo+hi < k {
		return 0, fmt.Errorf("kernel %s %d larger than the padded tile (%d)", what, k, n+lo+hi)
	}
	return (n+lo+hi-k)/s + 1, nil
}

// span returns the last DDR byte a transfer touches, plus one.
func span(in *isa.Instr) int64 {
	return int64(in.DDR) + int64(in.H-1)*int64(in.RowStride) + int64(in.W-1)*int64(in.PixelStride) + int64(in.C)
}

// transfer runs LOAD or SAVE.
func (m *machine) transfer(c *core, in *isa.Instr) error {
	t, err := c.tile(in.Bank, in.Addr, in.H, in.W, in.C)
	if err != nil {
		return err
	}
	m.touch(t, in.Op == isa.LOAD)
	if end := span(in); end > int64(len(m.ddr)) {
		return fmt.Errorf("DDR bytes [%#x, %#x) past the %d-byte image", in.DDR, end, len(m.ddr))
	}
	if err := m.charge(int64(in.H) * int64(in.W) * int64(in.C)); err != nil {
		return err
	}
	for y := range in.H {
		for x := range in.W {
			d := in.DDR + y*in.RowStride + x*in.PixelStride
			b := t.off + (y*in.W+x)*t.stride
			if in.Op == isa.LOAD {
				copy(t.mem[b:b+in.C], m.ddr[d:d+in.C])
				clear(t.mem[b+in.C : b+t.stride])
			} else {
				copy(m.ddr[d:d+in.C], t.mem[b:b+in.C])
			}
		}
	}
	return nil
}

// charge counts n units of work against the limit.
func (m *machine) charge(n int64) error {
	if m.timingOnly {
		return errSkip
	}
	m.work += n
	if m.maxWork > 0 && m.work > m.maxWork {
		return ErrWorkLimit
	}
	return nil
}

// conv runs CONV (depthwise false) or DPTWISE (depthwise true).
func (m *machine) conv(c *core, in *isa.Instr, depthwise bool) error {
	cfg := c.conv
	if depthwise {
		cfg = c.dw
	}
	if cfg == nil {
		init := "CONVINIT"
		if depthwise {
			init = "DWINIT"
		}
		return fmt.Errorf("no %s before it", init)
	}
	oc := in.OC
	if depthwise {
		oc = in.C
	}
	kh, kw := cfg.KernelH, cfg.KernelW
	oh, err := outSize(in.H, in.PadTop, in.PadBottom, kh, cfg.StrideH, "height")
	if err != nil {
		return err
	}
	ow, err := outSize(in.W, in.PadLeft, in.PadRight, kw, cfg.StrideW, "width")
	if err != nil {
		return err
	}
	src, err := c.tile(in.InBank, in.InAddr, in.H, in.W, in.C)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	var wt tile
	if depthwise {
		wt, err = c.tile(in.WBank, in.WAddr, kh, kw, in.C)
	} else {
		wt, err = c.tile(in.WBank, in.WAddr, oc, kh*kw, in.C)
	}
	if err != nil {
		return fmt.Errorf("weights: %w", err)
	}
	bias, err := c.tile(isa.BiasBank, in.BiasAddr, 1, 1, oc)
	if err != nil {
		return fmt.Errorf("bias: %w", err)
	}
	dst, err := c.tile(in.OutBank, in.OutAddr, oh, ow, oc)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	m.touch(src, false)
	m.touch(wt, false)
	m.touch(bias, false)
	m.touch(dst, true)
	red := int64(kh * kw)
	if !depthwise {
		red *= int64(in.C)
	}
	if err := m.charge(int64(oh*ow*oc) * red); err != nil {
		return err
	}
	out := make([]int8, oh*ow*oc)
	post := func(acc int32, o int) int8 {
		acc += int32(bias.at(0, 0, o)) << cfg.ShiftBias
		return Requant(int64(acc), cfg.ShiftCut, cfg.Act, cfg.ActFix, cfg.Round)
	}
	if depthwise {
		for oy := range oh {
			for ox := range ow {
				for ch := range oc {
					var acc int32
					for ky := range kh {
						y := oy*cfg.StrideH + ky - in.PadTop
						if y < 0 || y >= in.H {
							continue
						}
						for kx := range kw {
							x := ox*cfg.StrideW + kx - in.PadLeft
							if x >= 0 && x < in.W {
								acc += int32(src.at(y, x, ch)) * int32(wt.at(ky, kx, ch))
							}
						}
					}
					out[(oy*ow+ox)*oc+ch] = post(acc, ch)
				}
			}
		}
		dst.write(out)
		return nil
	}
	// For each output pixel, gather the receptive field into a patch laid
	// out like one filter of the weight tile (kernel position, then the
	// channels padded to whole lines, padding and pad lanes zero); each
	// output channel is then one dot product. Rows of the output are
	// independent, so large layers spread them over goroutines.
	kk, st := kh*kw, src.stride
	rows := func(oy0, oy1 int) {
		patch := make([]byte, kk*st)
		for oy := oy0; oy < oy1; oy++ {
			for ox := range ow {
				clear(patch)
				for ky := range kh {
					y := oy*cfg.StrideH + ky - in.PadTop
					if y < 0 || y >= in.H {
						continue
					}
					for kx := range kw {
						x := ox*cfg.StrideW + kx - in.PadLeft
						if x < 0 || x >= in.W {
							continue
						}
						base := src.off + (y*src.w+x)*st
						copy(patch[(ky*kw+kx)*st:], src.mem[base:base+in.C])
					}
				}
				for o := range oc {
					wb := wt.off + o*kk*st
					out[(oy*ow+ox)*oc+o] = post(dot(patch, wt.mem[wb:wb+kk*st]), o)
				}
			}
		}
	}
	if int64(oh*ow*oc)*red < 1<<20 {
		rows(0, oh)
	} else {
		par.Workers(oh, 0, func(_, lo, hi int) { rows(lo, hi) })
	}
	dst.write(out)
	return nil
}

// poolExec runs POOL.
func (m *machine) poolExec(c *core, in *isa.Instr) error {
	cfg := c.pool
	if cfg == nil {
		return errors.New("no POOLINIT before it")
	}
	kh, kw := cfg.KernelH, cfg.KernelW
	oh, err := outSize(in.H, in.PadTop, in.PadBottom, kh, cfg.StrideH, "height")
	if err != nil {
		return err
	}
	ow, err := outSize(in.W, in.PadLeft, in.PadRight, kw, cfg.StrideW, "width")
	if err != nil {
		return err
	}
	src, err := c.tile(in.InBank, in.InAddr, in.H, in.W, in.C)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	dst, err := c.tile(in.OutBank, in.OutAddr, oh, ow, in.C)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	m.touch(src, false)
	m.touch(dst, true)
	if err := m.charge(int64(oh*ow*in.C) * int64(kh*kw)); err != nil {
		return err
	}
	out := make([]int8, oh*ow*in.C)
	for oy := range oh {
		for ox := range ow {
			for ch := range in.C {
				best, sum := int64(-128), int64(0)
				for ky := range kh {
					y := oy*cfg.StrideH + ky - in.PadTop
					if y < 0 || y >= in.H {
						continue
					}
					for kx := range kw {
						x := ox*cfg.StrideW + kx - in.PadLeft
						if x < 0 || x >= in.W {
							continue
						}
						v := int64(src.at(y, x, ch))
						best = max(best, v)
						sum += v
					}
				}
				var r int8
				if cfg.Pool == isa.PoolMax {
					r = int8(best)
				} else {
					r = Requant(sum*int64(cfg.AvgMult), cfg.ShiftCut, isa.ActNone, 0, cfg.Round)
				}
				out[(oy*ow+ox)*in.C+ch] = r
			}
		}
	}
	dst.write(out)
	return nil
}

// elewExec runs ELEW.
func (m *machine) elewExec(c *core, in *isa.Instr) error {
	cfg := c.elew
	if cfg == nil {
		return errors.New("no ELEWINIT before it")
	}
	a, err := c.tile(in.InBank, in.InAddr, in.H, in.W, in.C)
	if err != nil {
		return fmt.Errorf("first input: %w", err)
	}
	b, err := c.tile(in.In2Bank, in.In2Addr, in.H, in.W, in.C)
	if err != nil {
		return fmt.Errorf("second input: %w", err)
	}
	dst, err := c.tile(in.OutBank, in.OutAddr, in.H, in.W, in.C)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	m.touch(a, false)
	m.touch(b, false)
	m.touch(dst, true)
	if err := m.charge(int64(in.H * in.W * in.C)); err != nil {
		return err
	}
	out := make([]int8, in.H*in.W*in.C)
	for y := range in.H {
		for x := range in.W {
			for ch := range in.C {
				va := int64(a.at(y, x, ch)) << cfg.ShiftA
				vb := int64(b.at(y, x, ch)) << cfg.ShiftB
				acc := va + vb
				if cfg.ElewOp == isa.ElewMul {
					acc = va * vb
				}
				out[(y*in.W+x)*in.C+ch] = Requant(acc, cfg.ShiftCut, cfg.Act, cfg.ActFix, cfg.Round)
			}
		}
	}
	dst.write(out)
	return nil
}

// exec applies the effect of one instruction on core c.
func (m *machine) exec(c *core, in *isa.Instr) error {
	if err := m.apply(c, in); err != errSkip {
		return err
	}
	return nil
}

func (m *machine) apply(c *core, in *isa.Instr) error {
	switch in.Op {
	case isa.LOAD, isa.SAVE:
		return m.transfer(c, in)
	case isa.CONVINIT:
		c.conv = in
	case isa.DWINIT:
		c.dw = in
	case isa.POOLINIT:
		c.pool = in
	case isa.ELEWINIT:
		c.elew = in
	case isa.CONV:
		return m.conv(c, in, false)
	case isa.DPTWISE:
		return m.conv(c, in, true)
	case isa.POOL:
		return m.poolExec(c, in)
	case isa.ELEW:
		return m.elewExec(c, in)
	default:
		return fmt.Errorf("%s does not execute", in.Name())
	}
	return nil
}

// dot is the int32 (wrapping) dot product of two int8 vectors stored as
// bytes, of a's length.
func dot(a, b []byte) int32 {
	b = b[:len(a)]
	var s int32
	for i, v := range a {
		s += int32(int8(v)) * int32(int8(b[i]))
	}
	return s
}

// extent is a range of lines of one bank space of one core.
type extent struct{ space, lo, hi int }

func (r extent) overlaps(o extent) bool { return r.space == o.space && r.lo < o.hi && o.lo < r.hi }

// touch records that the running instruction reads or writes t.
func (m *machine) touch(t tile, write bool) {
	r := extent{t.space, t.lo, t.hi}
	if write {
		m.writes = append(m.writes, r)
	} else {
		m.reads = append(m.reads, r)
	}
}
