package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"argus/checkpoint"
	"argus/data/dataset"
	"argus/data/grid"
	"argus/data/imageio"
	"argus/internal/atomicfile"
	"argus/internal/progress"
	"argus/models"
	"argus/reid"
	reidtask "argus/tasks/reid"
	"argus/tensor"
	"argus/train"
)

// reidTrainReport is the JSON printed by `argus train reid --json`.
// Non-finite numbers (a run stopped before its first evaluation) print as
// null.
type reidTrainReport struct {
	Task       string      `json:"task"`
	Mode       string      `json:"mode"`
	Model      string      `json:"model"`
	Source     string      `json:"source"`
	Target     string      `json:"target,omitempty"`
	Evaluated  string      `json:"evaluated"`
	SourceIDs  int         `json:"source_ids"`
	MAP        train.Float `json:"mAP"`
	Rank1      train.Float `json:"rank1"`
	Rank5      train.Float `json:"rank5"`
	Rank10     train.Float `json:"rank10"`
	MINP       train.Float `json:"mINP"`
	Clusters   train.Float `json:"clusters"`
	Outliers   train.Float `json:"outliers"`
	Purity     train.Float `json:"purity"`
	NMI        train.Float `json:"nmi"`
	Epochs     int         `json:"epochs"`
	Steps      int         `json:"steps"`
	TrainLoss  train.Float `json:"train_loss"`
	Seconds    train.Float `json:"seconds"`
	Checkpoint string      `json:"checkpoint"`
	Metrics    string      `json:"metrics"`
	Plot       string      `json:"plot"`
	Config     string      `json:"config"`
	Stopped    string      `json:"stopped,omitempty"`
}

// readReidDomain reads the domain folder name under the data root dir.
func readReidDomain(dir, name string) (*dataset.ReID, error) {
	if name == "" {
		return nil, nil
	}
	if strings.ContainsAny(name, `/\`) || name == ".." || name == "." {
		return nil, fmt.Errorf("domain %q is not a folder name under --data", name)
	}
	return reidtask.ReadDomain(filepath.Join(dir, name))
}

func newTrainReidCmd() *cobra.Command {
	cfg := reidtask.Default()
	var tf trainFlags
	var dataDir string
	cmd := &cobra.Command{
		Use:   "reid --mode supervised|uda --data DIR --model resnet50|resnet18|deit-tiny",
		Short: "Train a person re-ID network, supervised or adapted to an unlabelled domain (CCL)",
		Long: `Trains the strong baseline's re-ID network (the backbone with last stride 1,
GeM pooling, a batch-norm neck and a bias-free classifier) on DIR, which holds
one folder per domain in the Market-1501, DukeMTMC-reID or MSMT17 layout, as
argus data synth reid writes them (domain_a, domain_b).

--mode supervised trains on --source's identities with label-smoothed
cross-entropy and the batch-hard triplet loss (margin 0.3) on P×K batches
(--batch images, --instances per identity), with flip, pad + crop and random
erasing. --mode uda pre-trains so for pretrain_epochs (in the config), then
adapts to --target without its labels by cluster-wise contrastive learning:
every epoch the target's training images are extracted, clustered by DBSCAN
on their k-reciprocal Jaccard distances, and trained against a memory of the
clusters' centroids. metrics.jsonl records the clusters, outliers, and the
pseudo labels' purity and NMI against the true identities (which training
never reads). --pda alternates the target's batches with source batches whose
Fourier amplitude is mixed towards random target images, more each epoch,
their supervised loss fading to zero; --fa adds an amplitude-mixed view of
every target batch held to the same cluster centroids.

