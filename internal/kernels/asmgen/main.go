// Command asmgen writes the kernels package's amd64 assembly with avo:
//
//	go generate ./internal/kernels
//
// It lives in its own module so that the engine does not depend on avo.
package main

import (
	"fmt"
	"strings"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

func main() {
	ConstraintExpr("!purego")
	// The full tiles, and every shorter height for the bottom edge of C.
	for mr := 1; mr <= 14; mr++ {
		gemmKernel(fmt.Sprintf("sgemmKernel%dx32AVX512", mr), mr, 2, 16, zmm)
	}
	for mr := 1; mr <= 6; mr++ {
		gemmKernel(fmt.Sprintf("sgemmKernel%dx16AVX2", mr), mr, 2, 8, ymm)
	}
	for mr := 1; mr <= 14; mr++ {
		convKernel(fmt.Sprintf("convKernel%dx32AVX512", mr), mr, 2, 16, zmm)
	}
	for mr := 1; mr <= 6; mr++ {
		convKernel(fmt.Sprintf("convKernel%dx16AVX2", mr), mr, 2, 8, ymm)
	}
	for mr := 1; mr <= 6; mr++ {
		for nv := 1; nv <= 4; nv++ {
			dwKernel(fmt.Sprintf("dwKernel%dx%dAVX512", mr, 16*nv), mr, nv)
		}
	}
	transpose16()
	cpuidFunc()
	addRowsAVX512()
	addRowsAVX2()
	col2imGatherAVX512()
	im2colRowsAVX512()
	bits := laneBits()
	col2imGatherAVX2(bits)
	im2colRowsAVX2(bits)
	transpose8AVX2(bits)
	for _, isa := range []struct {
		name  string
		lanes int
		vec   func(int) VecPhysical
	}{{"AVX512", 16, zmm}, {"AVX2", 8, ymm}} {
		maxRunKernel("maxRun"+isa.name, isa.lanes, isa.vec)
		reluKernel("relu"+isa.name, isa.lanes, isa.vec)
		reluGradKernel("reluGrad"+isa.name, isa.lanes, isa.vec)
		normKernel("normAffine"+isa.name, isa.lanes, isa.vec)
		normGradKernel("normGrad"+isa.name, isa.lanes, isa.vec)
	}
	Generate()
}

// transpose16 emits the 16×16 transpose that packing uses to interleave
// rows of A (or of a transposed B) into panels.
func transpose16() {
	TEXT("transpose16AVX512", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows, lanes int)")
	Pragma("noescape")
	Doc(
		"transpose16AVX512 writes the transpose of a 16×16 block of src, reading",
		"only its first rows rows and taking the others as zero, and stores the",
		"first lanes floats of each transposed row:",
		"",
		"\tfor i := 0; i < 16; i++ {",
		"\t\tfor r := 0; r < lanes; r++ {",
		"\t\t\tvar v float32",
		"\t\t\tif r < rows {",
		"\t\t\t\tv = src[r*lds+i]",
		"\t\t\t}",
		"\t\t\tdst[i*ldd+r] = v",
		"\t\t}",
		"\t}",
		"",
		"rows and lanes are at most 16; the caller checks that every element is in range.",
	)
	src, lds, rows := RSI, RDX, RCX
	Load(Param("src"), src)
	Load(Param("lds"), lds)
	SHLQ(U8(2), lds)
	Load(Param("rows"), rows)
	r := func(i int) VecPhysical { return zmm(i) }
	t := func(i int) VecPhysical { return zmm(16 + i) }
	for i := range 16 {
		zero, next := fmt.Sprintf("tr_zero%d", i), fmt.Sprintf("tr_next%d", i)
		CMPQ(rows, U8(i+1))
		JL(LabelRef(zero))
		VMOVUPS(Mem{Base: src}, r(i))
		ADDQ(lds, src)
		JMP(LabelRef(next))
		Label(zero)
		VPXORD(r(i), r(i), r(i))
		Label(next)
	}
	// Within each 128-bit lane, gather columns of four rows.
	for j := range 8 {
		VUNPCKLPS(r(2*j+1), r(2*j), t(2*j))
		VUNPCKHPS(r(2*j+1), r(2*j), t(2*j+1))
	}
	for b := 0; b < 16; b += 4 {
		VSHUFPS(U8(0x44), t(b+2), t(b), r(b))
		VSHUFPS(U8(0xee), t(b+2), t(b), r(b+1))
		VSHUFPS(U8(0x44), t(b+3), t(b+1), r(b+2))
		VSHUFPS(U8(0xee), t(b+3), t(b+1), r(b+3))
	}
	// Then move the 128-bit lanes into place.
	for b := 0; b < 16; b += 8 {
		for c := range 4 {
			VSHUFF32X4(U8(0x88), r(b+4+c), r(b+c), t(b+c))
			VSHUFF32X4(U8(0xdd), r(b+4+c), r(b+c), t(b+4+c))
		}
	}
	for i := range 8 {
		VSHUFF32X4(U8(0x88), t(i+8), t(i), r(i))
		VSHUFF32X4(U8(0xdd), t(i+8), t(i), r(i+8))
	}
	dst, ldd := RDI, RBX
	Load(Param("lanes"), RCX)
	MOVL(U32(1), R8L)
	SHLL(CL, R8L)
	DECL(R8L)
	KMOVW(R8L, K1)
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	for i := range 16 {
		VMOVUPS(r(i), K1, Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	VZEROUPPER()
	RET()
}

// transpose8AVX2 emits transpose16AVX512's 8×8 counterpart on YMM
// registers, for packing on CPUs without AVX-512: a short row of lanes is
// stored with VMASKMOVPS, the mask built from bits.
func transpose8AVX2(bits Mem) {
	TEXT("transpose8AVX2", NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows, lanes int)")
	Pragma("noescape")
	Doc(
		"transpose8AVX2 writes the transpose of an 8×8 block of src, reading",
		"only its first rows rows and taking the others as zero, and stores the",
		"first lanes floats of each transposed row:",
		"",
		"\tfor i := 0; i < 8; i++ {",
		"\t\tfor r := 0; r < lanes; r++ {",
		"\t\t\tvar v float32",
		"\t\t\tif r < rows {",
		"\t\t\t\tv = src[r*lds+i]",
		"\t\t\t}",
		"\t\t\tdst[i*ldd+r] = v",
		"\t\t}",
		"\t}",
		"",
		"rows and lanes are at most 8, lanes at least 1; the caller checks that every",
		"element is in range.",
	)
	src, lds, rows := RSI, RDX, RCX
	Load(Param("src"), src)
	Load(Param("lds"), lds)
	SHLQ(U8(2), lds)
	Load(Param("rows"), rows)
	r := func(i int) VecPhysical { return ymm(i) }
	t := func(i int) VecPhysical { return ymm(8 + i) }
	for i := range 8 {
		zero, next := fmt.Sprintf("tr8_zero%d", i), fmt.Sprintf("tr8_next%d", i)
		CMPQ(rows, U8(i+1))
		JL(LabelRef(zero))
		VMOVUPS(Mem{Base: src}, r(i))
		ADDQ(lds, src)
		JMP(LabelRef(next))
		Label(zero)
		VXORPS(r(i), r(i), r(i))
		Label(next)
	}
	// Within each 128-bit lane, gather columns of four rows.
	for j := range 4 {
		VUNPCKLPS(r(2*j+1), r(2*j), t(2*j))
		VUNPCKHPS(r(2*j+1), r(2*j), t(2*j+1))
	}
	for b := 0; b < 8; b += 4 {
		VSHUFPS(U8(0x44), t(b+2), t(b), r(b))
		VSHUFPS(U8(0xee), t(b+2), t(b), r(b+1))
		VSHUFPS(U8(0x44), t(b+3), t(b+1), r(b+2))
		VSHUFPS(U8(0xee), t(b+3), t(b+1), r(b+3))
	}
	// Then pair the 128-bit lanes of rows 0-3 and 4-7.
	for c := range 4 {
		VPERM2F128(U8(0x20), r(4+c), r(c), t(c))
		VPERM2F128(U8(0x31), r(4+c), r(c), t(4+c))
	}
	dst, ldd := RDI, RBX
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("lanes"), RCX)
	CMPQ(RCX, U8(8))
	JL(LabelRef("tr8_masked"))
	for i := range 8 {
		VMOVUPS(t(i), Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	VZEROUPPER()
	RET()
	Label("tr8_masked")
	MOVL(U32(1), R8L)
	SHLL(CL, R8L)
	DECL(R8L)
	VMOVD(R8L, X0)
	VPBROADCASTD(X0, Y0)
	VMOVDQU(bits, Y1)
	VPAND(Y1, Y0, Y0)
	VPCMPEQD(Y1, Y0, Y0)
	for i := range 8 {
		VMASKMOVPS(t(i), Y0, Mem{Base: dst})
		ADDQ(ldd, dst)
	}
	VZEROUPPER()
	RET()
}

// cpuidFunc emits the CPUID instruction, from which the kernels read the
// processor's vendor, family, model and caches.
func cpuidFunc() {
	TEXT("cpuid", NOSPLIT, "func(leaf, sub uint32) (eax, ebx, ecx, edx uint32)")
	Doc(
		"cpuid executes the CPUID instruction with EAX = leaf and ECX = sub and returns",
		"the four registers it sets. It computes no loop: it is the processor's own",
		"table, which the tests check against /proc/cpuinfo where Linux has one.",
	)
	Load(Param("leaf"), EAX)
	Load(Param("sub"), ECX)
	CPUID()
	Store(EAX, Return("eax"))
	Store(EBX, Return("ebx"))
	Store(ECX, Return("ecx"))
	Store(EDX, Return("edx"))
	RET()
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26, Z27, Z28, Z29, Z30, Z31}[i]
}
func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}[i]
}

// gemmKernel emits a register-blocked kernel for an mr×(nv*lanes) tile:
// mr*nv accumulators, nv registers for a row of B and broadcasts of A.
func gemmKernel(name string, mr, nv, lanes int, vec func(int) VecPhysical) {
	nr := nv * lanes
	width := lanes * 4
	TEXT(name, NOSPLIT, "func(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)")
	Pragma("noescape")
	Doc(
		fmt.Sprintf("%s computes one %dx%d tile of C from k rank-1 updates, with", name, mr, nr),
		"A read through its row and column strides and B through its row stride:",
		"",
		fmt.Sprintf("\tfor i := 0; i < %d; i++ {", mr),
		fmt.Sprintf("\t\tfor j := 0; j < %d; j++ {", nr),
		"\t\t\tvar s float32",
		"\t\t\tfor p := 0; p < k; p++ {",
		"\t\t\t\ts += a[i*rsA+p*csA] * b[p*ldb+j]",
		"\t\t\t}",
		"\t\t\tif beta == 0 {",
		"\t\t\t\tc[i*ldc+j] = alpha * s",
		"\t\t\t} else {",
		"\t\t\t\tc[i*ldc+j] = alpha*s + beta*c[i*ldc+j]",
		"\t\t\t}",
		"\t\t}",
		"\t}",
		"",
		"k must be at least 1; the caller checks that every element is in range.",
	)
	acc, bv, tmp := tileRegs(mr, nv, width, vec)

	// Rows 4q..4q+3 of A are addressed from base q with the row stride in
	// R9 (1x, 2x) and R10 (3x).
	bases := []GPPhysical{R8, R11, R12, R13}[:(mr+3)/4]
	k, rs, rs3, cs, bp, ldb := RCX, R9, R10, RSI, RDI, RDX
	Load(Param("k"), k)
	Load(Param("a"), bases[0])
	Load(Param("rsA"), rs)
	SHLQ(U8(2), rs)
	Load(Param("csA"), cs)
	SHLQ(U8(2), cs)
	Load(Param("b"), bp)
	Load(Param("ldb"), ldb)
	SHLQ(U8(2), ldb)
	LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
	for q := 1; q < len(bases); q++ {
		LEAQ(Mem{Base: bases[q-1], Index: rs, Scale: 4}, bases[q])
	}
	rowA := func(i int) Mem { return rowAddr(bases, rs, rs3, i, 0) }

	// Warm the C tile while the products run.
	cp, ldc := RAX, RBX
	Load(Param("c"), cp)
	Load(Param("ldc"), ldc)
	SHLQ(U8(2), ldc)
	for range mr {
		PREFETCHT0(Mem{Base: cp})
		if nr*4 > 64 {
			PREFETCHT0(Mem{Base: cp, Disp: nr*4 - 4})
		}
		ADDQ(ldc, cp)
	}

	for i := range mr {
		for v := range nv {
			zeroVec(acc(i, v), width)
		}
	}

	step := func() {
		for v := range nv {
			VMOVUPS(Mem{Base: bp, Disp: v * width}, bv(v))
		}
		for i := range mr {
			VBROADCASTSS(rowA(i), tmp(i))
			for v := range nv {
				VFMADD231PS(bv(v), tmp(i), acc(i, v))
			}
		}
		for _, r := range bases {
			ADDQ(cs, r)
		}
		ADDQ(ldb, bp)
	}
	const unroll = 4
	Label(name + "_loop4")
	CMPQ(k, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for range unroll {
		step()
	}
	SUBQ(U8(unroll), k)
	JMP(LabelRef(name + "_loop4"))
	Label(name + "_tail")
	TESTQ(k, k)
	JE(LabelRef(name + "_store"))
	step()
	DECQ(k)
	JMP(LabelRef(name + "_tail"))

	Label(name + "_store")
	alpha, beta := tmp(0), tmp(1)
	Load(Param("c"), cp)
	VBROADCASTSS(NewParamAddr("alpha", 64), alpha)
	MOVL(NewParamAddr("beta", 68), EDX)
	ANDL(U32(0x7fffffff), EDX)
	JE(LabelRef(name + "_beta0"))
	VBROADCASTSS(NewParamAddr("beta", 68), beta)
	for i := range mr {
		for v := range nv {
			at := Mem{Base: cp, Disp: v * width}
			VMULPS(alpha, acc(i, v), acc(i, v))
			VFMADD231PS(at, beta, acc(i, v))
			VMOVUPS(acc(i, v), at)
		}
		ADDQ(ldc, cp)
	}
	VZEROUPPER()
	RET()
	Label(name + "_beta0")
	for i := range mr {
		for v := range nv {
			VMULPS(alpha, acc(i, v), acc(i, v))
			VMOVUPS(acc(i, v), Mem{Base: cp, Disp: v * width})
		}
		ADDQ(ldc, cp)
	}
	VZEROUPPER()
	RET()
}

// convKernel emits the convolution tile kernel: an mr×(nv*lanes) tile of
// output pixels × output channels summed over taps runs of A (one per row
// of the filter, its columns and channels contiguous in NHWC order) against
// packed weights, then the bias, an optional residual and optional clamps
// (a ReLU, a ReLU6) applied before the single store. The accumulators never leave the
// registers between taps.
func convKernel(name string, mr, nv, lanes int, vec func(int) VecPhysical) {
	nr := nv * lanes
	width := lanes * 4
	TEXT(name, NOSPLIT, "func(taps int, offs *int, run int, a *float32, rsA int, b *float32, c *float32, ldc int, bias *float32, res *float32, ldr int, flags int, lo, hi float32)")
	Pragma("noescape")
	doc := []string{
		fmt.Sprintf("%s computes one %dx%d tile of a convolution's output:", name, mr, nr),
		"",
		fmt.Sprintf("\tfor i := 0; i < %d; i++ {", mr),
		fmt.Sprintf("\t\tfor j := 0; j < %d; j++ {", nr),
		"\t\t\ts := bias[j]",
		"\t\t\tfor t := 0; t < taps; t++ {",
		"\t\t\t\tfor p := 0; p < run; p++ {",
		fmt.Sprintf("\t\t\t\t\ts += a[offs[t]/4+i*rsA+p] * b[(t*run+p)*%d+j]", nr),
		"\t\t\t\t}",
		"\t\t\t}",
		"\t\t\tc[i*ldc+j] = epilogue(s, res[i*ldr+j], flags, lo, hi)",
		"\t\t}",
		"\t}",
		"",
	}
	doc = append(doc, strings.Split(epilogueDoc, "\n")...)
	doc = append(doc,
		"",
		"offs holds byte offsets; taps and run must be at least 1, and the caller",
		"checks that every element is in range.",
	)
	Doc(doc...)
	acc, bv, tmp := tileRegs(mr, nv, width, vec)

	bases := []GPPhysical{R8, R11, R12, R13}[:(mr+3)/4]
	k, rs, rs3, bp, offs, taps, origin, run := RCX, R9, R10, RDI, RSI, RDX, RAX, RBX
	Load(Param("taps"), taps)
	Load(Param("offs"), offs)
	Load(Param("run"), run)
	Load(Param("a"), origin)
	Load(Param("rsA"), rs)
	SHLQ(U8(2), rs)
	Load(Param("b"), bp)
	LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
	rowA := func(i, disp int) Mem { return rowAddr(bases, rs, rs3, i, disp) }
	for i := range mr {
		for v := range nv {
			zeroVec(acc(i, v), width)
		}
	}
	// step u of an unrolled group reads A and B at displacements instead
	// of moving the pointers each time.
	step := func(u int) {
		for v := range nv {
			VMOVUPS(Mem{Base: bp, Disp: u*nr*4 + v*width}, bv(v))
		}
		for i := range mr {
			VBROADCASTSS(rowA(i, 4*u), tmp(i))
			for v := range nv {
				VFMADD231PS(bv(v), tmp(i), acc(i, v))
			}
		}
	}
	advance := func(steps int) {
		for _, r := range bases {
			ADDQ(U32(4*steps), r)
		}
		ADDQ(U32(steps*nr*4), bp)
	}
	Label(name + "_tap")
	MOVQ(Mem{Base: offs}, bases[0])
	ADDQ(origin, bases[0])
	for q := 1; q < len(bases); q++ {
		LEAQ(Mem{Base: bases[q-1], Index: rs, Scale: 4}, bases[q])
	}
	MOVQ(run, k)
	const unroll = 4
	Label(name + "_loop4")
	CMPQ(k, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for u := range unroll {
		step(u)
	}
	advance(unroll)
	SUBQ(U8(unroll), k)
	JMP(LabelRef(name + "_loop4"))
	Label(name + "_tail")
	TESTQ(k, k)
	JE(LabelRef(name + "_next"))
	step(0)
	advance(1)
	DECQ(k)
	JMP(LabelRef(name + "_tail"))
	Label(name + "_next")
	ADDQ(U8(8), offs)
	DECQ(taps)
	JNE(LabelRef(name + "_tap"))

	epilogue(name, mr, nv, width, acc, tmp)
}

// tileRegs assigns the vector registers of an mr×nv-vector tile: the
// accumulators, nv registers for a row of B, and the temporaries that
// hold broadcasts of A (four where the registers allow, so that
// consecutive broadcasts do not wait for each other).
func tileRegs(mr, nv, width int, vec func(int) VecPhysical) (acc func(i, v int) VecPhysical, bv func(v int) VecPhysical, tmp func(i int) VecPhysical) {
	nt := 2
	if mr*nv+nv+4 <= 32 && width == 64 {
		nt = 4
	}
	if mr*nv+nv+nt > 32 || (width == 32 && mr*nv+nv+nt > 16) {
		panic("too many registers")
	}
	acc = func(i, v int) VecPhysical { return vec(i*nv + v) }
	bv = func(v int) VecPhysical { return vec(mr*nv + v) }
	tmp = func(i int) VecPhysical { return vec(mr*nv + nv + i%nt) }
	return acc, bv, tmp
}

// rowAddr addresses row i of A at displacement disp: rows 4q..4q+3 from
// base q with the row stride in rs (1x, 2x) and rs3 (3x).
func rowAddr(bases []GPPhysical, rs, rs3 GPPhysical, i, disp int) Mem {
	m := Mem{Base: bases[i/4], Disp: disp}
	switch i % 4 {
	case 1:
		m.Index, m.Scale = rs, 1
	case 2:
		m.Index, m.Scale = rs, 2
	case 3:
		m.Index, m.Scale = rs3, 1
	}
	return m
}

// zeroVec clears a vector register of width bytes.
func zeroVec(r VecPhysical, width int) {
	if width == 64 {
		VPXORD(r, r, r)
	} else {
		VXORPS(r, r, r)
	}
}

// epilogueDoc documents the epilogue the convolution kernels share.
const epilogueDoc = `where epilogue(s, r, flags, lo, hi) adds the residual r when flags&1 is set,
then takes max(s, lo) when flags&2 is set and min(s, hi) when flags&4 is set;
a NaN passes through both clamps, as through PyTorch's ReLU and clamp.`

// epilogue emits the end of a convolution kernel: add the bias, the
// residual (flags bit 0), clamp from below at lo (bit 1) and from above at
// hi (bit 2), and store the mr×nv vectors of accumulators. tmp provides
// two scratch registers.
func epilogue(name string, mr, nv, width int, acc func(i, v int) VecPhysical, tmp func(int) VecPhysical) {
	Load(Param("bias"), R8)
	for v := range nv {
		VMOVUPS(Mem{Base: R8, Disp: v * width}, tmp(0))
		for i := range mr {
			VADDPS(tmp(0), acc(i, v), acc(i, v))
		}
	}
	Load(Param("flags"), RCX)
	TESTQ(U32(1), RCX)
	JE(LabelRef(name + "_lo"))
	Load(Param("res"), R9)
	Load(Param("ldr"), R10)
	SHLQ(U8(2), R10)
	for i := range mr {
		for v := range nv {
			VADDPS(Mem{Base: R9, Disp: v * width}, acc(i, v), acc(i, v))
		}
		ADDQ(R10, R9)
	}
	// MAXPS and MINPS return their second source when either is NaN:
	// with the accumulator second, a NaN survives the clamp.
	Label(name + "_lo")
	TESTQ(U32(2), RCX)
	JE(LabelRef(name + "_hi"))
	VBROADCASTSS(paramAddr("lo"), tmp(0))
	for i := range mr {
		for v := range nv {
			VMAXPS(acc(i, v), tmp(0), acc(i, v))
		}
	}
	Label(name + "_hi")
	TESTQ(U32(4), RCX)
	JE(LabelRef(name + "_store"))
	VBROADCASTSS(paramAddr("hi"), tmp(0))
	for i := range mr {
		for v := range nv {
			VMINPS(acc(i, v), tmp(0), acc(i, v))
		}
	}
	Label(name + "_store")
	cp, ldc := RAX, RBX
	Load(Param("c"), cp)
	Load(Param("ldc"), ldc)
	SHLQ(U8(2), ldc)
	for i := range mr {
		for v := range nv {
			VMOVUPS(acc(i, v), Mem{Base: cp, Disp: v * width})
		}
		ADDQ(ldc, cp)
	}
	VZEROUPPER()
	RET()
}

// paramAddr returns the stack address of a scalar parameter.
func paramAddr(name string) Mem {
	b, err := Param(name).Resolve()
	if err != nil {
		panic(err)
	}
	return b.Addr
}

// dwKernel emits the depthwise convolution tile kernel: mr output pixels ×
// nv vectors of 16 channels, each channel filtered on its own over the
// taps, then the epilogue the convolution kernels share. The input comes
// in as memory operands of the multiply-adds; the weights of a tap stay
// in registers for every pixel of the tile.
func dwKernel(name string, mr, nv int) {
	const width = 64
	TEXT(name, NOSPLIT, "func(taps int, offs *int, a *float32, rsA int, w *float32, ldw int, c *float32, ldc int, bias *float32, res *float32, ldr int, flags int, lo, hi float32)")
	Pragma("noescape")
	doc := []string{
		fmt.Sprintf("%s computes one %dx%d tile of a depthwise convolution's output:", name, mr, 16*nv),
		"",
		fmt.Sprintf("\tfor i := 0; i < %d; i++ {", mr),
		fmt.Sprintf("\t\tfor j := 0; j < %d; j++ {", 16*nv),
		"\t\t\ts := bias[j]",
		"\t\t\tfor t := 0; t < taps; t++ {",
		"\t\t\t\ts += a[offs[t]/4+i*rsA+j] * w[t*ldw+j]",
		"\t\t\t}",
		"\t\t\tc[i*ldc+j] = epilogue(s, res[i*ldr+j], flags, lo, hi)",
		"\t\t}",
		"\t}",
		"",
	}
	doc = append(doc, strings.Split(epilogueDoc, "\n")...)
	doc = append(doc, "", "offs holds byte offsets; taps must be at least 1, and the caller checks",
		"that every element is in range.")
	Doc(doc...)
	acc := func(i, v int) VecPhysical { return zmm(i*nv + v) }
	wv := func(v int) VecPhysical { return zmm(mr*nv + v) }
	tmp := func(i int) VecPhysical { return zmm(mr*nv + nv + i%2) }
	if mr*nv+nv+2 > 32 {
		panic("too many registers")
	}
	bases := []GPPhysical{R8, R11, R12, R13}[:(mr+3)/4]
	taps, offs, origin, rs, rs3, wp, ldw := RCX, RSI, RAX, R9, R10, RDI, RDX
	Load(Param("taps"), taps)
	Load(Param("offs"), offs)
	Load(Param("a"), origin)
	Load(Param("rsA"), rs)
	SHLQ(U8(2), rs)
	LEAQ(Mem{Base: rs, Index: rs, Scale: 2}, rs3)
	Load(Param("w"), wp)
	Load(Param("ldw"), ldw)
	SHLQ(U8(2), ldw)
	for i := range mr {
		for v := range nv {
			zeroVec(acc(i, v), width)
		}
	}
	Label(name + "_tap")
	MOVQ(Mem{Base: offs}, bases[0])
	ADDQ(origin, bases[0])
	for q := 1; q < len(bases); q++ {
		LEAQ(Mem{Base: bases[q-1], Index: rs, Scale: 4}, bases[q])
	}
	for v := range nv {
		VMOVUPS(Mem{Base: wp, Disp: v * width}, wv(v))
	}
	for i := range mr {
		for v := range nv {
			VFMADD231PS(rowAddr(bases, rs, rs3, i, v*width), wv(v), acc(i, v))
		}
	}
	ADDQ(ldw, wp)
	ADDQ(U8(8), offs)
	DECQ(taps)
	JNE(LabelRef(name + "_tap"))
	epilogue(name, mr, nv, width, acc, tmp)
}

// streamLoop emits the loop of an element-wise kernel over n floats, a
// vector of lanes at a time: body(p) works on the vector at byte offset p
// of every operand, whose pointers are in ptrs.
func streamLoop(name string, lanes int, ptrs []GPPhysical, body func()) {
	n := RCX
	Load(Param("n"), n)
	Label(name + "_loop")
	body()
	for _, p := range ptrs {
		ADDQ(U32(4*lanes), p)
	}
	SUBQ(U32(lanes), n)
	JNE(LabelRef(name + "_loop"))
	VZEROUPPER()
	RET()
}

// broadcastParam loads a float32 parameter into every lane of r.
func broadcastParam(name string, r VecPhysical) { VBROADCASTSS(paramAddr(name), r) }

// reluKernel emits dst = max(src, 0), a NaN staying NaN as in PyTorch.
func reluKernel(name string, lanes int, vec func(int) VecPhysical) {
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int)")
	Pragma("noescape")
	Doc(name+" sets dst[i] = max(src[i], 0) for i < n, NaN where src is NaN;",
		fmt.Sprintf("n must be a positive multiple of %d.", lanes))
	dst, src := RDI, RSI
	Load(Param("dst"), dst)
	Load(Param("src"), src)
	zero := vec(1)
	zeroVec(zero, 4*lanes)
	streamLoop(name, lanes, []GPPhysical{dst, src}, func() {
		VMOVUPS(Mem{Base: src}, vec(0))
		VMAXPS(vec(0), zero, vec(0))
		VMOVUPS(vec(0), Mem{Base: dst})
	})
}

// reluGradKernel emits gx = g where the ReLU's output is positive, else 0
// (a NaN output passes no gradient, as in PyTorch's threshold_backward).
// No parameter is called g: the Go assembler reads g+8(FP) as its
// goroutine register.
func reluGradKernel(name string, lanes int, vec func(int) VecPhysical) {
	TEXT(name, NOSPLIT, "func(gx, grad, out *float32, n int)")
	Pragma("noescape")
	Doc(name+" sets gx[i] = grad[i] where out[i] > 0 and 0 elsewhere, for i < n;",
		fmt.Sprintf("n must be a positive multiple of %d.", lanes))
	gx, g, y := RDI, RSI, RDX
	Load(Param("gx"), gx)
	Load(Param("grad"), g)
	Load(Param("out"), y)
	zero := vec(2)
	zeroVec(zero, 4*lanes)
	// Ordered, quiet comparisons: false when y is NaN.
	const ltOQ, gtOQ = 0x11, 0x1e
	streamLoop(name, lanes, []GPPhysical{gx, g, y}, func() {
		if lanes == 16 {
			VCMPPS(U8(ltOQ), Mem{Base: y}, zero, K1) // 0 < y
			VMOVUPS_Z(Mem{Base: g}, K1, vec(0))
		} else {
			VMOVUPS(Mem{Base: y}, vec(1))
			VCMPPS(U8(gtOQ), zero, vec(1), vec(1)) // y > 0
			VANDPS(Mem{Base: g}, vec(1), vec(0))
		}
		VMOVUPS(vec(0), Mem{Base: gx})
	})
}

// normKernel emits batch norm's per-channel pass: t = (src - m)·inv,
// stored to h when h is not nil, and dst = t·w + b.
func normKernel(name string, lanes int, vec func(int) VecPhysical) {
	TEXT(name, NOSPLIT, "func(dst, h, src *float32, n int, m, inv, w, b float32)")
	Pragma("noescape")
	Doc(name+" sets t = (src[i] - m) * inv, h[i] = t when h is not nil, and",
		"dst[i] = t*w + b (one fused multiply-add) for i < n;",
		fmt.Sprintf("n must be a positive multiple of %d.", lanes))
	dst, h, src := RDI, RDX, RSI
	Load(Param("dst"), dst)
	Load(Param("h"), h)
	Load(Param("src"), src)
	vm, vinv, vw, vb := vec(4), vec(5), vec(6), vec(7)
	broadcastParam("m", vm)
	broadcastParam("inv", vinv)
	broadcastParam("w", vw)
	broadcastParam("b", vb)
	t := vec(0)
	step := func() {
		VMOVUPS(Mem{Base: src}, t)
		VSUBPS(vm, t, t)
		VMULPS(vinv, t, t)
	}
	TESTQ(h, h)
	JE(LabelRef(name + "_nosave"))
	n := RCX
	Load(Param("n"), n)
	Label(name + "_save")
	step()
	VMOVUPS(t, Mem{Base: h})
	VFMADD213PS(vb, vw, t)
	VMOVUPS(t, Mem{Base: dst})
	for _, p := range []GPPhysical{dst, h, src} {
		ADDQ(U32(4*lanes), p)
	}
	SUBQ(U32(lanes), n)
	JNE(LabelRef(name + "_save"))
	VZEROUPPER()
	RET()
	Label(name + "_nosave")
	streamLoop(name, lanes, []GPPhysical{dst, src}, func() {
		step()
		VFMADD213PS(vb, vw, t)
		VMOVUPS(t, Mem{Base: dst})
	})
}

// normGradKernel emits the input gradient of batch norm in training:
// gx = (g - mg - h·mgh)·scale.
func normGradKernel(name string, lanes int, vec func(int) VecPhysical) {
	TEXT(name, NOSPLIT, "func(gx, grad, h *float32, n int, mg, mgh, scale float32)")
	Pragma("noescape")
	Doc(name+" sets gx[i] = (grad[i] - mg - h[i]*mgh) * scale for i < n, the",
		"product h[i]*mgh fused into the subtraction;",
		fmt.Sprintf("n must be a positive multiple of %d.", lanes))
	gx, g, h := RDI, RSI, RDX
	Load(Param("gx"), gx)
	Load(Param("grad"), g)
	Load(Param("h"), h)
	vmg, vmgh, vs := vec(4), vec(5), vec(6)
	broadcastParam("mg", vmg)
	broadcastParam("mgh", vmgh)
	broadcastParam("scale", vs)
	streamLoop(name, lanes, []GPPhysical{gx, g, h}, func() {
		VMOVUPS(Mem{Base: g}, vec(0))
		VSUBPS(vmg, vec(0), vec(0))
		VMOVUPS(Mem{Base: h}, vec(1))
		VFNMADD231PS(vmgh, vec(1), vec(0))
		VMULPS(vs, vec(0), vec(0))
		VMOVUPS(vec(0), Mem{Base: gx})
	})
}

// maxRunKernel emits the element-wise maximum that max pooling folds each
// tap into, keeping a NaN of either operand as PyTorch does.
func maxRunKernel(name string, lanes int, vec func(int) VecPhysical) {
	TEXT(name, NOSPLIT, "func(dst, src *float32, n int)")
	Pragma("noescape")
	Doc(name+" sets dst[i] = max(dst[i], src[i]) for i < n, NaN if either is NaN;",
		fmt.Sprintf("n must be a positive multiple of %d.", lanes))
	dst, src := RDI, RSI
	Load(Param("dst"), dst)
	Load(Param("src"), src)
	const unord = 3
	streamLoop(name, lanes, []GPPhysical{dst, src}, func() {
		VMOVUPS(Mem{Base: src}, vec(0))
		VMOVUPS(Mem{Base: dst}, vec(1))
		// MAXPS returns its second operand, the old maximum, when either
		// is NaN; a NaN from src is then put back through the unordered
		// mask (a mask register with AVX-512, a blend with AVX2).
		VMAXPS(vec(1), vec(0), vec(2))
		if lanes == 16 {
			VCMPPS(U8(unord), vec(0), vec(0), K1)
			VMOVAPS(vec(0), K1, vec(2))
		} else {
			VCMPPS(U8(unord), vec(0), vec(0), vec(3))
			VBLENDVPS(vec(3), vec(0), vec(2), vec(2))
		}
		VMOVUPS(vec(2), Mem{Base: dst})
	})
}

// addRowsDoc is the plain loop of the addRows kernels.
func addRowsDoc(name string) {
	Doc(
		name+" adds rows of src into rows of dst, the accumulation of col2im:",
		"",
		"\tfor r := 0; r < rows; r++ {",
		"\t\tfor i := 0; i < n; i++ {",
		"\t\t\tdst[r*ldd+i] += src[r*lds+i]",
		"\t\t}",
		"\t}",
		"",
		"rows and n must be at least 1; the caller checks that every element is in range.",
	)
}

// addRowsAVX512 emits addRows with 16-float vectors and a masked vector for
// the last n mod 16 floats of each row, which neither reads nor writes
// past them.
func addRowsAVX512() {
	name := "addRowsAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows, n int)")
	Pragma("noescape")
	addRowsDoc(name)
	dst, ldd, src, lds, rows := RDI, R8, RSI, R9, RDX
	full, tail, d, s, c := R10, RAX, R11, R12, R13
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("src"), src)
	Load(Param("lds"), lds)
	SHLQ(U8(2), lds)
	Load(Param("rows"), rows)
	Load(Param("n"), full)
	MOVQ(full, tail)
	SHRQ(U8(4), full)
	ANDQ(U8(15), tail)
	// K1 selects the tail's floats: (1 << tail) - 1.
	MOVQ(tail, RCX)
	MOVQ(U32(1), RBX)
	SHLQ(CL, RBX)
	DECQ(RBX)
	KMOVW(EBX, K1)
	Label(name + "_row")
	MOVQ(dst, d)
	MOVQ(src, s)
	MOVQ(full, c)
	TESTQ(c, c)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_vec")
	VMOVUPS(Mem{Base: d}, Z0)
	VADDPS(Mem{Base: s}, Z0, Z0)
	VMOVUPS(Z0, Mem{Base: d})
	ADDQ(U8(64), d)
	ADDQ(U8(64), s)
	DECQ(c)
	JNZ(LabelRef(name + "_vec"))
	Label(name + "_tail")
	TESTQ(tail, tail)
	JZ(LabelRef(name + "_next"))
	VMOVUPS_Z(Mem{Base: d}, K1, Z0)
	VMOVUPS_Z(Mem{Base: s}, K1, Z1)
	VADDPS(Z1, Z0, Z0)
	VMOVUPS(Z0, K1, Mem{Base: d})
	Label(name + "_next")
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(rows)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}

