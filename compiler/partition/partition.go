// Package partition splits a quantised model between the DPU and the CPU.
//
// Every layer of a quant.Model goes to the DPU when one of its engines can
// run it within the target's limits, and to the CPU otherwise, with the
// reason. The limits are those of the DPUCZDX8G as the Vitis AI
// partitioner applies them (kernel 1–16, stride 1–8, padding at most
// kernel − 1, one filter's weights kh·kw·⌈ic/ICP⌉ within one weight bank,
// at most 4096 channels) and the field widths of dpu/isa (padding 0–15,
// tile width 1–1024). Consecutive layers on the same side, in the model's
// topological order, form one subgraph; a program runs the subgraphs in
// turn, the DPU ones on the accelerator and the CPU ones on the int8
// reference layers, with the tensors between them in DDR.
package partition

import (
	"fmt"

	"argus/compiler/quant"
	"argus/dpu/isa"
	"argus/dpu/target"
)

// Device is where a layer runs.
type Device string

// The devices.
const (
	DPU Device = "dpu"
	CPU Device = "cpu"
)

// Placement is the device of one layer and, for the CPU, why.
type Placement struct {
	Layer  int    `json:"layer"`
	Name   string `json:"name"`
	Op     string `json:"op"`
	Device Device `json:"device"`
	Reason string `json:"reason,omitempty"`
}

// Subgraph is a run of consecutive layers on one device: Layers[i] for i
// in [First, End).
type Subgraph struct {
	Device Device `json:"device"`
	First  int    `json:"first"`
	End    int    `json:"end"`
}

// Plan is the partition of a model.
type Plan struct {
	Placements []Placement `json:"placements"`
	Subgraphs  []Subgraph  `json:"subgraphs"`
}

// CPUOps returns the placements on the CPU.
func (p *Plan) CPUOps() []Placement {
	var out []Placement
	for _, pl := range p.Placements {
		if pl.Device == CPU {
			out = append(out, pl)
		}
	}
	return out
}

// Maximum channels of a tile (the 12-bit c, ic and oc fields).
const maxChannels = 4096

// Split places every layer of m on t and groups them into subgraphs.
func Split(m *quant.Model, t *target.Target) *Plan {
	p := &Plan{}
	for i := range m.Layers {
		l := &m.Layers[i]
		pl := Placement{Layer: i, Name: l.Name, Op: string(l.Op), Device: DPU}
		if why := Unsupported(m, l, t); why != "" {
			pl.Device, pl.Reason = CPU, why
		}
		p.Placements = append(p.Placements, pl)
	}
	p.Group()
	return p
}

// Group forms the subgraphs from the placements: each run of consecutive
// layers on one device.
func (p *Plan) Group() {
	p.Subgraphs = nil
	for i, pl := range p.Placements {
		if n := len(p.Subgraphs); n > 0 && p.Subgraphs[n-1].Device == pl.Device {
			p.Subgraphs[n-1].End = i + 1
		} else {
			p.Subgraphs = append(p.Subgraphs, Subgraph{Device: pl.Device, First: i, End: i + 1})
		}
	}
}

