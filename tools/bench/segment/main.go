// Command segment-bench writes seeded synthetic label maps at Cityscapes'
// size (512×1024, 19 classes and the ignore label 255) as prediction and
// ground-truth PNG folders, and times segmetric's accumulation on the maps
// held in memory, on one goroutine and on all cores:
//
//	go run ./tools/bench/segment -dir /tmp/segbench [-n 300]
//
// The same folders are then evaluated end to end (decode and metrics) by
// `argus eval segment` and by the numpy reference (reference.py); run.sh
// does all three.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"argus/data/imageio"
	"argus/internal/cputime"
	"argus/internal/par"
	"argus/segmetric"
)

const (
	width, height = 1024, 512
	numClasses    = 19
)

func main() {
	dir := flag.String("dir", "", "write the prediction and ground-truth folders here (required)")
	n := flag.Int("n", 300, "number of image pairs")
	repeats := flag.Int("repeats", 3, "timing repeats (each is reported)")
	flag.Parse()
	if err := run(*dir, *n, *repeats); err != nil {
		fmt.Fprintln(os.Stderr, "segment-bench:", err)
		os.Exit(1)
	}
}

type report struct {
	GOMAXPROCS int `json:"gomaxprocs"`
	Images     int `json:"images"`
	Width      int `json:"width"`
	Height     int `json:"height"`
	// Seconds and CPU seconds of accumulating all maps held in memory.
	SerialSeconds      []float64 `json:"serial_seconds"`
	SerialCPUSeconds   []float64 `json:"serial_cpu_seconds"`
	ParallelSeconds    []float64 `json:"parallel_seconds"`
	ParallelCPUSeconds []float64 `json:"parallel_cpu_seconds"`
	MIoU               float64   `json:"mIoU"`
	AAcc               float64   `json:"aAcc"`
}

func run(dir string, n, repeats int) error {
	if dir == "" || n < 1 {
		return fmt.Errorf("need -dir and -n >= 1")
	}
	preds, gts := make([][]uint8, n), make([][]uint8, n)
	errs := make([]error, n)
	par.For(n, 1, func(i int) {
		p, g := scene(uint64(i))
		preds[i], gts[i] = p, g
		name := fmt.Sprintf("frankfurt_%06d.png", i)
		for _, side := range []struct {
			sub string
			pix []uint8
		}{{"pred", p}, {"gt", g}} {
			path := filepath.Join(dir, side.sub, name)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				errs[i] = err
				return
			}
			img := &image.Gray{Pix: side.pix, Stride: width, Rect: image.Rect(0, 0, width, height)}
			if err := imageio.WriteFile(path, img); err != nil {
				errs[i] = err
				return
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	rep := report{GOMAXPROCS: runtime.GOMAXPROCS(0), Images: n, Width: width, Height: height}
	for range repeats {
		start, cpu := time.Now(), cputime.Seconds()
		a, _ := segmetric.New(segmetric.DefaultOptions(numClasses))
		for i := range n {
			if err := a.Add(preds[i], gts[i], width, height); err != nil {
				return err
			}
		}
		rep.SerialSeconds = append(rep.SerialSeconds, time.Since(start).Seconds())
		rep.SerialCPUSeconds = append(rep.SerialCPUSeconds, cputime.Seconds()-cpu)
		m := a.Metrics()
		rep.MIoU, rep.AAcc = m.MIoU, m.AAcc

		start, cpu = time.Now(), cputime.Seconds()
		k := par.NumWorkers(n, 0)
		accs := make([]*segmetric.Accumulator, k)
		par.Workers(n, k, func(w, lo, hi int) {
			accs[w], _ = segmetric.New(segmetric.DefaultOptions(numClasses))
			for i := lo; i < hi; i++ {
				accs[w].Add(preds[i], gts[i], width, height)
			}
		})
		total, _ := segmetric.New(segmetric.DefaultOptions(numClasses))
		for _, acc := range accs {
			total.Merge(acc)
		}
		rep.ParallelSeconds = append(rep.ParallelSeconds, time.Since(start).Seconds())
		rep.ParallelCPUSeconds = append(rep.ParallelCPUSeconds, cputime.Seconds()-cpu)
		if got := total.Metrics().MIoU; got != rep.MIoU {
			return fmt.Errorf("parallel mIoU %v, serial %v", got, rep.MIoU)
		}
	}
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// scene draws one seeded street-like ground truth (horizontal bands of
// sky, buildings and road, rectangles of objects, an ignored border) and a
// prediction that gets most pixels right: object boxes shifted, some
// regions confused with another class, and a little salt noise.
func scene(seed uint64) (pred, gt []uint8) {
	rng := rand.New(rand.NewPCG(seed, 0x5e9))
	gt = make([]uint8, width*height)
	pred = make([]uint8, width*height)
	fill := func(m []uint8, x0, y0, x1, y1 int, v uint8) {
		x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
		for y := y0; y < y1; y++ {
			row := m[y*width : (y+1)*width]
			for x := x0; x < x1; x++ {
				row[x] = v
			}
		}
	}
	horizon := height/3 + rng.IntN(height/6)
	bands := []struct {
		y0, y1 int
		v      uint8
	}{{0, horizon / 2, 10}, {horizon / 2, horizon, 2}, {horizon, height * 3 / 4, 0}, {height * 3 / 4, height, 1}}
	for _, b := range bands {
		fill(gt, 0, b.y0, width, b.y1, b.v)
		fill(pred, 0, b.y0+rng.IntN(9)-4, width, b.y1+rng.IntN(9)-4, b.v)
	}
	for range 20 + rng.IntN(30) {
		w, h := 10+rng.IntN(150), 10+rng.IntN(120)
		x, y := rng.IntN(width), horizon-h/2+rng.IntN(height-horizon)
		v := uint8(3 + rng.IntN(numClasses-3))
		fill(gt, x, y, x+w, y+h, v)
		pv := v
		if rng.IntN(5) == 0 {
			pv = uint8(rng.IntN(numClasses))
		}
		fill(pred, x+rng.IntN(11)-5, y+rng.IntN(11)-5, x+w+rng.IntN(11)-5, y+h+rng.IntN(11)-5, pv)
	}
	fill(gt, 0, height-20, width, height, 255)
	for range width * height / 50 {
		pred[rng.IntN(len(pred))] = uint8(rng.IntN(numClasses))
	}
	return pred, gt
}
