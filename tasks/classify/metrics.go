package classify

import (
	"bufio"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// WriteMetrics writes records to path as JSON lines, atomically.
func WriteMetrics(path string, recs []Record) error {
	return writeAtomic(path, func(w io.Writer) error {
		enc := json.NewEncoder(w)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	})
}

// Plot draws the training and test loss against steps and the test accuracy
// against epochs, side by side, into a PNG file at path.
func Plot(path string, recs []Record) error {
	var train, test, acc plotter.XYs
	for _, r := range recs {
		switch r.Kind {
		case "train":
			train = append(train, plotter.XY{X: float64(r.Step), Y: r.Loss})
		case "eval":
			test = append(test, plotter.XY{X: float64(r.Step), Y: r.TestLoss})
			acc = append(acc, plotter.XY{X: float64(r.Epoch), Y: 100 * r.TestAccuracy})
		}
	}
	lossPlot := plot.New()
	lossPlot.Title.Text = "Loss"
	lossPlot.X.Label.Text = "step"
	lossPlot.Y.Label.Text = "cross-entropy"
	lossPlot.Legend.Top = true
	lossPlot.Add(plotter.NewGrid())
	if len(train) > 0 {
		l, err := plotter.NewLine(train)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		l.Color = color.RGBA{B: 200, A: 255}
		lossPlot.Add(l)
		lossPlot.Legend.Add("train", l)
	}
	if len(test) > 0 {
		l, pts, err := plotter.NewLinePoints(test)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		l.Color = color.RGBA{R: 200, A: 255}
		pts.Color = l.Color
		lossPlot.Add(l, pts)
		lossPlot.Legend.Add("test", l, pts)
	}
	accPlot := plot.New()
	accPlot.Title.Text = "Test accuracy"
	accPlot.X.Label.Text = "epoch"
	accPlot.Y.Label.Text = "%"
	accPlot.Add(plotter.NewGrid())
	if len(acc) > 0 {
		l, pts, err := plotter.NewLinePoints(acc)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		accPlot.Add(l, pts)
	}
	img := vgimg.New(12*vg.Inch, 4.5*vg.Inch)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 4}
	lossPlot.Draw(tiles.At(dc, 0, 0))
	accPlot.Draw(tiles.At(dc, 1, 0))
	return writeAtomic(path, func(w io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
		return err
	})
}

// writeAtomic writes a file through a temporary file in the same directory
// and renames it into place, so readers never see a partial file.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriter(tmp)
	if err = write(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = bw.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// CreateTemp makes the file private; give it the usual permissions.
	if err = os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
