//go:build !purego

package kernels

import "golang.org/x/sys/cpu"

//go:generate go run -C asmgen . -out ../gemm_amd64.s -stubs ../gemm_stub_amd64.go -pkg kernels

// The assembly kernels; their cache blocks are derived from the CPU's
// caches when the registry is built (see deriveBlocking).
var (
	avx512Kernel12 = &microKernel{
		name: "avx512-12x32", mr: 12, nr: 32,
		fn: func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
			checkTile(12, 32, k, a, rsA, csA, b, ldb, c, ldc)
			sgemmKernel12x32AVX512(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta)
		},
		part: partKernel(32, avx512Rows[:12]),
	}
	avx512Kernel14 = &microKernel{
		name: "avx512-14x32", mr: 14, nr: 32,
		fn: func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
			checkTile(14, 32, k, a, rsA, csA, b, ldb, c, ldc)
			sgemmKernel14x32AVX512(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta)
		},
		part: partKernel(32, avx512Rows[:14]),
	}
	avx2Kernel = &microKernel{
		name: "avx2-6x16", mr: 6, nr: 16,
		fn: func(k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
			checkTile(6, 16, k, a, rsA, csA, b, ldb, c, ldc)
			sgemmKernel6x16AVX2(k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta)
		},
		part: partKernel(16, avx2Rows[:]),
	}
)

// asmKernel is the signature the generated kernels share.
type asmKernel func(k int, a *float32, rsA, csA int, b *float32, ldb int, c *float32, ldc int, alpha, beta float32)

// avx512Rows[r] and avx2Rows[r] compute tiles of r+1 rows.
var (
	avx512Rows = [...]asmKernel{
		sgemmKernel1x32AVX512, sgemmKernel2x32AVX512, sgemmKernel3x32AVX512, sgemmKernel4x32AVX512,
		sgemmKernel5x32AVX512, sgemmKernel6x32AVX512, sgemmKernel7x32AVX512, sgemmKernel8x32AVX512,
		sgemmKernel9x32AVX512, sgemmKernel10x32AVX512, sgemmKernel11x32AVX512, sgemmKernel12x32AVX512,
		sgemmKernel13x32AVX512, sgemmKernel14x32AVX512,
	}
	avx2Rows = [...]asmKernel{
		sgemmKernel1x16AVX2, sgemmKernel2x16AVX2, sgemmKernel3x16AVX2,
		sgemmKernel4x16AVX2, sgemmKernel5x16AVX2, sgemmKernel6x16AVX2,
	}
)

// partKernel returns the microKernel.part function over the kernels rows,
// where rows[r] computes r+1 rows of nr columns.
func partKernel(nr int, rows []asmKernel) func(h, k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
	return func(h, k int, a []float32, rsA, csA int, b []float32, ldb int, c []float32, ldc int, alpha, beta float32) {
		checkTile(h, nr, k, a, rsA, csA, b, ldb, c, ldc)
		rows[h-1](k, &a[0], rsA, csA, &b[0], ldb, &c[0], ldc, alpha, beta)
	}
}

// addRowsAsm adds blocks of rows for col2im, when the CPU has AVX-512 or
// AVX2.
var addRowsAsm = func() func(dst *float32, ldd int, src *float32, lds, rows, n int) {
	switch {
	case cpu.X86.HasAVX512F:
		return addRowsAVX512
	case cpu.X86.HasAVX2:
		return addRowsAVX2
	}
	return nil
}()

// rowKernels lists the masked row kernels of col2im and im2col this CPU
// runs, narrowest first. Rows of at most 8 floats take the AVX2 ones even
// with AVX-512: on Zen 5 they ran 1.4× faster there (go test -bench
// 'Col2im|Im2col', 8×8 planes), and AVX2 comes with every AVX-512 CPU.
var rowKernels = func() []rowKernel {
	var ks []rowKernel
	if cpu.X86.HasAVX2 {
		ks = append(ks, rowKernel{lanes: 8, gather: col2imGatherAVX2, rows: im2colRowsAVX2})
	}
	if cpu.X86.HasAVX512F {
		ks = append(ks, rowKernel{lanes: 16, gather: col2imGatherAVX512, rows: im2colRowsAVX512})
	}
	return ks
}()

// transposeAsm moves transposeBlock×transposeBlock blocks for packing and
// Transpose: 16×16 with AVX-512, 8×8 with AVX2.
var transposeAsm, transposeBlock = func() (func(dst *float32, ldd int, src *float32, lds, rows, lanes int), int) {
	switch {
	case cpu.X86.HasAVX512F:
		return transpose16AVX512, 16
	case cpu.X86.HasAVX2:
		return transpose8AVX2, 8
	}
	return nil, 0
}()

// kernelsAvailable lists every kernel this CPU runs, fastest first, without
// their cache blocks.
func kernelsAvailable() []*microKernel {
	var ks []*microKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, avx512Kernel14, avx512Kernel12)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, goKernel)
}

// convAsm is the signature the generated convolution kernels share.
type convAsm func(taps int, offs *int, run int, a *float32, rsA int, b *float32, c *float32, ldc int, bias *float32, res *float32, ldr int, flags int, lo, hi float32)

// asmConvKernel wraps generated kernels, rows[h-1] computing h rows of nr.
func asmConvKernel(name string, nr int, rows []convAsm) *convKernel {
	return &convKernel{name: name, mr: len(rows), nr: nr,
		tile: func(h, taps int, offs []int, run int, a []float32, rsA int, b, c []float32, ldc int, bias, res []float32, ldr, flags int, lo, hi float32) {
			checkConvTile(h, nr, taps, offs, run, a, rsA, b, c, ldc, bias, res, ldr, flags)
			rp := &bias[0] // any valid pointer when there is no residual
			if flags&epiResidual != 0 {
				rp = &res[0]
			}
			rows[h-1](taps, &offs[0], run, &a[0], rsA, &b[0], &c[0], ldc, &bias[0], rp, ldr, flags, lo, hi)
		}}
}

