package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"argus/reid"
	"argus/reid/rerank"
)

// reidReport is the JSON printed by `argus eval reid --json`.
type reidReport struct {
	MAP        float64   `json:"mAP"`
	MINP       float64   `json:"mINP"`
	Rank1      float32   `json:"rank1"`
	Rank5      float32   `json:"rank5"`
	Rank10     float32   `json:"rank10"`
	CMC        []float32 `json:"cmc"`
	NumQuery   int       `json:"num_query"`
	NumGallery int       `json:"num_gallery"`
	NumValid   int       `json:"num_valid_query"`
	Distance   string    `json:"distance"`
	Rerank     bool      `json:"rerank"`
	Seconds    float64   `json:"seconds"`
}

// newEvalReidCmd builds argus eval reid.
func newEvalReidCmd() *cobra.Command {
	var path, ckpt, data string
	var asJSON, doRerank bool
	var maxRank, batch, workers int
	var noHalf bool
	opt := rerank.DefaultOptions()
	cmd := &cobra.Command{
		Use:   "reid --features F | --checkpoint C --data DIR/DOMAIN",
		Short: "Re-ID CMC, mAP and mINP with torchreid's Market-1501 protocol",
		Long: `Evaluates query and gallery features with the Market-1501 protocol of
torchreid's eval_market1501: gallery items with the query's pid and camera are
removed, queries without a true match are skipped, CMC runs to --max-rank and
AP averages the precision at each true match. mINP is the mean inverse
negative penalty.

F is a JSON file with query_features, query_pids, query_camids,
gallery_features, gallery_pids, gallery_camids and an optional distance
(squared_euclidean, euclidean or cosine; default squared_euclidean), or a
.safetensors file with tensors of those names and the distance in its
metadata. With --rerank, the k-reciprocal re-ranking of Zhong et al. (k1, k2,
lambda) replaces the distance.

With --checkpoint and --data instead of --features, the query and gallery
features of the re-ID dataset DIR/DOMAIN (Market-1501, DukeMTMC-reID or
MSMT17 layout) are extracted by the checkpoint's network of argus train reid
and compared by cosine distance.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opt.Half = !noHalf
			start := time.Now()
			switch {
			case ckpt != "" && path != "":
				return fmt.Errorf("give --features or --checkpoint, not both")
			case ckpt == "" && path == "":
				return fmt.Errorf("give --features F, or --checkpoint C with --data DIR/DOMAIN")
			case ckpt != "" && data == "":
				return fmt.Errorf("--checkpoint needs --data DIR/DOMAIN")
			case ckpt == "" && data != "":
				return fmt.Errorf("--data needs --checkpoint")
			}
			var fs *reid.FeatureSet
			var err error
			if ckpt != "" {
				if fs, err = checkpointFeatures(cmd, ckpt, data, batch, workers); err != nil {
					return err
				}
				path = data
			} else {
				if fs, err = reid.ReadFeatureFile(path); err != nil {
					return err
				}
			}
			nq, ng := fs.NumQuery(), fs.NumGallery()
			if doRerank {
				// Re-ranking takes the distances among all features.
				nq, ng = nq+ng, nq+ng
			}
			if err := checkPairs(path, nq, ng); err != nil {
				return err
			}
			var dist []float32
			if doRerank {
				dist, err = rerank.ReRank(fs.Query, fs.NumQuery(), fs.Gallery, fs.NumGallery(), fs.Dim, opt)
			} else {
				dist, err = fs.Distances()
			}
			if err != nil {
				return err
			}
			res, err := reid.Evaluate(dist, fs.QueryPids, fs.GalleryPids, fs.QueryCams, fs.GalleryCams, maxRank)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			rep := reidReport{
				MAP: res.MAP, MINP: res.MINP, CMC: res.CMC,
				Rank1: rankAt(res.CMC, 1), Rank5: rankAt(res.CMC, 5), Rank10: rankAt(res.CMC, 10),
				NumQuery: fs.NumQuery(), NumGallery: fs.NumGallery(), NumValid: res.Valid,
				Distance: string(fs.Distance), Rerank: doRerank,
				Seconds: time.Since(start).Seconds(),
			}
			if asJSON {
				return printJSON(cmd, rep)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "queries %d (valid %d), gallery %d, distance %s, re-ranking %v\n",
				rep.NumQuery, rep.NumValid, rep.NumGallery, rep.Distance, rep.Rerank)
			fmt.Fprintf(out, "mAP    %.4f\nmINP   %.4f\n", rep.MAP, rep.MINP)
			for _, r := range []int{1, 5, 10, 20} {
				if r <= len(res.CMC) {
					fmt.Fprintf(out, "rank%-3d%.4f\n", r, res.CMC[r-1])
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "features", "", "query and gallery features (JSON or .safetensors)")
	f.StringVar(&ckpt, "checkpoint", "", "checkpoint of argus train reid whose features are evaluated (with --data)")
	f.StringVar(&data, "data", "", "re-ID dataset folder (one domain) evaluated with --checkpoint")
	intFlag(f, &batch, "batch", 64, 1, 1<<14, "images per forward pass with --checkpoint")
	intFlag(f, &workers, "workers", 0, 0, 1<<10, "goroutines decoding images with --checkpoint (0: one per CPU)")
	f.BoolVar(&asJSON, "json", false, "print one JSON object")
	f.BoolVar(&doRerank, "rerank", false, "apply k-reciprocal re-ranking first")
	intFlag(f, &opt.K1, "k1", opt.K1, 1, noLimit, "re-ranking: k-reciprocal neighbourhood size")
	intFlag(f, &opt.K2, "k2", opt.K2, 1, noLimit, "re-ranking: query expansion size, at most k1")
	floatFlag(f, &opt.Lambda, "lambda", opt.Lambda, 0, 1, "re-ranking: weight of the original distance")
	f.BoolVar(&noHalf, "no-half", false, "re-ranking: float32 encodings instead of the float16 ones of the reference re_ranking")
	// The old spelling, a flag that was on by default: --half=false was
	// the only way to use it.
	f.Var((*invertedBool)(&noHalf), "half", "re-ranking: float16 encodings (the default)")
	f.Lookup("half").NoOptDefVal = "true"
	f.MarkDeprecated("half", "float16 is the default; --no-half turns it off")
	intFlag(f, &maxRank, "max-rank", reid.DefaultMaxRank, 1, noLimit, "length of the CMC curve")
	return cmd
}

// maxPairs bounds the distance matrices the re-ID commands compute: 2^31
// float32 distances, 8 GiB (Market-1501's re-ranking needs a sixth of
// that).
const maxPairs = 1 << 31

// checkPairs returns an error naming the file when an m×n distance matrix
// would exceed maxPairs, before it is allocated.
func checkPairs(path string, m, n int) error {
	if m > 0 && n > maxPairs/m {
		return fmt.Errorf("%s: %d×%d distances are more than the limit of %d (8 GiB)", path, m, n, maxPairs)
	}
	return nil
}

// rankAt returns CMC at rank r (1-based), or the last value for short
// curves, which the reference cuts to the gallery size.
func rankAt(cmc []float32, r int) float32 {
	if len(cmc) == 0 {
		return 0
	}
	return cmc[min(r, len(cmc))-1]
}
