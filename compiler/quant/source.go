package quant

import (
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"argus/checkpoint"
	"argus/compiler/onnx"
	"argus/compiler/xgraph"
	"argus/data/imageio"
	"argus/data/transform"
)

// Preprocess is how a calibration image becomes a model input: the
// shorter side resized to Size/Crop (Crop 0 means 0.875, ImageNet's 256 for
// 224; 1 keeps the whole shorter side), the centre Size×Size crop, and each
// channel normalised as (v − Mean)/Std. Grey
// makes a one-channel input of the luma 0.299·R + 0.587·G + 0.114·B (as
// torchvision's Grayscale), for models of grey images; Mean and Std then
// hold one value each.
type Preprocess struct {
	Size      int
	Crop      float64
	Mean, Std []float32
	Grey      bool
}

// ImageNet returns the preprocessing of torchvision's ImageNet models at
// the given size, with copies of imageio.ImageNetMean and ImageNetStd: the
// normalisation OpenSource uses when Mean is nil.
func ImageNet(size int) Preprocess {
	return Preprocess{Size: size, Mean: slices.Clone(imageio.ImageNetMean), Std: slices.Clone(imageio.ImageNetStd)}
}

// The file kinds a calibration folder may hold.
var (
	imageExts  = []string{".jpg", ".jpeg", ".png"}
	tensorExts = []string{".pb", ".safetensors"}
)

// OpenSource returns the calibration samples in dir, at most n of them
// (all when n ≤ 0), in the order of their file names (the folder is read
// recursively): JPEG and PNG images, preprocessed by pre, or serialised
// ONNX TensorProto (.pb) and .safetensors files of float tensors, each
// C×H×W tensor one sample and each N×C×H×W tensor N samples, already
// normalised. A folder with neither, or with both, is an error.
func OpenSource(dir string, pre Preprocess, n int) (Source, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("calibration folder: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("calibration folder %s is not a folder", dir)
	}
	var images, tensors []string
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		ext := strings.ToLower(filepath.Ext(path))
		switch {
		case slices.Contains(imageExts, ext):
			images = append(images, path)
		case slices.Contains(tensorExts, ext):
			tensors = append(tensors, path)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("calibration folder %s: %w", dir, err)
	}
	switch {
	case len(images) == 0 && len(tensors) == 0:
		return nil, fmt.Errorf("calibration folder %s holds no images (.jpg, .png) or tensors (.pb, .safetensors)", dir)
	case len(images) > 0 && len(tensors) > 0:
		return nil, fmt.Errorf("calibration folder %s holds both images and tensors; give one kind", dir)
	case len(images) > 0:
		slices.Sort(images)
		if n > 0 && len(images) > n {
			images = images[:n]
		}
		if pre.Size <= 0 {
			return nil, fmt.Errorf("image size %d: want a positive size", pre.Size)
		}
		if pre.Crop == 0 {
			pre.Crop = 0.875
		}
		if !(pre.Crop > 0 && pre.Crop <= 1) {
			return nil, fmt.Errorf("crop fraction %g: want one in (0, 1]", pre.Crop)
		}
		if pre.Mean == nil && !pre.Grey {
			d := ImageNet(pre.Size)
			pre.Mean, pre.Std = d.Mean, d.Std
		}
		c := 3
		if pre.Grey {
			c = 1
		}
		if len(pre.Mean) != c || len(pre.Std) != c {
			return nil, fmt.Errorf("%d means and %d stds for images of %d channels; give %d of each", len(pre.Mean), len(pre.Std), c, c)
		}
		return &imageSource{files: images, pre: pre}, nil
	}
	slices.Sort(tensors)
	return readTensors(tensors, n)
}

// imageSource decodes its images when they are read.
type imageSource struct {
	files []string
	pre   Preprocess
}

func (s *imageSource) Len() int { return len(s.files) }