// addRowsAVX2 emits addRows with 8-float vectors and scalar adds for the
// last n mod 8 floats of each row.
func addRowsAVX2() {
	name := "addRowsAVX2"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, rows, n int)")
	Pragma("noescape")
	addRowsDoc(name)
	dst, ldd, src, lds, rows := RDI, R8, RSI, R9, RDX
	full, tail, d, s, c := R10, RAX, R11, R12, R13
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("src"), src)
	Load(Param("lds"), lds)
	SHLQ(U8(2), lds)
	Load(Param("rows"), rows)
	Load(Param("n"), full)
	MOVQ(full, tail)
	SHRQ(U8(3), full)
	ANDQ(U8(7), tail)
	Label(name + "_row")
	MOVQ(dst, d)
	MOVQ(src, s)
	MOVQ(full, c)
	TESTQ(c, c)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_vec")
	VMOVUPS(Mem{Base: d}, Y0)
	VADDPS(Mem{Base: s}, Y0, Y0)
	VMOVUPS(Y0, Mem{Base: d})
	ADDQ(U8(32), d)
	ADDQ(U8(32), s)
	DECQ(c)
	JNZ(LabelRef(name + "_vec"))
	Label(name + "_tail")
	MOVQ(tail, c)
	TESTQ(c, c)
	JZ(LabelRef(name + "_next"))
	Label(name + "_one")
	VMOVSS(Mem{Base: d}, X0)
	VADDSS(Mem{Base: s}, X0, X0)
	VMOVSS(X0, Mem{Base: d})
	ADDQ(U8(4), d)
	ADDQ(U8(4), s)
	DECQ(c)
	JNZ(LabelRef(name + "_one"))
	Label(name + "_next")
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(rows)
	JNZ(LabelRef(name + "_row"))
	VZEROUPPER()
	RET()
}

