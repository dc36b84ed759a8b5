package asm

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"argus/dpu/isa"
)

func TestRoundTripRandomPrograms(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range 500 {
		var prog []isa.Instr
		cores := 1 + r.IntN(3)
		for range cores {
			for range r.IntN(6) {
				prog = append(prog, isa.Random(r))
			}
			prog = append(prog, isa.Instr{Op: isa.END})
		}
		words, err := isa.EncodeProgram(prog)
		if err != nil {
			t.Fatal(err)
		}
		text, err := Disassemble(words)
		if err != nil {
			t.Fatal(err)
		}
		back, err := Assemble(text)
		if err != nil {
			t.Fatalf("assemble %q: %v", text, err)
		}
		if !reflect.DeepEqual(back, words) {
			t.Fatalf("binary round trip differs for\n%s", text)
		}
		parsed, err := Parse(text)
		if err != nil {
			t.Fatal(err)
		}
		for i := range parsed {
			parsed[i].Line = 0
		}
		if !reflect.DeepEqual(parsed, prog) {
			t.Fatalf("text round trip differs for\n%s", text)
		}
		if Format(parsed) != text {
			t.Fatalf("format not canonical")
		}
	}
}

func TestParseErrors(t *testing.T) {
	const conv = "CONV in_bank=fm0 out_bank=fm8 w_bank=w0 in_h=8 in_w=8 ic=16 oc=16"
	tests := []struct {
		name, src, want string
	}{
		{"kernel 17", "\nCONVINIT kernel_h=17 kernel_w=3\nEND", "line 2: CONVINIT: field kernel_h: 17 out of range [1, 16]"},
		{"stride 9", "CONVINIT kernel_h=3 kernel_w=3 stride_w=9\nEND", "line 1: CONVINIT: field stride_w: 9 out of range [1, 8]"},
		{"addr past bank", "; x\n\nLOAD bank=fm0 addr=2048 h=1 w=1 c=1\nEND", "line 3: LOAD: field addr: 2048 out of range [0, 2047]"},
		{"weights in fm", "CONV in_bank=fm0 out_bank=fm8 w_bank=fm1 in_h=8 in_w=8 ic=16 oc=16\nEND", "line 1: CONV: field w_bank: fm1 is not a weight bank"},
		{"fm as weights", "CONV in_bank=w0 out_bank=fm8 w_bank=w1 in_h=8 in_w=8 ic=16 oc=16\nEND", "line 1: CONV: field in_bank: w0 is not a feature-map bank"},
		{"missing", "CONV in_bank=fm0 out_bank=fm8 w_bank=w0 in_h=8 in_w=8 ic=16\nEND", "line 1: CONV: field oc missing"},
		{"unknown field", conv + " dilation=2\nEND", `line 1: CONV: unknown field "dilation"`},
		{"twice", conv + " oc=3\nEND", "line 1: CONV: field oc given twice"},
		{"bad enum", "CONVINIT kernel_h=1 kernel_w=1 act=gelu\nEND", `line 1: CONVINIT: field act: unknown value "gelu"`},
		{"bad number", "LOAD bank=fm0 h=1 w=1 c=1 ddr=12z\nEND", `line 1: LOAD: field ddr: "12z" is not a number`},
		{"ddr too big", "LOAD bank=fm0 h=1 w=1 c=1 ddr=0x100000000\nEND", "line 1: LOAD: field ddr: 4294967296 out of range"},
		{"negative", "LOAD bank=fm0 h=1 w=1 c=1 ddr=-1\nEND", "field ddr: -1 out of range"},
		{"channels", "LOAD bank=fm0 h=1 w=1 c=4097\nEND", "line 1: LOAD: field c: 4097 out of range [1, 4096]"},
		{"self wait", "LOAD wait=load bank=fm0 h=1 w=1 c=1\nEND", "line 1: LOAD: field wait: the load engine cannot wait on itself"},
		{"bad engine", "LOAD wait=dma bank=fm0 h=1 w=1 c=1\nEND", `line 1: LOAD: field wait: unknown engine "dma"`},
		{"unknown op", "MOVE x=1\nEND", `line 1: unknown instruction "MOVE"`},
		{"not kv", "END now", `line 1: END: "now" is not name=value`},
		{"no end", "CONVINIT kernel_h=1 kernel_w=1", "does not end with END"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.src)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	prog, err := Parse("convinit kernel_h=3 kernel_w=3 # defaults\nEND")
	if err != nil {
		t.Fatal(err)
	}
	in := prog[0]
	if in.StrideH != 1 || in.StrideW != 1 || in.Act != isa.ActNone || in.Round != isa.RoundDPU || in.ShiftCut != 0 {
		t.Fatalf("defaults not applied: %+v", in)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("LOAD signal=compute bank=fm0 addr=0 ddr=0x0 h=4 w=4 c=16 row_stride=64 pixel_stride=16\nCONVINIT kernel_h=3 kernel_w=3 act=relu\nEND\n")
	f.Add("CONV wait=load in_bank=fm0 out_bank=fm8 w_bank=w0 in_h=8 in_w=8 ic=16 oc=16 pad_top=1\nEND")
	f.Add("; only a comment\n")
	f.Add("POOLINIT kernel_h=2 kernel_w=2 stride_h=2 stride_w=2 type=avg avg_mult=1 shift_cut=2\nEND\nELEWINIT op=add\nEND")
	f.Fuzz(func(t *testing.T, src string) {
		prog, err := Parse(src)
		if err != nil {
			return
		}
		words, err := isa.EncodeProgram(prog)
		if err != nil {
			t.Fatalf("parsed program does not encode: %v", err)
		}
		text, err := Disassemble(words)
		if err != nil {
			t.Fatalf("encoded program does not decode: %v", err)
		}
		again, err := Assemble(text)
		if err != nil || !reflect.DeepEqual(again, words) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// TestEncodingExample checks the hand-decoded example in docs/DPU-ISA.md.
func TestEncodingExample(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "DPU-ISA.md"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i, j := strings.Index(s, "<!-- encoding example -->"), strings.Index(s, "<!-- end of encoding example -->")
	if i < 0 || j < i {
		t.Fatal("docs/DPU-ISA.md lacks the encoding example")
	}
	var src []string
	var want []uint32
	for _, line := range strings.Split(s[i:j], "\n") {
		switch {
		case strings.HasPrefix(line, "    0x"):
			for _, f := range strings.Fields(line) {
				v, err := strconv.ParseUint(f, 0, 32)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, uint32(v))
			}
		case line != "" && !strings.HasPrefix(line, "<!--") && !strings.HasPrefix(line, "```"):
			src = append(src, line)
		}
	}
	got, err := Assemble(strings.Join(src, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("assembled %#08x, document says %#08x", got, want)
	}
}
