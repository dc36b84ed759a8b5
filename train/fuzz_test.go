package train

import (
	"context"
	"path/filepath"
	"testing"

	"argus/checkpoint"
)

// FuzzDecodeConfig: any bytes decode into a config or give an error, and a
// decoded config validates or gives an error, without panicking.
func FuzzDecodeConfig(f *testing.F) {
	f.Add([]byte("epochs: 1\nlr: 0.1\n"))
	f.Add([]byte("epochs: [1\n"))
	f.Add([]byte("momentum: .nan\nema: .inf\n"))
	f.Add([]byte("warmup: -5\nbatch: 4000000000\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := testConfig()
		if DecodeConfig(b, &cfg) == nil {
			cfg.Fill()
			cfg.Validate()
		}
	})
}

// FuzzRestorePosition: whatever training position a checkpoint's metadata
// holds, Restore either refuses it or restores one that no count of which
// is negative.
func FuzzRestorePosition(f *testing.F) {
	cfg := testConfig()
	cfg.Epochs = 1
	tr, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
	if err != nil {
		f.Fatal(err)
	}
	out := f.TempDir()
	if _, err := tr.Run(context.Background(), Options{Out: out}); err != nil {
		f.Fatal(err)
	}
	ck, err := checkpoint.ReadFile(filepath.Join(out, CheckpointName))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ck.Metadata[MetaPosition], ck.Metadata[MetaMetrics])
	f.Add(`{"epoch":-1,"step":12}`, "[]")
	f.Add(`{"epoch":1,"step":12,"seconds":1e999}`, "null")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, pos, metrics string) {
		next, err := New(cfg, newTestTask(cfg, testN, testBatch, buildTiny))
		if err != nil {
			t.Fatal(err)
		}
		f := *ck
		f.Metadata = map[string]string{}
		for k, v := range ck.Metadata {
			f.Metadata[k] = v
		}
		f.Metadata[MetaPosition], f.Metadata[MetaMetrics] = pos, metrics
		if next.Restore(&f) == nil {
			if p := next.pos; p.Epoch < 0 || p.Batch < 0 || p.Step < 0 || p.Samples < 0 || p.Seconds < 0 {
				t.Errorf("restored position %+v", p)
			}
		}
	})
}