// Unsupported returns why layer l of m cannot run on t's DPU, or "" when
// it can.
func Unsupported(m *quant.Model, l *quant.Layer, t *target.Target) string {
	in := m.Tensor(l.Inputs[0])
	out := m.Tensor(l.Output)
	if in == nil || out == nil {
		return "tensor missing"
	}
	lanes := t.FMLanes()
	lines := func(c int) int { return (c + lanes - 1) / lanes }
	group := t.FMBanksPerGroup * t.BankDepth
	C, H, W := in.Shape[0], in.Shape[1], in.Shape[2]
	OC, OW := out.Shape[0], out.Shape[2]
	if W > 1024 || OW > 1024 {
		return fmt.Sprintf("width %d exceeds the 1024 pixels of a tile", max(W, OW))
	}
	window := func() string {
		kh, kw := l.Kernel[0], l.Kernel[1]
		if kh < 1 || kh > 16 || kw < 1 || kw > 16 {
			return fmt.Sprintf("kernel %dx%d outside 1-16", kh, kw)
		}
		if l.Stride[0] < 1 || l.Stride[0] > 8 || l.Stride[1] < 1 || l.Stride[1] > 8 {
			return fmt.Sprintf("stride %dx%d outside 1-8", l.Stride[0], l.Stride[1])
		}
		for j, pd := range l.Pad {
			k := l.Kernel[j%2]
			if pd > min(k-1, 15) {
				return fmt.Sprintf("padding %d exceeds kernel-1 = %d (or 15)", pd, k-1)
			}
		}
		// One output row needs kh input rows in one bank group and its
		// row of output in the other.
		if kh*W*lines(C) > group {
			return fmt.Sprintf("%d input rows of %dx%d do not fit a feature-map bank group", kh, W, C)
		}
		if OW*lines(OC) > group {
			return fmt.Sprintf("an output row of %dx%d does not fit a feature-map bank group", OW, OC)
		}
		return ""
	}
	switch l.Op {
	case quant.OpConv, quant.OpFC:
		ic := C
		kh, kw := l.Kernel[0], l.Kernel[1]
		if l.Op == quant.OpFC {
			ic, kh, kw = C*H*W, 1, 1
		} else if why := window(); why != "" {
			return why
		}
		if ic > maxChannels || OC > maxChannels {
			return fmt.Sprintf("%d input or %d output channels exceed %d", ic, OC, maxChannels)
		}
		if kh*kw*lines(ic) > t.BankDepth {
			return fmt.Sprintf("one filter (%dx%dx%d) exceeds a weight bank: %d lines > %d", kh, kw, ic, kh*kw*lines(ic), t.BankDepth)
		}
		if lines(ic) > group {
			return "the input vector does not fit a feature-map bank group"
		}
		return shiftsFit(l)
	case quant.OpDepthwise:
		if why := window(); why != "" {
			return why
		}
		if C > maxChannels {
			return fmt.Sprintf("%d channels exceed %d", C, maxChannels)
		}
		if l.Kernel[0]*l.Kernel[1]*lines(C) > t.WeightBanks*t.BankDepth {
			return "the depthwise weights exceed the weight banks"
		}
		return shiftsFit(l)
	case quant.OpMaxPool, quant.OpAvgPool:
		if C > maxChannels {
			return fmt.Sprintf("%d channels exceed %d", C, maxChannels)
		}
		if l.Op == quant.OpAvgPool && (l.AvgMult > 255 || l.ShiftCut > 31) {
			return "average factor does not fit POOLINIT"
		}
		return window()
	case quant.OpAdd, quant.OpMul, quant.OpReLU, quant.OpReLU6:
		if C > maxChannels {
			return fmt.Sprintf("%d channels exceed %d", C, maxChannels)
		}
		if 2*W*lines(C) > group {
			return fmt.Sprintf("two rows of %dx%d do not fit a feature-map bank group", W, C)
		}
		if l.ShiftA > 15 || l.ShiftB > 15 || l.ShiftCut > 31 || l.ActFix > 15 {
			return "shifts do not fit ELEWINIT"
		}
		return ""
	case quant.OpConcat:
		for _, name := range l.Inputs {
			if x := m.Tensor(name); x == nil || x.Shape[0] > maxChannels || W*lines(x.Shape[0]) > group {
				return "a concatenated input does not fit a feature-map bank group"
			}
		}
		return ""
	case quant.OpFlatten:
		if H*W != 1 {
			return fmt.Sprintf("flattening %dx%dx%d reorders the bytes (channels first), which no DPU transfer does", C, H, W)
		}
		return ""
	case quant.OpSigmoid:
		return "sigmoid is a table lookup; the DPU has no table engine"
	}
	return fmt.Sprintf("no DPU engine runs %s", l.Op)
}

// shiftsFit checks the requantisation fields of a convolution.
func shiftsFit(l *quant.Layer) string {
	if l.ShiftCut > 31 || l.ShiftBias > 31 || l.ActFix > 15 || l.Act > isa.ActLeaky {
		return "shifts do not fit CONVINIT"
	}
	return ""
}
