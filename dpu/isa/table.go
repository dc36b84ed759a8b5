package isa

import "fmt"

// The header of every instruction: word 0 bits [31:28] opcode, [27:24] wait,
// [23:20] signal. Instruction fields start at bit 19 of word 0.
const (
	opShift     = 28
	waitShift   = 24
	signalShift = 20
	headerMask  = 0xFFF00000
)

var actNames = []string{"none", "relu", "relu6", "leaky"}
var roundNames = []string{"dpu", "standard", "py3"}

func num(name string, word, hi, lo, off int, doc string, ref func(*Instr) *int) Field {
	return Field{Name: name, Word: word, Hi: hi, Lo: lo, Off: off, Min: off, Max: off + (1<<(hi-lo+1) - 1), Kind: Int, Doc: doc, ref: ref}
}

func bank(name string, kind Kind, word, hi, lo int, doc string, ref func(*Instr) *int) Field {
	return Field{Name: name, Word: word, Hi: hi, Lo: lo, Min: 0, Max: 63, Kind: kind, Doc: doc, ref: ref}
}

func enum(name string, word, hi, lo int, names []string, doc string, ref func(*Instr) *int) Field {
	return Field{Name: name, Word: word, Hi: hi, Lo: lo, Min: 0, Max: len(names) - 1, Kind: Enum, Names: names, Doc: doc, ref: ref}
}

func addr(name string, word, hi, lo int, doc string, ref func(*Instr) *int) Field {
	f := num(name, word, hi, lo, 0, doc, ref)
	f.Max = BankDepth - 1
	return f
}

// tileFields are the h, w, c fields at bits [31:22], [21:12], [11:0] of word.
func tileFields(word int, hname, wname, cname, what string) []Field {
	return []Field{
		num(hname, word, 31, 22, 1, what+" height in rows", func(i *Instr) *int { return &i.H }),
		num(wname, word, 21, 12, 1, what+" width in pixels", func(i *Instr) *int { return &i.W }),
		num(cname, word, 11, 0, 1, what+" channels", func(i *Instr) *int { return &i.C }),
	}
}

func kernelFields() []Field {
	return []Field{
		num("kernel_h", 0, 19, 16, 1, "kernel height", func(i *Instr) *int { return &i.KernelH }),
		num("kernel_w", 0, 15, 12, 1, "kernel width", func(i *Instr) *int { return &i.KernelW }),
		num("stride_h", 0, 11, 9, 1, "vertical stride", func(i *Instr) *int { return &i.StrideH }),
		num("stride_w", 0, 8, 6, 1, "horizontal stride", func(i *Instr) *int { return &i.StrideW }),
	}
}

