package loader

import (
	"fmt"

	"argus/data/imageio"
	"argus/data/transform"
	"argus/tensor"
)

// Images is a batch of same-size images: classification, re-ID and
// segmentation.
type Images struct {
	// X is (N, C, H, W), normalised.
	X *tensor.Tensor
	// Labels, Cameras and Domains hold each sample's Label, Camera and
	// Domain.
	Labels, Cameras, Domains []int
	// Masks is (N, H, W) when the samples have masks, else nil.
	Masks *tensor.Int32
	Paths []string
}

// Stack returns a collate function that stacks same-size samples,
// normalising with mean and std (nil for none).
func Stack(mean, std []float32) func(int, []*transform.Sample) (*Images, error) {
	return func(_ int, ss []*transform.Sample) (*Images, error) {
		imgs := make([]*imageio.Image, len(ss))
		b := &Images{Labels: make([]int, len(ss)), Cameras: make([]int, len(ss)), Domains: make([]int, len(ss)), Paths: make([]string, len(ss))}
		for i, s := range ss {
			imgs[i] = s.Image
			b.Labels[i], b.Cameras[i], b.Domains[i], b.Paths[i] = s.Label, s.Camera, s.Domain, s.Path
		}
		var err error
		if b.X, err = imageio.ToTensor(imgs, mean, std); err != nil {
			return nil, fmt.Errorf("stack: %w", err)
		}
		if ss[0].Mask != nil {
			h, w := ss[0].Image.H, ss[0].Image.W
			b.Masks = tensor.Make[int32](len(ss), h, w)
			d := b.Masks.Data()
			for i, s := range ss {
				if s.Mask == nil || s.Mask.H != h || s.Mask.W != w {
					return nil, fmt.Errorf("stack: sample %d (%s) has no %dx%d mask", i, s.Path, w, h)
				}
				for k, v := range s.Mask.Pix {
					d[i*h*w+k] = int32(v)
				}
			}
		}
		return b, nil
	}
}

// Detection is a batch of images of different sizes, padded at the right
// and bottom to one size, with their boxes.
type Detection struct {
	// X is (N, C, H, W): each image at the top left, zeros around it
	// (zeros after normalisation, i.e. the mean colour).
	X *tensor.Tensor
	// Sizes holds each image's height and width before padding.
	Sizes [][2]int
	// Boxes and Labels hold each image's xyxy boxes and their labels.
	Boxes  [][][4]float32
	Labels [][]int
	// Masks is (N, H, W) padded with 255 when the samples have masks.
	Masks *tensor.Int32
	Paths []string
}

// Pad returns a collate function that pads samples to the largest height
// and width of the batch, rounded up to a multiple of divisor (1 for
// none), normalising with mean and std.
func Pad(mean, std []float32, divisor int) func(int, []*transform.Sample) (*Detection, error) {
	divisor = max(divisor, 1)
	return func(_ int, ss []*transform.Sample) (*Detection, error) {
		c, H, W := ss[0].Image.C, 0, 0
		for i, s := range ss {
			if s.Image.C != c {
				return nil, fmt.Errorf("pad: sample %d (%s) has %d channels, sample 0 has %d", i, s.Path, s.Image.C, c)
			}
			H, W = max(H, s.Image.H), max(W, s.Image.W)
		}
		H = (H + divisor - 1) / divisor * divisor
		W = (W + divisor - 1) / divisor * divisor
		b := &Detection{X: tensor.Zeros(len(ss), c, H, W)}
		d := b.X.Data()
		withMasks := ss[0].Mask != nil
		var md []int32
		if withMasks {
			b.Masks = tensor.Make[int32](len(ss), H, W)
			md = b.Masks.Data()
			for i := range md {
				md[i] = imageio.Ignore
			}
		}
		for i, s := range ss {
			m := s.Image
			buf := make([]float32, m.C*m.H*m.W)
			imageio.Normalize(buf, m, mean, std)
			for ch := 0; ch < c; ch++ {
				for y := 0; y < m.H; y++ {
					copy(d[((i*c+ch)*H+y)*W:], buf[(ch*m.H+y)*m.W:(ch*m.H+y+1)*m.W])
				}
			}
			if withMasks {
				if s.Mask == nil || s.Mask.H != m.H || s.Mask.W != m.W {
					return nil, fmt.Errorf("pad: sample %d (%s) has no mask of its image's size", i, s.Path)
				}
				for y := 0; y < m.H; y++ {
					for x := 0; x < m.W; x++ {
						md[(i*H+y)*W+x] = int32(s.Mask.Pix[y*m.W+x])
					}
				}
			}
			b.Sizes = append(b.Sizes, [2]int{m.H, m.W})
			b.Boxes = append(b.Boxes, s.Boxes)
			labels := s.BoxLabels
			if labels == nil {
				labels = make([]int, len(s.Boxes))
			}
			b.Labels = append(b.Labels, labels)
			b.Paths = append(b.Paths, s.Path)
		}
		return b, nil
	}
}
