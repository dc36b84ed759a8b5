// Package fourier transforms images to the frequency domain and back, and
// holds the Fourier-space augmentations of domain generalisation and
// adaptation: amplitude mixing (FACT), which blends the amplitude spectra of
// two images while keeping the phase of the first, and the low-frequency
// amplitude swap of FDA.
//
// Images are C×H×W float32 tensors; each channel is transformed on its own,
// as numpy.fft.fft2 over the two spatial axes does.
package fourier

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"

	"gonum.org/v1/gonum/dsp/fourier"

	"argus/tensor"
)

// FFT2 returns the 2-D discrete Fourier transform of the h×w row-major
// plane x, in numpy.fft.fft2's layout and sign convention (unnormalised
// forward transform, zero frequency at index 0).
func FFT2(x []complex128, h, w int) []complex128 {
	return fft2(x, h, w, false)
}

// IFFT2 returns the inverse of FFT2, normalised by 1/(h·w) like
// numpy.fft.ifft2.
func IFFT2(x []complex128, h, w int) []complex128 {
	out := fft2(x, h, w, true)
	s := complex(1/float64(h*w), 0)
	for i := range out {
		out[i] *= s
	}
	return out
}

func fft2(x []complex128, h, w int, inverse bool) []complex128 {
	if len(x) != h*w {
		panic(fmt.Sprintf("fourier: %d values for a %d×%d plane", len(x), h, w))
	}
	out := make([]complex128, len(x))
	rows := fourier.NewCmplxFFT(w)
	for i := range h {
		src, dst := x[i*w:(i+1)*w], out[i*w:(i+1)*w]
		if inverse {
			rows.Sequence(dst, src)
		} else {
			rows.Coefficients(dst, src)
		}
	}
	cols := fourier.NewCmplxFFT(h)
	col := make([]complex128, h)
	for j := range w {
		for i := range h {
			col[i] = out[i*w+j]
		}
		if inverse {
			cols.Sequence(col, col)
		} else {
			cols.Coefficients(col, col)
		}
		for i := range h {
			out[i*w+j] = col[i]
		}
	}
	return out
}

// Shift returns fftshift of the h×w plane: the zero frequency moves to
// (h/2, w/2).
func Shift[T any](x []T, h, w int) []T { return roll(x, h, w, h/2, w/2) }

// Unshift returns ifftshift of the h×w plane, the inverse of Shift.
func Unshift[T any](x []T, h, w int) []T { return roll(x, h, w, h-h/2, w-w/2) }

func roll[T any](x []T, h, w, dy, dx int) []T {
	out := make([]T, len(x))
	for i := range h {
		for j := range w {
			out[((i+dy)%h)*w+(j+dx)%w] = x[i*w+j]
		}
	}
	return out
}

// spectrum returns the amplitude and phase of each channel of img.
func spectrum(img *tensor.Tensor) (amp, pha [][]float64, h, w int) {
	s := img.Shape()
	c, h, w := s[0], s[1], s[2]
	d := img.Data()
	buf := make([]complex128, h*w)
	for ch := range c {
		for i, v := range d[ch*h*w : (ch+1)*h*w] {
			buf[i] = complex(float64(v), 0)
		}
		f := FFT2(buf, h, w)
		a, p := make([]float64, h*w), make([]float64, h*w)
		for i, z := range f {
			a[i], p[i] = cmplx.Abs(z), cmplx.Phase(z)
		}
		amp, pha = append(amp, a), append(pha, p)
	}
	return amp, pha, h, w
}

// compose inverts amplitude·e^(i·phase) per channel and clips the real part
// to [0, maxVal].
func compose(amp, pha [][]float64, h, w int, maxVal float32) *tensor.Tensor {
	out := tensor.Zeros(len(amp), h, w)
	d := out.Data()
	buf := make([]complex128, h*w)
	for ch := range amp {
		for i := range buf {
			buf[i] = complex(amp[ch][i], 0) * cmplx.Exp(complex(0, pha[ch][i]))
		}
		x := IFFT2(buf, h, w)
		for i, z := range x {
			d[ch*h*w+i] = float32(min(max(real(z), 0), float64(maxVal)))
		}
	}
	return out
}

