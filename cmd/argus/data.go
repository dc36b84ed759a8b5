package main

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"argus/data/dataset"
	"argus/data/grid"
	"argus/data/imageio"
	"argus/data/synth"
	"argus/data/transform"
	"argus/internal/progress"
	"argus/tasks/classify"
	"argus/train"
)

// newDataCmd groups the dataset tools.
func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Generate datasets in the real formats and preview augmented samples",
	}
	cmd.AddCommand(newDataSynthCmd(), newDataShowCmd())
	return cmd
}

// newDataSynthCmd builds argus data synth.
func newDataSynthCmd() *cobra.Command {
	var (
		out, mnistDir string
		seed          uint64
		size, workers int
		asJSON, easy  bool
	)
	cmd := &cobra.Command{
		Use:   "synth detection|reid|segmentation|finegrained --out DIR",
		Short: "Write a seeded synthetic dataset in its task's real format",
		Long: `Writes a small dataset whose files are in the format the task's real
datasets use, so that the real loaders read it:

  detection     COCO: train2017/, val2017/, annotations/instances_*.json;
                real MNIST digits on cluttered backgrounds, small, medium
                and large, with occlusion (--size images, default 1000);
                --easy: 128-160 px canvases, a plain background, 1 to 4
                medium digits, little occlusion
  reid          Market-1501 (domain_a, 6 cameras) and DukeMTMC-reID
                (domain_b, 8 cameras) layouts of drawn pedestrians
                (--size identities per domain, default 100)
  segmentation  cityscapes/, camvid/ and coarse/: street scenes in three
                camera styles, resolutions and label sets
                (--size images per dataset, default 100)
  finegrained   image folders of 20 bird species told apart by small
                parts (--size images per class, default 30)

The same --seed and --size give the same bytes. The folder is written
beside DIR and renamed into place when complete; DIR must not exist.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			gen, ok := synth.Tasks[args[0]]
			if !ok {
				return fmt.Errorf("unknown task %q (want detection, reid, segmentation or finegrained)", args[0])
			}
			// A killed run (SIGKILL, a crash) cannot remove its temporary
			// folder; another run may be writing one now, so name them
			// rather than remove them.
			if stale, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")); len(stale) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "argus: note: %s left by an earlier run that was killed (remove unless a synth to %s runs now)\n",
					strings.Join(stale, ", "), out)
			}
			// The bar appears with the first image, so that refusals print
			// nothing but their error line; its rate counts from the start.
			// The total is known only then.
			start := time.Now()
			var (
				b  *progress.Bar
				mu sync.Mutex
			)
			// SIGINT and SIGTERM stop the workers, so that the partial
			// folder is removed rather than left beside --out.
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opt := synth.Options{Seed: seed, Size: size, Workers: workers, MNISTDir: mnistDir, Context: ctx, Easy: easy}
			opt.Progress = func(done, total int) {
				mu.Lock()
				defer mu.Unlock()
				if b == nil {
					b = progress.New(cmd.ErrOrStderr(), "synth "+args[0], "img", total)
					b.StartAt(start, 0)
				}
				b.Set(done)
			}
			sum, err := gen(out, opt)
			mu.Lock()
			bar := b
			mu.Unlock()
			// An interrupted run shows where it stopped; a failed one
			// leaves its error line last.
			if bar != nil && (err == nil || ctx.Err() != nil) {
				bar.Finish()
			} else if bar != nil {
				bar.Abort()
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%w: nothing written to %s", train.ErrInterrupted, out)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, struct {
					*synth.Summary
					Seconds float64 `json:"seconds"`
				}{sum, time.Since(start).Seconds()})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d images to %s in %.1fs\n", sum.Images, sum.Out, time.Since(start).Seconds())
			keys := make([]string, 0, len(sum.Splits))
			for k := range sum.Splits {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			for _, k := range keys {
				fmt.Fprintf(cmd.OutOrStdout(), "  %-36s %d\n", k, sum.Splits[k])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "", "write the dataset into this new folder (it must not exist)")
	f.Uint64Var(&seed, "seed", 0, "random seed")
	intFlag(f, &size, "size", 0, 0, 1000000, "size knob (images, identities or images per class; 0 = the task's default)")
	intFlag(f, &workers, "workers", 0, 0, 1024, "goroutines (0 = one per CPU)")
	f.StringVar(&mnistDir, "data", "", "folder of the MNIST IDX files for the detection digits (default: the GoMNIST module's copy)")
	f.BoolVar(&easy, "easy", false, "detection only: the easy variant (small plain canvases, medium digits, little occlusion)")
	f.BoolVar(&asJSON, "json", false, "print one JSON summary on stdout")
	aliasFlags(cmd, map[string]string{"mnist": "data"})
	cmd.MarkFlagRequired("out")
	return cmd
}

// showFormats lists the formats `argus data show` reads.
var showFormats = []string{"folder", "coco", "market1501", "dukemtmcreid", "msmt17", "cityscapes", "camvid"}

// detectFormat guesses a dataset folder's format from its layout. A folder
// without a layout of its own whose sub-folders are datasets (the top
// folder of argus data synth reid or segmentation) is an error naming
// them, not image folders whose classes are datasets.
func detectFormat(dir string) (string, error) {
	format := layoutFormat(dir)
	if format != "folder" {
		return format, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("read dataset: %w", err)
	}
	var inside []string
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if f := layoutFormat(filepath.Join(dir, e.Name())); f != "folder" {
			inside = append(inside, fmt.Sprintf("%s (%s)", e.Name(), f))
		}
	}
	if len(inside) > 0 {
		return "", fmt.Errorf("%s holds datasets, not class folders: %s; give one of them as --data (or --format folder)",
			dir, strings.Join(inside, ", "))
	}
	return "folder", nil
}

// layoutFormat is the format dir's own layout shows, "folder" when none.
func layoutFormat(dir string) string {
	has := func(p string) bool { _, err := os.Stat(filepath.Join(dir, p)); return err == nil }
	switch {
	case has("annotations"):
		return "coco"
	case has("leftImg8bit"):
		return "cityscapes"
	case has("list_train.txt"):
		return "msmt17"
	case has("bounding_box_train"):
		if _, err := dataset.ReadMarket1501(dir); err == nil {
			return "market1501"
		}
		return "dukemtmcreid"
	case has("trainannot"):
		return "camvid"
	}
	return "folder"
}

// openForShow reads split of the dataset at dir.
func openForShow(format, dir, split, ann string) (*dataset.Set, error) {
	switch format {
	case "folder":
		p := filepath.Join(dir, split)
		if _, err := os.Stat(p); err != nil {
			p = dir
		}
		return dataset.ReadFolder(p)
	case "coco":
		if ann == "" {
			ann = filepath.Join(dir, "annotations", "instances_"+split+"2017.json")
		}
		imgDir := filepath.Join(dir, split+"2017")
		if _, err := os.Stat(imgDir); err != nil {
			imgDir = filepath.Join(dir, split)
		}
		s, _, err := dataset.ReadCOCO(ann, imgDir)
		return s, err
	case "market1501", "dukemtmcreid", "msmt17":
		d, err := dataset.ReadReID(format, dir)
		if err != nil {
			return nil, err
		}
		switch split {
		case "query":
			return d.Query, nil
		case "gallery", "test":
			return d.Gallery, nil
		}
		return d.Train, nil
	case "cityscapes", "camvid":
		return dataset.ReadSegmentation(format, dir, split)
	}
	return nil, fmt.Errorf("unknown format %q (want %s)", format, strings.Join(showFormats, ", "))
}

// showPipeline returns the preview augmentation of a format.
func showPipeline(format, aug, cfgFile string, size int) (transform.Transform, error) {
	deep := transform.Compose{
		transform.ColorCast{P: 0.5, MaxShift: 20.0 / 255},
		transform.Vignette{P: 0.5, MaxStrength: 0.6},
		transform.LensDistortion{P: 0.5, MaxK: 0.25},
	}
	switch aug {
	case "none":
		if format == "market1501" || format == "dukemtmcreid" || format == "msmt17" {
			return transform.Resize{W: 64, H: 128}, nil
		}
		return transform.ResizeShorter{Size: size, MaxSize: 2 * size}, nil
	case "default":
	case "deepimage":
		// argus train classify's --aug deepimage, with the parameters of
		// its config.
		c := classify.ImageNet()
		if cfgFile != "" {
			if err := train.ReadConfig(cfgFile, &c); err != nil {
				return nil, err
			}
		}
		c.Aug, c.Size, c.Scales = "deepimage", size, nil
		if err := c.Validate(); err != nil {
			return nil, fmt.Errorf("--config %s: %w", cfgFile, err)
		}
		return c.TrainTransform(), nil
	default:
		return nil, fmt.Errorf("unknown --aug %q (want default, deepimage or none)", aug)
	}
	switch format {
	case "folder":
		return transform.Compose{
			transform.RandomResizedCrop{W: size, H: size},
			transform.HFlip{P: 0.5},
			transform.Rotate{MaxDegrees: 10},
			transform.ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.05},
			deep,
		}, nil
	case "coco":
		return transform.Compose{
			transform.ResizeShorter{Size: size, MaxSize: 2 * size},
			transform.HFlip{P: 0.5},
			transform.ColorJitter{Brightness: 0.3, Contrast: 0.3, Saturation: 0.3},
			deep,
		}, nil
	case "cityscapes", "camvid":
		return transform.Compose{
			transform.RandomResizedCrop{W: size, H: size, Scale: [2]float64{0.25, 1}, Ratio: [2]float64{0.75, 1.33}},
			transform.HFlip{P: 0.5},
			transform.Rotate{MaxDegrees: 10},
			transform.ColorJitter{Brightness: 0.3, Contrast: 0.3, Saturation: 0.3},
			deep,
		}, nil
	}
	// Re-ID: the usual 256×128 recipe at half size.
	return transform.Compose{
		transform.Resize{W: 64, H: 128},
		transform.HFlip{P: 0.5},
		transform.RandomCrop{W: 64, H: 128, Pad: 5},
		transform.RandomErasing{P: 0.5, Value: 0.5},
		transform.ColorCast{P: 0.5, MaxShift: 20.0 / 255},
	}, nil
}

// newDataShowCmd builds argus data show.
func newDataShowCmd() *cobra.Command {
	var (
		dir, formatFlag, split, ann, out, aug string
		cfgFile                               string
		n, cols, size                         int
		seed                                  uint64
		asJSON, skipBad                       bool
	)
	cmd := &cobra.Command{
		Use:   "show --data DIR --out grid.png",
		Short: "Write a PNG grid of augmented samples of a dataset",
		Long: `Reads a dataset in one of the formats folder, coco, market1501,
dukemtmcreid, msmt17, cityscapes or camvid (--format, guessed from the
layout when left out), augments --n random samples of --split with the
format's training recipe (--aug default; none only resizes; deepimage is
argus train classify's Deep Image augmentation with the parameters of a
--config file of that command, or its defaults), and writes them
as a PNG grid with boxes outlined and label maps tinted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !strings.EqualFold(filepath.Ext(out), ".png") {
				return fmt.Errorf("--out %s must end in .png", out)
			}
			format := formatFlag
			if format == "" {
				var err error
				if format, err = detectFormat(dir); err != nil {
					return err
				}
			}
			if !slices.Contains(showFormats, format) {
				return fmt.Errorf("unknown format %q (want %s)", format, strings.Join(showFormats, ", "))
			}
			set, err := openForShow(format, dir, split, ann)
			if err != nil {
				return err
			}
			inputs := []namedPath{{"the --ann file", ann}}
			for _, it := range set.Items {
				inputs = append(inputs, namedPath{"a sample of the dataset", it.Path}, namedPath{"a label map of the dataset", it.MaskPath})
			}
			if err := checkNotInput(namedPath{"--out", out}, inputs...); err != nil {
				return err
			}
			if set.Transform, err = showPipeline(format, aug, cfgFile, size); err != nil {
				return err
			}
			pick := transform.NewState(seed).Rand.Perm(set.Len())
			var cells []*imageio.Image
			skipped := 0
			for k := 0; k < len(pick) && len(cells) < n; k++ {
				smp, err := set.Get(pick[k], transform.NewState(transform.Mix(seed, k)))
				if err != nil {
					if skipBad {
						skipped++
						fmt.Fprintf(cmd.ErrOrStderr(), "skipped: %v\n", err)
						continue
					}
					return err
				}
				cells = append(cells, grid.Render(smp))
			}
			if len(cells) == 0 {
				return fmt.Errorf("no readable samples (%d skipped)", skipped)
			}
			g := grid.Tile(cells, cols, 2)
			if err := imageio.WriteFile(out, imageio.ToNRGBA(g)); err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, map[string]any{"out": out, "format": format, "split": split, "samples": len(cells),
					"dataset_size": set.Len(), "width": g.W, "height": g.H, "classes": len(set.Classes), "skipped": skipped})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %d %s samples to %s (%dx%d)\n", len(cells), format, out, g.W, g.H)
			if skipped > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "skipped %d unreadable samples\n", skipped)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&dir, "data", "", "dataset folder")
	f.StringVar(&formatFlag, "format", "", "dataset format: "+strings.Join(showFormats, ", ")+" (default: guessed)")
	f.StringVar(&split, "split", "train", "split: train or val (query or gallery for re-ID)")
	f.StringVar(&ann, "ann", "", "COCO instances file (default annotations/instances_SPLIT2017.json)")
	f.StringVar(&out, "out", "", "write the grid to this PNG file")
	f.StringVar(&aug, "aug", "default", "augmentation: default, deepimage or none")
	f.StringVar(&cfgFile, "config", "", "settings file of argus train classify whose deepimage parameters --aug deepimage previews")
	intFlag(f, &n, "n", 16, 1, 1024, "number of samples")
	intFlag(f, &cols, "cols", 8, 1, 1024, "samples per row")
	intFlag(f, &size, "size", 160, 8, 2048, "training size of the preview")
	f.Uint64Var(&seed, "seed", 0, "random seed")
	f.BoolVar(&skipBad, "skip-bad", false, "skip unreadable samples (reported on stderr and counted) instead of stopping")
	f.BoolVar(&asJSON, "json", false, "print one JSON summary on stdout")
	aliasFlags(cmd, map[string]string{"dataset": "data"})
	cmd.MarkFlagRequired("data")
	cmd.MarkFlagRequired("out")
	return cmd
}
