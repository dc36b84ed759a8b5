// Package plot draws a study's optimisation history and parameter
// importance as PNG images.
package plot

import (
	"fmt"
	"image/color"
	"io"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"argus/hpo"
	"argus/internal/atomicfile"
)

// History draws the objective of each COMPLETE trial against its number and
// the best value so far as a step line, and writes it to path as a PNG,
// atomically.
func History(path string, info hpo.StudyInfo, trials []hpo.Trial) error {
	p := plot.New()
	p.Title.Text = "Optimisation history: " + info.Name
	p.X.Label.Text = "trial"
	p.Y.Label.Text = "objective"
	var pts plotter.XYs
	for _, t := range trials {
		if complete(t) {
			pts = append(pts, plotter.XY{X: float64(t.Number), Y: *t.Value})
		}
	}
	if len(pts) == 0 {
		return fmt.Errorf("study %s: no complete trial to plot", info.Name)
	}
	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return err
	}
	sc.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	line, err := plotter.NewLine(BestSoFar(info.Direction, trials))
	if err != nil {
		return err
	}
	line.Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	line.Width = vg.Points(1.5)
	p.Add(sc, line, plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.Add("objective", sc)
	p.Legend.Add("best so far", line)
	return save(p, path)
}

// complete reports whether a trial counts for the history: COMPLETE,
// with a value, feasible.
func complete(t hpo.Trial) bool {
	return t.State == hpo.Complete && t.Value != nil && t.Feasible()
}

// BestSoFar returns the vertices of the best-so-far step line of the
// trials that count (COMPLETE, feasible): the best value holds flat from
// one such trial to the next and drops (or rises, maximising) straight
// down (up) at the trial that improves it, so every segment is horizontal
// or vertical.
func BestSoFar(dir hpo.Direction, trials []hpo.Trial) plotter.XYs {
	var best plotter.XYs
	cur, have := 0.0, false
	for _, t := range trials {
		if !complete(t) {
			continue
		}
		x, v := float64(t.Number), *t.Value
		if have {
			// Flat to this trial at the old best.
			best = append(best, plotter.XY{X: x, Y: cur})
		}
		if !have || (dir == hpo.Maximize && v > cur) || (dir != hpo.Maximize && v < cur) {
			cur, have = v, true
			if len(best) == 0 || best[len(best)-1].Y != cur {
				best = append(best, plotter.XY{X: x, Y: cur})
			}
		}
	}
	return best
}

// Importance draws the parameter importances (hpo.Importance) as a bar
// chart and writes it to path as a PNG, atomically.
func Importance(path string, info hpo.StudyInfo, trials []hpo.Trial) error {
	imp := hpo.Importance(info.Space, trials)
	names := make([]string, 0, len(imp))
	for n := range imp {
		names = append(names, n)
	}
	sort.Slice(names, func(a, b int) bool {
		if imp[names[a]] != imp[names[b]] {
			return imp[names[a]] > imp[names[b]]
		}
		return names[a] < names[b]
	})
	vals := make(plotter.Values, len(names))
	for i, n := range names {
		vals[i] = imp[n]
	}
	p := plot.New()
	p.Title.Text = "Parameter importance: " + info.Name
	p.Y.Label.Text = "share of objective variance"
	bars, err := plotter.NewBarChart(vals, vg.Points(24))
	if err != nil {
		return err
	}
	bars.Color = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	p.Add(bars)
	p.NominalX(names...)
	return save(p, path)
}

// save renders p at 8×5 inches as a PNG and writes it to path atomically.
func save(p *plot.Plot, path string) error {
	wt, err := p.WriterTo(8*vg.Inch, 5*vg.Inch, "png")
	if err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return atomicfile.Write(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}
