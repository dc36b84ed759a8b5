// Package dpu is the compiler's code generator and runtime: it turns a
// quantised model (compiler/quant), split between the DPU and the CPU
// (compiler/partition), into a Program — instruction streams for the DPU
// subgraphs, the DDR image of their weights and the placement of every
// tensor in DDR — and runs it: the DPU subgraphs on the functional
// simulator (dpu/sim), the CPU subgraphs on the int8 reference layers,
// the tensors between them in DDR. A Program is stored in a .dpu file
// (file.go).
//
// Every tensor lives in DDR as H×W×C int8, channels fastest, on the grid of
// its fix position. A layer on the DPU becomes tiles of whole output rows:
// the input rows a tile needs are loaded into feature-map bank group 0, the
// layer's engine writes the output rows into group 1, and a save writes
// them back; convolutions whose weights do not fit the weight banks at once
// are split into blocks of output channels, each loaded once for all its
// row tiles. Concatenation copies each input through the banks into its
// channels of the output (a transfer with the output's pixel stride), a
// flatten of a 1×1 tensor is the same bytes, and a standalone ReLU or ReLU6
// is an element-wise sum of a tensor with itself, shifted back by one.
//
// The instructions of one subgraph form a chain: each one that runs on
// another engine than the one before waits for it, so the load, compute
// and save engines never touch the same lines at once.
package dpu

import (
	"fmt"

	"argus/compiler/fuse"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/compiler/schedule"
	"argus/dpu/isa"
	"argus/dpu/target"
)

// Buffer is where a tensor lives in DDR: H×W×C int8 bytes from Addr.
type Buffer struct {
	Name  string `json:"name"`
	Addr  int    `json:"addr"`
	Shape [3]int `json:"shape"` // C, H, W
}

// Size is the buffer's length in bytes.
func (b *Buffer) Size() int { return b.Shape[0] * b.Shape[1] * b.Shape[2] }

// Subgraph is a run of layers on one device. A DPU subgraph carries its
// instruction stream (one core's program, ending with END) and, for each
// instruction, the index of the layer it belongs to.
type Subgraph struct {
	Device  partition.Device `json:"device"`
	First   int              `json:"first"`
	End     int              `json:"end"`
	Code    []isa.Instr      `json:"-"`
	LayerOf []int            `json:"-"`
}

// Program is a compiled model.
type Program struct {
	Target *target.Target
	Model  *quant.Model
	Plan   *partition.Plan
	// Buffers places every tensor of Model in DDR.
	Buffers []Buffer
	// Const is the start of the DDR image: the weights and biases of the
	// DPU layers, at WeightAddr and BiasAddr of each.
	Const []byte
	// DDRSize is the length of the whole DDR image.
	DDRSize   int
	Subgraphs []Subgraph
	// Groups are the fused groups (compiler/fuse) the code realises.
	Groups []fuse.Group
	// Schedule is the strategy chosen for each layer (compiler/schedule);
	// nil when compiled with Options.NoSchedule or read from a file.
	Schedule *schedule.Plan
}

// Options change how Compile generates code.
type Options struct {
	// NoFusion generates every layer on its own: no Resident or Addressed
	// group (the activations the quantiser absorbed stay absorbed).
	NoFusion bool
	// NoSchedule skips the strategy search: every layer takes the serial
	// strategy, tiles as large as a bank group and its engines one after
	// another.
	NoSchedule bool
}

// Buffer returns the buffer of the tensor called name, or nil.
func (p *Program) Buffer(name string) *Buffer {
	for i := range p.Buffers {
		if p.Buffers[i].Name == name {
			return &p.Buffers[i]
		}
	}
	return nil
}

// align is the DDR alignment of every buffer, one burst's worth of lines.
const align = 64

func roundUp(n, a int) int { return (n + a - 1) / a * a }

