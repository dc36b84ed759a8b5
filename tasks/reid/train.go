package reid

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"argus/autograd"
	"argus/checkpoint"
	"argus/dcal"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/models"
	"argus/nn"
	rid "argus/reid"
	"argus/tensor"
	"argus/train"
)

// Metadata keys of a re-ID checkpoint besides the loop's.
const (
	// MetaHeight and MetaWidth hold the input size the network was
	// trained at.
	MetaHeight = "reid_height"
	MetaWidth  = "reid_width"
	// MetaMode holds the run's mode, supervised or uda.
	MetaMode = "reid_mode"
	// MetaDCAL and MetaGLCARatio hold a ViT's DCAL branches (none when
	// absent) and GLCA's query ratio.
	MetaDCAL      = "reid_dcal"
	MetaGLCARatio = "reid_glca_ratio"
)

// newNet builds the re-ID network of spec, on a DCAL base when dcalFlag
// names branches (spec is then a ViT's: reid-deit-tiny).
func newNet(spec models.Spec, dcalFlag string, ratio float64, rng *tensor.RNG) (*models.ReID, error) {
	glca, pwca, err := models.ParseDCAL(dcalFlag)
	if err != nil {
		return nil, err
	}
	if !glca && !pwca {
		layer, err := spec.New(rng)
		if err != nil {
			return nil, err
		}
		net, ok := layer.(*models.ReID)
		if !ok {
			return nil, fmt.Errorf("%s is not a re-ID network", spec.Name)
		}
		return net, nil
	}
	c, ok := models.ViTPreset(strings.TrimPrefix(spec.Name, "reid-"))
	if !ok {
		return nil, fmt.Errorf("dcal needs a Vision Transformer, not %s", spec.Name)
	}
	c.GridH, c.GridW = spec.Height/c.Patch, spec.Width/c.Patch
	return models.NewReIDDCAL(rng, c, models.DCALOptions{GLCA: glca, PWCA: pwca, GLCARatio: ratio}, spec.Classes)
}

// Trainer is a re-ID run on the training loop.
type Trainer = train.Trainer[*loader.Images]

// Run is a re-ID run being built: the trainer and what the command reports
// beside it.
type Run struct {
	*Trainer
	// Net is the network trained.
	Net *models.ReID
	// SourceIDs is the number of source training identities (the
	// classifier's outputs).
	SourceIDs int
	// UDA is the adaptation's state in --mode uda, nil otherwise.
	UDA *UDA
}

// TrainTransform returns the training augmentation: resize to the input
// size, flip, pad and random crop, then random erasing that fills with the
// ImageNet mean (zero after normalisation, as torchvision's RandomErasing
// after Normalize).
func (c *Config) TrainTransform() transform.Transform {
	erase := transform.RandomErasing{P: c.Erasing}
	return transform.Compose{
		transform.Resize{W: c.Width, H: c.Height},
		transform.HFlip{P: c.Flip},
		transform.RandomCrop{W: c.Width, H: c.Height, Pad: c.Pad},
		transform.Func(func(s *transform.Sample, st *transform.State) error {
			r := st.Rand
			if r.Float64() >= erase.P {
				return nil
			}
			x, y, w, h, ok := erase.Params(s.Image.W, s.Image.H, r)
			if !ok {
				return nil
			}
			m := s.Image
			for ch := 0; ch < m.C; ch++ {
				p := m.Plane(ch)
				v := imageio.ImageNetMean[ch%len(imageio.ImageNetMean)]
				for i := y; i < y+h; i++ {
					row := p[i*m.W+x : i*m.W+x+w]
					for k := range row {
						row[k] = v
					}
				}
			}
			return nil
		}),
	}
}

// EvalTransform returns the evaluation view: the image resized to the
// input size.
func (c *Config) EvalTransform() transform.Transform {
	return transform.Resize{W: c.Width, H: c.Height}
}

