package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/data/grid"
	"argus/data/imageio"
	"argus/internal/progress"
	"argus/tasks/segment"
)

// segmentPrediction is one image's entry in the JSON of argus predict
// segment.
type segmentPrediction struct {
	Image   string `json:"image"`
	Labels  string `json:"labels"`
	Overlay string `json:"overlay"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	// Classes counts each class's pixels, by class name.
	Classes map[string]int `json:"classes"`
}

func newPredictSegmentCmd() *cobra.Command {
	var ckpt, name, out, inference string
	var crop, stride, scale int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "segment --checkpoint C --dataset NAME --out DIR IMAGE...",
		Short: "Segment images with a network of argus train segment: label PNGs and colour overlays",
		Long: `Predicts the classes of every pixel of each IMAGE (PNG or JPEG) with the
label set of dataset NAME of a checkpoint of argus train segment (through
that dataset's batch norms and classifier), whole images or sliding windows
(--inference slide), and writes into DIR, for an image X.png, X.png (the
train ids as an 8-bit grey label PNG, the format argus eval segment --pred
reads) and X_overlay.png (the image with each class's colour at half
strength). Every image is read before anything is written.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if inference != "whole" && inference != "slide" {
				return fmt.Errorf("--inference must be whole or slide, got %q", inference)
			}
			if stride > crop {
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
			imgs := make([]*imageio.Image, len(args))
			bases := map[string]string{}
			for i, p := range args {
				if imgs[i], err = imageio.ReadFile(p, imageio.Limits{}); err != nil {
					return err
				}
				if imgs[i].C != 3 {
					return fmt.Errorf("%s has %d channels, want RGB", p, imgs[i].C)
				}
				base := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
				if q, ok := bases[base]; ok {
					return fmt.Errorf("%s and %s would write the same %s.png", q, p, base)
				}
				bases[base] = p
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("--out: %w", err)
			}
			classes := labels.Datasets[d].Classes
			bar := progress.New(cmd.ErrOrStderr(), "predict segment", "img", len(args))
			var preds []segmentPrediction
			for i, img := range imgs {
				x, err := imageio.ToTensor([]*imageio.Image{img}, imageio.ImageNetMean, imageio.ImageNetStd)
				if err != nil {
					return err
				}
				lg, err := segment.Logits(m, d, x, segment.Inference{Mode: inference, Crop: crop, Stride: stride, Scale: scale})
				if err != nil {
					return err
				}
				mask := &imageio.Mask{H: img.H, W: img.W, Pix: segment.Argmax(lg)}
				base := strings.TrimSuffix(filepath.Base(args[i]), filepath.Ext(args[i]))
				p := segmentPrediction{Image: args[i], Labels: filepath.Join(out, base+".png"), Overlay: filepath.Join(out, base+"_overlay.png"),
					Width: img.W, Height: img.H, Classes: map[string]int{}}
				for _, v := range mask.Pix {
					p.Classes[classes[v]]++
				}
				if err := imageio.WriteFile(p.Labels, mask.ToGray()); err != nil {
					return err
				}
				if err := imageio.WriteFile(p.Overlay, imageio.ToNRGBA(overlay(img, mask))); err != nil {
					return err
				}
				preds = append(preds, p)
				bar.Add(1)
			}
			bar.Finish()
			fmt.Fprintf(cmd.ErrOrStderr(), "segmented %d images with %s's %d classes in %.2fs\n", len(args), name, len(classes), time.Since(start).Seconds())
			if asJSON {
				return printJSON(cmd, map[string]any{"dataset": name, "checkpoint": ckpt, "images": preds})
			}
			for _, p := range preds {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, %s\n", p.Image, p.Labels, p.Overlay)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train segment")
	f.StringVar(&name, "dataset", "", "the dataset whose label set (and batch norms) to predict with")
	f.StringVar(&out, "out", "", "write the label PNGs and overlays into this folder")
	f.StringVar(&inference, "inference", "whole", "whole or slide")
	intFlag(f, &crop, "crop", 256, 16, segment.MaxCrop, "side of the sliding windows")
	intFlag(f, &stride, "stride", 170, 1, segment.MaxCrop, "stride of the sliding windows")
	intFlag(f, &scale, "scale", 0, 0, segment.MaxCrop, "resize the images so that their longer side is this (0: their own size); predictions are at the image's size")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("dataset")
	cmd.MarkFlagRequired("out")
	return cmd
}

// overlay returns img with each pixel's class colour mixed in at half
// strength.
func overlay(img *imageio.Image, m *imageio.Mask) *imageio.Image {
	o := img.Clone()
	n := img.H * img.W
	for i, v := range m.Pix {
		col := grid.Color(int(v))
		for c := range 3 {
			o.Pix[c*n+i] = 0.5*o.Pix[c*n+i] + 0.5*col[c]
		}
	}
	return o
}
