package isa

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Encode appends the binary words of in to dst after validating it.
func Encode(dst []uint32, in *Instr) ([]uint32, error) {
	if err := in.Validate(); err != nil {
		return dst, err
	}
	s := Lookup(in.Op)
	words := make([]uint32, s.Words)
	words[0] = uint32(in.Op)<<opShift | uint32(in.Wait)<<waitShift | uint32(in.Signal)<<signalShift
	for i := range s.Fields {
		f := &s.Fields[i]
		v := uint32(*f.ref(in) - f.Off)
		words[f.Word] |= (v << f.Lo) & fieldMask(f)
	}
	return append(dst, words...), nil
}

// EncodeProgram encodes a whole program.
func EncodeProgram(prog []Instr) ([]uint32, error) {
	var out []uint32
	for i := range prog {
		var err error
		if out, err = Encode(out, &prog[i]); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", prog[i].Where(), prog[i].Name(), err)
		}
	}
	return out, nil
}

// ErrNoEnd is returned for a stream whose last instruction is not END.
var ErrNoEnd = errors.New("program does not end with END")

// Decode decodes one instruction from the start of words and returns it with
// its length in words.
func Decode(words []uint32) (Instr, int, error) {
	if len(words) == 0 {
		return Instr{}, 0, errors.New("no words")
	}
	w0 := words[0]
	op := Op(w0 >> opShift)
	s := Lookup(op)
	if s == nil {
		return Instr{}, 0, fmt.Errorf("unknown opcode %#x", uint8(op))
	}
	if len(words) < s.Words {
		return Instr{}, 0, fmt.Errorf("%s truncated: needs %d words, %d left", s.Name, s.Words, len(words))
	}
	for w := 0; w < s.Words; w++ {
		if r := words[w] &^ s.used[w]; r != 0 {
			return Instr{}, 0, fmt.Errorf("%s: reserved bits %#08x of word %d set", s.Name, r, w)
		}
	}
	in := Instr{Op: op, Wait: Deps(w0 >> waitShift & 0xF), Signal: Deps(w0 >> signalShift & 0xF)}
	for i := range s.Fields {
		f := &s.Fields[i]
		*f.ref(&in) = int((words[f.Word]&fieldMask(f))>>f.Lo) + f.Off
	}
	if err := in.Validate(); err != nil {
		return Instr{}, 0, fmt.Errorf("%s: %w", s.Name, err)
	}
	return in, s.Words, nil
}

// DecodeProgram decodes a stream of words into instructions. The stream is
// one or more core programs, each ending with END.
func DecodeProgram(words []uint32) ([]Instr, error) {
	var prog []Instr
	for pos := 0; pos < len(words); {
		in, n, err := Decode(words[pos:])
		if err != nil {
			return nil, fmt.Errorf("word %d: %w", pos, err)
		}
		in.Word = pos
		prog = append(prog, in)
		pos += n
	}
	if len(prog) == 0 || prog[len(prog)-1].Op != END {
		return nil, ErrNoEnd
	}
	return prog, nil
}

// Bytes writes words as little-endian bytes, the file format of a program.
func Bytes(words []uint32) []byte {
	b := make([]byte, 4*len(words))
	for i, w := range words {
		binary.LittleEndian.PutUint32(b[4*i:], w)
	}
	return b
}

// Words reads little-endian bytes as words.
func Words(b []byte) ([]uint32, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("length %d is not a multiple of 4 bytes", len(b))
	}
	w := make([]uint32, len(b)/4)
	for i := range w {
		w[i] = binary.LittleEndian.Uint32(b[4*i:])
	}
	return w, nil
}