// Losses returns the supervised loss terms of a batch: "cross_entropy"
// (label-smoothed, on the logits) and "triplet" (batch-hard, on the
// pre-neck feature). With bnBatch > 0 the batch is forwarded in chunks of
// bnBatch images (ghost batch norm) and the losses are taken over the
// whole batch.
//
// On a DCAL network each branch (sa, glca, pwca: DCAL.Branches) has both
// losses on its own outputs, and the terms are the branches' sums,
// uncertainty-weighted (dcal.Uncertainty) and named after the branches;
// rng draws PWCA's partners, within each chunk. It is unused otherwise.
func Losses(net *models.ReID, x *tensor.Tensor, labels []int, smoothing, margin float32, bnBatch int, rng *tensor.RNG) ([]train.Term, error) {
	outs := forwardBranches(net, x, bnBatch, rng)
	raw := make([]*autograd.Var, len(outs))
	var terms []train.Term
	for i, out := range outs {
		ce := autograd.CrossEntropy(out.Logits, labels, autograd.CrossEntropyOptions{LabelSmoothing: smoothing})
		tri, _, err := rid.BatchHardTriplet(out.Feature, labels, margin)
		if err != nil {
			return nil, err
		}
		terms = []train.Term{{Name: "cross_entropy", Loss: ce}, {Name: "triplet", Loss: tri}}
		raw[i] = autograd.Add(ce, tri)
	}
	d := net.DCAL()
	if d == nil {
		return terms, nil
	}
	if d.LossWeights != nil {
		raw = dcal.Uncertainty(raw, d.LossWeights)
	}
	terms = terms[:0]
	for i, name := range d.Branches() {
		terms = append(terms, train.Term{Name: name, Loss: raw[i]})
	}
	return terms, nil
}

// Forward runs the network's training outputs on x, in chunks of bnBatch
// images when bnBatch is positive and smaller than the batch (ghost batch
// norm), concatenated in order. On a DCAL network they are the
// self-attention branch's.
func Forward(net *models.ReID, x *tensor.Tensor, bnBatch int) models.ReIDOutputs {
	return forwardBranches(net, x, bnBatch, nil)[0]
}

// forwardBranches is Forward of every branch (models.ReID.BranchOutputs),
// PWCA's partners drawn from rng within each chunk (none when rng is nil).
func forwardBranches(net *models.ReID, x *tensor.Tensor, bnBatch int, rng *tensor.RNG) []models.ReIDOutputs {
	n := x.Shape()[0]
	partners := func(n int) []int {
		if rng == nil {
			return nil
		}
		return dcal.Partners(rng, n)
	}
	if bnBatch <= 0 || bnBatch >= n {
		return net.BranchOutputs(autograd.Const(x), partners(n))
	}
	var chunks [][]models.ReIDOutputs
	per := x.Len() / n
	for lo := 0; lo < n; lo += bnBatch {
		hi := min(lo+bnBatch, n)
		sh := append([]int{hi - lo}, x.Shape()[1:]...)
		chunk := tensor.FromSlice(x.Data()[lo*per:hi*per], sh...)
		chunks = append(chunks, net.BranchOutputs(autograd.Const(chunk), partners(hi-lo)))
	}
	out := make([]models.ReIDOutputs, len(chunks[0]))
	for b := range out {
		var fs, ns, ls []*autograd.Var
		for _, c := range chunks {
			fs, ns, ls = append(fs, c[b].Feature), append(ns, c[b].Neck), append(ls, c[b].Logits)
		}
		out[b] = models.ReIDOutputs{Feature: autograd.Concat(fs, 0), Neck: autograd.Concat(ns, 0), Logits: autograd.Concat(ls, 0)}
	}
	return out
}

