// Command roialign-bench times RoIAlign forward and backward on Sparse
// R-CNN's workloads: a batch of images' FPN maps P2–P5 (256 channels), a
// set of boxes per image, 7×7 bins with 2×2 samples, aligned. It times the
// single-level kernel (every box on P2) and the multi-level pooler (each
// box on its level by the scaled canonical size), and prints one JSON
// object per workload; roialign_reference.py times torchvision's CPU
// kernel on the same boxes, and roialign.sh runs both:
//
//	go run ./tools/bench/detection/roialign [-reps 10]
//
// The boxes come from a hash formula that the reference reproduces, so
// both time the same boxes at the same levels.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"time"

	"argus/autograd"
	"argus/internal/cputime"
	"argus/tensor"
)

// workload is one benchmark configuration.
type workload struct {
	Name     string `json:"name"`
	Images   int    `json:"images"`
	Size     int    `json:"size"`
	Boxes    int    `json:"boxes_per_image"`
	Channels int    `json:"channels"`
	Pyramid  bool   `json:"pyramid"`
}

var workloads = []workload{
	{"P2 only, 256px, 2x100 boxes", 2, 256, 100, 256, false},
	{"P2-P5, 256px, 2x100 boxes", 2, 256, 100, 256, true},
	{"P2-P5, 512px, 2x300 boxes", 2, 512, 300, 256, true},
}

type result struct {
	workload
	GOMAXPROCS int   `json:"gomaxprocs"`
	Levels     []int `json:"boxes_per_level"`
	// Wall and CPU (user + system) milliseconds of each repetition.
	Forward     []float64 `json:"forward_ms"`
	Backward    []float64 `json:"backward_ms"`
	CPUForward  []float64 `json:"cpu_forward_ms"`
	CPUBackward []float64 `json:"cpu_backward_ms"`
}

// hashUniform is u in [0, 1) from ((i·2654435761 + seed·40503 + 12345) mod
// 2³²)/2³², the formula of the reference script.
func hashUniform(i, seed int) float64 {
	k := (uint64(i)*2654435761 + uint64(seed*40503+12345)) % (1 << 32)
	return float64(k) / (1 << 32)
}

// boxes returns n xyxy boxes in a size×size image: centres uniform, sides
// from 8 pixels to the image size, log-uniform, so that every level gets
// boxes.
func boxes(n, size int) *tensor.Tensor {
	b := tensor.Zeros(n, 4)
	d := b.Data()
	for i := range n {
		cx, cy := hashUniform(i, 1)*float64(size), hashUniform(i, 2)*float64(size)
		w := 8 * math.Pow(float64(size)/8, hashUniform(i, 3))
		h := 8 * math.Pow(float64(size)/8, hashUniform(i, 4))
		d[4*i], d[4*i+1] = float32(cx-w/2), float32(cy-h/2)
		d[4*i+2], d[4*i+3] = float32(cx+w/2), float32(cy+h/2)
	}
	return b
}

func main() {
	reps := flag.Int("reps", 10, "timed repetitions per workload")
	flag.Parse()
	enc := json.NewEncoder(os.Stdout)
	for _, w := range workloads {
		r := run(w, *reps)
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(os.Stderr, "roialign-bench:", err)
			os.Exit(1)
		}
	}
}

func run(w workload, reps int) result {
	rng := tensor.NewRNG(1)
	n := w.Images * w.Boxes
	bx := boxes(n, w.Size)
	batch := make([]int, n)
	for i := range batch {
		batch[i] = i / w.Boxes
	}
	levels := 1
	if w.Pyramid {
		levels = 4
	}
	var feats []*autograd.Var
	for l := range levels {
		s := w.Size >> (2 + l)
		feats = append(feats, autograd.Param(rng.Normal(0, 1, w.Images, w.Channels, s, s)))
	}
	opt := autograd.PoolerOptions{
		RoIAlignOptions: autograd.RoIAlignOptions{OutputSize: [2]int{7, 7}, SamplingRatio: 2, Aligned: true},
		MinLevel:        2, CanonicalLevel: 4, CanonicalSize: autograd.ScaledCanonical(w.Size, w.Size), Eps: 1e-6,
	}
	r := result{workload: w, GOMAXPROCS: runtime.GOMAXPROCS(0), Levels: make([]int, levels)}
	for _, l := range autograd.PoolerLevels(bx, levels, opt) {
		r.Levels[l]++
	}
	grad := rng.Normal(0, 1, n, w.Channels, 7, 7)
	step := func(record bool) {
		for _, f := range feats {
			f.ZeroGrad()
		}
		t0, c0 := time.Now(), cputime.Seconds()
		y := autograd.MultiLevelRoIAlign(feats, bx, batch, opt)
		t1, c1 := time.Now(), cputime.Seconds()
		y.Backward(autograd.WithGrad(grad))
		t2, c2 := time.Now(), cputime.Seconds()
		if record {
			r.Forward = append(r.Forward, t1.Sub(t0).Seconds()*1e3)
			r.Backward = append(r.Backward, t2.Sub(t1).Seconds()*1e3)
			r.CPUForward = append(r.CPUForward, (c1-c0)*1e3)
			r.CPUBackward = append(r.CPUBackward, (c2-c1)*1e3)
		}
	}
	step(false) // warm up
	for range reps {
		step(true)
	}
	return r
}
