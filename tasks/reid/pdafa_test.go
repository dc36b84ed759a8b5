package reid

import (
	"math"
	"testing"

	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/tensor"
)

// meanOf returns the mean sample of an image.
func meanOf(m *imageio.Image) float64 {
	s := 0.0
	for _, v := range m.Pix {
		s += float64(v)
	}
	return s / float64(len(m.Pix))
}

// TestStyleToTarget checks PDA's styling: with λ = 0 the source image is
// only resized; with λ up to 1 its spectrum (and so its mean, the DC term)
// moves towards the target image's, never past it.
func TestStyleToTarget(t *testing.T) {
	src, tgt := tinyDomains(t)
	one := *tgt
	train := *tgt.Train
	train.Items = train.Items[:1]
	one.Train = &train
	cfg := tinyUDA()
	u := newUDA(cfg, nil, nil, src, &one, nil)
	resize := transform.Resize{W: cfg.Width, H: cfg.Height}
	load := func(it dataset.Item) *transform.Sample {
		img, err := imageio.ReadFile(it.Path, src.Train.Limits)
		if err != nil {
			t.Fatal(err)
		}
		s := &transform.Sample{Image: img}
		if err := resize.Apply(s, transform.NewState(1)); err != nil {
			t.Fatal(err)
		}
		return s
	}
	target := meanOf(load(train.Items[0]).Image)
	moved := 0
	for i, it := range src.Train.Items[:6] {
		plain := load(it)
		s0 := load(it)
		if err := u.styleToTarget(0).Apply(s0, transform.NewState(uint64(i))); err != nil {
			t.Fatal(err)
		}
		for k, v := range s0.Image.Pix {
			if math.Abs(float64(v-plain.Image.Pix[k])) > 1e-4 {
				t.Fatalf("image %d: λ = 0 changed sample %d: %v, was %v", i, k, v, plain.Image.Pix[k])
			}
		}
		s1 := load(it)
		if err := u.styleToTarget(1).Apply(s1, transform.NewState(uint64(i))); err != nil {
			t.Fatal(err)
		}
		before, after := math.Abs(meanOf(plain.Image)-target), math.Abs(meanOf(s1.Image)-target)
		if after > before+1e-3 {
			t.Errorf("image %d: distance to the target's mean %v after styling, %v before", i, after, before)
		}
		if after < before-1e-3 {
			moved++
		}
	}
	if moved == 0 {
		t.Errorf("styling moved no image towards the target")
	}
}

// TestPDAWeights checks that the source loss fades over the adaptation
// epochs: 1 in the first, 1 − a/A in epoch a of A.
func TestPDAWeights(t *testing.T) {
	cfg := tinyUDA()
	cfg.Epochs, cfg.UDA.PretrainEpochs = 5, 1
	u := &UDA{cfg: cfg}
	for epoch, want := range map[int]float64{1: 1, 2: 0.75, 3: 0.5, 4: 0.25} {
		if got := u.pdaWeight(epoch); math.Abs(float64(got)-want) > 1e-7 {
			t.Errorf("epoch %d: weight %v, want %v", epoch, got, want)
		}
	}
}

// TestFourierView checks FA's second view: a batch of one image repeated
// is its own view (the amplitudes mixed are the same), a batch of
// different images is not, and the view is drawn again the same.
func TestFourierView(t *testing.T) {
	cfg := tinyUDA()
	u := &UDA{cfg: cfg}
	n, c, h, w := 4, 3, cfg.Height, cfg.Width
	per := c * h * w
	r := tensor.NewRNG(5).Rand()
	same, diff := tensor.Zeros(n, c, h, w), tensor.Zeros(n, c, h, w)
	first := make([]float32, per)
	for k := range first {
		first[k] = r.Float32()*4 - 2
	}
	for i := range n {
		copy(same.Data()[i*per:], first)
		for k := range per {
			diff.Data()[i*per+k] = r.Float32()*4 - 2
		}
	}
	paths := []string{"a.jpg", "b.jpg", "c.jpg", "d.jpg"}
	// Samples whose pixel value falls outside [0, 1] are clipped by the
	// view: compare only the ones inside.
	inside := func(x *tensor.Tensor, k int) bool {
		ch := (k / (h * w)) % c
		p := x.Data()[k]*imageio.ImageNetStd[ch] + imageio.ImageNetMean[ch]
		return p > 0.01 && p < 0.99
	}
	v, err := u.fourierView(&loader.Images{X: same, Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	for k, x := range v.Data() {
		if inside(same, k) && math.Abs(float64(x-same.Data()[k])) > 1e-3 {
			t.Fatalf("repeated image: view sample %d is %v, image %v", k, x, same.Data()[k])
		}
	}
	v1, err := u.fourierView(&loader.Images{X: diff, Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	v2, err := u.fourierView(&loader.Images{X: diff, Paths: paths})
	if err != nil {
		t.Fatal(err)
	}
	changed := 0
	for k, x := range v1.Data() {
		if x != v2.Data()[k] {
			t.Fatalf("the view differs between two draws at sample %d: %v, %v", k, x, v2.Data()[k])
		}
		if math.Abs(float64(x-diff.Data()[k])) > 1e-2 {
			changed++
		}
	}
	if changed < per/10 {
		t.Errorf("the view of different images changed %d samples of %d, want at least %d", changed, n*per, per/10)
	}
}
