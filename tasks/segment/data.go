package segment

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"argus/data/dataset"
	"argus/data/imageio"
	"argus/data/loader"
	"argus/data/transform"
	"argus/internal/par"
	"argus/tensor"
)

// Layout returns the folder layout of the dataset at root: "cityscapes"
// when it has leftImg8bit/, "camvid" when it has train/ or val/.
func Layout(root string) (string, error) {
	isDir := func(p string) bool {
		st, err := os.Stat(p)
		return err == nil && st.IsDir()
	}
	switch {
	case isDir(filepath.Join(root, "leftImg8bit")):
		return "cityscapes", nil
	case isDir(filepath.Join(root, "train")) || isDir(filepath.Join(root, "val")):
		return "camvid", nil
	}
	return "", fmt.Errorf("%s is neither a Cityscapes folder (leftImg8bit/) nor a CamVid one (train/, val/)", root)
}

// Names returns the dataset folders under dir, sorted.
func Names(dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if e.IsDir() {
			if _, err := Layout(filepath.Join(dir, e.Name())); err == nil {
				out = append(out, e.Name())
			}
		}
	}
	return out
}

// Open reads split of the dataset named name under dir (dir/name in the
// Cityscapes or CamVid layout, see dataset.ReadSegmentation). A name that
// dir does not hold is an error listing the ones it does.
func Open(dir, name, split string) (*dataset.Set, error) {
	root := filepath.Join(dir, name)
	if name == "" || strings.ContainsAny(name, `/\`) || !isDir(root) {
		have := Names(dir)
		if len(have) == 0 {
			return nil, fmt.Errorf("dataset %q: %s holds no segmentation datasets", name, dir)
		}
		return nil, fmt.Errorf("dataset %q is not in %s (have %s)", name, dir, strings.Join(have, ", "))
	}
	layout, err := Layout(root)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	s, err := dataset.ReadSegmentation(layout, root, split)
	if err != nil {
		return nil, fmt.Errorf("dataset %q: %w", name, err)
	}
	return s, nil
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Part is one dataset's share of a training round: a batch of crops and
// their labels.
type Part struct {
	// Dataset indexes the run's datasets.
	Dataset int
	// X is (N, 3, H, W), normalised; Labels holds N·H·W train ids (255
	// ignored).
	X      *tensor.Tensor
	Labels []int
}

// Round is the batch of one training iteration: Alt batches of the first
// dataset, then one of each other dataset (Dataset Alternation Training),
// or one batch of the only dataset.
type Round struct {
	Parts []Part
}

// union presents several datasets to the loader as one, index by index:
// dataset d's items follow those of datasets 0..d−1, and every sample's
// Domain is its dataset.
type union struct {
	sets []*dataset.Set
	off  []int
}

func newUnion(sets []*dataset.Set) *union {
	u := &union{sets: sets}
	n := 0
	for _, s := range sets {
		u.off = append(u.off, n)
		n += s.Len()
	}
	u.off = append(u.off, n)
	return u
}

func (u *union) Len() int { return u.off[len(u.off)-1] }

func (u *union) Get(i int, st *transform.State) (*transform.Sample, error) {
	d := 0
	for i >= u.off[d+1] {
		d++
	}
	s, err := u.sets[d].Get(i-u.off[d], st)
	if err != nil {
		return nil, err
	}
	s.Domain = d
	return s, nil
}

// rounds is the sampler of training rounds: each epoch has Iters rounds;
// a round takes Alt batches of dataset 0 and one of every other, each
// dataset's batches drawn from its own shuffles (passes e·1024, e·1024+1,
// ... of its sampler), indices offset into the union.
type rounds struct {
	sets  []loader.Indices
	off   []int
	alt   int
	iters int
}

// Batches implements loader.Sampler.
func (r rounds) Batches(epoch int) ([]loader.Batch, error) {
	per := make([][]loader.Batch, len(r.sets))
	for d, s := range r.sets {
		need := r.iters
		if d == 0 {
			need *= r.alt
		}
		for pass := 0; len(per[d]) < need; pass++ {
			b, err := s.Batches(epoch*1024 + pass)
			if err != nil {
				return nil, fmt.Errorf("dataset %d: %w", d, err)
			}
			if len(b) == 0 {
				return nil, fmt.Errorf("dataset %d has fewer images than a batch", d)
			}
			per[d] = append(per[d], b...)
		}
	}
	out := make([]loader.Batch, r.iters)
	for i := range out {
		var idx []int
		for d := range r.sets {
			n := 1
			if d == 0 {
				n = r.alt
			}
			for k := range n {
				for _, j := range per[d][i*n+k].Indices {
					idx = append(idx, r.off[d]+j)
				}
			}
		}
		out[i] = loader.Batch{Indices: idx}
	}
	return out, nil
}

// collateRound groups a round's samples into its parts: consecutive
// samples of one dataset, batch images each.
func collateRound(batch int) func(int, []*transform.Sample) (*Round, error) {
	stack := loader.Stack(imageio.ImageNetMean, imageio.ImageNetStd)
	return func(_ int, ss []*transform.Sample) (*Round, error) {
		r := &Round{}
		for lo := 0; lo < len(ss); lo += batch {
			part := ss[lo:min(lo+batch, len(ss))]
			b, err := stack(0, part)
			if err != nil {
				return nil, err
			}
			if b.Masks == nil {
				return nil, fmt.Errorf("%s has no label map", part[0].Path)
			}
			labels := make([]int, b.Masks.Len())
			for i, v := range b.Masks.Data() {
				labels[i] = int(v)
			}
			r.Parts = append(r.Parts, Part{Dataset: part[0].Domain, X: b.X, Labels: labels})
		}
		return r, nil
	}
}

// firstN returns the first n items of s, or s when n is not positive or
// not smaller than its length.
func firstN(s *dataset.Set, n int) *dataset.Set {
	if n <= 0 || n >= len(s.Items) {
		return s
	}
	c := *s
	c.Items = slices.Clone(s.Items[:n])
	return &c
}

// CheckLabels reads every label map of d's splits and returns the first
// error in dataset order (a file that does not decode, or an id outside
// its layout's label set), so that a run fails before it starts rather
// than at the batch that meets the file.
func (d *Data) CheckLabels() error {
	for _, sets := range [][]*dataset.Set{d.Train, d.Val} {
		for _, s := range sets {
			errs := make([]error, len(s.Items))
			par.For(len(s.Items), 1, func(i int) {
				it := s.Items[i]
				m, err := imageio.ReadMask(it.MaskPath, s.Limits)
				if err == nil && s.Mapping != nil {
					if err = s.Mapping.Check(m); err != nil {
						err = fmt.Errorf("%s: %w", it.MaskPath, err)
					}
				}
				errs[i] = err
			})
			for _, err := range errs {
				if err != nil {
					return err
				}
			}
		}
	}
	return nil
}