func cat(parts ...[]Field) []Field {
	var out []Field
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func transferFields(dir string) []Field {
	return cat([]Field{
		bank("bank", AnyBank, 0, 19, 14, "on-chip bank of the tile", func(i *Instr) *int { return &i.Bank }),
		addr("addr", 0, 13, 3, "first line of the tile in the bank", func(i *Instr) *int { return &i.Addr }),
		num("ddr", 1, 31, 0, 0, "DDR byte address of element (0,0,0) "+dir, func(i *Instr) *int { return &i.DDR }),
	}, tileFields(2, "h", "w", "c", "tile"), []Field{
		num("row_stride", 3, 31, 0, 0, "DDR bytes between rows", func(i *Instr) *int { return &i.RowStride }),
		num("pixel_stride", 4, 31, 0, 0, "DDR bytes between pixels of a row", func(i *Instr) *int { return &i.PixelStride }),
	})
}

func convInitFields() []Field {
	return cat(kernelFields(), []Field{
		enum("act", 0, 5, 4, actNames, "activation", func(i *Instr) *int { return &i.Act }),
		enum("round", 0, 3, 2, roundNames, "rounding mode of the shifts", func(i *Instr) *int { return &i.Round }),
		num("shift_cut", 1, 31, 27, 0, "right shift from accumulator to output", func(i *Instr) *int { return &i.ShiftCut }),
		num("shift_bias", 1, 26, 22, 0, "left shift of the bias onto the accumulator", func(i *Instr) *int { return &i.ShiftBias }),
		num("act_fix", 1, 21, 18, 0, "fraction bits of the output (ReLU6 clips at 6*2^act_fix)", func(i *Instr) *int { return &i.ActFix }),
	})
}

func convFields(depthwise bool) []Field {
	cname := "ic"
	if depthwise {
		cname = "c"
	}
	fs := cat([]Field{
		bank("in_bank", FMBank, 0, 19, 14, "bank of the input tile", func(i *Instr) *int { return &i.InBank }),
		addr("in_addr", 0, 13, 3, "first line of the input tile", func(i *Instr) *int { return &i.InAddr }),
		bank("out_bank", FMBank, 1, 31, 26, "bank of the output tile", func(i *Instr) *int { return &i.OutBank }),
		addr("out_addr", 1, 25, 15, "first line of the output tile", func(i *Instr) *int { return &i.OutAddr }),
		bank("w_bank", WBank, 1, 14, 9, "bank of the weights", func(i *Instr) *int { return &i.WBank }),
		addr("w_addr", 2, 31, 21, "first line of the weights", func(i *Instr) *int { return &i.WAddr }),
		addr("bias_addr", 2, 20, 10, "first line of the bias in the bias bank", func(i *Instr) *int { return &i.BiasAddr }),
		num("pad_top", 2, 9, 6, 0, "zero rows above the tile", func(i *Instr) *int { return &i.PadTop }),
		num("pad_bottom", 2, 5, 2, 0, "zero rows below the tile", func(i *Instr) *int { return &i.PadBottom }),
	}, tileFields(3, "in_h", "in_w", cname, "input tile"))
	if !depthwise {
		fs = append(fs, num("oc", 4, 31, 20, 1, "output channels", func(i *Instr) *int { return &i.OC }))
	}
	return append(fs,
		num("pad_left", 4, 19, 16, 0, "zero columns left of the tile", func(i *Instr) *int { return &i.PadLeft }),
		num("pad_right", 4, 15, 12, 0, "zero columns right of the tile", func(i *Instr) *int { return &i.PadRight }),
	)
}

// Specs lists every instruction, in opcode order.
var Specs = []*Spec{
	{Op: LOAD, Name: "LOAD", Engine: LoadEngine, Words: 5, Fields: transferFields("to read"),
		Doc: "Copy an h x w x c tile from DDR into a bank."},
	{Op: SAVE, Name: "SAVE", Engine: SaveEngine, Words: 5, Fields: transferFields("to write"),
		Doc: "Copy an h x w x c tile from a bank to DDR."},
	{Op: CONVINIT, Name: "CONVINIT", Engine: ComputeEngine, Words: 2, Fields: convInitFields(),
		Doc: "Set kernel, stride, shifts, activation and rounding for the following CONVs."},
	{Op: CONV, Name: "CONV", Engine: ComputeEngine, Words: 5, Fields: convFields(false),
		Doc: "Convolve an input tile with oc filters, add bias, requantise, activate."},
	{Op: POOLINIT, Name: "POOLINIT", Engine: ComputeEngine, Words: 2, Fields: cat(kernelFields(), []Field{
		enum("type", 0, 5, 4, []string{"max", "avg"}, "pooling type", func(i *Instr) *int { return &i.Pool }),
		enum("round", 0, 3, 2, roundNames, "rounding mode of the average's shift", func(i *Instr) *int { return &i.Round }),
		num("avg_mult", 1, 31, 24, 0, "average: multiplier of the window sum", func(i *Instr) *int { return &i.AvgMult }),
		num("shift_cut", 1, 23, 19, 0, "average: right shift after the multiplier", func(i *Instr) *int { return &i.ShiftCut }),
	}), Doc: "Set kernel, stride and type for the following POOLs."},
	{Op: POOL, Name: "POOL", Engine: ComputeEngine, Words: 4, Fields: cat([]Field{
		bank("in_bank", FMBank, 0, 19, 14, "bank of the input tile", func(i *Instr) *int { return &i.InBank }),
		addr("in_addr", 0, 13, 3, "first line of the input tile", func(i *Instr) *int { return &i.InAddr }),
		bank("out_bank", FMBank, 1, 31, 26, "bank of the output tile", func(i *Instr) *int { return &i.OutBank }),
		addr("out_addr", 1, 25, 15, "first line of the output tile", func(i *Instr) *int { return &i.OutAddr }),
		num("pad_top", 1, 14, 11, 0, "padded rows above the tile", func(i *Instr) *int { return &i.PadTop }),
		num("pad_bottom", 1, 10, 7, 0, "padded rows below the tile", func(i *Instr) *int { return &i.PadBottom }),
		num("pad_left", 1, 6, 3, 0, "padded columns left of the tile", func(i *Instr) *int { return &i.PadLeft }),
	}, tileFields(2, "in_h", "in_w", "c", "input tile"), []Field{
		num("pad_right", 3, 31, 28, 0, "padded columns right of the tile", func(i *Instr) *int { return &i.PadRight }),
	}), Doc: "Max- or average-pool an input tile."},
	{Op: DWINIT, Name: "DWINIT", Engine: ComputeEngine, Words: 2, Fields: convInitFields(),
		Doc: "Set kernel, stride, shifts, activation and rounding for the following DPTWISEs."},
	{Op: DPTWISE, Name: "DPTWISE", Engine: ComputeEngine, Words: 5, Fields: convFields(true),
		Doc: "Depthwise-convolve an input tile (one filter per channel), add bias, requantise, activate."},
	{Op: ELEWINIT, Name: "ELEWINIT", Engine: ComputeEngine, Words: 2, Fields: []Field{
		enum("op", 0, 19, 18, []string{"add", "mul"}, "element-wise operation", func(i *Instr) *int { return &i.ElewOp }),
		enum("act", 0, 17, 16, actNames, "activation", func(i *Instr) *int { return &i.Act }),
		enum("round", 0, 15, 14, roundNames, "rounding mode of shift_cut", func(i *Instr) *int { return &i.Round }),
		num("shift_a", 0, 13, 10, 0, "left shift of the first input", func(i *Instr) *int { return &i.ShiftA }),
		num("shift_b", 0, 9, 6, 0, "left shift of the second input", func(i *Instr) *int { return &i.ShiftB }),
		num("shift_cut", 1, 31, 27, 0, "right shift of the result", func(i *Instr) *int { return &i.ShiftCut }),
		num("act_fix", 1, 26, 23, 0, "fraction bits of the output (ReLU6 clips at 6*2^act_fix)", func(i *Instr) *int { return &i.ActFix }),
	}, Doc: "Set operation, shifts, activation and rounding for the following ELEWs."},
	{Op: ELEW, Name: "ELEW", Engine: ComputeEngine, Words: 4, Fields: cat([]Field{
		bank("in_bank", FMBank, 0, 19, 14, "bank of the first input", func(i *Instr) *int { return &i.InBank }),
		addr("in_addr", 0, 13, 3, "first line of the first input", func(i *Instr) *int { return &i.InAddr }),
		bank("in2_bank", FMBank, 1, 31, 26, "bank of the second input", func(i *Instr) *int { return &i.In2Bank }),
		addr("in2_addr", 1, 25, 15, "first line of the second input", func(i *Instr) *int { return &i.In2Addr }),
		bank("out_bank", FMBank, 2, 31, 26, "bank of the output", func(i *Instr) *int { return &i.OutBank }),
		addr("out_addr", 2, 25, 15, "first line of the output", func(i *Instr) *int { return &i.OutAddr }),
	}, tileFields(3, "h", "w", "c", "tile")), Doc: "Combine two tiles of equal size element by element."},
	{Op: END, Name: "END", Engine: NoEngine, Words: 1,
		Doc: "End of one core's program."},
}

var byOp [16]*Spec

func init() {
	for _, s := range Specs {
		if byOp[s.Op] != nil {
			panic(fmt.Sprintf("isa: opcode %#x defined twice", s.Op))
		}
		byOp[s.Op] = s
		s.used = make([]uint32, s.Words)
		s.used[0] = headerMask
		for i := range s.Fields {
			f := &s.Fields[i]
			m := fieldMask(f)
			if s.used[f.Word]&m != 0 {
				panic(fmt.Sprintf("isa: %s field %s overlaps another field", s.Name, f.Name))
			}
			s.used[f.Word] |= m
		}
	}
}

func fieldMask(f *Field) uint32 {
	return uint32((uint64(1)<<f.Bits() - 1) << f.Lo)
}

// Lookup returns the specification of op, or nil if op is not an instruction.
func Lookup(op Op) *Spec {
	if int(op) < len(byOp) {
		return byOp[op]
	}
	return nil
}

// ByName returns the specification of the mnemonic name, or nil.
func ByName(name string) *Spec {
	for _, s := range Specs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Used returns, for word w of the instruction, the mask of bits that its
// header and fields occupy; the other bits are reserved and must be zero.
func (s *Spec) Used(w int) uint32 { return s.used[w] }
