// Package asm translates DPU programs between their readable text form and
// the binary stream of 32-bit words.
//
// A program is one instruction per line:
//
//	; comment (also #)
//	LOAD wait=compute signal=compute bank=fm0 addr=0 ddr=0x1000 h=8 w=8 c=16 row_stride=128 pixel_stride=16
//	CONVINIT kernel_h=3 kernel_w=3 act=relu shift_cut=7
//	END
//
// The mnemonic comes first; then wait= and signal= (lists of engines: load,
// compute, save; omitted means none); then the instruction's fields as
// name=value in any order. Banks are written fm0..fm15, w0..w15 and bias;
// numbers are decimal or 0x hexadecimal. Bank, tile-size and kernel-size
// fields are required; every other field defaults to its smallest value.
// Instructions after an END form the next core's program.
package asm

import (
	"fmt"
	"strconv"
	"strings"

	"argus/dpu/isa"
)

// Parse reads a program in text form. Every error names its line and, where
// one is to blame, the field.
func Parse(text string) ([]isa.Instr, error) {
	var prog []isa.Instr
	for n, line := range strings.Split(text, "\n") {
		if i := strings.IndexAny(line, ";#"); i >= 0 {
			line = line[:i]
		}
		toks := strings.Fields(line)
		if len(toks) == 0 {
			continue
		}
		in, err := parseInstr(toks)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n+1, err)
		}
		in.Line = n + 1
		prog = append(prog, in)
	}
	if len(prog) == 0 || prog[len(prog)-1].Op != isa.END {
		return nil, isa.ErrNoEnd
	}
	return prog, nil
}

func required(f *isa.Field) bool {
	switch f.Kind {
	case isa.AnyBank, isa.FMBank, isa.WBank:
		return true
	}
	switch f.Name {
	case "h", "w", "c", "in_h", "in_w", "ic", "oc", "kernel_h", "kernel_w":
		return true
	}
	return false
}

func parseInstr(toks []string) (isa.Instr, error) {
	name := strings.ToUpper(toks[0])
	s := isa.ByName(name)
	if s == nil {
		return isa.Instr{}, fmt.Errorf("unknown instruction %q", toks[0])
	}
	in := isa.Instr{Op: s.Op}
	seen := map[string]bool{}
	for _, t := range toks[1:] {
		key, val, ok := strings.Cut(t, "=")
		if !ok || key == "" || val == "" {
			return in, fmt.Errorf("%s: %q is not name=value", name, t)
		}
		key = strings.ToLower(key)
		if seen[key] {
			return in, fmt.Errorf("%s: field %s given twice", name, key)
		}
		seen[key] = true
		switch key {
		case "wait", "signal":
			d, err := isa.ParseDeps(strings.ToLower(val))
			if err != nil {
				return in, fmt.Errorf("%s: field %s: %w", name, key, err)
			}
			if key == "wait" {
				in.Wait = d
			} else {
				in.Signal = d
			}
			continue
		}
		f := s.Field(key)
		if f == nil {
			return in, fmt.Errorf("%s: unknown field %q", name, key)
		}
		v, err := parseValue(f, val)
		if err != nil {
			return in, fmt.Errorf("%s: %w", name, err)
		}
		*f.Ref(&in) = v
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		if seen[f.Name] {
			continue
		}
		if required(f) {
			return in, fmt.Errorf("%s: field %s missing", name, f.Name)
		}
		*f.Ref(&in) = f.Min
	}
	if err := in.Validate(); err != nil {
		return in, fmt.Errorf("%s: %w", name, err)
	}
	return in, nil
}

func parseValue(f *isa.Field, val string) (int, error) {
	low := strings.ToLower(val)
	switch f.Kind {
	case isa.Enum:
		for i, n := range f.Names {
			if low == n {
				return i, nil
			}
		}
		return 0, &isa.FieldError{Field: f.Name, Msg: fmt.Sprintf("unknown value %q (want %s)", val, strings.Join(f.Names, ", "))}
	case isa.AnyBank, isa.FMBank, isa.WBank:
		if low == "bias" {
			return isa.BiasBank, nil
		}
		if rest, ok := strings.CutPrefix(low, "fm"); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n >= isa.FMBanks {
				return 0, &isa.FieldError{Field: f.Name, Msg: fmt.Sprintf("no bank %q (fm0-fm15)", val)}
			}
			return n, nil
		}
		if rest, ok := strings.CutPrefix(low, "w"); ok {
			n, err := strconv.Atoi(rest)
			if err != nil || n < 0 || n >= isa.WeightBanks {
				return 0, &isa.FieldError{Field: f.Name, Msg: fmt.Sprintf("no bank %q (w0-w15)", val)}
			}
			return isa.WeightBank0 + n, nil
		}
	}
	n, err := strconv.ParseInt(low, 0, 64)
	if err != nil {
		return 0, &isa.FieldError{Field: f.Name, Msg: fmt.Sprintf("%q is not a number", val)}
	}
	if n < int64(f.Min) || n > int64(f.Max) {
		return 0, &isa.FieldError{Field: f.Name, Msg: fmt.Sprintf("%d out of range [%d, %d]", n, f.Min, f.Max)}
	}
	return int(n), nil
}

// Format writes a program in its canonical text form: one instruction per
// line, every field written, a comment line before each core's program after
// the first. Parse(Format(p)) returns p (positions aside).
func Format(prog []isa.Instr) string {
	var b strings.Builder
	core := 0
	for i := range prog {
		in := &prog[i]
		b.WriteString(FormatInstr(in))
		b.WriteByte('\n')
		if in.Op == isa.END && i+1 < len(prog) {
			core++
			fmt.Fprintf(&b, "\n; core %d\n", core)
		}
	}
	return b.String()
}

// FormatInstr writes one instruction in canonical text form.
func FormatInstr(in *isa.Instr) string {
	s := in.Spec()
	if s == nil {
		return fmt.Sprintf("; unknown opcode %#x", uint8(in.Op))
	}
	var b strings.Builder
	b.WriteString(s.Name)
	if in.Wait != 0 {
		b.WriteString(" wait=" + in.Wait.String())
	}
	if in.Signal != 0 {
		b.WriteString(" signal=" + in.Signal.String())
	}
	for i := range s.Fields {
		f := &s.Fields[i]
		fmt.Fprintf(&b, " %s=%s", f.Name, f.FormatValue(*f.Ref(in)))
	}
	return b.String()
}

// Assemble parses a text program and encodes it.
func Assemble(text string) ([]uint32, error) {
	prog, err := Parse(text)
	if err != nil {
		return nil, err
	}
	return isa.EncodeProgram(prog)
}

// Disassemble decodes a binary stream and formats it.
func Disassemble(words []uint32) (string, error) {
	prog, err := isa.DecodeProgram(words)
	if err != nil {
		return "", err
	}
	return Format(prog), nil
}