// col2imGatherAVX512 emits col2im for planes at most 16 pixels wide: one
// input row of every channel gathers, in one register, the taps that read
// it, each a masked load of a shifted output row, and is stored once.
func col2imGatherAVX512() {
	name := "col2imGatherAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, col *float32, ldc int, channels, taps int, offs *int, masks *uint16, wmask uint16)")
	Pragma("noescape")
	Doc(
		name+" adds the taps of one input row of every channel, lane x of 16:",
		"",
		"\tfor c := 0; c < channels; c++ {",
		"\t\tfor x := 0; x < 16; x++ {",
		"\t\t\tif wmask>>x&1 == 0 {",
		"\t\t\t\tcontinue",
		"\t\t\t}",
		"\t\t\ts := dst[c*ldd+x]",
		"\t\t\tfor t := 0; t < taps; t++ {",
		"\t\t\t\tif masks[t]>>x&1 != 0 {",
		"\t\t\t\t\ts += col[c*ldc+offs[t]+x]",
		"\t\t\t\t}",
		"\t\t\t}",
		"\t\t\tdst[c*ldd+x] = s",
		"\t\t}",
		"\t}",
		"",
		"offs[t] may be negative where masks[t] excludes the lanes that would read",
		"before col; masked lanes are neither read nor written. channels and taps",
		"must be at least 1, and the caller checks that every element is in range.",
	)
	dst, ldd, col, ldc, ch := RDI, R8, RSI, R9, RDX
	taps, offs, masks, t, op, mp, off := R10, R11, R12, RCX, R13, RAX, RBX
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("col"), col)
	Load(Param("ldc"), ldc)
	SHLQ(U8(2), ldc)
	Load(Param("channels"), ch)
	Load(Param("taps"), taps)
	Load(Param("offs"), offs)
	Load(Param("masks"), masks)
	Load(Param("wmask"), off)
	KMOVW(EBX, K1)
	Label(name + "_chan")
	VMOVUPS_Z(Mem{Base: dst}, K1, Z0)
	MOVQ(taps, t)
	MOVQ(offs, op)
	MOVQ(masks, mp)
	Label(name + "_tap")
	MOVQ(Mem{Base: op}, off)
	KMOVW(Mem{Base: mp}, K2)
	VADDPS(Mem{Base: col, Index: off, Scale: 4}, Z0, K2, Z0)
	ADDQ(U8(8), op)
	ADDQ(U8(2), mp)
	DECQ(t)
	JNZ(LabelRef(name + "_tap"))
	VMOVUPS(Z0, K1, Mem{Base: dst})
	ADDQ(ldd, dst)
	ADDQ(ldc, col)
	DECQ(ch)
	JNZ(LabelRef(name + "_chan"))
	VZEROUPPER()
	RET()
}

