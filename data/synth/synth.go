// Package synth writes small seeded datasets in the real formats of the
// four tasks — COCO detection with real MNIST digits on cluttered
// backgrounds, Market-1501-style re-ID with procedurally drawn pedestrians
// in two domains, Cityscapes/CamVid-style street segmentation in three
// datasets with different label sets, and fine-grained image folders — so
// that the real loaders are what tests and reproduction runs use.
//
// The same seed and size give the same bytes: every image draws from its
// own random stream derived from the seed and its index, whatever the
// number of workers. Output goes to a temporary folder beside the target,
// renamed into place only when complete.
package synth

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"

	"argus/data/imageio"
	"argus/data/transform"
	"argus/internal/atomicfile"
	"argus/tensor"

	"math/rand/v2"
)

// Options configure a generator.
type Options struct {
	Seed uint64
	// Size is the task's size knob (images or identities); 0 takes the
	// task's default.
	Size int
	// Workers is the number of goroutines (default GOMAXPROCS).
	Workers int
	// MNISTDir holds the MNIST IDX files for detection (default: the
	// GoMNIST module's copy).
	MNISTDir string
	// Progress, if set, is called after each image with the number done
	// and the total.
	Progress func(done, total int)
	// Context, if set, stops the generation when it is done: the
	// generator returns its error and leaves nothing at the output.
	Context context.Context
	// Easy selects detection's easy variant (see Detection); the other
	// tasks refuse it.
	Easy bool
}

// Summary describes a generated dataset (the --json output).
type Summary struct {
	Task   string         `json:"task"`
	Out    string         `json:"out"`
	Seed   uint64         `json:"seed"`
	Size   int            `json:"size"`
	Images int            `json:"images"`
	Splits map[string]int `json:"splits"`
	// Stats holds task-specific counts.
	Stats map[string]any `json:"stats,omitempty"`
}

// maxImages bounds a generated dataset, so that a mistyped --size fails
// at once instead of after filling the disk.
const maxImages = 1_000_000

// Tasks lists the generators by name.
var Tasks = map[string]func(out string, o Options) (*Summary, error){
	"detection":    Detection,
	"reid":         ReID,
	"segmentation": Segmentation,
	"finegrained":  FineGrained,
}

// rngFor returns the random stream of item parts of the task.
func rngFor(seed uint64, parts ...int) *rand.Rand {
	return tensor.NewRNG(transform.Mix(seed, parts...)).Rand()
}

// parallel runs fn(0..n−1) on workers goroutines and returns the first
// error.
func parallel(n int, o Options, fn func(i int) error) error {
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var next, done atomic.Int64
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(workers, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				mu.Lock()
				failed := first != nil
				mu.Unlock()
				if failed {
					return
				}
				err := o.stopped()
				if err == nil {
					err = fn(i)
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				d := done.Add(1)
				if o.Progress != nil {
					o.Progress(int(d), n)
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// stopped returns the context's error once it is done.
func (o *Options) stopped() error {
	if o.Context == nil {
		return nil
	}
	return o.Context.Err()
}

// writeImage encodes the canvas (JPEG quality 95 or PNG, by extension).
func writeImage(name string, img *imageio.Image) error {
	if err := mkdirFor(name); err != nil {
		return err
	}
	return atomicfile.Write(name, func(w io.Writer) error {
		return imageio.Encode(w, filepath.Ext(name), imageio.ToNRGBA(img))
	})
}

// writeMask encodes a label map as an 8-bit grey PNG.
func writeMask(name string, m *imageio.Mask) error {
	if err := mkdirFor(name); err != nil {
		return err
	}
	return atomicfile.Write(name, func(w io.Writer) error { return imageio.Encode(w, ".png", m.ToGray()) })
}

func mkdirFor(name string) error { return os.MkdirAll(filepath.Dir(name), 0o755) }
