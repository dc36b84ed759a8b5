package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"argus/data/dataset"
	"argus/data/grid"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/internal/atomicfile"
	"argus/nn"
	"argus/tasks/finegrained"
)

// explainImage is one image's explanation in the JSON of argus explain.
type explainImage struct {
	Image string `json:"image"`
	PNG   string `json:"png"`
	// Patches are the GLCA-selected patches as (row, column) of the grid,
	// highest rollout first (empty without GLCA).
	Patches [][2]int `json:"patches"`
	Top     string   `json:"top"`
	Score   float64  `json:"score"`
}

// explainReport is the JSON printed by `argus explain --json`.
type explainReport struct {
	Checkpoint string         `json:"checkpoint"`
	Out        string         `json:"out"`
	Grid       [2]int         `json:"grid"`
	Images     []explainImage `json:"images"`
}

func newExplainCmd() *cobra.Command {
	var ckpt, out string
	var workers int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "explain --checkpoint C --out DIR IMAGE...",
		Short: "Write attention-rollout heatmaps with the GLCA-selected patches outlined",
		Long: `For each IMAGE, runs a checkpoint of argus train finegrained on the image's
evaluation view (the shorter side resized to size/crop_fraction, the centre
crop) and writes DIR/NAME.png: the view with the class row of the attention
rollout over the patches as a heatmap (heads averaged, 0.5·A + 0.5·I, the
product over the blocks), and the patches whose queries GLCA selects
outlined. The report gives each image's PNG, its selected patches and its
top class. DIR is created if needed; each PNG is written atomically.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return fmt.Errorf("no images to explain")
			}
			m, cfg, f, err := loadFinegrained(ckpt)
			if err != nil {
				return err
			}
			names, err := classNames(ckpt, f.Metadata[finegrained.MetaClassNames], m.ViT.Config.Classes)
			if err != nil {
				return err
			}
			pngs := map[string]string{}
			for _, a := range args {
				png := filepath.Join(out, strings.TrimSuffix(filepath.Base(a), filepath.Ext(a))+".png")
				if prev, dup := pngs[png]; dup {
					return fmt.Errorf("%s and %s would both write %s", prev, a, png)
				}
				pngs[png] = a
			}
			if err := os.MkdirAll(out, 0o755); err != nil {
				return fmt.Errorf("create --out: %w", err)
			}
			set := &dataset.Set{Transform: cfg.EvalTransform()}
			for _, a := range args {
				set.Items = append(set.Items, dataset.Item{Path: a})
			}
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			gh, gw, patch := m.ViT.Config.GridH, m.ViT.Config.GridW, m.ViT.Config.Patch
			rep := explainReport{Checkpoint: ckpt, Out: out, Grid: [2]int{gh, gw}}
			nn.Train(m, false)
			err = finegrained.Predict(ctx, m, set, 8, workers, false, func(b *loader.Images, p finegrained.Prediction) error {
				for i, path := range b.Paths {
					view, err := imageio.FromTensor(b.X, i, imageio.ImageNetMean, imageio.ImageNetStd)
					if err != nil {
						return err
					}
					heat := p.Rollout.Data()[i*gh*gw : (i+1)*gh*gw]
					e := explainImage{Image: path, Patches: [][2]int{}}
					var boxes [][4]float32
					if p.Queries != nil {
						for _, t := range p.Queries[i][1:] {
							r, c := (t-1)/gw, (t-1)%gw
							e.Patches = append(e.Patches, [2]int{r, c})
							boxes = append(boxes, [4]float32{float32(c * patch), float32(r * patch), float32((c + 1) * patch), float32((r + 1) * patch)})
						}
					}
					img := grid.Render(&transform.Sample{Image: heatmap(view, heat, gh, gw, patch), Boxes: boxes, BoxLabels: make([]int, len(boxes))})
					top := topClasses(p.P[i*p.Classes:(i+1)*p.Classes], names, 1)[0]
					e.Top, e.Score = top.Class, top.Score
					e.PNG = filepath.Join(out, strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))+".png")
					if err := atomicfile.Write(e.PNG, func(w io.Writer) error { return imageio.Encode(w, ".png", imageio.ToNRGBA(img)) }); err != nil {
						return err
					}
					rep.Images = append(rep.Images, e)
				}
				return nil
			})
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			for _, e := range rep.Images {
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s (%.3f), %d patches outlined; wrote %s\n", e.Image, e.Top, e.Score, len(e.Patches), e.PNG)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train finegrained")
	f.StringVar(&out, "out", "", "write one PNG per image into this folder")
	intFlag(f, &workers, "workers", 0, 0, 1<<10, "goroutines decoding images (0: one per CPU)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object with the results")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("out")
	return cmd
}

// heatmap returns the RGB view (values in [0, 1]) half blended with a
// colour map of the patch values heat (gh×gw, scaled to their range), each
// patch a patch×patch square.
func heatmap(view *imageio.Image, heat []float32, gh, gw, patch int) *imageio.Image {
	lo, hi := heat[0], heat[0]
	for _, v := range heat {
		lo, hi = min(lo, v), max(hi, v)
	}
	m := imageio.NewImage(3, view.H, view.W)
	n := view.H * view.W
	for y := 0; y < view.H; y++ {
		for x := 0; x < view.W; x++ {
			var h float32
			if r, c := y/patch, x/patch; r < gh && c < gw && hi > lo {
				h = (heat[r*gw+c] - lo) / (hi - lo)
			}
			col := [3]float32{min(1.5*h, 1), min(max(1.5*h-0.5, 0), 1), max(0.6-h, 0)}
			for c := 0; c < 3; c++ {
				v := view.Pix[min(c, view.C-1)*n+y*view.W+x]
				m.Pix[c*n+y*view.W+x] = 0.5*min(max(v, 0), 1) + 0.5*col[c]
			}
		}
	}
	return m
}
