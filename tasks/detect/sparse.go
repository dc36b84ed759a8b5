package detect

import (
	"fmt"

	"argus/autograd"
	"argus/data/loader"
	"argus/detect/sparsercnn"
	"argus/models"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

func init() {
	for _, depth := range []int{18, 34, 50} {
		Register(fmt.Sprintf("sparse-rcnn-r%d", depth), func(rng *tensor.RNG, cfg Config, classes int) (Detector, error) {
			return NewSparseRCNN(rng, cfg, classes, depth)
		})
	}
}

// SparseRCNN is Sparse R-CNN on a ResNet-FPN backbone (P2–P5, cfg.Width
// channels) as a Detector: the official head and criterion of
// detect/sparsercnn, Hungarian matching or DLA by cfg.Assign, static
// proposals or DPG's mixture of experts by cfg.ProposalMode.
type SparseRCNN struct {
	*sparsercnn.Detector
	Criterion sparsercnn.Criterion
}

// NewSparseRCNN returns a Sparse R-CNN of cfg's proposals and assignment
// on a ResNet of the given depth.
func NewSparseRCNN(rng *tensor.RNG, cfg Config, classes, depth int) (*SparseRCNN, error) {
	backbone, err := models.NewResNetFPN(rng, depth, cfg.Width)
	if err != nil {
		return nil, err
	}
	hc := sparsercnn.DefaultConfig(classes, cfg.Proposals)
	hc.Hidden, hc.FeedForward, hc.DimDynamic, hc.Stages = cfg.Width, 8*cfg.Width, cfg.Width/4, cfg.Stages
	d, err := sparsercnn.New(rng, hc, backbone)
	if err != nil {
		return nil, err
	}
	if cfg.ProposalMode == "dpg" {
		if d.Proposals, err = sparsercnn.NewDPG(rng, cfg.Experts, cfg.Proposals, cfg.Width, 4); err != nil {
			return nil, err
		}
	}
	crit := sparsercnn.DefaultCriterion()
	if cfg.Assign == "dla" {
		dla := sparsercnn.DefaultDLA()
		crit.DLA = &dla
	}
	return &SparseRCNN{Detector: d, Criterion: crit}, nil
}

// Members implements nn.Module.
func (s *SparseRCNN) Members() nn.Members { return s.Detector.Members() }

// Loss implements Detector: the weighted focal, L1 and GIoU terms of every
// stage, named as the official code names them.
func (s *SparseRCNN) Loss(b *loader.Detection) ([]train.Term, error) {
	stages := s.Forward(autograd.Const(b.X), b.Sizes)
	targets := make([]sparsercnn.Target, len(b.Sizes))
	for i, sz := range b.Sizes {
		targets[i] = sparsercnn.Target{Boxes: b.Boxes[i], Labels: b.Labels[i], Width: float32(sz[1]), Height: float32(sz[0])}
	}
	terms, _, err := s.Criterion.Loss(stages, targets)
	if err != nil {
		return nil, err
	}
	out := make([]train.Term, len(terms))
	for i, t := range terms {
		out[i] = train.Term{Name: t.Name, Loss: t.Loss}
	}
	return out, nil
}

// Predict implements Detector: the top num_proposals sigmoid scores of the
// last stage, no NMS.
func (s *SparseRCNN) Predict(b *loader.Detection) ([][]Detection, error) {
	stages := s.Forward(autograd.Const(b.X), b.Sizes)
	per := sparsercnn.Postprocess(stages[len(stages)-1], b.Sizes, s.Config.Proposals)
	out := make([][]Detection, len(per))
	for i, ds := range per {
		out[i] = make([]Detection, len(ds))
		for j, d := range ds {
			out[i][j] = Detection{Box: d.Box, Label: d.Label, Score: d.Score}
		}
	}
	return out, nil
}
