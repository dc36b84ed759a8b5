package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"argus/detect/atss"
	"argus/tasks/detect"
)

// atssFlags applies train detect's ATSS flags to cfg: an ATSS model
// whose --assign was left at Sparse R-CNN's default assigns with atss,
// --k and --hps belong to --assign topk and hps, and --hps FILE's
// searched values go into cfg (and so into its checkpoints).
func atssFlags(flags *pflag.FlagSet, cfg *detect.Config, hpsFile string) error {
	isATSS := strings.HasPrefix(cfg.Model, "atss-")
	if isATSS && !flags.Changed("assign") && cfg.Assign == detect.Recipe().Assign {
		cfg.Assign = "atss"
	}
	switch {
	case flags.Changed("k") && (!isATSS || cfg.Assign != "topk"):
		return fmt.Errorf("--k goes with an ATSS model and --assign topk (got --model %s --assign %s)", cfg.Model, cfg.Assign)
	case flags.Changed("hps") && (!isATSS || cfg.Assign != "hps"):
		return fmt.Errorf("--hps goes with an ATSS model and --assign hps (got --model %s --assign %s)", cfg.Model, cfg.Assign)
	case isATSS && cfg.Assign == "topk" && cfg.K == 0:
		return fmt.Errorf("--assign topk needs --k K, the positives per ground truth")
	case isATSS && cfg.Assign == "hps" && hpsFile == "" && cfg.HPSK == nil:
		return fmt.Errorf("--assign hps needs --hps FILE, the searched values of argus hps search")
	}
	if hpsFile != "" {
		s, err := atss.ReadSearched(hpsFile)
		if err != nil {
			return fmt.Errorf("--hps: %w", err)
		}
		cfg.SetSearched(s)
	}
	return nil
}
