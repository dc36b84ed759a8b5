package dpu

import (
	"fmt"

	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/compiler/xgraph"
	"argus/dpu/isa"
	"argus/dpu/ref"
	"argus/dpu/sim"
	"argus/internal/par"
)

// Stats is the cycle model's account of one run of a program.
type Stats struct {
	// Cycles, Ops and DDRBytes add up the DPU subgraphs; the CPU layers
	// are not timed.
	Cycles   int64 `json:"cycles"`
	Ops      int64 `json:"ops"`
	DDRBytes int64 `json:"ddr_bytes"`
	// LayerCycles holds, per layer, the cycles its instructions kept
	// their engines busy (zero for a CPU layer).
	LayerCycles []int64 `json:"layer_cycles"`
	// Hazards counts instructions that raced another of their core; a
	// generated program has none.
	Hazards int `json:"hazards"`
	// Reports are the simulator's reports of the DPU subgraphs.
	Reports []*sim.Report `json:"-"`
}

// Seconds is the DPU time at the target's clock.
func (p *Program) Seconds(s *Stats) float64 { return float64(s.Cycles) / (p.Target.ClockMHz * 1e6) }

// NewDDR returns a DDR image holding the program's constants.
func (p *Program) NewDDR() []byte {
	ddr := make([]byte, p.DDRSize)
	copy(ddr, p.Const)
	return ddr
}

// Time runs the DPU subgraphs on the cycle model alone (no arithmetic) and
// returns their statistics: the same cycles as a functional run, since
// nothing in a program depends on the data.
func (p *Program) Time() (*Stats, error) {
	ddr := make([]byte, p.DDRSize)
	return p.exec(ddr, sim.Options{TimingOnly: true, Trace: true}, false)
}

// RunImage runs the program on one int8 image (H×W×C on the input's
// grid, as quant.Model.QuantizeInput gives it) and returns the outputs in
// the order of Model.Outputs, H×W×C each.
func (p *Program) RunImage(in ref.Tensor) ([]ref.Tensor, *Stats, error) {
	b := p.Buffer(p.Model.Input)
	if b == nil || [3]int{in.C, in.H, in.W} != b.Shape || len(in.Data) != b.Size() {
		return nil, nil, fmt.Errorf("input %dx%dx%d does not match the program's input", in.C, in.H, in.W)
	}
	ddr := p.NewDDR()
	for i, q := range in.Data {
		ddr[b.Addr+i] = byte(q)
	}
	st, err := p.exec(ddr, sim.Options{Trace: true}, true)
	if err != nil {
		return nil, nil, err
	}
	outs := make([]ref.Tensor, len(p.Model.Outputs))
	for k, name := range p.Model.Outputs {
		outs[k] = p.read(ddr, p.Buffer(name))
	}
	return outs, st, nil
}

// read returns the tensor in buffer b of ddr.
func (p *Program) read(ddr []byte, b *Buffer) ref.Tensor {
	t := ref.New(b.Shape[1], b.Shape[2], b.Shape[0])
	for i := range t.Data {
		t.Data[i] = int8(ddr[b.Addr+i])
	}
	return t
}

// exec runs the subgraphs in order over ddr. With cpu false the CPU
// layers are skipped (a timing run).
func (p *Program) exec(ddr []byte, opts sim.Options, cpu bool) (*Stats, error) {
	st := &Stats{LayerCycles: make([]int64, len(p.Model.Layers))}
	for si := range p.Subgraphs {
		s := &p.Subgraphs[si]
		if s.Device == partition.CPU {
			if !cpu {
				continue
			}
			for i := s.First; i < s.End; i++ {
				l := &p.Model.Layers[i]
				ins := make([]ref.Tensor, len(l.Inputs))
				for j, name := range l.Inputs {
					ins[j] = p.read(ddr, p.Buffer(name))
				}
				out, err := p.Model.EvalLayer(l, ins)
				if err != nil {
					return nil, err
				}
				b := p.Buffer(l.Output)
				if len(out.Data) != b.Size() {
					return nil, fmt.Errorf("layer %s: output of %d values for a buffer of %d", l.String(), len(out.Data), b.Size())
				}
				for k, q := range out.Data {
					ddr[b.Addr+k] = byte(q)
				}
			}
			continue
		}
		rep, err := sim.Run(s.Code, p.Target, ddr, opts)
		if err != nil {
			return nil, fmt.Errorf("subgraph %d (layers %d-%d): %w", si, s.First, s.End-1, err)
		}
		st.Cycles += rep.Cycles
		st.Ops += rep.Ops
		st.DDRBytes += rep.DDRBytes
		st.Hazards += rep.HazardCount
		for _, ev := range rep.Events {
			if l := s.LayerOf[ev.Index]; l >= 0 {
				st.LayerCycles[l] += ev.End - ev.Start
			}
		}
		rep.Events = nil
		st.Reports = append(st.Reports, rep)
	}
	return st, nil
}