// Compile generates the program of m for t along the partition plan,
// realising the fused groups fuse.Find chooses unless o.NoFusion.
func Compile(m *quant.Model, t *target.Target, plan *partition.Plan, o Options) (*Program, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	p := &Program{Target: t, Model: m, Plan: plan}
	// Weights and biases first.
	type params struct{ w, b int }
	par := make([]params, len(m.Layers))
	var cst []byte
	for i := range m.Layers {
		l := &m.Layers[i]
		if plan.Placements[i].Device != partition.DPU || len(l.Weights) == 0 {
			continue
		}
		par[i].w = len(cst)
		cst = append(cst, int8Bytes(l.Weights)...)
		cst = append(cst, make([]byte, roundUp(len(cst), align)-len(cst))...)
		par[i].b = len(cst)
		cst = append(cst, int8Bytes(l.Bias)...)
		cst = append(cst, make([]byte, roundUp(len(cst), align)-len(cst))...)
	}
	p.Const = cst
	// Then every tensor; a flatten of a 1×1 tensor shares its input's bytes.
	next := len(cst)
	alias := map[string]string{}
	for _, l := range m.Layers {
		if l.Op == quant.OpFlatten {
			if in := m.Tensor(l.Inputs[0]); in != nil && in.Shape[1]*in.Shape[2] == 1 {
				alias[l.Output] = l.Inputs[0]
			}
		}
	}
	for _, tn := range m.Tensors {
		if src, ok := alias[tn.Name]; ok {
			b := p.Buffer(src)
			if b == nil {
				return nil, fmt.Errorf("tensor %q flattens %q, which has no buffer yet", tn.Name, src)
			}
			p.Buffers = append(p.Buffers, Buffer{Name: tn.Name, Addr: b.Addr, Shape: tn.Shape})
			continue
		}
		p.Buffers = append(p.Buffers, Buffer{Name: tn.Name, Addr: next, Shape: tn.Shape})
		next = roundUp(next+tn.Shape[0]*tn.Shape[1]*tn.Shape[2], align)
	}
	if next > 1<<31 {
		return nil, fmt.Errorf("DDR image of %d bytes exceeds the 32-bit address space", next)
	}
	p.DDRSize = next
	fz, err := p.fusion(o)
	if err != nil {
		return nil, err
	}
	if !o.NoSchedule {
		p.Schedule = &schedule.Plan{Layers: make([]*schedule.Choice, len(m.Layers))}
	}
	var ddr []byte // the search's DDR image, which timing leaves untouched
	for _, sg := range plan.Subgraphs {
		s := Subgraph{Device: sg.Device, First: sg.First, End: sg.End}
		if sg.Device == partition.DPU {
			e := &emitter{t: t, last: -1, fz: fz}
			for i := sg.First; i < sg.End; i++ {
				e.layer = i
				var st schedule.Strategy
				if p.Schedule != nil && e.pipelinable(&m.Layers[i]) {
					if ddr == nil {
						ddr = make([]byte, p.DDRSize)
					}
					c, err := p.search(e, i, par[i].w, par[i].b, ddr)
					if err != nil {
						return nil, fmt.Errorf("layer %s: schedule: %w", m.Layers[i].String(), err)
					}
					p.Schedule.Layers[i], st = c, c.Strategy
					if !st.Double {
						st = schedule.Strategy{} // the serial strategy: the most rows that fit
					}
				}
				if err := e.emit(p, &m.Layers[i], par[i].w, par[i].b, st); err != nil {
					return nil, fmt.Errorf("layer %s: %w", m.Layers[i].String(), err)
				}
			}
			e.layer = -1
			e.add(isa.Instr{Op: isa.END})
			for k := range e.code {
				if err := e.code[k].Validate(); err != nil {
					return nil, fmt.Errorf("layer %d: %s: %w", e.layerOf[k], e.code[k].Name(), err)
				}
			}
			s.Code, s.LayerOf = e.code, e.layerOf
		}
		p.Subgraphs = append(p.Subgraphs, s)
	}
	return p, nil
}

