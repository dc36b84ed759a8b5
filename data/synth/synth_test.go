package synth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/data/cocofile"
	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/transform"
)

// digest hashes every file under root with its relative path.
func digest(t *testing.T, root string) []byte {
	t.Helper()
	h := sha256.New()
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		h.Write([]byte(rel))
		h.Write(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h.Sum(nil)
}

func TestSameSeedSameBytes(t *testing.T) {
	for _, task := range []string{"detection", "reid", "segmentation", "finegrained"} {
		t.Run(task, func(t *testing.T) {
			dir := t.TempDir()
			size := map[string]int{"detection": 6, "reid": 6, "segmentation": 3, "finegrained": 2}[task]
			a, b, c := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "c")
			if _, err := Tasks[task](a, Options{Seed: 3, Size: size, Workers: 1}); err != nil {
				t.Fatal(err)
			}
			if _, err := Tasks[task](b, Options{Seed: 3, Size: size, Workers: 3}); err != nil {
				t.Fatal(err)
			}
			if _, err := Tasks[task](c, Options{Seed: 4, Size: size}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(digest(t, a), digest(t, b)) {
				t.Fatal("same seed, different bytes")
			}
			if bytes.Equal(digest(t, a), digest(t, c)) {
				t.Fatal("different seeds, same bytes")
			}
			if _, err := Tasks[task](a, Options{Seed: 3, Size: size}); err == nil || !strings.Contains(err.Error(), "exists") {
				t.Fatalf("overwrote an existing folder: %v", err)
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != 3 {
				t.Fatalf("left behind %d entries", len(entries))
			}
		})
	}
}

func TestDetectionFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "det")
	sum, err := Detection(out, Options{Seed: 1, Size: 30})
	if err != nil {
		t.Fatal(err)
	}
	st := sum.Stats
	if st["small"].(int) == 0 || st["medium"].(int) == 0 || st["large"].(int) == 0 || st["occluded"].(int) == 0 {
		t.Fatalf("size ranges or occlusion missing: %v", st)
	}
	for _, split := range []string{"train2017", "val2017"} {
		ann := filepath.Join(out, "annotations", "instances_"+split+".json")
		if _, err := cocofile.ReadDatasetFile(ann); err != nil {
			t.Fatal(err)
		}
		set, _, err := dataset.ReadCOCO(ann, filepath.Join(out, split))
		if err != nil {
			t.Fatal(err)
		}
		for i := range set.Items {
			smp, err := set.Get(i, transform.NewState(0))
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range smp.Boxes {
				if b[0] < 0 || b[1] < 0 || b[2] > float32(smp.Image.W) || b[3] > float32(smp.Image.H) || b[2] <= b[0] {
					t.Fatalf("box %v outside %dx%d", b, smp.Image.W, smp.Image.H)
				}
			}
		}
	}
}

