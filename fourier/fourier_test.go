package fourier

import (
	"math"
	"math/rand/v2"
	"testing"

	"argus/internal/golden"
	"argus/tensor"
)

type goldenCase struct {
	Op     string        `json:"op"`
	A      [][][]float64 `json:"a"`
	B      [][][]float64 `json:"b"`
	Lambda float64       `json:"lambda"`
	Ratio  float64       `json:"ratio"`
	Beta   float64       `json:"beta"`
	Max    float32       `json:"max"`
	Want   [][][]float64 `json:"want"`
	Re     [][]float64   `json:"re"`
	Im     [][]float64   `json:"im"`
	Shift  [][]float64   `json:"shift"`
	Ishift [][]float64   `json:"ishift"`
}

func image(v [][][]float64) *tensor.Tensor {
	c, h, w := len(v), len(v[0]), len(v[0][0])
	t := tensor.Zeros(c, h, w)
	d := t.Data()
	for i := range c {
		for j := range h {
			for k := range w {
				d[(i*h+j)*w+k] = float32(v[i][j][k])
			}
		}
	}
	return t
}

func TestGoldenNumpy(t *testing.T) {
	var g struct{ Cases []goldenCase }
	golden.Load(t, "testdata/fourier.json", &g)
	for ci, c := range g.Cases {
		a := image(c.A)
		h, w := a.Shape()[1], a.Shape()[2]
		switch c.Op {
		case "fft2":
			x := make([]complex128, h*w)
			for i, v := range a.Data() {
				x[i] = complex(float64(v), 0)
			}
			f := FFT2(x, h, w)
			for i := range h {
				for j := range w {
					z := f[i*w+j]
					if math.Abs(real(z)-c.Re[i][j]) > 1e-9*(1+math.Abs(c.Re[i][j])) || math.Abs(imag(z)-c.Im[i][j]) > 1e-9*(1+math.Abs(c.Im[i][j])) {
						t.Fatalf("case %d: fft2[%d,%d] = %v, want %v%+vi", ci, i, j, z, c.Re[i][j], c.Im[i][j])
					}
				}
			}
			back := IFFT2(f, h, w)
			for i := range back {
				if math.Abs(real(back[i])-real(x[i])) > 1e-9*(1+math.Abs(real(x[i]))) || math.Abs(imag(back[i])) > 1e-9*(1+math.Abs(real(x[i]))) {
					t.Fatalf("case %d: ifft2(fft2(x))[%d] = %v, want %v", ci, i, back[i], x[i])
				}
			}
			plane := make([]float64, h*w)
			for i, v := range a.Data()[:h*w] {
				plane[i] = float64(v)
			}
			s, u := Shift(plane, h, w), Unshift(plane, h, w)
			for i := range h {
				for j := range w {
					if float32(s[i*w+j]) != float32(c.Shift[i][j]) || float32(u[i*w+j]) != float32(c.Ishift[i][j]) {
						t.Fatalf("case %d: shift at %d,%d", ci, i, j)
					}
				}
			}
			continue
		case "amplitude_mix":
			got, err := AmplitudeMix(a, image(c.B), c.Lambda, c.Ratio, c.Max)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, ci, got, c.Want, c.Max)
		case "fda":
			got, err := LowFreqSwap(a, image(c.B), c.Beta, c.Max)
			if err != nil {
				t.Fatal(err)
			}
			compare(t, ci, got, c.Want, c.Max)
		}
	}
}

func compare(t *testing.T, ci int, got *tensor.Tensor, want [][][]float64, maxVal float32) {
	t.Helper()
	d := got.Data()
	i := 0
	for _, ch := range want {
		for _, row := range ch {
			for _, v := range row {
				// float32 output of a float64 computation.
				if math.Abs(float64(d[i])-v) > 1e-6*float64(maxVal) {
					t.Fatalf("case %d: value %d = %v, want %v", ci, i, d[i], v)
				}
				i++
			}
		}
	}
}

func TestIdentities(t *testing.T) {
	rng := tensor.NewRNG(1)
	a, b := rng.Uniform(0, 1, 3, 10, 7), rng.Uniform(0, 1, 3, 10, 7)
	for name, f := range map[string]func() (*tensor.Tensor, error){
		"lambda 0":    func() (*tensor.Tensor, error) { return AmplitudeMix(a, b, 0, 1, 1) },
		"beta 0 on a": func() (*tensor.Tensor, error) { return LowFreqSwap(a, a, 0.3, 1) },
	} {
		got, err := f()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range got.Data() {
			if math.Abs(float64(v-a.Data()[i])) > 1e-5 {
				t.Fatalf("%s: value %d = %v, want %v", name, i, v, a.Data()[i])
			}
		}
	}
	// The inverse is clipped to the image range.
	got, err := AmplitudeMix(a, b, 1, 1, 0.75)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range got.Data() {
		if v < 0 || v > 0.75 {
			t.Fatalf("value %d = %v outside [0, 0.75]", i, v)
		}
	}
	l := SampleLambda(rand.New(rand.NewPCG(1, 1)), 0.5)
	if l < 0 || l >= 0.5 {
		t.Errorf("lambda %v outside [0, 0.5)", l)
	}
}

func TestErrors(t *testing.T) {
	a, b := tensor.Zeros(3, 4, 4), tensor.Zeros(3, 4, 5)
	if _, err := AmplitudeMix(a, b, 0.5, 1, 1); err == nil {
		t.Error("shape mismatch: no error")
	}
	if _, err := AmplitudeMix(a, a, 1.5, 1, 1); err == nil {
		t.Error("lambda 1.5: no error")
	}
	if _, err := LowFreqSwap(a, a, 0.9, 1); err == nil {
		t.Error("beta 0.9: no error")
	}
	if _, err := LowFreqSwap(tensor.Zeros(4, 4), tensor.Zeros(4, 4), 0.1, 1); err == nil {
		t.Error("2-D input: no error")
	}
}

func BenchmarkAmplitudeMix(b *testing.B) {
	rng := tensor.NewRNG(1)
	x, y := rng.Uniform(0, 1, 3, 256, 128), rng.Uniform(0, 1, 3, 256, 128)
	for b.Loop() {
		AmplitudeMix(x, y, 0.5, 1, 1)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}