var (
	convAVX512 = asmConvKernel("avx512-14x32", 32, []convAsm{
		convKernel1x32AVX512, convKernel2x32AVX512, convKernel3x32AVX512, convKernel4x32AVX512,
		convKernel5x32AVX512, convKernel6x32AVX512, convKernel7x32AVX512, convKernel8x32AVX512,
		convKernel9x32AVX512, convKernel10x32AVX512, convKernel11x32AVX512, convKernel12x32AVX512,
		convKernel13x32AVX512, convKernel14x32AVX512,
	})
	convAVX2 = asmConvKernel("avx2-6x16", 16, []convAsm{
		convKernel1x16AVX2, convKernel2x16AVX2, convKernel3x16AVX2,
		convKernel4x16AVX2, convKernel5x16AVX2, convKernel6x16AVX2,
	})
)

// convBest is the fastest convolution kernel this CPU runs.
var convBest = convKernelsAvailable()[0]

// convKernelsAvailable lists every convolution kernel this CPU runs, fastest first.
func convKernelsAvailable() []*convKernel {
	var ks []*convKernel
	if cpu.X86.HasAVX512F {
		ks = append(ks, convAVX512)
	}
	if cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		ks = append(ks, convAVX2)
	}
	return append(ks, convGo)
}

// maxRunAsm folds runs of maxRunWidth floats into a running maximum, when
// the CPU has AVX-512 or AVX2.
var maxRunAsm, maxRunWidth = func() (func(dst, src *float32, n int), int) {
	switch {
	case cpu.X86.HasAVX512F:
		return maxRunAVX512, 16
	case cpu.X86.HasAVX2:
		return maxRunAVX2, 8
	}
	return nil, 0
}()

// dwAsm is the signature the generated depthwise kernels share.
type dwAsm func(taps int, offs *int, a *float32, rsA int, w *float32, ldw int, c *float32, ldc int, bias *float32, res *float32, ldr int, flags int, lo, hi float32)

// dwAVX512 runs tiles of up to 6 pixels × 64 channels in assembly,
// dwAVX512Tiles[h-1][v-1] computing h pixels of 16·v channels; the
// channels past the last multiple of 16 go to the Go kernel.
var dwAVX512Tiles = [6][4]dwAsm{
	{dwKernel1x16AVX512, dwKernel1x32AVX512, dwKernel1x48AVX512, dwKernel1x64AVX512},
	{dwKernel2x16AVX512, dwKernel2x32AVX512, dwKernel2x48AVX512, dwKernel2x64AVX512},
	{dwKernel3x16AVX512, dwKernel3x32AVX512, dwKernel3x48AVX512, dwKernel3x64AVX512},
	{dwKernel4x16AVX512, dwKernel4x32AVX512, dwKernel4x48AVX512, dwKernel4x64AVX512},
	{dwKernel5x16AVX512, dwKernel5x32AVX512, dwKernel5x48AVX512, dwKernel5x64AVX512},
	{dwKernel6x16AVX512, dwKernel6x32AVX512, dwKernel6x48AVX512, dwKernel6x64AVX512},
}

var dwAVX512 = &dwKernel{name: "avx512-6x64", mr: 6,
	tile: func(h, nc, taps int, offs []int, a []float32, rsA int, w []float32, ldw int, c []float32, ldc int, bias, res []float32, ldr, flags int, lo, hi float32) {
		checkDwTile(h, nc, taps, offs, a, rsA, w, ldw, c, ldc, bias, res, ldr, flags)
		if v := nc / 16; v > 0 {
			rp := &bias[0] // any valid pointer when there is no residual
			if flags&epiResidual != 0 {
				rp = &res[0]
			}
			dwAVX512Tiles[h-1][v-1](taps, &offs[0], &a[0], rsA, &w[0], ldw, &c[0], ldc, &bias[0], rp, ldr, flags, lo, hi)
		}
		if done := nc &^ 15; done < nc {
			var rs []float32
			if flags&epiResidual != 0 {
				rs = res[done:]
			}
			dwTileGo(h, nc-done, taps, offs, a[done:], rsA, w[done:], ldw, c[done:], ldc, bias[done:], rs, ldr, flags, lo, hi)
		}
	}}

// dwBest is the fastest depthwise kernel this CPU runs.
var dwBest = dwKernelsAvailable()[0]

// dwKernelsAvailable lists every depthwise kernel this CPU runs, fastest first.
func dwKernelsAvailable() []*dwKernel {
	if cpu.X86.HasAVX512F {
		return []*dwKernel{dwAVX512, dwGo}
	}
	return []*dwKernel{dwGo}
}

// ew holds the element-wise kernels of the widest vectors the CPU has.
var ew = func() *elementwise {
	switch {
	case cpu.X86.HasAVX512F:
		return &elementwise{lanes: 16, relu: reluAVX512, reluGrad: reluGradAVX512, norm: normAffineAVX512, normGrad: normGradAVX512}
	case cpu.X86.HasAVX2 && cpu.X86.HasFMA:
		return &elementwise{lanes: 8, relu: reluAVX2, reluGrad: reluGradAVX2, norm: normAffineAVX2, normGrad: normGradAVX2}
	}
	return &elementwise{}
}()