After every epoch the network is evaluated on --target's query and gallery
(--source's without a target): mAP, rank-1/5/10 and mINP, torchreid's
Market-1501 protocol on the cosine distance of the post-neck features.
--model deit-tiny --dcal glca,pwca adds DCAL's branches (supervised only):
GLCA, a cross-attention block over the top --glca-ratio of the patches by
attention rollout, with a neck and classifier of its own, and PWCA, a second
pass in which each image attends also to a random partner in its batch
(training only). Each branch has both losses, uncertainty-weighted; the
evaluated feature is the SA and GLCA necks' outputs side by side.

--bn-batch forwards each batch in chunks of that many images, each with its
own batch-norm statistics (ghost batch norm), as on that many images per
device.

Settings come from the defaults (see --print-config), then --config FILE,
then the flags given. --resume continues a run exactly, the pseudo labels and
the cluster memory included. SIGINT or SIGTERM stops after the current step
with a resumable checkpoint (exit status 130).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			flags := cmd.Flags()
			out, f, err := resolve(&tf, flags, &cfg, reidtask.Default())
			if err != nil {
				return err
			}
			if flags.Changed("data") {
				abs, err := filepath.Abs(dataDir)
				if err != nil {
					return fmt.Errorf("--data: %w", err)
				}
				cfg.Data = abs
			}
			if tf.printConfig {
				return printConfig(cmd, cfg)
			}
			if cfg.Data == "" {
				return fmt.Errorf("--data is required (a resumed run reads it from its checkpoint)")
			}
			check := cfg
			check.Fill()
			if err := check.Validate(); err != nil {
				return err
			}
			if err := tf.prepareOut(out); err != nil {
				return err
			}
			source, err := readReidDomain(cfg.Data, cfg.Source)
			if err != nil {
				return err
			}
			target, err := readReidDomain(cfg.Data, cfg.Target)
			if err != nil {
				return err
			}
			eval := source
			if target != nil {
				eval = target
			}
			var init *checkpoint.File
			if cfg.Init != "" && f == nil {
				if init, err = checkpoint.ReadFile(cfg.Init); err != nil {
					return fmt.Errorf("--init: %w", err)
				}
			}
			stderr := cmd.ErrOrStderr()
			run, err := reidtask.NewRun(cfg, source, eval, target, init, stderr)
			if err != nil {
				return err
			}
			if f != nil {
				if err := run.Restore(f); err != nil {
					return fmt.Errorf("resume %s: %w", tf.resume, err)
				}
				fmt.Fprintf(stderr, "resuming %s at epoch %d of %d, step %d\n", tf.resume, run.Epoch(), cfg.Epochs, run.Step())
			}
			rep := reidTrainReport{Task: "reid", Mode: cfg.Mode, Model: cfg.Model, Source: cfg.Source, Target: cfg.Target,
				Evaluated: cfg.EvalDomain(), SourceIDs: run.SourceIDs}
			return runReid(cmd, run, out, tf.json, rep)
		},
	}
	f := cmd.Flags()
	c := &cfg
	f.StringVar(&c.Mode, "mode", c.Mode, "supervised (on the source's identities) or uda (adapt to the unlabelled target)")
	f.StringVar(&c.Model, "model", c.Model, "network: resnet50, resnet18 or deit-tiny")
	f.StringVar(&dataDir, "data", "", "folder holding one re-ID dataset folder per domain")
	f.StringVar(&c.Source, "source", c.Source, "labelled domain: a folder under --data")
	f.StringVar(&c.Target, "target", c.Target, "domain adapted to and evaluated on: a folder under --data (empty: evaluate on the source)")
	f.StringVar(&c.UDA.Method, "method", c.UDA.Method, "adaptation method of --mode uda: ccl")
	f.BoolVar(&c.UDA.PDA, "pda", c.UDA.PDA, "uda: progressive domain adaptation (source batches styled towards the target in Fourier space, their loss fading)")
	f.BoolVar(&c.UDA.FA, "fa", c.UDA.FA, "uda: Fourier augmentation (an amplitude-mixed view of each target batch held to the same centroids)")
	f.StringVar(&c.Init, "init", c.Init, "torchvision or timm classifier state dict (.safetensors) for the backbone")
	f.StringVar(&c.DCAL, "dcal", c.DCAL, "deit-tiny: Dual Cross-Attention Learning branches, none, glca, pwca or glca,pwca (supervised)")
	floatFlag(f, &c.GLCARatio, "glca-ratio", c.GLCARatio, 0, 1, "share of the patch queries GLCA keeps")
	intFlag(f, &c.Epochs, "epochs", c.Epochs, 1, reidtask.MaxEpochs, "number of epochs (uda: pre-training included)")
	intFlag(f, &c.UDA.PretrainEpochs, "pretrain-epochs", c.UDA.PretrainEpochs, 0, reidtask.MaxEpochs, "uda: epochs of supervised source pre-training before adapting")
	intFlag(f, &c.Batch, "batch", c.Batch, 2, reidtask.MaxBatch, "training batch size (P identities × K instances)")
	intFlag(f, &c.Instances, "instances", c.Instances, 1, reidtask.MaxBatch, "images per identity in a batch (K)")
	intFlag(f, &c.BNBatch, "bn-batch", c.BNBatch, 0, reidtask.MaxBatch, "ghost batch norm: images per batch-norm group, dividing --batch (0: the whole batch)")
	intFlag(f, &c.Height, "height", c.Height, 16, reidtask.MaxSide, "input height")
	intFlag(f, &c.Width, "width", c.Width, 16, reidtask.MaxSide, "input width")
	intFlag(f, &c.EvalBatch, "eval-batch", c.EvalBatch, 1, reidtask.MaxBatch, "feature extraction batch size")
	positiveFloatFlag(f, &c.LR, "lr", c.LR, "peak learning rate")
	f.StringVar(&c.Optimizer, "optimizer", c.Optimizer, "adamw, adam, sgd or adadelta")
	floatFlag(f, &c.WeightDecay, "weight-decay", c.WeightDecay, 0, math.Inf(1), "weight decay")
	f.StringVar(&c.Schedule, "schedule", c.Schedule, "learning-rate schedule: cosine, step or constant")
	intFlag(f, &c.Warmup, "warmup", c.Warmup, 0, noLimit, "linear warm-up steps")
	intFlag(f, &c.EvalEvery, "eval-every", c.EvalEvery, 1, noLimit, "epochs between evaluations (the last epoch is always evaluated)")
	intFlag(f, &c.LogEvery, "log-every", c.LogEvery, 1, noLimit, "steps between training-loss records in metrics.jsonl")
	floatFlag(f, &c.MaxMinutes, "max-minutes", c.MaxMinutes, 0, math.Inf(1), "stop this session after so many minutes with a resumable checkpoint (0: no limit)")
	f.Uint64Var(&c.Seed, "seed", c.Seed, "random seed for initialisation, sampling and augmentation")
	intFlag(f, &c.Workers, "workers", c.Workers, 0, reidtask.MaxWorkers, "goroutines building batches (0: one per CPU)")
	tf.add(f, "runs/reid")
	return cmd
}

