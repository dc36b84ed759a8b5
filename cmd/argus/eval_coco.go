package main

import (
	"bytes"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"argus/coco"
	"argus/data/cocofile"
	"argus/internal/atomicfile"
)

// cocoCategory is one row of the per-category table.
type cocoCategory struct {
	ID   int64   `json:"id"`
	Name string  `json:"name"`
	AP   float64 `json:"AP"`
}

// cocoReport is the JSON printed by `argus eval coco --json`.
type cocoReport struct {
	coco.Summary
	PerCategory []cocoCategory `json:"per_category"`
}

// newEvalCOCOCmd builds argus eval coco.
func newEvalCOCOCmd() *cobra.Command {
	var gtPath, dtPath, plotPath string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "coco --gt GT.json --dt DT.json",
		Short: "COCO box AP of a results file, as pycocotools computes it",
		Long: `Evaluates a COCO results file against a COCO instances file exactly as
pycocotools' COCOeval (iouType "bbox") does, and prints the 12 summary numbers
and the AP of each category. With --plot it also draws the precision-recall
curves (mean over categories, one per IoU threshold).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkNotInput(namedPath{"--plot", plotPath}, namedPath{"the --gt file", gtPath}, namedPath{"the --dt file", dtPath}); err != nil {
				return err
			}
			start := time.Now()
			// The two files parse on two cores.
			var gt *cocofile.Dataset
			var gtErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				gt, gtErr = cocofile.ReadDatasetFile(gtPath)
			}()
			dt, dtErr := cocofile.ReadResultsFile(dtPath)
			<-done
			if gtErr != nil {
				return gtErr
			}
			if dtErr != nil {
				return dtErr
			}
			e, err := coco.Evaluate(gt, dt)
			if err != nil {
				return fmt.Errorf("evaluate %s: %w", dtPath, err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "evaluated %d detections on %d images, %d categories in %.2fs\n",
				len(dt), len(gt.Images), len(e.CategoryIDs), time.Since(start).Seconds())
			if plotPath != "" {
				if err := plotPR(e, plotPath); err != nil {
					return err
				}
			}
			rep := cocoReport{Summary: e.Summary()}
			names := make(map[int64]string, len(gt.Categories))
			for _, c := range gt.Categories {
				names[c.ID] = c.Name
			}
			for k, id := range e.CategoryIDs {
				rep.PerCategory = append(rep.PerCategory, cocoCategory{ID: id, Name: names[id], AP: e.CategoryAP(k)})
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			return writeCOCOText(cmd.OutOrStdout(), e, rep)
		},
	}
	cmd.Flags().StringVar(&gtPath, "gt", "", "ground truth: COCO instances JSON")
	cmd.Flags().StringVar(&dtPath, "dt", "", "detections: COCO results JSON")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.Flags().StringVar(&plotPath, "plot", "", "write precision-recall curves to this PNG file")
	cmd.MarkFlagRequired("gt")
	cmd.MarkFlagRequired("dt")
	return cmd
}

// cocoBench is the JSON printed by `argus bench coco --json`.
type cocoBench struct {
	Images       int     `json:"images"`
	Detections   int     `json:"detections"`
	Categories   int     `json:"categories"`
	Workers      int     `json:"workers"`
	ParseSeconds float64 `json:"parse_seconds"`
	EvalSeconds  float64 `json:"eval_seconds"`
	TotalSeconds float64 `json:"total_seconds"`
	AP           float64 `json:"AP"`
}

// maxBenchDetections bounds the detections argus bench coco generates (ten
// times the default), which it holds in memory as structs and as JSON.
const maxBenchDetections = 5000000

// newBenchCOCOCmd builds argus bench coco, which times the evaluation of
// seeded synthetic data: parsing both files from memory, then evaluating, as
// argus eval coco does.
func newBenchCOCOCmd() *cobra.Command {
	var images, dets, cats int
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "coco",
		Short: "Time the COCO box evaluation on seeded synthetic data",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if n := int64(images) * int64(dets); n > maxBenchDetections {
				return fmt.Errorf("--images %d x --dets %d is %d detections, more than the %d this benchmark holds in memory", images, dets, n, maxBenchDetections)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "generating %d images x %d detections x %d categories\n", images, dets, cats)
			gt, dt := cocofile.Synthetic(seed, images, dets, cats)
			var gtBuf, dtBuf bytes.Buffer
			if err := cocofile.WriteDataset(&gtBuf, gt); err != nil {
				return err
			}
			if err := cocofile.WriteResults(&dtBuf, dt); err != nil {
				return err
			}
			start := time.Now()
			var gt2 *cocofile.Dataset
			var gtErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				gt2, gtErr = cocofile.ReadDataset(&gtBuf)
			}()
			dt2, err := cocofile.ReadResults(&dtBuf)
			<-done
			if err != nil {
				return err
			}
			if gtErr != nil {
				return gtErr
			}
			parsed := time.Now()
			e, err := coco.Evaluate(gt2, dt2)
			if err != nil {
				return err
			}
			end := time.Now()
			res := cocoBench{Images: images, Detections: len(dt2), Categories: cats, Workers: runtime.GOMAXPROCS(0),
				ParseSeconds: parsed.Sub(start).Seconds(), EvalSeconds: end.Sub(parsed).Seconds(),
				TotalSeconds: end.Sub(start).Seconds(), AP: e.Summary().AP}
			if asJSON {
				return printJSON(cmd, res)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "%d images, %d detections, %d categories on %d cores: parse %.3fs, evaluate %.3fs, total %.3fs (AP %.4f)\n",
				res.Images, res.Detections, res.Categories, res.Workers, res.ParseSeconds, res.EvalSeconds, res.TotalSeconds, res.AP)
			return err
		},
	}
	intFlag(cmd.Flags(), &images, "images", 5000, 1, 200000, "number of images")
	intFlag(cmd.Flags(), &dets, "dets", 100, 0, 1000, "detections per image")
	intFlag(cmd.Flags(), &cats, "cats", 80, 1, 10000, "number of categories")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "random seed of the synthetic data")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	return cmd
}

// writeCOCOText prints pycocotools' 12-line summary and a per-category table.
func writeCOCOText(w io.Writer, e *coco.Eval, rep cocoReport) error {
	if err := e.WriteSummary(w); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "id\tcategory\tAP\t")
	for _, c := range rep.PerCategory {
		ap := "-"
		if c.AP > -1 {
			ap = fmt.Sprintf("%.3f", c.AP)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t\n", c.ID, c.Name, ap)
	}
	return tw.Flush()
}

// plotPR draws the mean precision-recall curve at each IoU threshold and
// writes it as a PNG, atomically.
func plotPR(e *coco.Eval, name string) error {
	if !strings.EqualFold(filepath.Ext(name), ".png") {
		return fmt.Errorf("plot %s: the file name must end in .png", name)
	}
	p, leg, err := prPlot(e)
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	c, err := draw.NewFormattedCanvas(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", name, err)
	}
	prLayout(p, leg, draw.New(c))
	return atomicfile.Write(name, func(w io.Writer) error {
		_, err := c.WriteTo(w)
		return err
	})
}

// prPlot builds the precision-recall plot and its legend, one entry per
// IoU threshold.
func prPlot(e *coco.Eval) (*plot.Plot, plot.Legend, error) {
	p := plot.New()
	p.Title.Text = "Precision-recall (area all, maxDets 100)"
	p.X.Label.Text = "recall"
	p.Y.Label.Text = "precision"
	p.X.Min, p.X.Max = 0, 1
	p.Y.Min, p.Y.Max = 0, 1.01
	p.Add(plotter.NewGrid())
	leg := plot.NewLegend()
	leg.Top = true
	rec := e.Params.RecallThresholds
	for t, thr := range e.Params.IoUThresholds {
		pr := e.PRCurve(t, -1)
		pts := make(plotter.XYs, 0, len(rec))
		for r, x := range rec {
			if pr[r] >= 0 {
				pts = append(pts, plotter.XY{X: x, Y: pr[r]})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, err := plotter.NewLine(pts)
		if err != nil {
			return nil, leg, err
		}
		l.Color = plotutil.Color(t)
		l.Dashes = plotutil.Dashes(t / 7)
		l.Width = vg.Points(1.2)
		p.Add(l)
		leg.Add(fmt.Sprintf("IoU=%.2f", thr), l)
	}
	return p, leg, nil
}

// prLayout draws the plot on c with its legend in a column to the right
// of the axes, outside the data area: ten curves fill every corner of it
// somewhere, so a legend inside would hide some. It returns the data area
// and the legend's box.
func prLayout(p *plot.Plot, leg plot.Legend, c draw.Canvas) (data, legend vg.Rectangle) {
	pad := vg.Points(6)
	lw := leg.Rectangle(c).Size().X + 2*pad
	plotC := draw.Crop(c, 0, -lw, 0, 0)
	legC := draw.Crop(c, c.Size().X-lw+pad, -pad, 0, -pad)
	p.Draw(plotC)
	leg.Draw(legC)
	return p.DataCanvas(plotC).Rectangle, leg.Rectangle(legC)
}
