// Command gencoco writes a seeded synthetic COCO instances file and results
// file for timing evaluators, by default at the benchmark size of 5,000
// images x 100 detections x 80 categories:
//
//	go run ./tools/bench/detection/gencoco -out /tmp/cocobench
//	argus eval coco --gt /tmp/cocobench/gt.json --dt /tmp/cocobench/dt.json --json
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"argus/data/cocofile"
)

func main() {
	out := flag.String("out", ".", "directory for gt.json and dt.json")
	images := flag.Int("images", 5000, "number of images")
	dets := flag.Int("dets", 100, "detections per image")
	cats := flag.Int("cats", 80, "number of categories")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if err := run(*out, *images, *dets, *cats, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "gencoco:", err)
		os.Exit(1)
	}
}

func run(out string, images, dets, cats int, seed uint64) error {
	if images < 1 || dets < 0 || cats < 1 {
		return fmt.Errorf("need at least one image and one category")
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	gt, dt := cocofile.Synthetic(seed, images, dets, cats)
	if err := cocofile.WriteDatasetFile(filepath.Join(out, "gt.json"), gt); err != nil {
		return err
	}
	return cocofile.WriteResultsFile(filepath.Join(out, "dt.json"), dt)
}
