// Package imageio decodes JPEG and PNG files into planar float32 images,
// refusing decompression bombs and corrupt files with an error that names
// the file, and converts between images and normalised NCHW tensors.
//
// An Image holds C planes of H·W samples in [0, 1]; sample (c, y, x) is at
// Pix[c·H·W + y·W + x]. A Mask is a label map of H·W bytes; label (y, x) is
// at Pix[y·W + x].
package imageio

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"

	"argus/internal/atomicfile"
	"argus/tensor"
)

// Image is a planar float32 image with samples in [0, 1].
type Image struct {
	C, H, W int
	// Pix holds C·H·W samples, plane after plane, rows top to bottom.
	Pix []float32
}

// NewImage returns a black image of the given size.
func NewImage(c, h, w int) *Image {
	return &Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
}

// Plane returns the samples of channel c.
func (m *Image) Plane(c int) []float32 { return m.Pix[c*m.H*m.W : (c+1)*m.H*m.W] }

// Clone returns a deep copy of m.
func (m *Image) Clone() *Image {
	return &Image{C: m.C, H: m.H, W: m.W, Pix: append([]float32(nil), m.Pix...)}
}

// Mask is a label map: one byte per pixel, 255 meaning "ignore".
type Mask struct {
	H, W int
	Pix  []uint8
}

// Ignore is the label that losses and metrics skip.
const Ignore = 255

// NewMask returns a mask of the given size filled with v.
func NewMask(h, w int, v uint8) *Mask {
	m := &Mask{H: h, W: w, Pix: make([]uint8, h*w)}
	if v != 0 {
		for i := range m.Pix {
			m.Pix[i] = v
		}
	}
	return m
}

// Clone returns a deep copy of m.
func (m *Mask) Clone() *Mask { return &Mask{H: m.H, W: m.W, Pix: append([]uint8(nil), m.Pix...)} }

// Limits bound what a decoder accepts. A zero field takes its default.
type Limits struct {
	// MaxPixels bounds width·height, read from the header before any
	// pixel is decoded (PIL's MAX_IMAGE_PIXELS is 89,478,485).
	MaxPixels int
	// MaxBytes bounds the file size.
	MaxBytes int64
}

// Default limits: PIL's pixel limit and 256 MiB of file.
const (
	DefaultMaxPixels       = 89_478_485
	DefaultMaxBytes  int64 = 256 << 20
)

func (l Limits) withDefaults() Limits {
	if l.MaxPixels <= 0 {
		l.MaxPixels = DefaultMaxPixels
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}

// Errors that callers may need to tell apart.
var (
	// ErrTooLarge is wrapped by errors for images over the limits.
	ErrTooLarge = errors.New("image exceeds the size limit")
	// ErrFormat is wrapped by errors for files that are not a readable
	// JPEG or PNG.
	ErrFormat = errors.New("not a valid JPEG or PNG image")
)

// DecodeBytes decodes a JPEG or PNG held in b. The name is used in errors.
func DecodeBytes(name string, b []byte, lim Limits) (image.Image, error) {
	lim = lim.withDefaults()
	if int64(len(b)) > lim.MaxBytes {
		return nil, fmt.Errorf("decode %s: %w: %d bytes over %d", name, ErrTooLarge, len(b), lim.MaxBytes)
	}
	var decode func(io.Reader) (image.Image, error)
	var config func(io.Reader) (image.Config, error)
	switch {
	case bytes.HasPrefix(b, []byte("\xff\xd8")):
		decode, config = jpeg.Decode, jpeg.DecodeConfig
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		decode, config = png.Decode, png.DecodeConfig
	default:
		return nil, fmt.Errorf("decode %s: %w: unknown signature", name, ErrFormat)
	}
	cfg, err := config(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %v", name, ErrFormat, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("decode %s: %w: empty %dx%d image", name, ErrFormat, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > int64(lim.MaxPixels) {
		return nil, fmt.Errorf("decode %s: %w: %dx%d is over %d pixels", name, ErrTooLarge, cfg.Width, cfg.Height, lim.MaxPixels)
	}
	img, err := decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("decode %s: %w: %v", name, ErrFormat, err)
	}
	return img, nil
}

