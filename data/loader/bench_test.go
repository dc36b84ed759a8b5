package loader

import (
	"argus/internal/cputime"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"testing"

	"argus/data/imageio"
	"argus/data/transform"
)

// jpegSet holds encoded JPEGs in memory and decodes them in Get, so that
// the benchmark measures decoding and augmentation, not the disk.
type jpegSet struct {
	files [][]byte
	tf    transform.Transform
}

func (s *jpegSet) Len() int { return len(s.files) }

func (s *jpegSet) Get(i int, st *transform.State) (*transform.Sample, error) {
	img, err := imageio.Decode(fmt.Sprintf("mem-%d.jpg", i), s.files[i], imageio.Limits{})
	if err != nil {
		return nil, err
	}
	smp := &transform.Sample{Image: img, Label: i % 10}
	return smp, s.tf.Apply(smp, st)
}

// benchJPEGs returns n 256×256 JPEGs (quality 90) of smooth colour fields
// with detail, like photographs at that size.
func benchJPEGs(tb testing.TB, n int) [][]byte {
	var out [][]byte
	for k := range n {
		m := image.NewRGBA(image.Rect(0, 0, 256, 256))
		for y := 0; y < 256; y++ {
			for x := 0; x < 256; x++ {
				fx, fy := float64(x)/256, float64(y)/256
				r := 128 + 100*math.Sin(6*fx+float64(k))
				g := 128 + 100*math.Cos(5*fy+2*fx)
				b := 128 + 60*math.Sin(20*fx*fy) + float64((x*y+k)%17)
				m.SetRGBA(x, y, color.RGBA{uint8(r), uint8(g), uint8(min(b, 255)), 255})
			}
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, m, &jpeg.Options{Quality: 90}); err != nil {
			tb.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return out
}

// BenchmarkImageNetPipeline decodes 256-px JPEGs, random-resized-crops to
// 224, flips, normalises and stacks batches of 64: the recipe torchvision's
// ImageNet example runs with a DataLoader.
func BenchmarkImageNetPipeline(b *testing.B) {
	for _, workers := range []int{1, 2} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			const n, batch = 512, 64
			ds := &jpegSet{files: benchJPEGs(b, n), tf: transform.Compose{
				transform.RandomResizedCrop{W: 224, H: 224},
				transform.HFlip{P: 0.5},
			}}
			l := New([]Dataset{ds}, Indices{N: n, BatchSize: batch, Shuffle: true, DropLast: true},
				Stack(imageio.ImageNetMean, imageio.ImageNetStd), Options{Workers: workers})
			epoch := 0
			cpu0 := cputime.Seconds()
			for b.Loop() {
				it, err := l.Epoch(context.Background(), epoch)
				if err != nil {
					b.Fatal(err)
				}
				for {
					if _, err := it.Next(); err != nil {
						if !errors.Is(err, ErrDone) {
							b.Fatal(err)
						}
						break
					}
				}
				epoch++
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "images/s")
			// CPU time stays meaningful when other work shares the cores:
			// images per CPU-second times 2 is the two-core rate of an idle
			// machine.
			if cpu := cputime.Seconds() - cpu0; cpu > 0 {
				b.ReportMetric(1e3*cpu/float64(n*b.N), "cpu-ms/image")
			}
		})
	}
}

// BenchmarkStages times each stage of the pipeline on one image.
func BenchmarkStages(b *testing.B) {
	files := benchJPEGs(b, 8)
	b.Run("decode", func(b *testing.B) {
		i := 0
		cpu0 := cputime.Seconds()
		for b.Loop() {
			if _, err := imageio.Decode("x.jpg", files[i%8], imageio.Limits{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(1e3*(cputime.Seconds()-cpu0)/float64(b.N), "cpu-ms/op")
	})
	img, _ := imageio.Decode("x.jpg", files[0], imageio.Limits{})
	b.Run("crop-resize", func(b *testing.B) {
		st := transform.NewState(1)
		cpu0 := cputime.Seconds()
		for b.Loop() {
			s := &transform.Sample{Image: img}
			transform.RandomResizedCrop{W: 224, H: 224}.Apply(s, st)
		}
		b.ReportMetric(1e3*(cputime.Seconds()-cpu0)/float64(b.N), "cpu-ms/op")
	})
	b.Run("normalise", func(b *testing.B) {
		dst := make([]float32, len(img.Pix))
		for b.Loop() {
			imageio.Normalize(dst, img, imageio.ImageNetMean, imageio.ImageNetStd)
		}
	})
}