// runReid trains run to the end of its epochs, or until a signal, the
// time budget or the non-finite guard stops it, and reports the session.
func runReid(cmd *cobra.Command, run *reidtask.Run, out string, asJSON bool, rep reidTrainReport) error {
	stderr := cmd.ErrOrStderr()
	ctx, stop := signalContext(cmd)
	defer stop()
	epochs := run.Config.Epochs
	res, err := run.Run(ctx, epochOptions(stderr, out, epochs, func(m map[string]train.Float) string {
		return fmt.Sprintf(", mAP %.2f%%, rank-1 %.2f%%", 100*m["mAP"], 100*m["rank1"])
	}))
	metric := orNaN(res.Metrics)
	rep.MAP, rep.Rank1, rep.Rank5, rep.Rank10, rep.MINP = metric("mAP"), metric("rank1"), metric("rank5"), metric("rank10"), metric("mINP")
	rep.Clusters, rep.Outliers, rep.Purity, rep.NMI = metric("clusters"), metric("outliers"), metric("purity"), metric("nmi")
	rep.Epochs, rep.Steps, rep.TrainLoss = res.Epoch, res.Step, res.TrainLoss
	rep.Seconds = train.Float(res.Seconds)
	rep.Checkpoint = res.Checkpoint
	rep.Metrics = filepath.Join(out, train.MetricsName)
	rep.Plot = filepath.Join(out, train.PlotName)
	rep.Config = filepath.Join(out, train.ConfigName)
	rep.Stopped = res.Stopped
	return reportTrain(cmd, res, err, asJSON, rep, func(w io.Writer) {
		if res.Metrics != nil {
			fmt.Fprintf(w, "%s: mAP %.2f%%, rank-1 %.2f%%, rank-5 %.2f%%, mINP %.2f%% after %d epochs (%.0f s); checkpoint %s\n",
				rep.Evaluated, 100*rep.MAP, 100*rep.Rank1, 100*rep.Rank5, 100*rep.MINP, rep.Epochs, rep.Seconds, rep.Checkpoint)
		}
	})
}

// reidDataArg splits --data DIR/DOMAIN into the dataset it reads.
func readReidData(path string) (*dataset.ReID, error) {
	if path == "" {
		return nil, fmt.Errorf("--data is required")
	}
	return reidtask.ReadDomain(path)
}