// readLimited reads a whole file, refusing files over max bytes.
func readLimited(name string, max int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("read image: %w", err)
	}
	defer f.Close()
	var buf bytes.Buffer
	if st, err := f.Stat(); err == nil && st.Size() <= max {
		buf.Grow(int(st.Size()))
	}
	n, err := io.Copy(&buf, io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if n > max {
		return nil, fmt.Errorf("read %s: %w: more than %d bytes", name, ErrTooLarge, max)
	}
	return buf.Bytes(), nil
}

// ReadFile decodes the JPEG or PNG file name into an RGB Image (grey
// images are expanded to three channels).
func ReadFile(name string, lim Limits) (*Image, error) {
	lim = lim.withDefaults()
	b, err := readLimited(name, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	img, err := DecodeBytes(name, b, lim)
	if err != nil {
		return nil, err
	}
	return FromImage(img), nil
}

// ReadMask decodes a PNG label map: a grey or paletted PNG whose sample
// (or palette index) values are the labels.
func ReadMask(name string, lim Limits) (*Mask, error) {
	lim = lim.withDefaults()
	b, err := readLimited(name, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, fmt.Errorf("decode %s: %w: a label map must be a PNG", name, ErrFormat)
	}
	img, err := DecodeBytes(name, b, lim)
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	m := &Mask{H: r.Dy(), W: r.Dx(), Pix: make([]uint8, r.Dx()*r.Dy())}
	switch s := img.(type) {
	case *image.Gray:
		for y := 0; y < m.H; y++ {
			copy(m.Pix[y*m.W:(y+1)*m.W], s.Pix[y*s.Stride:])
		}
	case *image.Paletted:
		for y := 0; y < m.H; y++ {
			copy(m.Pix[y*m.W:(y+1)*m.W], s.Pix[y*s.Stride:])
		}
	case *image.Gray16:
		for y := 0; y < m.H; y++ {
			for x := 0; x < m.W; x++ {
				v := uint16(s.Pix[y*s.Stride+2*x])<<8 | uint16(s.Pix[y*s.Stride+2*x+1])
				if v > 255 {
					return nil, fmt.Errorf("decode %s: %w: label %d at (%d,%d) over 255", name, ErrFormat, v, x, y)
				}
				m.Pix[y*m.W+x] = uint8(v)
			}
		}
	default:
		return nil, fmt.Errorf("decode %s: %w: label map is %T, want 8-bit grey or paletted", name, ErrFormat, img)
	}
	return m, nil
}

// FromImage converts any image to an RGB Image, with fast paths for the
// types the JPEG and PNG decoders return.
func FromImage(img image.Image) *Image {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := NewImage(3, h, w)
	n := w * h
	R, G, B := out.Pix[:n], out.Pix[n:2*n], out.Pix[2*n:]
	switch s := img.(type) {
	case *image.YCbCr:
		fromYCbCr(s, R, G, B)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+w]
			for x, v := range row {
				f := lut[v]
				R[y*w+x], G[y*w+x], B[y*w+x] = f, f, f
			}
		}
	case *image.RGBA:
		fromRGBA(s.Pix, s.Stride, w, h, R, G, B)
	case *image.NRGBA:
		fromRGBA(s.Pix, s.Stride, w, h, R, G, B)
	default:
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				c := color.NRGBA64Model.Convert(img.At(r.Min.X+x, r.Min.Y+y)).(color.NRGBA64)
				R[y*w+x] = float32(c.R) / 65535
				G[y*w+x] = float32(c.G) / 65535
				B[y*w+x] = float32(c.B) / 65535
			}
		}
	}
	return out
}

// lut maps a byte to its sample value.
var lut = func() (t [256]float32) {
	for i := range t {
		t[i] = float32(i) / 255
	}
	return
}()

