package reid

import (
	"fmt"
	"hash/fnv"

	"argus/autograd"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/fourier"
	rid "argus/reid"
	"argus/tensor"
	"argus/train"
)

// Progressive domain adaptation and Fourier augmentation. The seed names
// them without their internals; these are Argus's designs
// (docs/methods/uda-reid.md):
//
//   - PDA: during adaptation, P×K batches of the labelled source alternate
//     with the target's pseudo-labelled ones. Each source image takes the
//     amplitude spectrum of a random target training image mixed into its
//     own by λ ~ U(0, r_e), r_e = (a+1)/A in adaptation epoch a of A, its
//     phase kept: the source moves towards the target's style epoch by
//     epoch. The source batches' supervised loss is weighted by
//     1 − a/A, so the labelled signal fades as the target's takes over.
//   - FA: every pseudo-labelled target batch gets a second view, each image
//     with the amplitude of another image of the batch mixed in by
//     λ ~ U(0, 1) (FACT), and that view's normalised features are held to
//     the same centroids by the same contrastive loss ("ccl_fourier"):
//     the clusters must stay separable whatever the amplitude, which
//     carries style more than identity.

// progress returns the adaptation epoch a (0-based) and the number A.
func (u *UDA) progress(epoch int) (a, n int) {
	return epoch - u.cfg.UDA.PretrainEpochs, u.cfg.Epochs - u.cfg.UDA.PretrainEpochs
}

// imageTensor views an image as a C×H×W tensor (sharing its samples).
func imageTensor(m *imageio.Image) *tensor.Tensor { return tensor.FromSlice(m.Pix, m.C, m.H, m.W) }

// styleToTarget returns the transform that mixes a random target training
// image's amplitude into each source sample, λ ~ U(0, maxLambda), after
// resizing both to the input size.
func (u *UDA) styleToTarget(maxLambda float64) transform.Transform {
	pool := u.target.Train
	resize := transform.Resize{W: u.cfg.Width, H: u.cfg.Height}
	return transform.Func(func(s *transform.Sample, st *transform.State) error {
		if err := resize.Apply(s, st); err != nil {
			return err
		}
		lambda := fourier.SampleLambda(st.Rand, maxLambda)
		it := pool.Items[st.Rand.IntN(len(pool.Items))]
		img, err := imageio.ReadFile(it.Path, pool.Limits)
		if err != nil {
			return err
		}
		t := &transform.Sample{Image: img}
		if err := resize.Apply(t, st); err != nil {
			return fmt.Errorf("%s: %w", it.Path, err)
		}
		if t.Image.C != s.Image.C {
			return nil // a grey image and a colour one: nothing to mix
		}
		out, err := fourier.AmplitudeMix(imageTensor(s.Image), imageTensor(t.Image), lambda, 1, 1)
		if err != nil {
			return err
		}
		copy(s.Image.Pix, out.Data())
		return nil
	})
}

// pdaLoader returns the loader of an adaptation epoch with PDA: source
// batches styled towards the target alternating with the pseudo-labelled
// target's.
func (u *UDA) pdaLoader(epoch int, pseudo *dataset.Set, labels []int, P int) *loader.Loader[*loader.Images] {
	a, n := u.progress(epoch)
	src := *u.source.Train
	src.Domain = 0
	src.Transform = transform.Compose{u.styleToTarget(float64(a+1) / float64(n)), u.cfg.TrainTransform()}
	sp := u.cfg.Batch / u.cfg.Instances
	return loader.New([]loader.Dataset{&src, pseudo},
		loader.Alternate{
			loader.Identities{Labels: src.Labels(), P: sp, K: u.cfg.Instances, Seed: u.cfg.Seed, Dataset: 0},
			loader.Identities{Labels: labels, P: P, K: u.cfg.Instances, Seed: u.cfg.Seed, Dataset: 1},
		},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: u.cfg.Workers, Seed: u.cfg.Seed})
}

// pdaWeight returns the weight of the source loss in an adaptation epoch:
// 1 − a/A in adaptation epoch a (0-based) of A.
func (u *UDA) pdaWeight(epoch int) float32 {
	a, n := u.progress(epoch)
	return 1 - float32(a)/float32(n)
}

// sourceLoss is the PDA-weighted supervised loss of a styled source batch.
func (u *UDA) sourceLoss(b *loader.Images) ([]train.Term, error) {
	terms, err := Losses(u.net, b.X, b.Labels, float32(u.cfg.LabelSmoothing), float32(u.cfg.Margin), u.cfg.BNBatch, nil)
	if err != nil {
		return nil, err
	}
	w := u.pdaWeight(u.epoch)
	for i := range terms {
		terms[i] = train.Term{Name: "pda_" + terms[i].Name, Loss: autograd.Scale(terms[i].Loss, w)}
	}
	return terms, nil
}

// fourierView returns the batch x (normalised N×C×H×W) with each image's
// amplitude spectrum mixed with another image's of the batch by
// λ ~ U(0, 1), drawn from a generator seeded by the seed and the batch's
// file names, so that a resumed run draws the same.
func (u *UDA) fourierView(b *loader.Images) (*tensor.Tensor, error) {
	sh := b.X.Shape()
	n, c, h, w := sh[0], sh[1], sh[2], sh[3]
	hs := fnv.New64a()
	for _, p := range b.Paths {
		hs.Write([]byte(p))
		hs.Write([]byte{0})
	}
	r := tensor.NewRNG(transform.Mix(u.cfg.Seed, int(hs.Sum64()>>1), 7)).Rand()
	mean, std := imageio.ImageNetMean, imageio.ImageNetStd
	per := c * h * w
	// Back to pixel values in [0, 1] for the spectrum, then normalised
	// again.
	pix := make([]float32, len(b.X.Data()))
	for i, v := range b.X.Data() {
		ch := (i / (h * w)) % c
		pix[i] = v*std[ch%len(std)] + mean[ch%len(mean)]
	}
	out := tensor.Zeros(sh...)
	od := out.Data()
	for i := range n {
		j := r.IntN(n)
		lambda := fourier.SampleLambda(r, 1)
		a := tensor.FromSlice(pix[i*per:(i+1)*per], c, h, w)
		bb := tensor.FromSlice(pix[j*per:(j+1)*per], c, h, w)
		m, err := fourier.AmplitudeMix(a, bb, lambda, 1, 1)
		if err != nil {
			return nil, err
		}
		for k, v := range m.Data() {
			ch := k / (h * w)
			od[i*per+k] = (v - mean[ch%len(mean)]) / std[ch%len(std)]
		}
	}
	return out, nil
}

// fourierLoss is FA's contrastive loss of the batch's Fourier view.
func (u *UDA) fourierLoss(b *loader.Images) (train.Term, error) {
	x, err := u.fourierView(b)
	if err != nil {
		return train.Term{}, fmt.Errorf("fourier view: %w", err)
	}
	f := rid.L2Normalize(Forward(u.net, x, u.cfg.BNBatch).Neck)
	l, err := u.mem.Loss(f, b.Labels)
	if err != nil {
		return train.Term{}, err
	}
	return train.Term{Name: "ccl_fourier", Loss: l}, nil
}