// NewRun builds a fresh run of cfg: the network with one output per source
// training identity (its backbone from init when not nil), P×K batches of
// the source, and an evaluation on the evaluated domain's query and
// gallery giving mAP, rank1, rank5, rank10 and mINP; in uda mode, from
// epoch UDA.PretrainEpochs+1 on, batches of the target's pseudo-labelled
// images (see UDA). log receives the adaptation's notes (nil: none).
func NewRun(cfg Config, source, eval *dataset.ReID, target *dataset.ReID, init *checkpoint.File, log io.Writer) (*Run, error) {
	cfg.Fill()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Mode == "uda" && target == nil {
		return nil, fmt.Errorf("uda needs the target domain's data")
	}
	spec, err := models.Lookup(cfg.Registry())
	if err != nil {
		return nil, err
	}
	if err := spec.CheckSize(cfg.Height, cfg.Width); err != nil {
		return nil, err
	}
	ids := source.NumTrainPIDs
	if ids < 2 {
		return nil, fmt.Errorf("%s has %d training identities: the triplet loss needs at least 2", source.Name, ids)
	}
	if P := cfg.Batch / cfg.Instances; ids < P {
		return nil, fmt.Errorf("%s has %d training identities, fewer than the %d of a batch (batch %d / instances %d)",
			source.Name, ids, P, cfg.Batch, cfg.Instances)
	}
	if spec, err = spec.WithClasses(ids); err != nil {
		return nil, err
	}
	rng := tensor.NewRNG(cfg.Seed)
	net, err := newNet(spec, cfg.DCAL, cfg.GLCARatio, rng)
	if err != nil {
		return nil, err
	}
	if init != nil {
		if _, err := models.LoadBackbone(init, net); err != nil {
			return nil, fmt.Errorf("--init: %w", err)
		}
	}
	src := *source.Train
	src.Transform = cfg.TrainTransform()
	src.Domain = 0
	srcData := loader.New([]loader.Dataset{&src},
		loader.Identities{Labels: src.Labels(), P: cfg.Batch / cfg.Instances, K: cfg.Instances, Seed: cfg.Seed},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: cfg.Workers, Seed: cfg.Seed})
	r := &Run{Net: net, SourceIDs: ids}
	var mod nn.Module = net
	var data train.Source[*loader.Images] = srcData
	if cfg.Mode == "uda" {
		r.UDA = newUDA(cfg, net, srcData, source, target, log)
		mod, data = r.UDA.module(), r.UDA
	}
	smoothing, margin := float32(cfg.LabelSmoothing), float32(cfg.Margin)
	task := train.Task[*loader.Images]{
		Model: cfg.Registry(), Module: mod, RNG: rng, Data: data,
		EpochSize: len(src.Items),
		Count:     func(b *loader.Images) int { return len(b.Labels) },
		Loss: func(b *loader.Images) ([]train.Term, error) {
			if len(b.Domains) > 0 && b.Domains[0] == 1 {
				return r.UDA.loss(b)
			}
			if r.UDA != nil && r.UDA.epoch >= 0 {
				// A source batch during adaptation: PDA's.
				return r.UDA.sourceLoss(b)
			}
			return Losses(net, b.X, b.Labels, smoothing, margin, cfg.BNBatch, rng)
		},
		Eval: func() (map[string]float64, error) {
			m, err := Evaluate(context.Background(), net, eval, cfg.EvalTransform(), cfg.EvalBatch, cfg.Workers)
			if err != nil {
				return nil, err
			}
			if r.UDA != nil {
				for k, v := range r.UDA.diagnostics() {
					m[k] = v
				}
			}
			return m, nil
		},
		Config:    cfg,
		Resumable: []string{"eval_batch", "workers"},
		Metadata: map[string]string{checkpoint.MetaClasses: strconv.Itoa(ids),
			MetaHeight: strconv.Itoa(cfg.Height), MetaWidth: strconv.Itoa(cfg.Width), MetaMode: cfg.Mode,
			MetaDCAL: cfg.DCAL, MetaGLCARatio: strconv.FormatFloat(cfg.GLCARatio, 'g', -1, 64)},
	}
	tr, err := train.New(cfg.Config, task)
	if err != nil {
		return nil, err
	}
	r.Trainer = tr
	return r, nil
}

// Restore loads a checkpoint of the run into it, the adaptation's pseudo
// labels and cluster memory included.
func (r *Run) Restore(f *checkpoint.File) error {
	if r.UDA != nil {
		if err := r.UDA.prepareRestore(f); err != nil {
			return err
		}
	}
	if err := r.Trainer.Restore(f); err != nil {
		return err
	}
	if r.UDA != nil {
		return r.UDA.restored()
	}
	return nil
}

// Extract returns the post-neck features (n×dim, in set's order) of the
// network in evaluation mode without gradients, the images through tf in
// batches of batch; progress, when not nil, counts the images done.
func Extract(ctx context.Context, net *models.ReID, set *dataset.Set, tf transform.Transform, batch, workers int, progress func(done int)) ([]float32, int, error) {
	s := *set
	s.Transform = tf
	if len(s.Items) == 0 {
		return nil, 0, fmt.Errorf("%s has no images", set.Name)
	}
	l := loader.New([]loader.Dataset{&s}, loader.Indices{N: len(s.Items), BatchSize: max(batch, 1)},
		loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd), loader.Options{Workers: workers})
	it, err := l.Epoch(ctx, 0)
	if err != nil {
		return nil, 0, err
	}
	defer it.Close()
	wasTraining := net.Bottleneck.Training
	nn.Train(net, false)
	defer nn.Train(net, wasTraining)
	var out []float32
	dim, done := 0, 0
	for {
		b, err := it.Next()
		if err == loader.ErrDone {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		var y *tensor.Tensor
		nn.NoGrad(net, func() { y = net.Forward(autograd.Const(b.Data.X)).Value() })
		dim = y.Shape()[1]
		for _, v := range y.Data() {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, 0, fmt.Errorf("the network gave a non-finite feature for %s", b.Data.Paths[0])
			}
		}
		out = append(out, y.Data()...)
		done += len(b.Data.Labels)
		if progress != nil {
			progress(done)
		}
	}
	return out, dim, nil
}

