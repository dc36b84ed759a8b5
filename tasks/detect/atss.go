package detect

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"argus/autograd"
	"argus/data/loader"
	"argus/detect/atss"
	"argus/hpo"
	"argus/models"
	"argus/nn"
	"argus/tensor"
	"argus/train"
)

// atssDepths are the ResNet depths of the registered ATSS detectors.
var atssDepths = []int{18, 34, 50}

func init() {
	for _, depth := range atssDepths {
		Register(fmt.Sprintf("atss-r%d", depth), func(rng *tensor.RNG, cfg Config, classes int) (Detector, error) {
			return NewATSS(rng, cfg, classes, depth)
		})
	}
}

// isATSS reports whether model names an ATSS detector.
func isATSS(model string) bool { return strings.HasPrefix(model, "atss-") }

// validateATSS checks the settings only ATSS reads: the assigner and its
// k or searched values, and a width GroupNorm's 32 groups divide.
func (c *Config) validateATSS() error {
	if !slices.Contains(atss.AssignerNames, c.Assign) {
		return fmt.Errorf("assign must be %s for %s, got %q", strings.Join(atss.AssignerNames, ", "), c.Model, c.Assign)
	}
	switch {
	case c.Assign == "topk" && (c.K < 1 || c.K > 1<<10):
		return fmt.Errorf("assign topk needs k from 1 to %d, got %d", 1<<10, c.K)
	case c.Assign != "topk" && c.K != 0:
		return fmt.Errorf("k is the topk assigner's, not %s's", c.Assign)
	case c.Assign == "hps" && c.HPSK == nil:
		return fmt.Errorf("assign hps needs the searched values (--hps FILE of argus hps search)")
	case c.Assign != "hps" && (c.HPSK != nil || c.HPSBands != nil):
		return fmt.Errorf("searched values (hps_k, hps_bands) are the hps assigner's, not %s's", c.Assign)
	case c.Width%32 != 0:
		return fmt.Errorf("width must be a multiple of 32 for %s (GroupNorm of 32 groups), got %d", c.Model, c.Width)
	}
	if c.Assign == "hps" {
		if _, err := (atss.Searched{Bands: c.HPSBands, K: c.HPSK}).Assigner(); err != nil {
			return fmt.Errorf("searched values: %w", err)
		}
	}
	return nil
}

// SetSearched sets cfg's hps values to those of a search.
func (c *Config) SetSearched(s atss.Searched) {
	c.HPSBands, c.HPSK = append([]float64{}, s.Bands...), append([]int(nil), s.K...)
}

// ATSSAssigner returns the assigner cfg names.
func ATSSAssigner(cfg Config) (atss.Assigner, error) {
	o := atss.AssignOptions{Name: cfg.Assign, K: cfg.K}
	if cfg.Assign == "hps" {
		o.Searched = &atss.Searched{Bands: cfg.HPSBands, K: cfg.HPSK}
	}
	return atss.NewAssigner(o)
}

// ATSS is the ATSS detector on a ResNet-FPN backbone (P3–P7, cfg.Width
// channels) as a Detector: the head of detect/atss, its loss under the
// assigner of cfg.Assign, and its post-processing at test.
type ATSS struct {
	*atss.Detector
	Criterion *atss.Criterion
	Infer     atss.InferOptions
}

// NewATSS returns an ATSS detector of cfg's width and assigner on a
// ResNet of the given depth.
func NewATSS(rng *tensor.RNG, cfg Config, classes, depth int) (*ATSS, error) {
	a, err := ATSSAssigner(cfg)
	if err != nil {
		return nil, err
	}
	backbone, err := models.NewResNetFPNP3P7(rng, depth, cfg.Width)
	if err != nil {
		return nil, err
	}
	hc := atss.DefaultConfig(classes)
	hc.Channels = cfg.Width
	d, err := atss.NewDetector(rng, backbone, hc)
	if err != nil {
		return nil, err
	}
	infer := atss.DefaultInferOptions()
	infer.MaxDetections = cfg.Proposals
	return &ATSS{Detector: d, Criterion: atss.NewCriterion(a), Infer: infer}, nil
}

// Members implements nn.Module.
func (a *ATSS) Members() nn.Members { return a.Detector.Members() }

// Loss implements Detector: the focal, GIoU and centerness terms.
func (a *ATSS) Loss(b *loader.Detection) ([]train.Term, error) {
	out := a.Detector.Predict(autograd.Const(b.X))
	targets := make([]atss.Target, len(b.Sizes))
	for i := range b.Sizes {
		t := atss.Target{Labels: b.Labels[i], Boxes: make([]float32, 0, 4*len(b.Boxes[i]))}
		for _, bx := range b.Boxes[i] {
			t.Boxes = append(t.Boxes, bx[:]...)
		}
		targets[i] = t
	}
	ls, err := a.Criterion.Loss(out, targets)
	if err != nil {
		return nil, err
	}
	return []train.Term{{Name: "loss_cls", Loss: ls.Cls}, {Name: "loss_reg", Loss: ls.Reg}, {Name: "loss_centerness", Loss: ls.Centerness}}, nil
}

// Predict implements Detector: ATSS's post-processing (score threshold,
// top-k per level, class-wise NMS, num_proposals detections per image),
// boxes clipped to each unpadded image.
func (a *ATSS) Predict(b *loader.Detection) ([][]Detection, error) {
	out := a.Detector.Predict(autograd.Const(b.X))
	s := b.X.Shape()
	per, err := atss.Detect(out, s[3], s[2], a.Infer)
	if err != nil {
		return nil, err
	}
	res := make([][]Detection, len(per))
	for i, ds := range per {
		h, w := float32(b.Sizes[i][0]), float32(b.Sizes[i][1])
		res[i] = make([]Detection, 0, len(ds))
		for _, d := range ds {
			bx := [4]float32{min(d.Box[0], w), min(d.Box[1], h), min(d.Box[2], w), min(d.Box[3], h)}
			if bx[2] <= bx[0] || bx[3] <= bx[1] {
				continue // the box lies on the padding
			}
			res[i] = append(res[i], Detection{Box: bx, Label: d.Label, Score: d.Score})
		}
	}
	return res, nil
}

// SearchObjective returns HPS-Det's search objective: a short training of
// cfg (an ATSS model) with each trial's searched values, on trainSplit,
// writing nothing, and its validation AP on val. A trial that ends early
// (ctx, a non-finite loss) fails.
func SearchObjective(cfg Config, trainSplit, val *Split) atss.Objective {
	return func(ctx context.Context, a atss.HPS, t hpo.Trial) (float64, error) {
		c := cfg
		c.Assign, c.K = "hps", 0
		c.HPSBands, c.HPSK = a.Bands, a.K
		tr, _, err := NewTrainer(c, trainSplit, val)
		if err != nil {
			return 0, err
		}
		res, err := tr.Run(ctx, train.Options{})
		if err != nil {
			return 0, err
		}
		if res.Stopped != "" {
			return 0, fmt.Errorf("trial %d stopped early (%s)", t.Number, res.Stopped)
		}
		ap, ok := res.Metrics["AP"]
		if !ok {
			return 0, fmt.Errorf("trial %d: no evaluation", t.Number)
		}
		return float64(ap), nil
	}
}