func checkPair(a, b *tensor.Tensor) error {
	sa, sb := a.Shape(), b.Shape()
	if len(sa) != 3 || !tensor.EqualShapes(sa, sb) || sa[0] < 1 || sa[1] < 1 || sa[2] < 1 {
		return fmt.Errorf("fourier: images of shapes %v and %v, want two equal C×H×W", sa, sb)
	}
	return nil
}

// SampleLambda draws FACT's mixing weight λ ~ U(0, alpha).
func SampleLambda(rng *rand.Rand, alpha float64) float64 { return rng.Float64() * alpha }

// AmplitudeMix returns image a with the amplitude spectrum
// λ·A_b + (1-λ)·A_a inside the centred window of ratio·(H·W) area (FACT's
// amplitude_mix_single; ratio 1 mixes the whole spectrum) and a's phase,
// transformed back and clipped to [0, maxVal] (1 for images in [0, 1], 255
// for 8-bit ranges). FACT then casts to uint8; callers that want that
// rounding do it themselves.
func AmplitudeMix(a, b *tensor.Tensor, lambda, ratio float64, maxVal float32) (*tensor.Tensor, error) {
	if err := checkPair(a, b); err != nil {
		return nil, err
	}
	if !(lambda >= 0 && lambda <= 1) || !(ratio > 0 && ratio <= 1) || !(maxVal > 0) {
		return nil, fmt.Errorf("fourier: lambda %v or ratio %v outside [0, 1], or max %v not positive", lambda, ratio, maxVal)
	}
	ampA, phaA, h, w := spectrum(a)
	ampB, _, _, _ := spectrum(b)
	hc, wc := int(float64(h)*math.Sqrt(ratio)), int(float64(w)*math.Sqrt(ratio))
	h0, w0 := h/2-hc/2, w/2-wc/2
	for ch := range ampA {
		sa, sb := Shift(ampA[ch], h, w), Shift(ampB[ch], h, w)
		for i := h0; i < h0+hc; i++ {
			for j := w0; j < w0+wc; j++ {
				k := i*w + j
				sa[k] = lambda*sb[k] + (1-lambda)*sa[k]
			}
		}
		ampA[ch] = Unshift(sa, h, w)
	}
	return compose(ampA, phaA, h, w, maxVal), nil
}

// LowFreqSwap returns src with the centred (2b+1)×(2b+1) block of its
// amplitude spectrum replaced by trg's, b = floor(min(H, W)·beta), keeping
// src's phase (FDA_source_to_target), clipped to [0, maxVal].
func LowFreqSwap(src, trg *tensor.Tensor, beta float64, maxVal float32) (*tensor.Tensor, error) {
	if err := checkPair(src, trg); err != nil {
		return nil, err
	}
	if !(beta >= 0 && beta <= 0.5) || !(maxVal > 0) {
		return nil, fmt.Errorf("fourier: beta %v outside [0, 0.5] or max %v not positive", beta, maxVal)
	}
	ampS, phaS, h, w := spectrum(src)
	ampT, _, _, _ := spectrum(trg)
	b := int(math.Floor(float64(min(h, w)) * beta))
	ch, cw := h/2, w/2
	h1, h2 := max(ch-b, 0), min(ch+b+1, h)
	w1, w2 := max(cw-b, 0), min(cw+b+1, w)
	for c := range ampS {
		sa, ta := Shift(ampS[c], h, w), Shift(ampT[c], h, w)
		for i := h1; i < h2; i++ {
			copy(sa[i*w+w1:i*w+w2], ta[i*w+w1:i*w+w2])
		}
		ampS[c] = Unshift(sa, h, w)
	}
	return compose(ampS, phaS, h, w, maxVal), nil
}
