package train

import (
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"argus/internal/atomicfile"
)

// Float is a float64 that encodes as JSON null when it is NaN or infinite,
// which JSON cannot hold, so that a report of a diverged run is still one
// valid JSON object. Null decodes as NaN.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(v)
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *Float) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*f = Float(math.NaN())
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Record is one line of metrics.jsonl.
//
// A "train" record holds the mean of the last LogEvery optimiser steps (or
// fewer, at the end of an epoch): Loss is the total loss, Terms each named
// term of it. An "eval" record closes an epoch: Loss and Terms are the
// epoch's means, Metrics what the task's evaluation returned (absent in
// epochs that EvalEvery skips).
type Record struct {
	Kind    string           `json:"kind"`
	Epoch   int              `json:"epoch"`
	Step    int              `json:"step"`
	LR      Float            `json:"lr,omitempty"`
	Loss    Float            `json:"loss"`
	Terms   map[string]Float `json:"terms,omitempty"`
	Metrics map[string]Float `json:"metrics,omitempty"`
	// Seconds is the training time (evaluation excluded) accumulated over
	// all sessions of the run, at the end of an epoch.
	Seconds Float `json:"seconds,omitempty"`
}

// WriteMetrics writes records to path as JSON lines, atomically.
func WriteMetrics(path string, recs []Record) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Plot draws into a PNG file at path, side by side, the training loss and
// the evaluation metrics named "...loss" against steps, and the other
// evaluation metrics against epochs. Non-finite values are left out.
func Plot(path string, recs []Record) error {
	lossPlot, evalPlot, err := plots(recs)
	if err != nil {
		return err
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	lossPlot.Draw(tiles.At(dc, 0, 0))
	evalPlot.Draw(tiles.At(dc, 1, 0))
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// margin is the fraction of an axis's data range added at each end, so
// that the points at the ends (the last epoch's, above all) are drawn
// whole inside the plot instead of cut by its edge.
const margin = 0.05

// padAxes widens both axes of p by margin at each end.
func padAxes(p *plot.Plot) {
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		d := a.Max - a.Min
		if d <= 0 || math.IsNaN(d) || math.IsInf(d, 0) {
			d = math.Max(math.Abs(a.Max), 1)
		}
		a.Min -= margin * d
		a.Max += margin * d
	}
}

// plots builds Plot's two panels.
func plots(recs []Record) (lossPlot, evalPlot *plot.Plot, err error) {
	var train plotter.XYs
	lossCurves, otherCurves := map[string]plotter.XYs{}, map[string]plotter.XYs{}
	finite := func(v Float) bool { return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) }
	for _, r := range recs {
		switch r.Kind {
		case "train":
			if finite(r.Loss) {
				train = append(train, plotter.XY{X: float64(r.Step), Y: float64(r.Loss)})
			}
		case "eval":
			for name, v := range r.Metrics {
				if !finite(v) {
					continue
				}
				if strings.Contains(name, "loss") {
					lossCurves[name] = append(lossCurves[name], plotter.XY{X: float64(r.Step), Y: float64(v)})
				} else {
					otherCurves[name] = append(otherCurves[name], plotter.XY{X: float64(r.Epoch), Y: float64(v)})
				}
			}
		}
	}
	lossPlot = plot.New()
	lossPlot.Title.Text = "Loss"
	lossPlot.X.Label.Text = "step"
	lossPlot.Legend.Top = true
	lossPlot.Add(plotter.NewGrid())
	if len(train) > 0 {
		l, err := plotter.NewLine(train)
		if err != nil {
			return nil, nil, fmt.Errorf("plot: %w", err)
		}
		l.Color = color.RGBA{B: 200, A: 255}
		lossPlot.Add(l)
		lossPlot.Legend.Add("train", l)
	}
	if err := addCurves(lossPlot, lossCurves, 1); err != nil {
		return nil, nil, err
	}
	evalPlot = plot.New()
	evalPlot.Title.Text = "Evaluation"
	evalPlot.X.Label.Text = "epoch"
	evalPlot.Legend.Top = true
	evalPlot.Add(plotter.NewGrid())
	if err := addCurves(evalPlot, otherCurves, 0); err != nil {
		return nil, nil, err
	}
	if len(train) > 0 || len(lossCurves) > 0 {
		padAxes(lossPlot)
	}
	if len(otherCurves) > 0 {
		padAxes(evalPlot)
	}
	return lossPlot, evalPlot, nil
}

// addCurves adds one line with points per named curve, in name order,
// colours starting at plotutil's colour number first.
func addCurves(p *plot.Plot, curves map[string]plotter.XYs, first int) error {
	names := make([]string, 0, len(curves))
	for n := range curves {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		l, pts, err := plotter.NewLinePoints(curves[n])
		if err != nil {
			return fmt.Errorf("plot %s: %w", n, err)
		}
		l.Color = plotutil.Color(first + i)
		pts.Color = l.Color
		p.Add(l, pts)
		p.Legend.Add(n, l, pts)
	}
	return nil
}
