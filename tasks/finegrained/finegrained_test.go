package finegrained

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"default", func(*Config) {}, ""},
		{"dcal", func(c *Config) { c.DCAL = "glca,pcwa" }, "unknown DCAL branch"},
		{"model", func(c *Config) { c.Model = "resnet18" }, "not a ViT"},
		{"ratio", func(c *Config) { c.GLCARatio = 0 }, "glca_ratio"},
		{"drop path", func(c *Config) { c.DropPath = 1 }, "drop_path"},
		{"size", func(c *Config) { c.Size = 100 }, "multiple of deit-tiny's patch of 16"},
		{"crop", func(c *Config) { c.CropFraction = 1.5 }, "crop_fraction"},
		{"batch", func(c *Config) { c.Batch = 0 }, "batch"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Default()
			c.edit(&cfg)
			cfg.Fill()
			err := cfg.Validate()
			if (c.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Errorf("Validate: %v, want %q", err, c.want)
			}
		})
	}
}

func TestOptionsAndGrid(t *testing.T) {
	c := Default()
	c.DCAL, c.Size = "pwca", 256
	o := c.Options()
	if o.GLCA || !o.PWCA || o.GLCARatio != 0.1 {
		t.Errorf("options %+v", o)
	}
	if v := c.ViTConfig(200); v.GridH != 16 || v.GridW != 16 || v.Classes != 200 || v.DropPath != 0.1 {
		t.Errorf("ViT %+v", v)
	}
	if r := c.resized(); r != 314 {
		t.Errorf("resized side %d, want 314 (256·550/448)", r)
	}
}
