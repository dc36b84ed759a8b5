package dpu

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"

	"argus/checkpoint"
	"argus/compiler/fuse"
	"argus/compiler/partition"
	"argus/compiler/quant"
	"argus/dpu/isa"
	"argus/dpu/sim"
	"argus/dpu/target"
)

// The compiled model file (.dpu) is a safetensors file:
//
//   - metadata "format" is "argus.dpu" and "version" the decimal format
//     version (Version);
//   - metadata "target" is the target's JSON (dpu/target's format) and
//     "fingerprint" its Fingerprint; a reader refuses a file whose target
//     does not hash to its fingerprint;
//   - metadata "program" is a JSON object: "ddr_size" (bytes of the DDR
//     image), "buffers" (for every tensor of the model, in the model's
//     order: name, DDR address, shape C×H×W; the bytes are H×W×C int8),
//     "plan" (partition.Plan: every layer's device, with the reason for
//     the CPU ones, and the subgraphs) and "subgraphs" (per subgraph its
//     device, layers [first, end) and, for a DPU subgraph, "layer_of": the
//     layer of each instruction, −1 for END);
//   - tensor "quant" (U8) is the quantised model as a .quant file
//     (compiler/quant): the layers, the fix position of every tensor (the
//     input's and the outputs' are the I/O conversions), the int8
//     parameters, and the CPU layers' definitions;
//   - tensor "const" (U8) is the start of the DDR image: the weights and
//     biases the DPU subgraphs load;
//   - tensor "subgraphs.<i>.code" (U8) is the instruction stream of DPU
//     subgraph i: 32-bit little-endian words as dpu/isa encodes them, one
//     core's program ending with END.
//
// Read checks the version, the target's fingerprint, that the plan covers
// every layer once, that every buffer and every transfer lies within the
// DDR image, and that every instruction decodes and is valid.

// Version is the version of the file format that Write writes and Read
// accepts.
const Version = 1

const formatName = "argus.dpu"

// ErrFormat is wrapped by every error about a malformed .dpu file.
var ErrFormat = errors.New("not a valid compiled model")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

type fileSubgraph struct {
	Device  partition.Device `json:"device"`
	First   int              `json:"first"`
	End     int              `json:"end"`
	LayerOf []int            `json:"layer_of,omitempty"`
}

type fileProgram struct {
	DDRSize   int             `json:"ddr_size"`
	Buffers   []Buffer        `json:"buffers"`
	Plan      *partition.Plan `json:"plan"`
	Subgraphs []fileSubgraph  `json:"subgraphs"`
	Groups    []fuse.Group    `json:"groups,omitempty"`
}

// maxDDR bounds the DDR image a file may ask for (the 32-bit DDR field).
const maxDDR = 1 << 31

// Write writes p to path atomically.
func Write(path string, p *Program) error {
	f, err := encode(p)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return checkpoint.WriteFile(path, f)
}