// extractReport is the JSON printed by `argus extract --json`.
type extractReport struct {
	Checkpoint string  `json:"checkpoint"`
	Data       string  `json:"data"`
	Split      string  `json:"split"`
	Images     int     `json:"images"`
	Dim        int     `json:"dim"`
	Out        string  `json:"out"`
	Seconds    float64 `json:"seconds"`
}

// extractSplits runs net over the named splits of d, with a progress bar
// each on stderr.
func extractSplits(cmd *cobra.Command, net *models.ReID, h, w int, d *dataset.ReID, splits []string, batch, workers int) (map[string][]float32, int, error) {
	tfm := (&reidtask.Config{Height: h, Width: w}).EvalTransform()
	out := map[string][]float32{}
	dim := 0
	for _, s := range splits {
		set := splitOf(d, s)
		bar := progress.New(cmd.ErrOrStderr(), "extract "+set.Name, "img", len(set.Items))
		bar.Start(0)
		x, dd, err := reidtask.Extract(cmd.Context(), net, set, tfm, batch, workers, bar.Set)
		if err != nil {
			bar.Abort()
			return nil, 0, err
		}
		bar.Finish()
		out[s], dim = x, dd
	}
	return out, dim, nil
}

func splitOf(d *dataset.ReID, split string) *dataset.Set {
	switch split {
	case "query":
		return d.Query
	case "gallery":
		return d.Gallery
	}
	return d.Train
}

func idsOf(s *dataset.Set) (pids, cams []int64) {
	for _, it := range s.Items {
		pids, cams = append(pids, int64(it.Label)), append(cams, int64(it.Camera))
	}
	return pids, cams
}

