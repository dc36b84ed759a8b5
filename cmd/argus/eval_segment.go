package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/data/imageio"
	"argus/internal/par"
	"argus/internal/progress"
	"argus/segmetric"
	"argus/tasks/segment"
)

// newEvalSegmentCmd builds argus eval segment.
func newEvalSegmentCmd() *cobra.Command {
	var predDir, gtDir, labelMapPath string
	var ckpt, dataDir, dsName, inference string
	var crop, stride, limit, scale int
	var asJSON bool
	opt := segmetric.DefaultOptions(0)
	cmd := &cobra.Command{
		Use:   "segment --pred DIR --gt DIR --num-classes C | --checkpoint C --data DIR --dataset NAME",
		Short: "Semantic segmentation aAcc, mIoU, mAcc and mDice, as mmsegmentation computes them",
		Long: `Evaluates predicted label maps against ground-truth label maps with the
arithmetic of mmsegmentation 0.x (intersect_and_union, total_area_to_metrics):
the ground truth is remapped by --label-map, then reduced by
--reduce-zero-label (0 becomes 255, every label drops by one, 254 becomes
255); pixels whose ground truth is then --ignore-index are left out; the
intersection, prediction and ground-truth histograms of classes 0..C-1 are
summed over all images (values outside fall out of them); and per class
IoU = intersect/union, Acc = intersect/label, Dice = 2 intersect/(pred +
label). mIoU, mAcc and mDice are the means over the classes where the value
is defined; aAcc is the overall pixel accuracy. All are fractions; a value
that is undefined (0/0) is null in the JSON and nan in the table.

The label maps are grey or paletted PNGs of 8 bits, or grey PNGs of 16 bits
(labels up to 65535), paired by their path under each folder (all .png files,
recursively); a file without its partner, a file that does not decode, or a
pair of different sizes is an error naming the file. The label map file is a
JSON object from old ground-truth label to new one, {"7": 0, "8": 1}; labels
it does not name are kept.

With --checkpoint (of argus train segment) it evaluates the network instead:
the val split of the dataset --dataset under --data (a folder in the
Cityscapes or CamVid layout, as argus train segment reads them) is
predicted through that dataset's batch norms and classifier, whole images
or sliding windows of --crop at --stride (--inference slide), and scored
the same way (255 ignored).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if ckpt != "" {
				for _, name := range []string{"pred", "gt", "num-classes", "label-map", "reduce-zero-label"} {
					if cmd.Flags().Changed(name) {
						return fmt.Errorf("--%s is for predicted label maps, not with --checkpoint", name)
					}
				}
				return evalSegmentCheckpoint(cmd, ckpt, dataDir, dsName, inference, crop, stride, scale, limit, asJSON)
			}
			for _, name := range []string{"pred", "gt", "num-classes"} {
				if !cmd.Flags().Changed(name) {
					return fmt.Errorf("required flag \"%s\" not set (or evaluate a network with --checkpoint)", name)
				}
			}
			for _, name := range []string{"data", "dataset", "inference", "crop", "stride", "scale", "limit"} {
				if cmd.Flags().Changed(name) {
					return fmt.Errorf("--%s is for a network's evaluation, with --checkpoint", name)
				}
			}
			if labelMapPath != "" {
				m, err := segmetric.ReadLabelMap(labelMapPath)
				if err != nil {
					return err
				}
				opt.LabelMap = m
			}
			start := time.Now()
			pairs, err := pairLabelFiles(predDir, gtDir)
			if err != nil {
				return err
			}
			// The bar appears with the first pair evaluated; away from a
			// terminal it adds no last line to the summary below.
			bar := progress.New(cmd.ErrOrStderr(), "eval segment", "img", len(pairs))
			bar.FinalLine = false
			bar.StartAt(start, 0)
			acc, err := evaluateSegmentation(pairs, opt, func() { bar.Add(1) })
			if err != nil {
				bar.Abort()
				return err
			}
			bar.Finish()
			m := acc.Metrics()
			fmt.Fprintf(cmd.ErrOrStderr(), "evaluated %d images, %d classes in %.2fs\n", m.NumImages, m.NumClasses, time.Since(start).Seconds())
			if asJSON {
				return printJSON(cmd, m)
			}
			return m.WriteTable(cmd.OutOrStdout(), nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&predDir, "pred", "", "folder of predicted label PNGs")
	f.StringVar(&gtDir, "gt", "", "folder of ground-truth label PNGs")
	intFlag(f, &opt.NumClasses, "num-classes", 1, 1, segmetric.MaxLabel+1, "number of classes C: labels 0..C-1, required with --pred")
	intFlag(f, &opt.IgnoreIndex, "ignore-index", segmetric.DefaultIgnoreIndex, 0, segmetric.MaxLabel, "ground-truth label left out of the metrics")
	f.BoolVar(&opt.ReduceZeroLabel, "reduce-zero-label", false, "ignore ground-truth 0 and shift the other labels down by one")
	f.StringVar(&labelMapPath, "label-map", "", "JSON object mapping ground-truth labels to new ones, applied first")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.StringVar(&ckpt, "checkpoint", "", "evaluate this checkpoint of argus train segment instead of predicted label maps")
	f.StringVar(&dataDir, "data", "", "with --checkpoint: the folder holding the datasets")
	f.StringVar(&dsName, "dataset", "", "with --checkpoint: the dataset (folder under --data) whose val split is evaluated")
	f.StringVar(&inference, "inference", "whole", "with --checkpoint: whole or slide")
	intFlag(f, &crop, "crop", 256, 16, segment.MaxCrop, "with --checkpoint: side of the sliding windows")
	intFlag(f, &stride, "stride", 170, 1, segment.MaxCrop, "with --checkpoint: stride of the sliding windows")
	intFlag(f, &limit, "limit", 0, 0, noLimit, "with --checkpoint: evaluate only the first N images (0: all)")
	intFlag(f, &scale, "scale", 0, 0, segment.MaxCrop, "with --checkpoint: resize the images so that their longer side is this (0: their own size)")
	return cmd
}

// evalSegmentCheckpoint evaluates a segmentation checkpoint on the val
// split of one of its datasets.
func evalSegmentCheckpoint(cmd *cobra.Command, ckpt, dataDir, name, inference string, crop, stride, scale, limit int, asJSON bool) error {
	switch {
	case dataDir == "":
		return fmt.Errorf("--data is required with --checkpoint")
	case name == "":
		return fmt.Errorf("--dataset is required with --checkpoint")
	case inference != "whole" && inference != "slide":
		return fmt.Errorf("--inference must be whole or slide, got %q", inference)
	case stride > crop:
		return fmt.Errorf("--stride %d is larger than --crop %d: the windows would leave gaps", stride, crop)
	}
	start := time.Now()
	m, labels, err := loadSegmenter(ckpt)
	if err != nil {
		return err
	}
	d, err := labels.Dataset(name)
	if err != nil {
		return fmt.Errorf("%s: %w", ckpt, err)
	}
	set, err := segment.Open(dataDir, name, "val")
	if err != nil {
		return err
	}
	if !slices.Equal(set.Classes, labels.Datasets[d].Classes) {
		return fmt.Errorf("%s was trained on %d classes of %s (%s...), %s has %d (%s...)", ckpt, len(labels.Datasets[d].Classes), name,
			first3(labels.Datasets[d].Classes), filepath.Join(dataDir, name), len(set.Classes), first3(set.Classes))
	}
	if limit > 0 && limit < len(set.Items) {
		set.Items = set.Items[:limit]
	}
	bar := progress.New(cmd.ErrOrStderr(), "eval segment", "img", len(set.Items))
	bar.FinalLine = false
	bar.StartAt(start, 0)
	met, err := segment.Evaluate(m, d, set, segment.Inference{Mode: inference, Crop: crop, Stride: stride, Scale: scale}, func() { bar.Add(1) })
	if err != nil {
		bar.Abort()
		return err
	}
	bar.Finish()
	fmt.Fprintf(cmd.ErrOrStderr(), "evaluated %d images of %s, %d classes in %.2fs\n", met.NumImages, name, met.NumClasses, time.Since(start).Seconds())
	if asJSON {
		return printJSON(cmd, met)
	}
	return met.WriteTable(cmd.OutOrStdout(), set.Classes)
}

// labelPair is a prediction and its ground truth.
type labelPair struct{ pred, gt string }

// pairLabelFiles pairs the .png files under predDir and gtDir by their path
// relative to each folder, in sorted order. A file on one side without its
// partner on the other is an error naming it (the first missing prediction
// before the first extra one).
func pairLabelFiles(predDir, gtDir string) ([]labelPair, error) {
	gts, err := listPNGs(gtDir, "ground-truth")
	if err != nil {
		return nil, err
	}
	if len(gts) == 0 {
		return nil, fmt.Errorf("ground-truth folder %s holds no .png files", gtDir)
	}
	preds, err := listPNGs(predDir, "prediction")
	if err != nil {
		return nil, err
	}
	for _, rel := range gts {
		if _, ok := slices.BinarySearch(preds, rel); !ok {
			return nil, fmt.Errorf("ground truth %s has no prediction %s", filepath.Join(gtDir, rel), filepath.Join(predDir, rel))
		}
	}
	for _, rel := range preds {
		if _, ok := slices.BinarySearch(gts, rel); !ok {
			return nil, fmt.Errorf("prediction %s has no ground truth %s", filepath.Join(predDir, rel), filepath.Join(gtDir, rel))
		}
	}
	pairs := make([]labelPair, len(gts))
	for i, rel := range gts {
		pairs[i] = labelPair{pred: filepath.Join(predDir, rel), gt: filepath.Join(gtDir, rel)}
	}
	return pairs, nil
}

// listPNGs returns the sorted paths, relative to dir, of the .png files
// under it; what names the folder in errors.
func listPNGs(dir, what string) ([]string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%s folder: %w", what, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%s folder %s is not a folder", what, dir)
	}
	var rels []string
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(p), ".png") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rels = append(rels, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s folder: %w", what, err)
	}
	slices.Sort(rels)
	return rels, nil
}

// evaluateSegmentation accumulates every pair on all cores: each worker
// sums its contiguous share of the pairs into its own accumulator, and the
// accumulators are merged in worker order. Of several bad pairs the first
// in order is reported, so that the error does not depend on timing.
func evaluateSegmentation(pairs []labelPair, opt segmetric.Options, progress func()) (*segmetric.Accumulator, error) {
	total, err := segmetric.New(opt)
	if err != nil {
		return nil, err
	}
	k := par.NumWorkers(len(pairs), 0)
	accs := make([]*segmetric.Accumulator, k)
	errs := make([]error, k)
	first := make([]int, k) // index of each worker's failing pair
	par.Workers(len(pairs), k, func(w, lo, hi int) {
		a, _ := segmetric.New(opt) // valid: total was made from opt
		accs[w] = a
		for i := lo; i < hi; i++ {
			if err := addPair(a, pairs[i]); err != nil {
				errs[w], first[w] = err, i
				return
			}
			progress()
		}
	})
	bad := -1
	for w, err := range errs {
		if err != nil && (bad < 0 || first[w] < first[bad]) {
			bad = w
		}
	}
	if bad >= 0 {
		return nil, errs[bad]
	}
	for _, a := range accs {
		if err := total.Merge(a); err != nil {
			return nil, err
		}
	}
	return total, nil
}

// addPair reads a prediction and its ground truth and adds them.
func addPair(a *segmetric.Accumulator, p labelPair) error {
	pred, err := imageio.ReadLabels(p.pred, imageio.Limits{})
	if err != nil {
		return err
	}
	gt, err := imageio.ReadLabels(p.gt, imageio.Limits{})
	if err != nil {
		return err
	}
	if pred.W != gt.W || pred.H != gt.H {
		return fmt.Errorf("prediction %s is %dx%d, its ground truth %s %dx%d", p.pred, pred.W, pred.H, p.gt, gt.W, gt.H)
	}
	if !pred.Wide() && !gt.Wide() {
		err = a.Add(pred.Pix8, gt.Pix8, gt.W, gt.H)
	} else {
		err = a.Add16(pred.Widen(), gt.Widen(), gt.W, gt.H)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", p.gt, err)
	}
	return nil
}