// fromRGBA ignores alpha: a non-premultiplied NRGBA's colour channels are
// the stored ones, and decoded RGBA images are opaque.
func fromRGBA(pix []uint8, stride, w, h int, R, G, B []float32) {
	for y := 0; y < h; y++ {
		row := pix[y*stride : y*stride+4*w]
		o := y * w
		for x := 0; x < w; x++ {
			R[o+x] = lut[row[4*x]]
			G[o+x] = lut[row[4*x+1]]
			B[o+x] = lut[row[4*x+2]]
		}
	}
}

// fromYCbCr converts with the standard library's integer formula
// (color.YCbCrToRGB), walking chroma rows directly for the common
// subsampling ratios instead of computing offsets per pixel.
func fromYCbCr(s *image.YCbCr, R, G, B []float32) {
	r := s.Rect
	w := r.Dx()
	hs := 0 // horizontal chroma subsampling shift; COffset handles rows
	switch s.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		hs = 1
	case image.YCbCrSubsampleRatio440:
	default:
		for y := r.Min.Y; y < r.Max.Y; y++ {
			o := (y - r.Min.Y) * w
			for x := r.Min.X; x < r.Max.X; x++ {
				cr, cg, cb := color.YCbCrToRGB(s.Y[s.YOffset(x, y)], s.Cb[s.COffset(x, y)], s.Cr[s.COffset(x, y)])
				R[o], G[o], B[o] = lut[cr], lut[cg], lut[cb]
				o++
			}
		}
		return
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		yrow := s.Y[s.YOffset(r.Min.X, y):]
		c0 := s.COffset(r.Min.X, y)
		cbrow, crrow := s.Cb[c0:], s.Cr[c0:]
		o := (y - r.Min.Y) * w
		rr, gg, bb := R[o:o+w], G[o:o+w], B[o:o+w]
		// The first pixel's chroma sample may be the second of its pair
		// when the rectangle starts at an odd x.
		odd := (r.Min.X & hs)
		for x := 0; x < w; x++ {
			ci := (x + odd) >> hs
			yy1 := int32(yrow[x]) * 0x10101
			cb1 := int32(cbrow[ci]) - 128
			cr1 := int32(crrow[ci]) - 128
			rr[x] = lut[clip8(yy1+91881*cr1)]
			gg[x] = lut[clip8(yy1-22554*cb1-46802*cr1)]
			bb[x] = lut[clip8(yy1+116130*cb1)]
		}
	}
}

// clip8 turns a 16.16 fixed-point value into a byte, clamping as
// color.YCbCrToRGB does.
func clip8(v int32) uint8 {
	if uint32(v)&0xff000000 == 0 {
		return uint8(v >> 16)
	}
	return uint8(^(v >> 31))
}

// ToNRGBA converts m (1 or 3 channels) to an 8-bit image, rounding and
// clamping each sample.
func ToNRGBA(m *Image) *image.NRGBA {
	out := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
	n := m.H * m.W
	for i := 0; i < n; i++ {
		var r, g, b uint8
		if m.C >= 3 {
			r, g, b = To8(m.Pix[i]), To8(m.Pix[n+i]), To8(m.Pix[2*n+i])
		} else {
			r = To8(m.Pix[i])
			g, b = r, r
		}
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = r, g, b, 255
	}
	return out
}

// To8 rounds a sample in [0, 1] to a byte, clamping values outside.
func To8(v float32) uint8 {
	v = v*255 + 0.5
	if !(v >= 0) { // also NaN
		return 0
	}
	if v >= 255 {
		return 255
	}
	return uint8(v)
}

// ToGray converts a mask to an 8-bit grey image holding the labels.
func (m *Mask) ToGray() *image.Gray {
	g := image.NewGray(image.Rect(0, 0, m.W, m.H))
	copy(g.Pix, m.Pix)
	return g
}

// WriteFile encodes img as PNG or JPEG (by the extension of name, quality
// 95 for JPEG) and writes it atomically (see atomicfile.Write).
func WriteFile(name string, img image.Image) error {
	return atomicfile.Write(name, func(w io.Writer) error { return Encode(w, filepath.Ext(name), img) })
}