// newExtractCmd builds argus extract.
func newExtractCmd() *cobra.Command {
	var ckpt, data, split, out string
	var batch, workers int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "extract --checkpoint C --data DIR/DOMAIN --out F.safetensors",
		Short: "Extract re-ID features of a domain's images with a trained network",
		Long: `Runs a network of argus train reid in evaluation mode over a re-ID dataset
(the Market-1501, DukeMTMC-reID or MSMT17 layout) and writes the post-neck
features. --split query, gallery or train writes "features" (n×d), "pids"
and "camids", which argus cluster reads; without --split it writes both test
splits as query_features, query_pids, query_camids, gallery_features,
gallery_pids and gallery_camids with the distance "cosine", which argus eval
reid --features reads.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			start := time.Now()
			if err := notAnInput("out", out, ckpt); err != nil {
				return err
			}
			if !strings.EqualFold(filepath.Ext(out), ".safetensors") {
				return fmt.Errorf("--out %s: the features are written as .safetensors", out)
			}
			splits := []string{"query", "gallery"}
			if split != "" {
				if !slices.Contains([]string{"query", "gallery", "train"}, split) {
					return fmt.Errorf("unknown --split %q (have query, gallery, train)", split)
				}
				splits = []string{split}
			}
			net, h, w, err := reidtask.LoadNet(ckpt)
			if err != nil {
				return err
			}
			d, err := readReidData(data)
			if err != nil {
				return err
			}
			feats, dim, err := extractSplits(cmd, net, h, w, d, splits, batch, workers)
			if err != nil {
				return err
			}
			f := checkpoint.NewFile()
			add := func(prefix string, s *dataset.Set, x []float32) error {
				pids, cams := idsOf(s)
				if err := f.Add(prefix+"features", checkpoint.Float32Entry(tensor.FromSlice(x, len(s.Items), dim))); err != nil {
					return err
				}
				if err := f.Add(prefix+"pids", checkpoint.Int64Entry(pids, len(pids))); err != nil {
					return err
				}
				return f.Add(prefix+"camids", checkpoint.Int64Entry(cams, len(cams)))
			}
			images := 0
			for _, s := range splits {
				prefix := s + "_"
				if split != "" {
					prefix = ""
				}
				if err := add(prefix, splitOf(d, s), feats[s]); err != nil {
					return err
				}
				images += len(splitOf(d, s).Items)
			}
			f.Metadata["distance"] = string(reid.Cosine)
			f.Metadata["checkpoint"] = filepath.Base(ckpt)
			if err := checkpoint.WriteFile(out, f); err != nil {
				return err
			}
			rep := extractReport{Checkpoint: ckpt, Data: data, Split: strings.Join(splits, ","), Images: images, Dim: dim, Out: out,
				Seconds: time.Since(start).Seconds()}
			if asJSON {
				return printJSON(cmd, rep)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d features of dimension %d written to %s\n", images, dim, out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train reid")
	fl.StringVar(&data, "data", "", "re-ID dataset folder (one domain)")
	fl.StringVar(&split, "split", "", "query, gallery or train (default: query and gallery)")
	fl.StringVar(&out, "out", "", "write the features to this .safetensors file")
	intFlag(fl, &batch, "batch", 64, 1, reidtask.MaxBatch, "images per forward pass")
	intFlag(fl, &workers, "workers", 0, 0, reidtask.MaxWorkers, "goroutines decoding images (0: one per CPU)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("data")
	cmd.MarkFlagRequired("out")
	return cmd
}

// checkpointFeatures extracts the query and gallery features of the re-ID
// dataset at data with the checkpoint's network, as a cosine feature set.
func checkpointFeatures(cmd *cobra.Command, ckpt, data string, batch, workers int) (*reid.FeatureSet, error) {
	net, h, w, err := reidtask.LoadNet(ckpt)
	if err != nil {
		return nil, err
	}
	d, err := readReidData(data)
	if err != nil {
		return nil, err
	}
	feats, dim, err := extractSplits(cmd, net, h, w, d, []string{"query", "gallery"}, batch, workers)
	if err != nil {
		return nil, err
	}
	ints := func(s *dataset.Set) (pids, cams []int) {
		for _, it := range s.Items {
			pids, cams = append(pids, it.Label), append(cams, it.Camera)
		}
		return pids, cams
	}
	fs := &reid.FeatureSet{Distance: reid.Cosine, Dim: dim, Query: feats["query"], Gallery: feats["gallery"]}
	fs.QueryPids, fs.QueryCams = ints(d.Query)
	fs.GalleryPids, fs.GalleryCams = ints(d.Gallery)
	return fs, nil
}

// reidPredictReport is the JSON printed by `argus predict reid --json`.
type reidPredictReport struct {
	Query   string         `json:"query"`
	Gallery int            `json:"gallery_images"`
	Ranked  []predictMatch `json:"ranked"`
	Out     string         `json:"out,omitempty"`
}

type predictMatch struct {
	Rank     int     `json:"rank"`
	Image    string  `json:"image"`
	Distance float32 `json:"distance"`
	// Match is whether the names carry the query's identity; absent when
	// they carry none.
	Match *bool `json:"match,omitempty"`
}

// newPredictReidCmd builds argus predict reid.
func newPredictReidCmd() *cobra.Command {
	var ckpt, query, gallery, out string
	var top, batch, workers int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reid --checkpoint C --query IMAGE --gallery DIR",
		Short: "Rank a gallery folder against a query image with a re-ID network",
		Long: `Extracts the features of the query image and of every .jpg or .png image in
DIR with a network of argus train reid and ranks the gallery by cosine
distance. --out writes the strip of the query and the --top nearest gallery
images; when the file names carry identities (Market-1501 names such as
0002_c1s1_000451_03.jpg), true matches are framed green and others red.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := notAnInput("out", out, ckpt, query); err != nil {
				return err
			}
			net, h, w, err := reidtask.LoadNet(ckpt)
			if err != nil {
				return err
			}
			entries, err := os.ReadDir(gallery)
			if err != nil {
				return fmt.Errorf("--gallery: %w", err)
			}
			gset := &dataset.Set{Name: gallery}
			for _, e := range entries {
				ext := strings.ToLower(filepath.Ext(e.Name()))
				if !e.IsDir() && (ext == ".jpg" || ext == ".jpeg" || ext == ".png") {
					gset.Items = append(gset.Items, dataset.Item{Path: filepath.Join(gallery, e.Name())})
				}
			}
			if len(gset.Items) == 0 {
				return fmt.Errorf("--gallery %s holds no .jpg or .png images", gallery)
			}
			qset := &dataset.Set{Name: "query", Items: []dataset.Item{{Path: query}}}
			tfm := (&reidtask.Config{Height: h, Width: w}).EvalTransform()
			q, dim, err := reidtask.Extract(cmd.Context(), net, qset, tfm, 1, 1, nil)
			if err != nil {
				return err
			}
			bar := progress.New(cmd.ErrOrStderr(), "extract gallery", "img", len(gset.Items))
			bar.Start(0)
			g, _, err := reidtask.Extract(cmd.Context(), net, gset, tfm, batch, workers, bar.Set)
			if err != nil {
				bar.Abort()
				return err
			}
			bar.Finish()
			dist, err := reid.Distances(reid.Cosine, q, 1, g, len(gset.Items), dim)
			if err != nil {
				return err
			}
			order := reid.Argsort(dist)
			qpid, _, qerr := dataset.ParseMarketName(filepath.Base(query))
			rep := reidPredictReport{Query: query, Gallery: len(gset.Items), Out: out}
			for r, j := range order[:min(top, len(order))] {
				m := predictMatch{Rank: r + 1, Image: gset.Items[j].Path, Distance: dist[j]}
				if pid, _, err := dataset.ParseMarketName(filepath.Base(m.Image)); err == nil && qerr == nil {
					ok := pid == qpid
					m.Match = &ok
				}
				rep.Ranked = append(rep.Ranked, m)
			}
			if out != "" {
				if err := writeStrip(out, query, rep.Ranked, h, w); err != nil {
					return err
				}
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			o := cmd.OutOrStdout()
			for _, m := range rep.Ranked {
				mark := ""
				if m.Match != nil && *m.Match {
					mark = "  match"
				}
				fmt.Fprintf(o, "%3d  %.4f  %s%s\n", m.Rank, m.Distance, m.Image, mark)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train reid")
	fl.StringVar(&query, "query", "", "query image")
	fl.StringVar(&gallery, "gallery", "", "folder of gallery images")
	fl.StringVar(&out, "out", "", "write the ranked strip to this .png file")
	intFlag(fl, &top, "top", 10, 1, 1000, "gallery images shown")
	intFlag(fl, &batch, "batch", 64, 1, reidtask.MaxBatch, "images per forward pass")
	intFlag(fl, &workers, "workers", 0, 0, reidtask.MaxWorkers, "goroutines decoding images (0: one per CPU)")
	fl.BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.MarkFlagRequired("checkpoint")
	cmd.MarkFlagRequired("query")
	cmd.MarkFlagRequired("gallery")
	return cmd
}

// writeStrip draws the query and the ranked gallery images at h×w in one
// row, each gallery image framed green for a true match, red for another
// identity, grey when the names carry none.
func writeStrip(out, query string, ranked []predictMatch, h, w int) error {
	load := func(path string) (*imageio.Image, error) {
		set := &dataset.Set{Items: []dataset.Item{{Path: path}}, Transform: (&reidtask.Config{Height: h, Width: w}).EvalTransform()}
		s, err := set.Get(0, nil)
		if err != nil {
			return nil, err
		}
		return s.Image, nil
	}
	q, err := load(query)
	if err != nil {
		return err
	}
	imgs := []*imageio.Image{frame(q, [3]float32{0.2, 0.4, 1})}
	for _, m := range ranked {
		g, err := load(m.Image)
		if err != nil {
			return err
		}
		col := [3]float32{0.6, 0.6, 0.6}
		if m.Match != nil && *m.Match {
			col = [3]float32{0, 0.8, 0}
		} else if m.Match != nil {
			col = [3]float32{0.9, 0, 0}
		}
		imgs = append(imgs, frame(g, col))
	}
	strip := grid.Tile(imgs, len(imgs), 4)
	ext := strings.ToLower(filepath.Ext(out))
	if ext != ".png" && ext != ".jpg" && ext != ".jpeg" {
		return fmt.Errorf("--out %s: write a .png or .jpg file", out)
	}
	return atomicfile.Write(out, func(wr io.Writer) error {
		return imageio.Encode(wr, ext, imageio.ToNRGBA(strip))
	})
}

// frame returns m with a 3-pixel border of colour c.
func frame(m *imageio.Image, c [3]float32) *imageio.Image {
	m = m.Clone()
	const b = 3
	for ch := 0; ch < min(m.C, 3); ch++ {
		p := m.Plane(ch)
		for y := range m.H {
			for x := range m.W {
				if x < b || y < b || x >= m.W-b || y >= m.H-b {
					p[y*m.W+x] = c[ch]
				}
			}
		}
	}
	return m
}

// parseReidSize parses a bench size "H", or "HxW".
func parseReidSize(s string) (h, w int, err error) {
	hs, ws, ok := strings.Cut(s, "x")
	if !ok {
		ws = hs
	}
	h, err1 := strconv.Atoi(hs)
	w, err2 := strconv.Atoi(ws)
	if err1 != nil || err2 != nil || h < 1 || w < 1 {
		return 0, 0, fmt.Errorf("size %q: want H or HxW in pixels", s)
	}
	return h, w, nil
}