// im2colRowsAVX512 emits im2col for output rows at most 16 wide: each
// output row of a tap is one masked load of the shifted input row, zero
// where it reads padding, and one masked store.
func im2colRowsAVX512() {
	name := "im2colRowsAVX512"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, channels, rows int, offs *int, masks *uint16, wmask uint16)")
	Pragma("noescape")
	Doc(
		name+" copies rows of 16 lanes, zero where a row's mask is clear, row e",
		"reading at offs[2*e] and writing at offs[2*e+1]:",
		"",
		"\tfor c := 0; c < channels; c++ {",
		"\t\tfor e := 0; e < rows; e++ {",
		"\t\t\tfor x := 0; x < 16; x++ {",
		"\t\t\t\tif wmask>>x&1 == 0 {",
		"\t\t\t\t\tcontinue",
		"\t\t\t\t}",
		"\t\t\t\tvar v float32",
		"\t\t\t\tif masks[e]>>x&1 != 0 {",
		"\t\t\t\t\tv = src[c*lds+offs[2*e]+x]",
		"\t\t\t\t}",
		"\t\t\t\tdst[c*ldd+offs[2*e+1]+x] = v",
		"\t\t\t}",
		"\t\t}",
		"\t}",
		"",
		"offs[2*e] may be negative where masks[e] excludes the lanes that would read",
		"before src; masked lanes are not read. channels and rows must be at least",
		"1, and the caller checks that every element is in range.",
	)
	dst, ldd, src, lds, ch := RDI, R8, RSI, R9, RDX
	rows, offs, masks := R10, R11, R12
	e, op, mp, off := RCX, RAX, R13, RBX
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("src"), src)
	Load(Param("lds"), lds)
	SHLQ(U8(2), lds)
	Load(Param("channels"), ch)
	Load(Param("rows"), rows)
	Load(Param("offs"), offs)
	Load(Param("masks"), masks)
	Load(Param("wmask"), off)
	KMOVW(EBX, K1)
	Label(name + "_chan")
	MOVQ(rows, e)
	MOVQ(offs, op)
	MOVQ(masks, mp)
	Label(name + "_row")
	KMOVW(Mem{Base: mp}, K2)
	MOVQ(Mem{Base: op}, off)
	VMOVUPS_Z(Mem{Base: src, Index: off, Scale: 4}, K2, Z0)
	MOVQ(Mem{Base: op, Disp: 8}, off)
	VMOVUPS(Z0, K1, Mem{Base: dst, Index: off, Scale: 4})
	ADDQ(U8(16), op)
	ADDQ(U8(2), mp)
	DECQ(e)
	JNZ(LabelRef(name + "_row"))
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(ch)
	JNZ(LabelRef(name + "_chan"))
	VZEROUPPER()
	RET()
}