func (s *imageSource) Sample(i int) (*xgraph.Tensor, error) {
	img, err := imageio.ReadFile(s.files[i], imageio.Limits{})
	if err != nil {
		return nil, err
	}
	img = CenterCrop(img, s.pre.Size, s.pre.Crop)
	if s.pre.Grey {
		img = grey(img)
	}
	t := xgraph.Zero(xgraph.Float32, img.C, img.H, img.W)
	imageio.Normalize(t.F, img, s.pre.Mean, s.pre.Std)
	return t, nil
}

// CenterCrop resizes m so that its shorter side is round(size/crop) and
// returns the centre size×size crop: ImageNet's evaluation transform with
// crop 0.875. An image of that size already is not resampled.
func CenterCrop(m *imageio.Image, size int, crop float64) *imageio.Image {
	short := int(math.Round(float64(size) / crop))
	w, h := m.W, m.H
	if w < h {
		w, h = short, int(math.Round(float64(m.H)*float64(short)/float64(m.W)))
	} else {
		w, h = int(math.Round(float64(m.W)*float64(short)/float64(m.H))), short
	}
	r := m
	if w, h = max(w, size), max(h, size); w != m.W || h != m.H {
		r = transform.ResizeImage(m, 0, 0, m.W, m.H, w, h)
	}
	x0, y0 := (r.W-size)/2, (r.H-size)/2
	out := imageio.NewImage(r.C, size, size)
	for c := 0; c < r.C; c++ {
		for y := 0; y < size; y++ {
			copy(out.Pix[(c*size+y)*size:(c*size+y+1)*size], r.Pix[(c*r.H+y0+y)*r.W+x0:])
		}
	}
	return out
}

// grey returns the luma of an RGB image as a one-channel image.
func grey(m *imageio.Image) *imageio.Image {
	out := imageio.NewImage(1, m.H, m.W)
	r, g, b := m.Plane(0), m.Plane(1), m.Plane(2)
	for i := range out.Pix {
		out.Pix[i] = 0.299*r[i] + 0.587*g[i] + 0.114*b[i]
	}
	return out
}

// tensorSource holds samples read from tensor files.
type tensorSource struct{ samples []*xgraph.Tensor }

func (s *tensorSource) Len() int                             { return len(s.samples) }
func (s *tensorSource) Sample(i int) (*xgraph.Tensor, error) { return s.samples[i], nil }

// readTensors reads the tensor files until n samples (all when n ≤ 0).
func readTensors(files []string, n int) (Source, error) {
	s := &tensorSource{}
	add := func(path, name string, t *xgraph.Tensor) error {
		if !t.DType.IsFloat() || (len(t.Shape) != 3 && len(t.Shape) != 4) {
			return fmt.Errorf("%s: tensor %q is %s; calibration takes float C×H×W or N×C×H×W tensors", path, name, t)
		}
		if len(t.Shape) == 3 {
			t = t.Reshaped(append([]int{1}, t.Shape...))
		}
		per := t.Len() / max(t.Shape[0], 1)
		for i := 0; i < t.Shape[0] && (n <= 0 || len(s.samples) < n); i++ {
			s.samples = append(s.samples, xgraph.NewFloat(t.F[i*per:(i+1)*per], t.Shape[1:]...))
		}
		return nil
	}
	for _, path := range files {
		if n > 0 && len(s.samples) >= n {
			break
		}
		if strings.EqualFold(filepath.Ext(path), ".pb") {
			t, name, err := onnx.ReadTensor(path)
			if err != nil {
				return nil, err
			}
			if err := add(path, name, t); err != nil {
				return nil, err
			}
			continue
		}
		f, err := checkpoint.ReadFile(path)
		if err != nil {
			return nil, err
		}
		for _, name := range f.Names {
			e := f.Tensors[name]
			if e.DType != checkpoint.F32 && e.DType != checkpoint.F64 && e.DType != checkpoint.F16 && e.DType != checkpoint.BF16 {
				return nil, fmt.Errorf("%s: tensor %q is %s; calibration takes float tensors", path, name, e.DType)
			}
			d, err := e.Float32()
			if err != nil {
				return nil, fmt.Errorf("%s: tensor %q: %w", path, name, err)
			}
			if err := add(path, name, xgraph.FromDense(d)); err != nil {
				return nil, err
			}
		}
	}
	return s, nil
}
