package sim

import (
	"fmt"

	"argus/dpu/isa"
	"argus/dpu/target"
)

// core is the on-chip state of one DPU core: its banks and the
// configuration its INIT instructions last wrote.
type core struct {
	t    *target.Target
	fm   [][]byte // one slice per feature-map group
	w    []byte
	bias []byte

	conv, dw, pool, elew *isa.Instr // last CONVINIT, DWINIT, POOLINIT, ELEWINIT
}

func newCore(t *target.Target) *core {
	return &core{t: t, fm: make([][]byte, t.FMBankGroups)}
}

// lazy returns the memory of a bank group, allocating it on first use:
// banks start zeroed, and most programs touch few of them.
func lazy(p *[]byte, n int) []byte {
	if *p == nil {
		*p = make([]byte, n)
	}
	return *p
}

// tile is an h x w x c block of int8 in a bank: element (y, x, ch) is at
// mem[off + (y*w+x)*stride + ch], where stride is c rounded up to whole
// bank lines.
type tile struct {
	mem     []byte
	off     int
	h, w, c int
	stride  int
	space   int // 0, 1: feature-map groups; 2: weights; 3: bias
	lo, hi  int // the lines it occupies within its space
}

func (t tile) at(y, x, ch int) int8 { return int8(t.mem[t.off+(y*t.w+x)*t.stride+ch]) }

// tile resolves an h x w x c tile starting at line addr of bank. A tile may
// run on from one bank into the next of the same group, never past the
// group's last bank.
func (c *core) tile(bank, addr, h, w, ch int) (tile, error) {
	t := c.t
	var m []byte
	var lanes, first, lines, space int // lines in the group, from the group's start
	switch {
	case isa.IsFM(bank):
		g := bank / isa.FMGroupBanks
		if g >= t.FMBankGroups {
			return tile{}, fmt.Errorf("bank %s does not exist on %s", isa.BankName(bank), t.Name)
		}
		m, lanes = lazy(&c.fm[g], t.FMBanksPerGroup*t.BankDepth*t.FMLanes()), t.FMLanes()
		first, lines, space = (bank%isa.FMGroupBanks)*t.BankDepth, t.FMBanksPerGroup*t.BankDepth, g
	case isa.IsWeight(bank):
		i := bank - isa.WeightBank0
		if i >= t.WeightBanks {
			return tile{}, fmt.Errorf("bank %s does not exist on %s (%d weight banks)", isa.BankName(bank), t.Name, t.WeightBanks)
		}
		m, lanes = lazy(&c.w, t.WeightBanks*t.BankDepth*t.FMLanes()), t.FMLanes()
		first, lines, space = i*t.BankDepth, t.WeightBanks*t.BankDepth, 2
	case bank == isa.BiasBank:
		m, lanes = lazy(&c.bias, t.BiasBankDepth*t.BiasLanes()), t.BiasLanes()
		first, lines, space = 0, t.BiasBankDepth, 3
	default:
		return tile{}, fmt.Errorf("no bank %d", bank)
	}
	depth := t.BankDepth
	if bank == isa.BiasBank {
		depth = t.BiasBankDepth
	}
	if addr >= depth {
		return tile{}, fmt.Errorf("address %d past the %d lines of bank %s", addr, depth, isa.BankName(bank))
	}
	groups := (ch + lanes - 1) / lanes
	n := h * w * groups
	if first+addr+n > lines {
		return tile{}, fmt.Errorf("%dx%dx%d tile (%d lines) at %s:%d runs past the end of its bank group", h, w, ch, n, isa.BankName(bank), addr)
	}
	return tile{mem: m, off: (first + addr) * lanes, h: h, w: w, c: ch, stride: groups * lanes,
		space: space, lo: first + addr, hi: first + addr + n}, nil
}

// write stores out (h x w x c, channel fastest) into the tile and clears
// the padding lanes, so a tile's bytes never depend on what was there.
func (t tile) write(out []int8) {
	for p := 0; p < t.h*t.w; p++ {
		row := t.mem[t.off+p*t.stride : t.off+(p+1)*t.stride]
		for ch := range t.c {
			row[ch] = byte(out[p*t.c+ch])
		}
		clear(row[t.c:])
	}
}