// Encode writes img in the format named by ext (".png", ".jpg", ".jpeg").
func Encode(w io.Writer, ext string, img image.Image) error {
	switch ext {
	case ".png", ".PNG":
		e := png.Encoder{CompressionLevel: png.BestSpeed}
		return e.Encode(w, img)
	case ".jpg", ".jpeg", ".JPG", ".JPEG":
		// The encoder has a fast path for *image.RGBA only; an opaque
		// NRGBA holds the same bytes.
		if n, ok := img.(*image.NRGBA); ok && n.Opaque() {
			img = &image.RGBA{Pix: n.Pix, Stride: n.Stride, Rect: n.Rect}
		}
		return jpeg.Encode(w, img, &jpeg.Options{Quality: 95})
	}
	return fmt.Errorf("unknown image extension %q (want .png or .jpg)", ext)
}

// ToTensor stacks images of one size into an (N, C, H, W) tensor,
// normalising channel c as (v − mean[c]) / std[c]. Nil mean and std leave
// the samples as they are. It returns an error if the sizes differ.
func ToTensor(imgs []*Image, mean, std []float32) (*tensor.Tensor, error) {
	if len(imgs) == 0 {
		return nil, fmt.Errorf("to tensor: no images")
	}
	c, h, w := imgs[0].C, imgs[0].H, imgs[0].W
	if (mean != nil && len(mean) != c) || (std != nil && len(std) != c) {
		return nil, fmt.Errorf("to tensor: %d channels but %d means and %d stds", c, len(mean), len(std))
	}
	t := tensor.Zeros(len(imgs), c, h, w)
	d := t.Data()
	for i, m := range imgs {
		if m.C != c || m.H != h || m.W != w {
			return nil, fmt.Errorf("to tensor: image %d is %dx%dx%d, image 0 is %dx%dx%d", i, m.C, m.H, m.W, c, h, w)
		}
		Normalize(d[i*c*h*w:(i+1)*c*h*w], m, mean, std)
	}
	return t, nil
}

// Normalize writes m's samples into dst (len C·H·W) as (v − mean[c]) /
// std[c]; nil mean and std copy them unchanged.
func Normalize(dst []float32, m *Image, mean, std []float32) {
	hw := m.H * m.W
	for ch := 0; ch < m.C; ch++ {
		src := m.Pix[ch*hw : (ch+1)*hw]
		out := dst[ch*hw : (ch+1)*hw]
		if mean == nil || std == nil {
			copy(out, src)
			continue
		}
		mu, inv := mean[ch], 1/std[ch]
		for i, v := range src {
			out[i] = (v - mu) * inv
		}
	}
}

// FromTensor undoes ToTensor for image i of an (N, C, H, W) tensor.
func FromTensor(t *tensor.Tensor, i int, mean, std []float32) (*Image, error) {
	s := t.Shape()
	if len(s) != 4 || i < 0 || i >= s[0] {
		return nil, fmt.Errorf("from tensor: want image %d of an NCHW tensor, have shape %v", i, s)
	}
	c, h, w := s[1], s[2], s[3]
	if (mean != nil && len(mean) != c) || (std != nil && len(std) != c) {
		return nil, fmt.Errorf("from tensor: %d channels but %d means and %d stds", c, len(mean), len(std))
	}
	m := NewImage(c, h, w)
	src := t.Data()[i*c*h*w : (i+1)*c*h*w]
	hw := h * w
	for ch := 0; ch < c; ch++ {
		for k := 0; k < hw; k++ {
			v := src[ch*hw+k]
			if mean != nil && std != nil {
				v = v*std[ch] + mean[ch]
			}
			m.Pix[ch*hw+k] = v
		}
	}
	return m, nil
}

// ImageNet normalisation constants, as torchvision uses them.
var (
	ImageNetMean = []float32{0.485, 0.456, 0.406}
	ImageNetStd  = []float32{0.229, 0.224, 0.225}
)

// Decode decodes a JPEG or PNG held in b into an RGB Image; name is used
// in errors.
func Decode(name string, b []byte, lim Limits) (*Image, error) {
	img, err := DecodeBytes(name, b, lim)
	if err != nil {
		return nil, err
	}
	return FromImage(img), nil
}
