// Package isa defines the instruction set of the DPU: the instructions, the
// fields each carries, and their 32-bit binary encoding.
//
// One table (Specs) describes every instruction: its opcode, the engine that
// runs it, its length in words and, for each field, the bits it occupies and
// the values it may hold. The binary encoder and decoder, the assembler, the
// disassembler and the ISA document all read that table, so they cannot
// disagree.
package isa

import (
	"fmt"
	"strings"
)

// Op is a 4-bit opcode.
type Op uint8

// The opcodes. 0x0, 0xB to 0xE are not instructions: a zeroed word is never
// mistaken for a program.
const (
	LOAD     Op = 0x1
	SAVE     Op = 0x2
	CONVINIT Op = 0x3
	CONV     Op = 0x4
	POOLINIT Op = 0x5
	POOL     Op = 0x6
	DWINIT   Op = 0x7
	DPTWISE  Op = 0x8
	ELEWINIT Op = 0x9
	ELEW     Op = 0xA
	END      Op = 0xF
)

// String returns the mnemonic of op.
func (op Op) String() string {
	if s := Lookup(op); s != nil {
		return s.Name
	}
	return fmt.Sprintf("op%#x", uint8(op))
}

// Engine is one of the three engines of a DPU core.
type Engine uint8

// The engines. END belongs to no engine.
const (
	LoadEngine Engine = iota
	ComputeEngine
	SaveEngine
	NoEngine
)

// NumEngines is the number of engines that run instructions.
const NumEngines = 3

var engineNames = [...]string{"load", "compute", "save", "none"}

// String returns the engine's name as written in wait= and signal= fields.
func (e Engine) String() string {
	if int(e) < len(engineNames) {
		return engineNames[e]
	}
	return fmt.Sprintf("engine%d", uint8(e))
}

// Deps is a 4-bit dependency field: bit 0 load, bit 1 compute, bit 2 save;
// bit 3 is reserved and must be zero.
type Deps uint8

// Has reports whether d names engine e.
func (d Deps) Has(e Engine) bool { return d&(1<<e) != 0 }

