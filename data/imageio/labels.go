package imageio

import (
	"bytes"
	"fmt"
	"image"
)

// Labels is an integer label map as a PNG stores it: H·W labels, label
// (y, x) at index y·W + x. Files of 8-bit samples fill Pix8 and leave Pix16
// nil; 16-bit grey files fill Pix16 and leave Pix8 nil. Unlike a Mask, the
// values are kept as written, up to 65535, with no meaning given to 255.
type Labels struct {
	H, W  int
	Pix8  []uint8
	Pix16 []uint16
}

// Wide reports whether the labels came from a 16-bit file.
func (l *Labels) Wide() bool { return l.Pix16 != nil }

// Widen returns the labels as 16-bit values, converting 8-bit ones.
func (l *Labels) Widen() []uint16 {
	if l.Pix16 != nil {
		return l.Pix16
	}
	w := make([]uint16, len(l.Pix8))
	for i, v := range l.Pix8 {
		w[i] = uint16(v)
	}
	return w
}

// ReadLabels decodes a PNG label map: an 8-bit grey or paletted PNG (the
// sample or palette index is the label) or a 16-bit grey PNG. Grey files of
// 1, 2 or 4 bits are refused, because the decoder scales their samples to
// 0..255 and the labels written would be lost.
func ReadLabels(name string, lim Limits) (*Labels, error) {
	lim = lim.withDefaults()
	b, err := readLimited(name, lim.MaxBytes)
	if err != nil {
		return nil, err
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
		return nil, fmt.Errorf("decode %s: %w: a label map must be a PNG", name, ErrFormat)
	}
	// IHDR is the first chunk: bit depth at byte 24, colour type at 25.
	if len(b) > 25 && b[25] == 0 && b[24] < 8 {
		return nil, fmt.Errorf("decode %s: %w: %d-bit grey label map, want 8 or 16 bits", name, ErrFormat, b[24])
	}
	img, err := DecodeBytes(name, b, lim)
	if err != nil {
		return nil, err
	}
	r := img.Bounds()
	l := &Labels{H: r.Dy(), W: r.Dx()}
	switch s := img.(type) {
	case *image.Gray:
		l.Pix8 = rows8(s.Pix, s.Stride, l.W, l.H)
	case *image.Paletted:
		l.Pix8 = rows8(s.Pix, s.Stride, l.W, l.H)
	case *image.Gray16:
		l.Pix16 = make([]uint16, l.W*l.H)
		for y := 0; y < l.H; y++ {
			row := s.Pix[y*s.Stride : y*s.Stride+2*l.W]
			out := l.Pix16[y*l.W : (y+1)*l.W]
			for x := range out {
				out[x] = uint16(row[2*x])<<8 | uint16(row[2*x+1])
			}
		}
	default:
		return nil, fmt.Errorf("decode %s: %w: label map is %T, want grey or paletted", name, ErrFormat, img)
	}
	return l, nil
}

// rows8 returns the h rows of w bytes of a strided image, without copying
// when the rows are contiguous.
func rows8(pix []uint8, stride, w, h int) []uint8 {
	if stride == w {
		return pix[:w*h]
	}
	out := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		copy(out[y*w:(y+1)*w], pix[y*stride:])
	}
	return out
}