// Marshal returns p as the bytes of a .dpu file.
func Marshal(p *Program) ([]byte, error) {
	f, err := encode(p)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := checkpoint.Encode(&b, f); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func encode(p *Program) (*checkpoint.File, error) {
	tj, err := json.Marshal(p.Target)
	if err != nil {
		return nil, err
	}
	fp := fileProgram{DDRSize: p.DDRSize, Buffers: p.Buffers, Plan: p.Plan, Groups: p.Groups}
	f := checkpoint.NewFile()
	for i, s := range p.Subgraphs {
		fs := fileSubgraph{Device: s.Device, First: s.First, End: s.End, LayerOf: s.LayerOf}
		if s.Device == partition.DPU {
			words, err := isa.EncodeProgram(s.Code)
			if err != nil {
				return nil, fmt.Errorf("subgraph %d: %w", i, err)
			}
			if err := f.Add(fmt.Sprintf("subgraphs.%d.code", i), checkpoint.Uint8Entry(isa.Bytes(words), 4*len(words))); err != nil {
				return nil, err
			}
		}
		fp.Subgraphs = append(fp.Subgraphs, fs)
	}
	pj, err := json.Marshal(fp)
	if err != nil {
		return nil, err
	}
	q, err := quant.Marshal(p.Model)
	if err != nil {
		return nil, err
	}
	f.Metadata["format"] = formatName
	f.Metadata["version"] = strconv.Itoa(Version)
	f.Metadata["target"] = string(tj)
	f.Metadata["fingerprint"] = p.Target.Fingerprint()
	f.Metadata["program"] = string(pj)
	if err := f.Add("quant", checkpoint.Uint8Entry(q, len(q))); err != nil {
		return nil, err
	}
	if err := f.Add("const", checkpoint.Uint8Entry(p.Const, len(p.Const))); err != nil {
		return nil, err
	}
	return f, nil
}

// Read reads and checks the .dpu file at path.
func Read(path string) (*Program, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return p, nil
}

// Unmarshal decodes and checks the bytes of a .dpu file.
func Unmarshal(b []byte) (*Program, error) {
	f, err := checkpoint.Decode(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if f.Metadata["format"] != formatName {
		return nil, formatErr("format %q, want %q", f.Metadata["format"], formatName)
	}
	if v := f.Metadata["version"]; v != strconv.Itoa(Version) {
		return nil, formatErr("version %q; this build reads version %d", v, Version)
	}
	t, err := target.Parse([]byte(f.Metadata["target"]))
	if err != nil {
		return nil, formatErr("%v", err)
	}
	if fp := t.Fingerprint(); fp != f.Metadata["fingerprint"] {
		return nil, formatErr("target %s hashes to %s, the file says %q", t.Name, fp, f.Metadata["fingerprint"])
	}
	tensor := func(name string) ([]byte, error) {
		e, ok := f.Tensors[name]
		if !ok {
			return nil, formatErr("no tensor %q", name)
		}
		if e.DType != checkpoint.U8 || len(e.Shape) != 1 {
			return nil, formatErr("tensor %q is %s%v, want a vector of U8", name, e.DType, e.Shape)
		}
		return e.Data, nil
	}
	qb, err := tensor("quant")
	if err != nil {
		return nil, err
	}
	m, err := quant.Unmarshal(qb)
	if err != nil {
		return nil, fmt.Errorf("%w: quantised model: %v", ErrFormat, err)
	}
	cst, err := tensor("const")
	if err != nil {
		return nil, err
	}
	var fp fileProgram
	dec := json.NewDecoder(bytes.NewReader([]byte(f.Metadata["program"])))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&fp); err != nil {
		return nil, formatErr("program: %v", err)
	}
	p := &Program{Target: t, Model: m, Plan: fp.Plan, Buffers: fp.Buffers, Const: cst, DDRSize: fp.DDRSize, Groups: fp.Groups}
	if err := checkPlan(m, fp.Plan); err != nil {
		return nil, err
	}
	if fp.DDRSize < 0 || fp.DDRSize > maxDDR || len(cst) > fp.DDRSize {
		return nil, formatErr("DDR image of %d bytes for %d bytes of constants", fp.DDRSize, len(cst))
	}
	for i, g := range fp.Groups {
		if len(g.Layers) == 0 {
			return nil, formatErr("fused group %d has no layers", i)
		}
		for _, l := range g.Layers {
			if l < 0 || l >= len(m.Layers) {
				return nil, formatErr("fused group %d names layer %d of %d", i, l, len(m.Layers))
			}
		}
	}
	if len(fp.Buffers) != len(m.Tensors) {
		return nil, formatErr("%d buffers for %d tensors", len(fp.Buffers), len(m.Tensors))
	}
	for i, bf := range fp.Buffers {
		tn := m.Tensors[i]
		if bf.Name != tn.Name || bf.Shape != tn.Shape {
			return nil, formatErr("buffer %d is %q %v, the tensor %q %v", i, bf.Name, bf.Shape, tn.Name, tn.Shape)
		}
		if bf.Addr < len(cst) || int64(bf.Addr)+int64(bf.Size()) > int64(fp.DDRSize) {
			return nil, formatErr("buffer %q at %d (%d bytes) outside the activations of the DDR image", bf.Name, bf.Addr, bf.Size())
		}
	}
	if len(fp.Subgraphs) != len(fp.Plan.Subgraphs) {
		return nil, formatErr("%d subgraphs, the plan has %d", len(fp.Subgraphs), len(fp.Plan.Subgraphs))
	}
	codes := 0
	for i, fs := range fp.Subgraphs {
		if ps := fp.Plan.Subgraphs[i]; fs.Device != ps.Device || fs.First != ps.First || fs.End != ps.End {
			return nil, formatErr("subgraph %d differs from the plan's", i)
		}
		s := Subgraph{Device: fs.Device, First: fs.First, End: fs.End}
		if fs.Device == partition.DPU {
			raw, err := tensor(fmt.Sprintf("subgraphs.%d.code", i))
			if err != nil {
				return nil, err
			}
			codes++
			words, err := isa.Words(raw)
			if err != nil {
				return nil, formatErr("subgraph %d: %v", i, err)
			}
			code, err := isa.DecodeProgram(words)
			if err != nil {
				return nil, formatErr("subgraph %d: %v", i, err)
			}
			if parts, err := sim.Split(code); err != nil || len(parts) != 1 {
				return nil, formatErr("subgraph %d: not one core program", i)
			}
			if len(fs.LayerOf) != len(code) {
				return nil, formatErr("subgraph %d: %d layer indices for %d instructions", i, len(fs.LayerOf), len(code))
			}
			for k, l := range fs.LayerOf {
				if l != -1 && (l < fs.First || l >= fs.End) {
					return nil, formatErr("subgraph %d: instruction %d belongs to layer %d, outside the subgraph", i, k, l)
				}
			}
			if ext := sim.DDRExtent(code); ext > int64(fp.DDRSize) {
				return nil, formatErr("subgraph %d reaches DDR byte %d of a %d-byte image", i, ext, fp.DDRSize)
			}
			s.Code, s.LayerOf = code, fs.LayerOf
		} else if fs.LayerOf != nil {
			return nil, formatErr("CPU subgraph %d carries instructions", i)
		}
		p.Subgraphs = append(p.Subgraphs, s)
	}
	if len(f.Tensors) != codes+2 {
		return nil, formatErr("%d tensors, want %d", len(f.Tensors), codes+2)
	}
	return p, nil
}

// checkPlan checks that plan places every layer of m once and that its
// subgraphs are the runs of its placements.
func checkPlan(m *quant.Model, plan *partition.Plan) error {
	if plan == nil || len(plan.Placements) != len(m.Layers) {
		return formatErr("the plan does not place the %d layers", len(m.Layers))
	}
	for i, pl := range plan.Placements {
		if pl.Layer != i || (pl.Device != partition.DPU && pl.Device != partition.CPU) {
			return formatErr("placement %d: layer %d on %q", i, pl.Layer, pl.Device)
		}
	}
	want := &partition.Plan{Placements: plan.Placements}
	want.Group()
	if len(want.Subgraphs) != len(plan.Subgraphs) {
		return formatErr("the plan's subgraphs are not the runs of its placements")
	}
	for i := range want.Subgraphs {
		if want.Subgraphs[i] != plan.Subgraphs[i] {
			return formatErr("the plan's subgraph %d is not a run of its placements", i)
		}
	}
	return nil
}

// CheckTarget returns an error when p was compiled for another machine
// than t.
func (p *Program) CheckTarget(t *target.Target) error {
	if p.Target.Name != t.Name || p.Target.Fingerprint() != t.Fingerprint() {
		return fmt.Errorf("compiled for target %s (fingerprint %s), not %s (%s); compile again with --target %s",
			p.Target.Name, p.Target.Fingerprint(), t.Name, t.Fingerprint(), t.Name)
	}
	return nil
}