// String writes d as a comma-separated list of engine names, or "-" when
// empty.
func (d Deps) String() string {
	var parts []string
	for e := LoadEngine; e < NumEngines; e++ {
		if d.Has(e) {
			parts = append(parts, e.String())
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// ParseDeps parses a list such as "load,save" or "-".
func ParseDeps(s string) (Deps, error) {
	if s == "-" || s == "" {
		return 0, nil
	}
	var d Deps
	for _, p := range strings.Split(s, ",") {
		found := false
		for e := LoadEngine; e < NumEngines; e++ {
			if p == e.String() {
				if d.Has(e) {
					return 0, fmt.Errorf("engine %s named twice", p)
				}
				d |= 1 << e
				found = true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown engine %q (want load, compute or save)", p)
		}
	}
	return d, nil
}

// Activation functions applied after requantisation.
const (
	ActNone  = 0
	ActReLU  = 1
	ActReLU6 = 2
	ActLeaky = 3
)

// Rounding modes of the requantisation shift.
const (
	RoundDPU      = 0 // halves toward +inf: floor(x/2^s + 1/2)
	RoundStandard = 1 // halves away from zero
	RoundPy3      = 2 // halves to even
)

// Pooling types.
const (
	PoolMax = 0
	PoolAvg = 1
)

// Element-wise operations.
const (
	ElewAdd = 0
	ElewMul = 1
)

// LeakyNum / 2^LeakyShift is the slope of LeakyReLU for negative inputs
// (26/256 = 0.1015625, the DPU's approximation of 0.1).
const (
	LeakyNum   = 26
	LeakyShift = 8
)

// Bank ids. Feature-map banks fm0..fm15 form two groups of eight (fm0-fm7,
// fm8-fm15); weight banks w0..w15 form one group; bias is a single bank.
const (
	FMBanks      = 16
	FMGroupBanks = 8
	WeightBank0  = 16
	WeightBanks  = 16
	BiasBank     = 32
	BankDepth    = 2048 // lines per bank; an address names a line
)

// BankName returns the assembler name of bank id b.
func BankName(b int) string {
	switch {
	case b >= 0 && b < FMBanks:
		return fmt.Sprintf("fm%d", b)
	case b >= WeightBank0 && b < WeightBank0+WeightBanks:
		return fmt.Sprintf("w%d", b-WeightBank0)
	case b == BiasBank:
		return "bias"
	}
	return fmt.Sprint(b)
}

// IsFM reports whether b is a feature-map bank.
func IsFM(b int) bool { return b >= 0 && b < FMBanks }

// IsWeight reports whether b is a weight bank.
func IsWeight(b int) bool { return b >= WeightBank0 && b < WeightBank0+WeightBanks }

// Kind says what values a field holds.
type Kind uint8

// Field kinds.
const (
	Int     Kind = iota // an integer in [Min, Max]
	Enum                // one of Names, encoded as its index
	AnyBank             // any bank id
	FMBank              // a feature-map bank
	WBank               // a weight bank
)

// Field describes one field of an instruction: bits [Hi:Lo] of word Word hold
// value-Off.
type Field struct {
	Name     string
	Word     int
	Hi, Lo   int
	Off      int
	Min, Max int
	Kind     Kind
	Names    []string // enum value names
	Doc      string
	ref      func(*Instr) *int
}

// Bits returns the width of the field in bits.
func (f *Field) Bits() int { return f.Hi - f.Lo + 1 }

// Ref returns a pointer to the field's value inside in.
func (f *Field) Ref(in *Instr) *int { return f.ref(in) }

// FormatValue writes v as the assembler writes it.
func (f *Field) FormatValue(v int) string {
	switch f.Kind {
	case Enum:
		if v >= 0 && v < len(f.Names) {
			return f.Names[v]
		}
	case AnyBank, FMBank, WBank:
		return BankName(v)
	}
	if f.Name == "ddr" {
		return fmt.Sprintf("%#x", v)
	}
	return fmt.Sprint(v)
}

// Check reports whether v is a legal value of the field.
func (f *Field) Check(v int) error {
	switch f.Kind {
	case Enum:
		if v < 0 || v >= len(f.Names) {
			return &FieldError{Field: f.Name, Msg: fmt.Sprintf("%d is not one of %s", v, strings.Join(f.Names, ", "))}
		}
		return nil
	case AnyBank:
		if !IsFM(v) && !IsWeight(v) && v != BiasBank {
			return &FieldError{Field: f.Name, Msg: fmt.Sprintf("%d is not a bank (fm0-fm15, w0-w15, bias)", v)}
		}
		return nil
	case FMBank:
		if !IsFM(v) {
			return &FieldError{Field: f.Name, Msg: fmt.Sprintf("%s is not a feature-map bank (fm0-fm15)", BankName(v))}
		}
		return nil
	case WBank:
		if !IsWeight(v) {
			return &FieldError{Field: f.Name, Msg: fmt.Sprintf("%s is not a weight bank (w0-w15)", BankName(v))}
		}
		return nil
	}
	if v < f.Min || v > f.Max {
		return &FieldError{Field: f.Name, Msg: fmt.Sprintf("%d out of range [%d, %d]", v, f.Min, f.Max)}
	}
	return nil
}

// FieldError is an illegal field value.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %s: %s", e.Field, e.Msg) }

// Spec describes one instruction.
type Spec struct {
	Op     Op
	Name   string
	Engine Engine
	Words  int
	Fields []Field
	Doc    string
	used   []uint32 // per word, the bits that fields occupy (header included)
}

// Field returns the field called name, or nil.
func (s *Spec) Field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// Instr is one decoded instruction. Only the fields its opcode's Spec lists
// are meaningful; the others are zero.
type Instr struct {
	Op     Op
	Wait   Deps // tokens to take before starting, one from each named engine
	Signal Deps // tokens to give each named engine when finished

	// LOAD and SAVE.
	Bank, Addr, DDR, RowStride, PixelStride int
	// Tile sizes: the LOAD/SAVE tile, or the input tile of a compute instruction.
	H, W, C int
	// CONVINIT, DWINIT, POOLINIT, ELEWINIT.
	KernelH, KernelW, StrideH, StrideW      int
	Act, Round, ShiftCut, ShiftBias, ActFix int
	Pool, AvgMult, ElewOp, ShiftA, ShiftB   int
	// CONV, DPTWISE, POOL, ELEW.
	InBank, InAddr, In2Bank, In2Addr, OutBank, OutAddr int
	WBank, WAddr, BiasAddr, OC                         int
	PadTop, PadBottom, PadLeft, PadRight               int

	// Line is the source line (1-based) when assembled from text, else 0.
	Line int
	// Word is the instruction's offset in words within its stream.
	Word int
}

// Where names the instruction's position for error messages.
func (in *Instr) Where() string {
	if in.Line > 0 {
		return fmt.Sprintf("line %d", in.Line)
	}
	return fmt.Sprintf("word %d", in.Word)
}

// Spec returns the instruction's specification, or nil for an unknown opcode.
func (in *Instr) Spec() *Spec { return Lookup(in.Op) }

// Validate checks every field of in against its range and the dependency
// fields against the instruction's engine.
func (in *Instr) Validate() error {
	s := Lookup(in.Op)
	if s == nil {
		return fmt.Errorf("unknown opcode %#x", uint8(in.Op))
	}
	if in.Wait > 7 {
		return &FieldError{Field: "wait", Msg: "reserved bit 3 set"}
	}
	if in.Signal > 7 {
		return &FieldError{Field: "signal", Msg: "reserved bit 3 set"}
	}
	if s.Engine == NoEngine {
		if in.Wait != 0 || in.Signal != 0 {
			return &FieldError{Field: "wait", Msg: s.Name + " takes no dependencies"}
		}
	} else {
		if in.Wait.Has(s.Engine) {
			return &FieldError{Field: "wait", Msg: fmt.Sprintf("the %s engine cannot wait on itself", s.Engine)}
		}
		if in.Signal.Has(s.Engine) {
			return &FieldError{Field: "signal", Msg: fmt.Sprintf("the %s engine cannot signal itself", s.Engine)}
		}
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if err := f.Check(*f.ref(in)); err != nil {
			return err
		}
	}
	return nil
}

// Name returns the mnemonic of in.
func (in *Instr) Name() string { return in.Op.String() }

// Engine returns the engine that runs in.
func (in *Instr) Engine() Engine {
	if s := Lookup(in.Op); s != nil {
		return s.Engine
	}
	return NoEngine
}
