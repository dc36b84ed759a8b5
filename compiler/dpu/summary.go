package dpu

import (
	"fmt"

	"argus/compiler/fuse"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/dpu/isa"
)

// LayerOps returns the operations of layer l of m, counted as the cycle
// model counts them: two per multiply-accumulate of a convolution or fully
// connected layer, one per window element of a pooling, one per output
// element of an element-wise layer or activation, none for the moves
// (concatenation, flatten).
func LayerOps(m *quant.Model, l *quant.Layer) int64 {
	in, out := m.Tensor(l.Inputs[0]), m.Tensor(l.Output)
	if in == nil || out == nil {
		return 0
	}
	n := int64(out.Shape[0]) * int64(out.Shape[1]) * int64(out.Shape[2])
	k := int64(l.Kernel[0]) * int64(l.Kernel[1])
	switch l.Op {
	case quant.OpConv:
		return 2 * n * k * int64(in.Shape[0])
	case quant.OpFC:
		return 2 * n * int64(in.Shape[0]) * int64(in.Shape[1]) * int64(in.Shape[2])
	case quant.OpDepthwise:
		return 2 * n * k
	case quant.OpMaxPool, quant.OpAvgPool:
		return n * k
	case quant.OpAdd, quant.OpMul, quant.OpReLU, quant.OpReLU6, quant.OpSigmoid:
		return n
	}
	return 0
}

// LayerRow is one layer in a program's summary.
type LayerRow struct {
	Index  int              `json:"index"`
	Name   string           `json:"name"`
	Op     string           `json:"op"`
	Act    string           `json:"act,omitempty"`
	Device partition.Device `json:"device"`
	Reason string           `json:"reason,omitempty"`
	Ops    int64            `json:"ops"`
	Cycles int64            `json:"cycles"`
}

// FusedGroup is one fused group of a program (compiler/fuse): its
// template, how the code realises it, its layers (Layer is the first) and
// the DDR bytes it saves.
type FusedGroup struct {
	Layer     string    `json:"layer"`
	Template  string    `json:"template"`
	Kind      fuse.Kind `json:"kind"`
	Layers    []string  `json:"layers"`
	GainBytes int64     `json:"gain_bytes"`
}

// Summary is what a compiled program does, by the cycle model.
type Summary struct {
	Target      string `json:"target"`
	Fingerprint string `json:"fingerprint"`
	Layers      int    `json:"layers"`
	// Ops counts every layer's operations; DPUOpsShare is the part the DPU
	// runs.
	Ops         int64   `json:"ops"`
	DPUOpsShare float64 `json:"dpu_ops_share"`
	// Cycles, Seconds, TOPs and FPS are one image on one core, the DPU
	// subgraphs only.
	Cycles    int64   `json:"cycles"`
	Seconds   float64 `json:"seconds"`
	TOPs      float64 `json:"tops"`
	FPS       float64 `json:"fps"`
	CoresUsed int     `json:"cores_used"`
	// Utilization is the DPU ops per cycle over the peak of the cores used.
	Utilization float64 `json:"utilization"`
	// The same with every core of the target on its own image (TimeCores):
	// the cycles of the batch, the images per second, the TOPs/s and the
	// utilisation of all the cores.
	Cores            int          `json:"cores"`
	CoresCycles      int64        `json:"cores_cycles"`
	CoresFPS         float64      `json:"cores_fps"`
	CoresTOPs        float64      `json:"cores_tops"`
	CoresUtilization float64      `json:"cores_utilization"`
	DDRBytes         int64        `json:"ddr_bytes"`
	Instructions     int          `json:"instructions"`
	Subgraphs        int          `json:"subgraphs"`
	CPUOps           []LayerRow   `json:"cpu_ops"`
	FusedGroups      []FusedGroup `json:"fused_groups"`
	Rows             []LayerRow   `json:"layer_rows"`
}

var actNames = map[int]string{isa.ActReLU: "relu", isa.ActReLU6: "relu6", isa.ActLeaky: "leaky"}

// Summarize times the program on the cycle model and tallies it.
func (p *Program) Summarize() (*Summary, error) {
	st, err := p.Time()
	if err != nil {
		return nil, fmt.Errorf("time the program: %w", err)
	}
	m := p.Model
	s := &Summary{Target: p.Target.Name, Fingerprint: p.Target.Fingerprint(), Layers: len(m.Layers),
		Cycles: st.Cycles, DDRBytes: st.DDRBytes, Subgraphs: len(p.Subgraphs), CoresUsed: 1,
		CPUOps: []LayerRow{}, FusedGroups: []FusedGroup{}}
	var dpuOps int64
	for i := range m.Layers {
		l := &m.Layers[i]
		pl := p.Plan.Placements[i]
		r := LayerRow{Index: i, Name: l.Name, Op: string(l.Op), Act: actNames[l.Act], Device: pl.Device, Reason: pl.Reason,
			Ops: LayerOps(m, l), Cycles: st.LayerCycles[i]}
		s.Ops += r.Ops
		if pl.Device == partition.DPU {
			dpuOps += r.Ops
		} else {
			s.CPUOps = append(s.CPUOps, r)
		}
		s.Rows = append(s.Rows, r)
	}
	for _, g := range p.Groups {
		fg := FusedGroup{Layer: m.Layers[g.Layers[0]].Name, Template: g.Template, Kind: g.Kind, GainBytes: g.Gain}
		for _, i := range g.Layers {
			fg.Layers = append(fg.Layers, m.Layers[i].Name)
		}
		s.FusedGroups = append(s.FusedGroups, fg)
	}
	for _, sg := range p.Subgraphs {
		s.Instructions += len(sg.Code)
	}
	if s.Ops > 0 {
		s.DPUOpsShare = float64(dpuOps) / float64(s.Ops)
	}
	all, err := p.TimeCores(p.Target.Cores)
	if err != nil {
		return nil, fmt.Errorf("time the program: %w", err)
	}
	s.Cores, s.CoresCycles = p.Target.Cores, all.Cycles
	if all.Cycles > 0 {
		sec := p.Seconds(all)
		s.CoresFPS = float64(s.Cores) / sec
		s.CoresTOPs = float64(all.Ops) / sec / 1e12
		s.CoresUtilization = float64(all.Ops) / (float64(all.Cycles) * float64(p.Target.TotalPeakOpsPerCycle()))
	}
	if st.Cycles > 0 {
		s.Seconds = p.Seconds(st)
		s.TOPs = float64(st.Ops) / s.Seconds / 1e12
		s.FPS = 1 / s.Seconds
		s.Utilization = float64(st.Ops) / (float64(st.Cycles) * float64(p.Target.PeakOpsPerCycle()))
	}
	return s, nil
}