// search chooses the strategy of layer i (compiler/schedule): each
// candidate's code for the layer alone, timed on the cycle model.
func (p *Program) search(e *emitter, i, waddr, baddr int, ddr []byte) (*schedule.Choice, error) {
	l := &p.Model.Layers[i]
	oh := p.Buffer(l.Output).Shape[1]
	if l.Op == quant.OpAdd || l.Op == quant.OpMul || l.Op == quant.OpReLU || l.Op == quant.OpReLU6 {
		oh = p.Buffer(l.Inputs[0]).Shape[1]
	}
	cands := schedule.Candidates(oh, e.maxRows(p, l, false), e.maxRows(p, l, true))
	c, err := schedule.Search(cands, func(s schedule.Strategy) (int64, error) {
		x := &emitter{t: e.t, last: -1, fz: e.fz, layer: i}
		if !s.Double {
			s = schedule.Strategy{}
		}
		if err := x.emit(p, l, waddr, baddr, s); err != nil {
			return 0, err
		}
		x.layer = -1
		x.add(isa.Instr{Op: isa.END})
		return schedule.Cost(p.Target, x.code, ddr)
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, q := range v {
		b[i] = byte(q)
	}
	return b
}

// fused is what the chosen groups change in the code: the layers whose
// output stays in bank group 1 for the next layer (not saved), the layers
// that read one input there (and write their output into group 0), and
// the tensors saved straight into a concatenation's output.
type fused struct {
	keep   map[int]bool
	reads  map[int]string
	redir  map[string]redirect
	copied map[string]bool // inputs a concatenation need not copy
}

// redirect is where a tensor is saved instead of its own buffer: from
// addr, pixel pixels apart.
type redirect struct{ addr, pixel int }

// fusion chooses the fused groups of p (none with o.NoFusion) and returns
// what they change in the code.
func (p *Program) fusion(o Options) (*fused, error) {
	fz := &fused{keep: map[int]bool{}, reads: map[int]string{}, redir: map[string]redirect{}, copied: map[string]bool{}}
	m, plan := p.Model, p.Plan
	sub := make([]int, len(m.Layers))
	for k, sg := range plan.Subgraphs {
		for i := sg.First; i < sg.End; i++ {
			sub[i] = k
		}
	}
	e := &emitter{t: p.Target}
	groups, err := fuse.Find(m, fuse.Options{
		OnDPU: func(i int) bool { return plan.Placements[i].Device == partition.DPU },
		Same:  func(i, j int) bool { return sub[i] == sub[j] },
		Whole: func(i int) bool { return e.whole(p, &m.Layers[i]) },
	})
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		if o.NoFusion && g.Kind != fuse.Absorbed {
			continue
		}
		switch g.Kind {
		case fuse.Resident:
			fz.keep[g.Layers[0]], fz.reads[g.Layers[1]] = true, g.Tensors[0]
		case fuse.Addressed:
			cat := &m.Layers[g.Layers[1]]
			out := p.Buffer(cat.Output)
			c0 := 0
			for _, name := range cat.Inputs {
				if name == g.Tensors[0] {
					break
				}
				c0 += m.Tensor(name).Shape[0]
			}
			fz.redir[g.Tensors[0]] = redirect{addr: out.Addr + c0, pixel: out.Shape[0]}
			fz.copied[g.Tensors[0]] = true
		}
		p.Groups = append(p.Groups, g)
	}
	if p.Groups == nil {
		p.Groups = []fuse.Group{}
	}
	return fz, nil
}

// whole reports whether layer l (a convolution or a sum or product)
// computes its output in one tile that fits one bank group.
func (e *emitter) whole(p *Program, l *quant.Layer) bool {
	in, out := p.Buffer(l.Inputs[0]), p.Buffer(l.Output)
	switch l.Op {
	case quant.OpConv, quant.OpDepthwise:
		ocBlock, th, err := e.convTiles(l, in, out)
		return err == nil && ocBlock == out.Shape[0] && th == out.Shape[1]
	case quant.OpAdd, quant.OpMul:
		return 2*in.Shape[1]*in.Shape[2]*e.lines(in.Shape[0]) <= e.group()
	}
	return false
}

// convTiles returns the output channels per weight block and the output
// rows per tile of convolution or fully connected layer l.
func (e *emitter) convTiles(l *quant.Layer, in, out *Buffer) (ocBlock, th int, err error) {
	C, W := in.Shape[0], in.Shape[2]
	OC, OH, OW := out.Shape[0], out.Shape[1], out.Shape[2]
	kh, kw, sh := l.Kernel[0], l.Kernel[1], l.Stride[0]
	if l.Op == quant.OpFC {
		C, W, OH, OW, kh, kw, sh = C*in.Shape[1]*W, 1, 1, 1, 1, 1, 1
	}
	ocBlock = OC
	perOC := kh * kw * e.lines(C)
	wlines := e.t.WeightBanks * e.t.BankDepth
	if l.Op != quant.OpDepthwise {
		ocBlock = min(OC, wlines/perOC, 1024, e.t.BiasBankDepth*e.t.BiasLanes())
		if ocBlock < 1 {
			return 0, 0, fmt.Errorf("one filter of %d lines exceeds the weight banks", perOC)
		}
		if ocp := e.t.OutputChannelParallel; ocBlock < OC && ocBlock > ocp {
			ocBlock -= ocBlock % ocp
		}
	} else if perOC > wlines {
		return 0, 0, fmt.Errorf("depthwise weights of %d lines exceed the weight banks", perOC)
	}
	G := e.group()
	oc := min(ocBlock, OC)
	th, err = e.rows(OH, func(th int) bool {
		return ((th-1)*sh+kh)*W*e.lines(C) <= G && th*OW*e.lines(oc) <= G
	})
	return ocBlock, th, err
}

// emitter writes the instruction chain of one subgraph.
type emitter struct {
	t       *target.Target
	fz      *fused
	code    []isa.Instr
	layerOf []int
	layer   int
	last    int // index of the last instruction that runs on an engine
	words   int // length of the stream so far
}

// add appends in, making it wait for the instruction before it when that
// one ran on another engine.
func (e *emitter) add(in isa.Instr) {
	eng := in.Engine()
	if eng != isa.NoEngine {
		if e.last >= 0 {
			prev := &e.code[e.last]
			if pe := prev.Engine(); pe != eng {
				prev.Signal |= 1 << eng
				in.Wait |= 1 << pe
			}
		}
		e.last = len(e.code)
	}
	in.Word = e.words
	e.words += in.Spec().Words
	e.code = append(e.code, in)
	e.layerOf = append(e.layerOf, e.layer)
}

func (e *emitter) lines(c int) int { return (c + e.t.FMLanes() - 1) / e.t.FMLanes() }

func (e *emitter) group() int { return e.t.FMBanksPerGroup * e.t.BankDepth }

// at returns the bank and address of line n of feature-map group g.
func (e *emitter) at(g, n int) (bank, addr int) {
	return g*isa.FMGroupBanks + n/e.t.BankDepth, n % e.t.BankDepth
}

// transfer returns a LOAD or SAVE of h×w×c bytes between line n of group
// g and DDR address ddr, with the given pixel stride (the row stride is
// w pixels).
func (e *emitter) transfer(op isa.Op, g, n, ddr, h, w, c, pixel int) isa.Instr {
	bank, addr := e.at(g, n)
	return isa.Instr{Op: op, Bank: bank, Addr: addr, DDR: ddr, H: h, W: w, C: c, RowStride: w * pixel, PixelStride: pixel}
}

// rows returns the most output rows per tile (at least one) such that the
// input rows they read fit (load(rows)) and the output fits (store(rows)).
func (e *emitter) rows(oh int, fits func(th int) bool) (int, error) {
	for th := oh; th >= 1; th-- {
		if fits(th) {
			return th, nil
		}
	}
	return 0, fmt.Errorf("one output row does not fit the feature-map banks")
}

// span is the input rows [y0, y1) that output rows [oy0, oy1) read through
// a window of kernel k, stride s and top padding pt over h rows, and the
// padding above and below the tile.
func span(oy0, oy1, k, s, pt, h int) (y0, y1, top, bottom int) {
	lo := oy0*s - pt
	hi := (oy1-1)*s - pt + k
	y0, y1 = max(0, lo), min(h, hi)
	return y0, y1, y0 - lo, hi - y1
}

// dest returns where the output tensor name is saved: its buffer's
// address and channels, or the place a concatenation gave it.
func (e *emitter) dest(out *Buffer) (addr, pixel int) {
	if r, ok := e.fz.redir[out.Name]; ok {
		return r.addr, r.pixel
	}
	return out.Addr, out.Shape[0]
}

// tileCode is one tile of a layer: the loads of its input rows, the
// engine instruction and the save of its output rows (nil where the
// output stays in the banks).
type tileCode struct {
	loads []isa.Instr
	op    isa.Instr
	save  *isa.Instr
	rows  int // output rows
}

// blockCode is a run of tiles sharing the weights the pre-loads put in
// the weight and bias banks; init configures the engine before the first
// tile of the layer.
type blockCode struct {
	pre   []isa.Instr
	init  *isa.Instr
	tiles []tileCode
}

// tiledOp reports whether the code of op is tiles of output rows that a
// strategy (compiler/schedule) can shape.
func tiledOp(op quant.Op) bool {
	switch op {
	case quant.OpConv, quant.OpFC, quant.OpDepthwise, quant.OpMaxPool, quant.OpAvgPool,
		quant.OpAdd, quant.OpMul, quant.OpReLU, quant.OpReLU6:
		return true
	}
	return false
}

// emit writes the code of layer l with strategy s (the serial strategy of
// the most rows that fit when s is the zero Strategy). Where l is the
// producer of a Resident group its output stays in group 1 (no SAVE);
// where it is the consumer, the input the group keeps is read from group 1
// (no LOAD) and the output goes to group 0.
func (e *emitter) emit(p *Program, l *quant.Layer, waddr, baddr int, s schedule.Strategy) error {
	out := p.Buffer(l.Output)
	ins := make([]*Buffer, len(l.Inputs))
	for j, name := range l.Inputs {
		if ins[j] = p.Buffer(name); ins[j] == nil {
			return fmt.Errorf("input %q has no buffer", name)
		}
	}
	if out == nil {
		return fmt.Errorf("output %q has no buffer", l.Output)
	}
	if tiledOp(l.Op) {
		bs, err := e.tiles(p, l, ins, out, waddr, baddr, s)
		if err != nil {
			return err
		}
		if s.Double {
			e.pipelined(bs)
		} else {
			e.serial(bs)
		}
		return nil
	}
	return e.moves(p, l, ins, out)
}

// serial emits the blocks as one chain: every instruction waits for the
// one before on another engine.
func (e *emitter) serial(bs []blockCode) {
	for _, b := range bs {
		for _, in := range b.pre {
			e.add(in)
		}
		for k, t := range b.tiles {
			for _, in := range t.loads {
				e.add(in)
			}
			if k == 0 && b.init != nil {
				e.add(*b.init)
			}
			e.add(t.op)
			if t.save != nil {
				e.add(*t.save)
			}
		}
	}
}

// put appends in with no dependency of its own.
func (e *emitter) put(in isa.Instr) int {
	in.Word = e.words
	e.words += in.Spec().Words
	e.code = append(e.code, in)
	e.layerOf = append(e.layerOf, e.layer)
	return len(e.code) - 1
}

// pipelined emits the blocks of a double-buffered layer (tiles alternate
// between the halves of the bank groups; every tile has loads and a save)
// with the dependencies that let the engines overlap. Tile k's compute
// waits for its loads and, from the third tile on, for the save of tile
// k-2 (which read the output half it writes); tile k's first load waits
// for the compute of tile k-2 of its block (which read the input half it
// fills); the weights of a later block wait for the last compute of the
// block before. The layer's first instruction waits for the one before the
// layer, and its last save ends after all its instructions.
func (e *emitter) pipelined(bs []blockCode) {
	const ld, cp, sv = isa.LoadEngine, isa.ComputeEngine, isa.SaveEngine
	var comp, saves []int
	first := true
	emit := func(in isa.Instr) int {
		if first {
			first = false
			e.add(in)
			return len(e.code) - 1
		}
		return e.put(in)
	}
	for bi, b := range bs {
		s := len(comp)
		for j, in := range b.pre {
			if j == 0 && bi > 0 {
				e.code[comp[s-1]].Signal |= 1 << ld
				in.Wait |= 1 << cp
			}
			emit(in)
		}
		for ti, t := range b.tiles {
			k := s + ti
			for j, in := range t.loads {
				if j == 0 && k-2 >= s {
					e.code[comp[k-2]].Signal |= 1 << ld
					in.Wait |= 1 << cp
				}
				if j == len(t.loads)-1 {
					in.Signal |= 1 << cp
				}
				emit(in)
			}
			if ti == 0 && b.init != nil {
				emit(*b.init)
			}
			op := t.op
			op.Wait |= 1 << ld
			op.Signal |= 1 << sv
			if k >= 2 {
				e.code[saves[k-2]].Signal |= 1 << cp
				op.Wait |= 1 << sv
			}
			comp = append(comp, emit(op))
			sa := *t.save
			sa.Wait |= 1 << cp
			saves = append(saves, emit(sa))
		}
	}
	e.last = saves[len(saves)-1]
}

// pipelinable reports whether layer l can take a double-buffered
// strategy: it neither keeps its output in the banks nor reads its input
// there.
func (e *emitter) pipelinable(l *quant.Layer) bool {
	_, reads := e.fz.reads[e.layer]
	return tiledOp(l.Op) && !e.fz.keep[e.layer] && !reads
}

// maxRows returns the most output rows per tile of layer l that fit a
// whole bank group (half false) or half of one (half true), zero where
// not even one row fits.
func (e *emitter) maxRows(p *Program, l *quant.Layer, half bool) int {
	out := p.Buffer(l.Output)
	ins := make([]*Buffer, len(l.Inputs))
	for j, name := range l.Inputs {
		ins[j] = p.Buffer(name)
	}
	bs, err := e.tiles(p, l, ins, out, 0, 0, schedule.Strategy{Rows: out.Shape[1], Double: half})
	if err != nil || len(bs) == 0 || len(bs[0].tiles) == 0 {
		return 0
	}
	return bs[0].tiles[0].rows
}

// tiles returns the code of tiled layer l under strategy s: a serial
// strategy tiles into whole bank groups, a double-buffered one into
// halves, tile k in half k mod 2; the rows per tile are the most that fit,
// at most s.Rows (when not zero).
func (e *emitter) tiles(p *Program, l *quant.Layer, ins []*Buffer, out *Buffer, waddr, baddr int, s schedule.Strategy) ([]blockCode, error) {
	in := ins[0]
	C, H, W := in.Shape[0], in.Shape[1], in.Shape[2]
	OC, OH, OW := out.Shape[0], out.Shape[1], out.Shape[2]
	G := e.group()
	half := 0 // lines from one half to the other
	if s.Double {
		G /= 2
		half = G
	}
	// cap limits the rows that fit to the strategy's.
	capRows := func(th int) int {
		if s.Rows > 0 {
			return min(th, s.Rows)
		}
		return th
	}
	keep := e.fz.keep[e.layer]
	kept, reads := e.fz.reads[e.layer]
	outG := 1
	if reads {
		outG = 0
	}
	base, pix := e.dest(out)
	k := 0 // tiles so far: the half of the next
	save := func(oy0, oy1, o0, oc int) *isa.Instr {
		if keep {
			return nil
		}
		sv := e.transfer(isa.SAVE, outG, (k%2)*half, base+oy0*OW*pix+o0, oy1-oy0, OW, oc, pix)
		return &sv
	}
	// load returns the load of rows [y0, y1) of input j to line n of the
	// tile's half of group 0 (none where the group keeps them in group 1)
	// and where the rows are.
	load := func(loads []isa.Instr, j, y0, y1, n int) ([]isa.Instr, int, int) {
		b := ins[j]
		c := b.Shape[0]
		if reads && l.Inputs[j] == kept {
			bank, addr := e.at(1, y0*b.Shape[2]*e.lines(c))
			return loads, bank, addr
		}
		n += (k % 2) * half
		loads = append(loads, e.transfer(isa.LOAD, 0, n, b.Addr+y0*b.Shape[2]*c, y1-y0, b.Shape[2], c, c))
		bank, addr := e.at(0, n)
		return loads, bank, addr
	}
	outAt := func() (int, int) { return e.at(outG, (k%2)*half) }
	var bs []blockCode
	switch l.Op {
	case quant.OpConv, quant.OpFC, quant.OpDepthwise:
		kh, kw, sh, sw := l.Kernel[0], l.Kernel[1], l.Stride[0], l.Stride[1]
		pt, pl, pr := l.Pad[0], l.Pad[1], l.Pad[3]
		if l.Op == quant.OpFC {
			C, H, W, kh, kw, sh, sw, pt, pl, pr = C*H*W, 1, 1, 1, 1, 1, 1, 0, 0, 0
		}
		dw := l.Op == quant.OpDepthwise
		ocBlock, _, err := e.convTiles(l, in, out)
		if err != nil {
			return nil, err
		}
		init := isa.Instr{Op: isa.CONVINIT, KernelH: kh, KernelW: kw, StrideH: sh, StrideW: sw,
			Act: l.Act, Round: quant.RoundActivation, ShiftCut: l.ShiftCut, ShiftBias: l.ShiftBias, ActFix: l.ActFix}
		if dw {
			init.Op = isa.DWINIT
		}
		for o0 := 0; o0 < OC; o0 += ocBlock {
			oc := min(ocBlock, OC-o0)
			th, err := e.rows(OH, func(th int) bool {
				return ((th-1)*sh+kh)*W*e.lines(C) <= G && th*OW*e.lines(oc) <= G
			})
			if err != nil {
				return nil, err
			}
			th = capRows(th)
			var b blockCode
			if o0 == 0 {
				b.init = &init
			}
			if dw {
				b.pre = append(b.pre, isa.Instr{Op: isa.LOAD, Bank: isa.WeightBank0, DDR: waddr, H: kh, W: kw, C: C, RowStride: kw * C, PixelStride: C})
			} else {
				b.pre = append(b.pre, isa.Instr{Op: isa.LOAD, Bank: isa.WeightBank0, DDR: waddr + o0*kh*kw*C, H: oc, W: kh * kw, C: C, RowStride: kh * kw * C, PixelStride: C})
			}
			b.pre = append(b.pre, isa.Instr{Op: isa.LOAD, Bank: isa.BiasBank, DDR: baddr + o0, H: 1, W: 1, C: oc, RowStride: oc, PixelStride: oc})
			for oy0 := 0; oy0 < OH; oy0 += th {
				oy1 := min(OH, oy0+th)
				y0, y1, top, bottom := span(oy0, oy1, kh, sh, pt, H)
				var t tileCode
				var ib, ia int
				if l.Op == quant.OpFC {
					t.loads, ib, ia = load(nil, 0, 0, 1, 0)
					t.loads[0].H, t.loads[0].W, t.loads[0].C = 1, 1, C
					t.loads[0].RowStride, t.loads[0].PixelStride = C, C
				} else {
					t.loads, ib, ia = load(nil, 0, y0, y1, 0)
				}
				ob, oa := outAt()
				t.op = isa.Instr{Op: isa.CONV, InBank: ib, InAddr: ia, OutBank: ob, OutAddr: oa, WBank: isa.WeightBank0,
					PadTop: top, PadBottom: bottom, PadLeft: pl, PadRight: pr, H: y1 - y0, W: W, C: C, OC: oc}
				if dw {
					t.op.Op, t.op.OC = isa.DPTWISE, 0
				}
				t.save, t.rows = save(oy0, oy1, o0, oc), oy1-oy0
				b.tiles = append(b.tiles, t)
				k++
			}
			bs = append(bs, b)
		}
	case quant.OpMaxPool, quant.OpAvgPool:
		kh, kw, sh, sw := l.Kernel[0], l.Kernel[1], l.Stride[0], l.Stride[1]
		th, err := e.rows(OH, func(th int) bool {
			return ((th-1)*sh+kh)*W*e.lines(C) <= G && th*OW*e.lines(C) <= G
		})
		if err != nil {
			return nil, err
		}
		th = capRows(th)
		init := isa.Instr{Op: isa.POOLINIT, KernelH: kh, KernelW: kw, StrideH: sh, StrideW: sw, Pool: isa.PoolMax, Round: quant.RoundActivation}
		if l.Op == quant.OpAvgPool {
			init.Pool, init.AvgMult, init.ShiftCut = isa.PoolAvg, l.AvgMult, l.ShiftCut
		}
		b := blockCode{init: &init}
		for oy0 := 0; oy0 < OH; oy0 += th {
			oy1 := min(OH, oy0+th)
			y0, y1, top, bottom := span(oy0, oy1, kh, sh, l.Pad[0], H)
			var t tileCode
			var ib, ia int
			t.loads, ib, ia = load(nil, 0, y0, y1, 0)
			ob, oa := outAt()
			t.op = isa.Instr{Op: isa.POOL, InBank: ib, InAddr: ia, OutBank: ob, OutAddr: oa, PadTop: top, PadBottom: bottom,
				PadLeft: l.Pad[1], PadRight: l.Pad[3], H: y1 - y0, W: W, C: C}
			t.save, t.rows = save(oy0, oy1, 0, C), oy1-oy0
			b.tiles = append(b.tiles, t)
			k++
		}
		bs = append(bs, b)
	case quant.OpAdd, quant.OpMul, quant.OpReLU, quant.OpReLU6:
		init := isa.Instr{Op: isa.ELEWINIT, ElewOp: isa.ElewAdd, Act: l.Act, Round: quant.RoundActivation,
			ShiftA: l.ShiftA, ShiftB: l.ShiftB, ShiftCut: l.ShiftCut, ActFix: l.ActFix}
		second := true
		switch l.Op {
		case quant.OpMul:
			init.ElewOp = isa.ElewMul
		case quant.OpReLU, quant.OpReLU6:
			// max(x+x, 0) >> 1 = max(x, 0), exactly; ReLU6 clips as the
			// standalone layer does (6·2^ActFix, or 127).
			init.Act, init.ShiftA, init.ShiftB, init.ShiftCut = isa.ActReLU, 0, 0, 1
			if l.Op == quant.OpReLU6 {
				init.Act = isa.ActReLU6
			}
			second = false
		}
		th, err := e.rows(H, func(th int) bool { return 2*th*W*e.lines(C) <= G })
		if err != nil {
			return nil, err
		}
		th = capRows(th)
		b := blockCode{init: &init}
		for y0 := 0; y0 < H; y0 += th {
			y1 := min(H, y0+th)
			n := (y1 - y0) * W * e.lines(C)
			// Unfused: A at line 0 of the half of group 0, B after it, the
			// output in group 1. A consumer of a kept input writes its
			// output at line 0 of group 0 and loads its other input after
			// it.
			slot := 0
			if reads {
				slot = n
			}
			var t tileCode
			var ab, aa int
			t.loads, ab, aa = load(nil, 0, y0, y1, slot)
			if !reads || l.Inputs[0] != kept {
				slot += n
			}
			b2, a2 := ab, aa
			if second {
				t.loads, b2, a2 = load(t.loads, 1, y0, y1, slot)
			}
			ob, oa := outAt()
			t.op = isa.Instr{Op: isa.ELEW, InBank: ab, InAddr: aa, In2Bank: b2, In2Addr: a2, OutBank: ob, OutAddr: oa, H: y1 - y0, W: W, C: C}
			t.save, t.rows = save(y0, y1, 0, C), y1-y0
			b.tiles = append(b.tiles, t)
			k++
		}
		bs = append(bs, b)
	default:
		return nil, fmt.Errorf("no tiles for %s", l.Op)
	}
	return bs, nil
}

// moves writes the code of a layer that moves bytes: a concatenation
// copies each input into its channels of the output, a flatten of a 1×1
// tensor is its input's bytes.
func (e *emitter) moves(p *Program, l *quant.Layer, ins []*Buffer, out *Buffer) error {
	in := ins[0]
	C, H, W := in.Shape[0], in.Shape[1], in.Shape[2]
	G := e.group()
	base, pix := e.dest(out)
	switch l.Op {
	case quant.OpConcat:
		c0 := 0
		for _, b := range ins {
			ck := b.Shape[0]
			if e.fz.copied[b.Name] {
				c0 += ck
				continue
			}
			th, err := e.rows(H, func(th int) bool { return th*W*e.lines(ck) <= G })
			if err != nil {
				return err
			}
			for y0 := 0; y0 < H; y0 += th {
				y1 := min(H, y0+th)
				e.add(e.transfer(isa.LOAD, 0, 0, b.Addr+y0*W*ck, y1-y0, W, ck, ck))
				e.add(e.transfer(isa.SAVE, 0, 0, base+y0*W*pix+c0, y1-y0, W, ck, pix))
			}
			c0 += ck
		}
	case quant.OpFlatten:
		if out.Addr != in.Addr {
			return fmt.Errorf("flatten of %dx%dx%d is not a 1x1 tensor", C, H, W)
		}
	default:
		return fmt.Errorf("no DPU code for %s", l.Op)
	}
	return nil
}
