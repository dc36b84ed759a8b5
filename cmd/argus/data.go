package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"argus/data/dataset"
	"argus/data/grid"
	"argus/data/imageio"
	"argus/data/synth"
	"argus/data/transform"
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
		asJSON        bool
	)
	cmd := &cobra.Command{
		Use:   "synth detection|reid|segmentation|finegrained --out DIR",
		Short: "Write a seeded synthetic dataset in its task's real format",
		Long: `Writes a small dataset whose files are in the format the task's real
datasets use, so that the real loaders read it:

  detection     COCO: train2017/, val2017/, annotations/instances_*.json;
                real MNIST digits on cluttered backgrounds, small, medium
                and large, with occlusion (--size images, default 1000)
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
			if size < 0 {
				return fmt.Errorf("--size %d is negative", size)
			}
			// The bar starts with the first image, so that refusals print
			// nothing but their error line.
			var (
				b  *progressbar.ProgressBar
				mu sync.Mutex
			)
			opt := synth.Options{Seed: seed, Size: size, Workers: workers, MNISTDir: mnistDir}
			opt.Progress = func(done, total int) {
				mu.Lock()
				defer mu.Unlock()
				if b == nil {
					b = progressbar.NewOptions(total,
						progressbar.OptionSetWriter(cmd.ErrOrStderr()),
						progressbar.OptionSetDescription("synth "+args[0]),
						progressbar.OptionShowIts(),
						progressbar.OptionSetItsString("img"),
						progressbar.OptionShowCount(),
						progressbar.OptionSetPredictTime(true),
						progressbar.OptionSetWidth(24),
						progressbar.OptionThrottle(200*time.Millisecond),
					)
				}
				b.Set(done)
			}
			start := time.Now()
			sum, err := gen(out, opt)
			if b != nil {
				b.Finish()
				fmt.Fprintln(cmd.ErrOrStderr())
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
	f.IntVar(&size, "size", 0, "size knob (images, identities or images per class; 0 = the task's default)")
	f.IntVar(&workers, "workers", 0, "goroutines (0 = one per CPU)")
	f.StringVar(&mnistDir, "data", "", "folder of the MNIST IDX files for the detection digits (default: the GoMNIST module's copy)")
	f.BoolVar(&asJSON, "json", false, "print one JSON summary on stdout")
	aliasFlags(cmd, map[string]string{"mnist": "data"})
	cmd.MarkFlagRequired("out")
	return cmd
}

// showFormats lists the formats `argus data show` reads.
var showFormats = []string{"folder", "coco", "market1501", "dukemtmcreid", "msmt17", "cityscapes", "camvid"}

// detectFormat guesses a dataset folder's format from its layout.
func detectFormat(dir string) (string, error) {
	has := func(p string) bool { _, err := os.Stat(filepath.Join(dir, p)); return err == nil }
	switch {
	case has("annotations"):
		return "coco", nil
	case has("leftImg8bit"):
		return "cityscapes", nil
	case has("list_train.txt"):
		return "msmt17", nil
	case has("bounding_box_train"):
		if _, err := dataset.ReadMarket1501(dir); err == nil {
			return "market1501", nil
		}
		return "dukemtmcreid", nil
	case has("trainannot"):
		return "camvid", nil
	}
	return "folder", nil
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
			if n <= 0 || n > 1024 || size < 8 || size > 2048 || cols <= 0 {
				return fmt.Errorf("--n must be 1..1024, --size 8..2048, --cols positive")
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
	f.IntVar(&n, "n", 16, "number of samples")
	f.IntVar(&cols, "cols", 8, "samples per row")
	f.IntVar(&size, "size", 160, "training size of the preview")
	f.Uint64Var(&seed, "seed", 0, "random seed")
	f.BoolVar(&skipBad, "skip-bad", false, "skip unreadable samples (reported on stderr and counted) instead of stopping")
	f.BoolVar(&asJSON, "json", false, "print one JSON summary on stdout")
	aliasFlags(cmd, map[string]string{"dataset": "data"})
	cmd.MarkFlagRequired("data")
	cmd.MarkFlagRequired("out")
	return cmd
}
