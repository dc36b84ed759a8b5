package detect

import (
	"strings"
	"testing"

	"argus/detect/atss"
)

// TestValidateATSS checks the settings only ATSS reads.
func TestValidateATSS(t *testing.T) {
	ok := Recipe()
	ok.Model, ok.Assign, ok.Width = "atss-r18", "atss", 64
	for _, c := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"atss", func(c *Config) {}, ""},
		{"topk", func(c *Config) { c.Assign, c.K = "topk", 9 }, ""},
		{"simota", func(c *Config) { c.Assign = "simota" }, ""},
		{"hps", func(c *Config) {
			c.Assign = "hps"
			c.SetSearched(atss.Searched{Bands: atss.DefaultBands, K: []int{3, 6, 9}})
		}, ""},
		{"sparse assigner", func(c *Config) { c.Assign = "dla" }, "assign must be atss, topk, simota, hps"},
		{"topk without k", func(c *Config) { c.Assign = "topk" }, "assign topk needs k"},
		{"k without topk", func(c *Config) { c.K = 4 }, "k is the topk assigner's"},
		{"hps without values", func(c *Config) { c.Assign = "hps" }, "assign hps needs the searched values"},
		{"hps values short", func(c *Config) { c.Assign, c.HPSBands, c.HPSK = "hps", atss.DefaultBands, []int{3} }, "searched values"},
		{"values without hps", func(c *Config) { c.HPSK = []int{1, 2, 3} }, "are the hps assigner's"},
		{"width", func(c *Config) { c.Width = 48 }, "multiple of 32"},
		{"k on sparse r-cnn", func(c *Config) { c.Model, c.Assign, c.K = "sparse-rcnn-r18", "hungarian", 3 }, "ATSS's assignment settings"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := ok
			c.edit(&cfg)
			err := cfg.Validate()
			if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
				t.Errorf("Validate() = %v, want %q", err, c.want)
			}
		})
	}
}