// laneBits emits the constant {1, 2, 4, ..., 128}, from which the AVX2
// kernels turn a row's bit mask into a lane mask.
func laneBits() Mem {
	bits := GLOBL("laneBits", RODATA|NOPTR)
	for i := range 8 {
		DATA(4*i, U32(1<<i))
	}
	return bits
}

// laneMask sets the 32-bit lanes of dst whose bit is set in the 16-bit mask
// at m, with the lane bits in bits: broadcast, and, compare.
func laneMask(m Mem, bits, dst VecPhysical) {
	VPBROADCASTW(m, dst)
	VPAND(bits, dst, dst)
	VPCMPEQD(bits, dst, dst)
}

// col2imGatherAVX2 is col2imGatherAVX512 on 8 lanes: masked loads, and a
// blend instead of merge masking so that masked lanes stay as they were.
func col2imGatherAVX2(bits Mem) {
	name := "col2imGatherAVX2"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, col *float32, ldc int, channels, taps int, offs *int, masks *uint16, wmask uint16)")
	Pragma("noescape")
	Doc(
		name+" adds the taps of one input row of every channel, lane x of 8:",
		"",
		"\tfor c := 0; c < channels; c++ {",
		"\t\tfor x := 0; x < 8; x++ {",
		"\t\t\tif wmask>>x&1 == 0 {",
		"\t\t\t\tcontinue",
		"\t\t\t}",
		"\t\t\ts := dst[c*ldd+x]",
		"\t\t\tfor t := 0; t < taps; t++ {",
		"\t\t\t\tif masks[t]>>x&1 != 0 {",
		"\t\t\t\t\ts += col[c*ldc+offs[t]+x]",
		"\t\t\t\t}",
		"\t\t\t}",
		"\t\t\tdst[c*ldd+x] = s",
		"\t\t}",
		"\t}",
		"",
		"offs[t] may be negative where masks[t] excludes the lanes that would read",
		"before col; masked lanes are neither read nor written. channels and taps",
		"must be at least 1, and the caller checks that every element is in range.",
	)
	dst, ldd, col, ldc, ch := RDI, R8, RSI, R9, RDX
	taps, offs, masks, t, op, mp, off := R10, R11, R12, RCX, R13, RAX, RBX
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("col"), col)
	Load(Param("ldc"), ldc)
	SHLQ(U8(2), ldc)
	Load(Param("channels"), ch)
	Load(Param("taps"), taps)
	Load(Param("offs"), offs)
	Load(Param("masks"), masks)
	VMOVDQU(bits, Y15)
	laneMask(paramAddr("wmask"), Y15, Y14)
	Label(name + "_chan")
	VMASKMOVPS(Mem{Base: dst}, Y14, Y0)
	MOVQ(taps, t)
	MOVQ(offs, op)
	MOVQ(masks, mp)
	Label(name + "_tap")
	MOVQ(Mem{Base: op}, off)
	laneMask(Mem{Base: mp}, Y15, Y2)
	VMASKMOVPS(Mem{Base: col, Index: off, Scale: 4}, Y2, Y1)
	VADDPS(Y1, Y0, Y3)
	VBLENDVPS(Y2, Y3, Y0, Y0)
	ADDQ(U8(8), op)
	ADDQ(U8(2), mp)
	DECQ(t)
	JNZ(LabelRef(name + "_tap"))
	VMASKMOVPS(Y0, Y14, Mem{Base: dst})
	ADDQ(ldd, dst)
	ADDQ(ldc, col)
	DECQ(ch)
	JNZ(LabelRef(name + "_chan"))
	VZEROUPPER()
	RET()
}