func TestDetectionEasy(t *testing.T) {
	out := filepath.Join(t.TempDir(), "det")
	sum, err := Detection(out, Options{Seed: 1, Size: 30, Easy: true})
	if err != nil {
		t.Fatal(err)
	}
	// Only a partly hidden digit's visible box may fall below COCO's
	// medium range.
	st := sum.Stats
	if st["large"].(int) != 0 || st["medium"].(int) == 0 || st["small"].(int) > st["occluded"].(int) {
		t.Fatalf("easy variant's sizes: %v", st)
	}
	ann := filepath.Join(out, "annotations", "instances_train2017.json")
	set, _, err := dataset.ReadCOCO(ann, filepath.Join(out, "train2017"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range set.Items {
		smp, err := set.Get(i, transform.NewState(0))
		if err != nil {
			t.Fatal(err)
		}
		if w, h := smp.Image.W, smp.Image.H; w < 128 || w > 160 || h < 128 || h > 160 {
			t.Fatalf("easy canvas %dx%d, want 128 to 160", w, h)
		}
		if n := len(smp.Boxes); n < 1 || n > 4 {
			t.Fatalf("easy canvas with %d digits, want 1 to 4", n)
		}
	}
	for name, gen := range map[string]func(string, Options) (*Summary, error){"reid": ReID, "segmentation": Segmentation, "finegrained": FineGrained} {
		if _, err := gen(filepath.Join(t.TempDir(), name), Options{Seed: 1, Size: 2, Easy: true}); err == nil {
			t.Errorf("%s accepted the easy variant", name)
		}
	}
}

func TestReIDFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "reid")
	if _, err := ReID(out, Options{Seed: 1, Size: 10}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ dir, format string }{{"domain_a", "market1501"}, {"domain_b", "dukemtmcreid"}} {
		d, err := dataset.ReadReID(c.format, filepath.Join(out, c.dir))
		if err != nil {
			t.Fatal(err)
		}
		train, query, gallery := d.Train, d.Query, d.Gallery
		ids := map[int]bool{}
		for _, it := range train.Items {
			ids[it.Label] = true
			if _, _, err := dataset.ParseMarketName(filepath.Base(it.Path)); err != nil {
				t.Fatal(err)
			}
		}
		if len(ids) != 5 {
			t.Fatalf("%s: %d training identities", c.dir, len(ids))
		}
		// Every query has a gallery match from another camera.
		for _, q := range query.Items {
			found := false
			for _, g := range gallery.Items {
				found = found || g.Label == q.Label && g.Camera != q.Camera
			}
			if !found {
				t.Fatalf("%s: query %s has no cross-camera match", c.dir, q.Path)
			}
		}
	}
}

func TestSegmentationFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "seg")
	if _, err := Segmentation(out, Options{Seed: 1, Size: 5}); err != nil {
		t.Fatal(err)
	}
	for si, st := range segStyles {
		for _, split := range []string{"train", "val"} {
			set, err := dataset.ReadSegmentation(st.layout, filepath.Join(out, st.name), split)
			if err != nil {
				t.Fatal(err)
			}
			for _, it := range set.Items {
				m, err := imageio.ReadMask(it.MaskPath, imageio.Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if m.W != st.w || m.H != st.h || !validLabels(m, segStyles[si]) {
					t.Fatalf("%s: bad label map", it.MaskPath)
				}
			}
			smp, err := set.Get(0, transform.NewState(0))
			if err != nil {
				t.Fatal(err)
			}
			classes := set.Mapping.NumClasses()
			seen := map[uint8]bool{}
			for _, v := range smp.Mask.Pix {
				if v != 255 && int(v) >= classes {
					t.Fatalf("%s: train id %d of %d classes", st.name, v, classes)
				}
				seen[v] = true
			}
			if len(seen) < 4 {
				t.Fatalf("%s: only labels %v", st.name, seen)
			}
		}
	}
}

func TestFineGrainedFormat(t *testing.T) {
	out := filepath.Join(t.TempDir(), "fg")
	if _, err := FineGrained(out, Options{Seed: 1, Size: 3}); err != nil {
		t.Fatal(err)
	}
	train, err := dataset.ReadFolder(filepath.Join(out, "train"))
	if err != nil {
		t.Fatal(err)
	}
	val, err := dataset.ReadFolder(filepath.Join(out, "val"))
	if err != nil {
		t.Fatal(err)
	}
	if len(train.Classes) != 20 || len(train.Items) != 40 || len(val.Items) != 20 {
		t.Fatalf("%d classes, %d train, %d val", len(train.Classes), len(train.Items), len(val.Items))
	}
}

// TestStop: a generator whose context ends part-way returns the context's
// error and leaves nothing in the parent folder, not even its temporary
// folder.
func TestStop(t *testing.T) {
	for _, task := range []string{"detection", "reid", "segmentation", "finegrained"} {
		t.Run(task, func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			o := Options{Seed: 1, Size: map[string]int{"detection": 40, "reid": 8, "segmentation": 10, "finegrained": 4}[task], Workers: 2, Context: ctx}
			o.Progress = func(done, _ int) {
				if done == 2 {
					cancel()
				}
			}
			_, err := Tasks[task](filepath.Join(dir, "out"), o)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("error %v, want context.Canceled", err)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a stopped generator left %s", entries[0].Name())
			}
		})
	}
}
