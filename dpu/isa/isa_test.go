package isa

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		prog := []Instr{Random(r), Random(r), {Op: END}}
		words, err := EncodeProgram(prog)
		if err != nil {
			t.Fatalf("encode %+v: %v", prog, err)
		}
		got, err := DecodeProgram(words)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		for i := range got {
			got[i].Word = 0
		}
		if !reflect.DeepEqual(got, prog) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, prog)
		}
		again, err := EncodeProgram(got)
		if err != nil || !reflect.DeepEqual(again, words) {
			t.Fatalf("re-encode differs: %v", err)
		}
	}
}

func TestDecodeErrors(t *testing.T) {
	load, _ := Encode(nil, &Instr{Op: LOAD, Bank: 0, H: 1, W: 1, C: 1})
	tests := []struct {
		name  string
		words []uint32
		want  string
	}{
		{"empty", nil, "does not end with END"},
		{"zero word", []uint32{0}, "unknown opcode 0x0"},
		{"truncated", load[:3], "truncated"},
		{"reserved", append([]uint32{load[0] | 1}, load[1:]...), "reserved bits"},
		{"no end", load, "does not end with END"},
		{"self wait", []uint32{uint32(LOAD)<<28 | 1<<24, 0, 0, 0, 0, uint32(END) << 28}, "cannot wait on itself"},
		{"bad bank", []uint32{uint32(LOAD)<<28 | 40<<14, 0, 0, 0, 0, uint32(END) << 28}, "not a bank"},
		{"bad round", []uint32{uint32(CONVINIT)<<28 | 3<<2, 0, uint32(END) << 28}, "field round"},
		{"end deps", []uint32{uint32(END)<<28 | 1<<24}, "takes no dependencies"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeProgram(tt.words)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestFieldsCoverEncoding(t *testing.T) {
	for _, s := range Specs {
		for i := range s.Fields {
			f := &s.Fields[i]
			if f.Word >= s.Words || f.Hi > 31 || f.Lo < 0 || f.Hi < f.Lo {
				t.Errorf("%s.%s: bad position", s.Name, f.Name)
			}
			if f.Word == 0 && f.Hi > 19 {
				t.Errorf("%s.%s: overlaps the header", s.Name, f.Name)
			}
			if f.Max-f.Off >= 1<<f.Bits() {
				t.Errorf("%s.%s: range [%d,%d] does not fit %d bits", s.Name, f.Name, f.Min, f.Max, f.Bits())
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 8 {
		prog := []Instr{Random(r), Random(r), {Op: END}}
		w, _ := EncodeProgram(prog)
		f.Add(Bytes(w))
	}
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0xF0})
	f.Fuzz(func(t *testing.T, b []byte) {
		words, err := Words(b)
		if err != nil {
			return
		}
		prog, err := DecodeProgram(words)
		if err != nil {
			return
		}
		again, err := EncodeProgram(prog)
		if err != nil {
			t.Fatalf("decoded program does not encode: %v", err)
		}
		if !reflect.DeepEqual(again, words) {
			t.Fatalf("decode/encode not exact")
		}
	})
}