// im2colRowsAVX2 is im2colRowsAVX512 on 8 lanes, with masked moves.
func im2colRowsAVX2(bits Mem) {
	name := "im2colRowsAVX2"
	TEXT(name, NOSPLIT, "func(dst *float32, ldd int, src *float32, lds int, channels, rows int, offs *int, masks *uint16, wmask uint16)")
	Pragma("noescape")
	Doc(
		name+" copies rows of 8 lanes, zero where a row's mask is clear, row e",
		"reading at offs[2*e] and writing at offs[2*e+1]:",
		"",
		"\tfor c := 0; c < channels; c++ {",
		"\t\tfor e := 0; e < rows; e++ {",
		"\t\t\tfor x := 0; x < 8; x++ {",
		"\t\t\t\tif wmask>>x&1 == 0 {",
		"\t\t\t\t\tcontinue",
		"\t\t\t\t}",
		"\t\t\t\tvar v float32",
		"\t\t\t\tif masks[e]>>x&1 != 0 {",
		"\t\t\t\t\tv = src[c*lds+offs[2*e]+x]",
		"\t\t\t\t}",
		"\t\t\t\tdst[c*ldd+offs[2*e+1]+x] = v",
		"\t\t\t}",
		"\t\t}",
		"\t}",
		"",
		"offs[2*e] may be negative where masks[e] excludes the lanes that would read",
		"before src; masked lanes are not read. channels and rows must be at least",
		"1, and the caller checks that every element is in range.",
	)
	dst, ldd, src, lds, ch := RDI, R8, RSI, R9, RDX
	rows, offs, masks := R10, R11, R12
	e, op, mp, off := RCX, RAX, R13, RBX
	Load(Param("dst"), dst)
	Load(Param("ldd"), ldd)
	SHLQ(U8(2), ldd)
	Load(Param("src"), src)
	Load(Param("lds"), lds)
	SHLQ(U8(2), lds)
	Load(Param("channels"), ch)
	Load(Param("rows"), rows)
	Load(Param("offs"), offs)
	Load(Param("masks"), masks)
	VMOVDQU(bits, Y15)
	laneMask(paramAddr("wmask"), Y15, Y14)
	Label(name + "_chan")
	MOVQ(rows, e)
	MOVQ(offs, op)
	MOVQ(masks, mp)
	Label(name + "_row")
	laneMask(Mem{Base: mp}, Y15, Y2)
	MOVQ(Mem{Base: op}, off)
	VMASKMOVPS(Mem{Base: src, Index: off, Scale: 4}, Y2, Y0)
	MOVQ(Mem{Base: op, Disp: 8}, off)
	VMASKMOVPS(Y0, Y14, Mem{Base: dst, Index: off, Scale: 4})
	ADDQ(U8(16), op)
	ADDQ(U8(2), mp)
	DECQ(e)
	JNZ(LabelRef(name + "_row"))
	ADDQ(ldd, dst)
	ADDQ(lds, src)
	DECQ(ch)
	JNZ(LabelRef(name + "_chan"))
	VZEROUPPER()
	RET()
}