// Evaluate extracts the query and gallery features of d and scores them
// with the Market-1501 protocol on the cosine distance: mAP, rank1, rank5,
// rank10, mINP, and the number of valid queries.
func Evaluate(ctx context.Context, net *models.ReID, d *dataset.ReID, tf transform.Transform, batch, workers int) (map[string]float64, error) {
	q, dim, err := Extract(ctx, net, d.Query, tf, batch, workers, nil)
	if err != nil {
		return nil, err
	}
	g, _, err := Extract(ctx, net, d.Gallery, tf, batch, workers, nil)
	if err != nil {
		return nil, err
	}
	res, err := Score(q, g, dim, d)
	if err != nil {
		return nil, err
	}
	return map[string]float64{"mAP": res.MAP, "mINP": res.MINP, "rank1": float64(at(res.CMC, 1)),
		"rank5": float64(at(res.CMC, 5)), "rank10": float64(at(res.CMC, 10)), "valid_queries": float64(res.Valid)}, nil
}

// Score evaluates query and gallery features of d on the cosine distance.
func Score(q, g []float32, dim int, d *dataset.ReID) (rid.Result, error) {
	nq, ng := len(d.Query.Items), len(d.Gallery.Items)
	dist, err := rid.Distances(rid.Cosine, q, nq, g, ng, dim)
	if err != nil {
		return rid.Result{}, err
	}
	res, err := rid.Evaluate(dist, d.Query.Labels(), d.Gallery.Labels(), cameras(d.Query), cameras(d.Gallery), rid.DefaultMaxRank)
	if err != nil {
		return rid.Result{}, fmt.Errorf("%s: %w", d.Name, err)
	}
	return res, nil
}

func cameras(s *dataset.Set) []int {
	out := make([]int, len(s.Items))
	for i, it := range s.Items {
		out[i] = it.Camera
	}
	return out
}

// at returns CMC at rank r (1-based), the last value for shorter curves.
func at(cmc []float32, r int) float32 {
	if len(cmc) == 0 {
		return 0
	}
	return cmc[min(r, len(cmc))-1]
}

// LoadNet reads a checkpoint of argus train reid (or any checkpoint of a
// registry re-ID network) and returns the network and the input size it
// was trained at (the registry's default when the metadata has none). The
// adaptation's state in a uda checkpoint is not part of the network and is
// skipped.
func LoadNet(path string) (*models.ReID, int, int, error) {
	f, err := checkpoint.ReadFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	spec, err := models.FromMetadata(f.Metadata)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	ratio := 0.0
	if v, ok := f.Metadata[MetaGLCARatio]; ok {
		if ratio, err = strconv.ParseFloat(v, 64); err != nil {
			return nil, 0, 0, fmt.Errorf("%s: metadata %s %q: %w", path, MetaGLCARatio, v, err)
		}
	}
	net, err := newNet(spec, f.Metadata[MetaDCAL], ratio, tensor.NewRNG(0))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	g := &checkpoint.File{Tensors: map[string]checkpoint.Entry{}, Metadata: f.Metadata}
	for _, name := range f.Names {
		switch name {
		case memoryCentroids, memoryLabels, memoryEpoch:
			continue
		}
		g.Names = append(g.Names, name)
		g.Tensors[name] = f.Tensors[name]
	}
	if err := checkpoint.LoadModel(g, net); err != nil {
		return nil, 0, 0, fmt.Errorf("load %s: %w", path, err)
	}
	h, w := spec.Height, spec.Width
	if v, err := strconv.Atoi(f.Metadata[MetaHeight]); err == nil && v > 0 {
		h = v
	}
	if v, err := strconv.Atoi(f.Metadata[MetaWidth]); err == nil && v > 0 {
		w = v
	}
	if err := spec.CheckSize(h, w); err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", path, err)
	}
	nn.Train(net, false)
	return net, h, w, nil
}