// Run runs the program on a batch x (N×C×H×W float32), each image
// quantised onto the input's grid, in parallel over the images, and
// returns the outputs as quant.Model.Run does, with the statistics of the
// first image.
func (p *Program) Run(x *xgraph.Tensor) ([]quant.Result, *Stats, error) {
	m := p.Model
	t := m.Tensor(m.Input)
	if t == nil {
		return nil, nil, fmt.Errorf("model has no input tensor %q", m.Input)
	}
	if !x.DType.IsFloat() || len(x.Shape) != 4 || [3]int{x.Shape[1], x.Shape[2], x.Shape[3]} != t.Shape {
		return nil, nil, fmt.Errorf("input %s, the program takes float32[N %d %d %d]", x, t.Shape[0], t.Shape[1], t.Shape[2])
	}
	n := x.Shape[0]
	res := make([]quant.Result, len(m.Outputs))
	for k, name := range m.Outputs {
		o := m.Tensor(name)
		res[k] = quant.Result{Name: name, Shape: [4]int{n, o.Shape[0], o.Shape[1], o.Shape[2]}, Pos: o.Pos,
			Data: make([]int8, n*o.Shape[0]*o.Shape[1]*o.Shape[2])}
	}
	errs := make([]error, n)
	stats := make([]*Stats, n)
	par.For(n, 1, func(i int) {
		outs, st, err := p.RunImage(m.QuantizeInput(x, i))
		if err != nil {
			errs[i] = err
			return
		}
		stats[i] = st
		for k, o := range outs {
			per := o.H * o.W * o.C
			quant.CHW(res[k].Data[i*per:(i+1)*per], o)
		}
	})
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return res, stats[0], nil
}

// TimeCores times a batch of one image per core: every core runs each DPU
// subgraph on its own image, the activations of core c shifted by c times
// the activation area of the DDR image, the weights shared. The cores
// contend for the DDR bus as the cycle model has it. The returned cycles
// are the sum over the subgraphs of the slowest core's.
func (p *Program) TimeCores(cores int) (*Stats, error) {
	if cores < 1 || cores > p.Target.Cores {
		return nil, fmt.Errorf("%d cores: target %s has %d", cores, p.Target.Name, p.Target.Cores)
	}
	base := roundUp(len(p.Const), align)
	act := roundUp(p.DDRSize-base, align)
	ddr := make([]byte, base+cores*act)
	st := &Stats{LayerCycles: make([]int64, len(p.Model.Layers))}
	for si := range p.Subgraphs {
		s := &p.Subgraphs[si]
		if s.Device != partition.DPU {
			continue
		}
		var prog []isa.Instr
		for c := range cores {
			for _, in := range s.Code {
				if (in.Op == isa.LOAD || in.Op == isa.SAVE) && in.DDR >= base {
					in.DDR += c * act
				}
				prog = append(prog, in)
			}
		}
		rep, err := sim.Run(prog, p.Target, ddr, sim.Options{TimingOnly: true})
		if err != nil {
			return nil, fmt.Errorf("subgraph %d on %d cores: %w", si, cores, err)
		}
		st.Cycles += rep.Cycles
		st.Ops += rep.Ops
		st.DDRBytes += rep.DDRBytes
		st.Hazards += rep.HazardCount
		st.Reports = append(st.Reports, rep)
	}
	return st, nil
}
