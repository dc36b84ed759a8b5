package train

import (
	"os"
	"path/filepath"
	"testing"
)

// TestPlotKeepsEndPoints: both panels' axes reach past the first and the
// last points, so that the last epoch's point is drawn whole rather than
// cut by the plot's edge.
func TestPlotKeepsEndPoints(t *testing.T) {
	recs := []Record{
		{Kind: "train", Epoch: 1, Step: 10, Loss: 2},
		{Kind: "train", Epoch: 1, Step: 20, Loss: 1},
		{Kind: "eval", Epoch: 1, Step: 20, Loss: 1.5, Metrics: map[string]Float{"test_loss": 1.2, "accuracy": 0.5}},
		{Kind: "train", Epoch: 2, Step: 30, Loss: 0.5},
		{Kind: "eval", Epoch: 2, Step: 40, Loss: 0.4, Metrics: map[string]Float{"test_loss": 0.3, "accuracy": 0.9}},
	}
	lossPlot, evalPlot, err := plots(recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name                   string
		min, max, ymin, ymax   float64
		xmin, xmax, ylo, yhigh float64
	}{
		{"loss", lossPlot.X.Min, lossPlot.X.Max, lossPlot.Y.Min, lossPlot.Y.Max, 10, 40, 0.3, 2},
		{"evaluation", evalPlot.X.Min, evalPlot.X.Max, evalPlot.Y.Min, evalPlot.Y.Max, 1, 2, 0.5, 0.9},
	} {
		if !(c.min < c.xmin && c.max > c.xmax && c.ymin < c.ylo && c.ymax > c.yhigh) {
			t.Errorf("%s panel: x [%g, %g], y [%g, %g] do not strictly contain the data's x [%g, %g], y [%g, %g]",
				c.name, c.min, c.max, c.ymin, c.ymax, c.xmin, c.xmax, c.ylo, c.yhigh)
		}
	}
	// One point only: the axes still have a width.
	one, _, err := plots(recs[:1])
	if err != nil || !(one.X.Min < 10 && one.X.Max > 10 && one.Y.Min < 2 && one.Y.Max > 2) {
		t.Errorf("one point: x [%g, %g], y [%g, %g], %v", one.X.Min, one.X.Max, one.Y.Min, one.Y.Max, err)
	}
	path := filepath.Join(t.TempDir(), PlotName)
	if err := Plot(path, recs); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
		t.Errorf("no plot written: %v", err)
	}
}
