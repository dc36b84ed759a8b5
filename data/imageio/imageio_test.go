package imageio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func testPattern(w, h int) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetNRGBA(x, y, color.NRGBA{uint8(x * 7), uint8(y * 11), uint8(x*y + 3), 255})
		}
	}
	return m
}

func encodePNG(t testing.TB, img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withSize rewrites a PNG's IHDR width and height and fixes its CRC, as a
// decompression bomb would present itself.
func withSize(b []byte, w, h uint32) []byte {
	out := append([]byte(nil), b...)
	binary.BigEndian.PutUint32(out[16:], w)
	binary.BigEndian.PutUint32(out[20:], h)
	binary.BigEndian.PutUint32(out[29:], crc32.ChecksumIEEE(out[12:29]))
	return out
}

func TestDecodePNGExact(t *testing.T) {
	src := testPattern(13, 7)
	m, err := Decode("p.png", encodePNG(t, src), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.C != 3 || m.H != 7 || m.W != 13 {
		t.Fatalf("size %dx%dx%d", m.C, m.H, m.W)
	}
	back := ToNRGBA(m)
	if !bytes.Equal(back.Pix, src.Pix) {
		t.Fatal("PNG round trip changed pixels")
	}
}

func TestDecodeJPEGMatchesStdlib(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testPattern(33, 17), &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	m, err := Decode("p.jpg", b.Bytes(), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := jpeg.Decode(bytes.NewReader(b.Bytes()))
	n := m.H * m.W
	for y := 0; y < m.H; y++ {
		for x := 0; x < m.W; x++ {
			r, g, bb, _ := ref.At(x, y).RGBA()
			i := y*m.W + x
			want := [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bb >> 8)}
			got := [3]uint8{To8(m.Pix[i]), To8(m.Pix[n+i]), To8(m.Pix[2*n+i])}
			if got != want {
				t.Fatalf("(%d,%d) = %v, want %v", x, y, got, want)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	good := encodePNG(t, testPattern(8, 8))
	cases := []struct {
		name string
		data []byte
		lim  Limits
		want error
	}{
		{"bomb", withSize(good, 100000, 100000), Limits{}, ErrTooLarge},
		{"over custom limit", good, Limits{MaxPixels: 63}, ErrTooLarge},
		{"over byte limit", good, Limits{MaxBytes: 10}, ErrTooLarge},
		{"truncated", good[:len(good)/2], Limits{}, ErrFormat},
		{"garbage", []byte("hello, world"), Limits{}, ErrFormat},
		{"empty", nil, Limits{}, ErrFormat},
		{"bad jpeg", []byte("\xff\xd8\xff\xe0garbage"), Limits{}, ErrFormat},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode("sample.png", c.data, c.lim)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), "sample.png") {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}

func TestReadFileAndMask(t *testing.T) {
	dir := t.TempDir()
	g := image.NewGray(image.Rect(0, 0, 5, 4))
	for i := range g.Pix {
		g.Pix[i] = uint8(i % 3)
	}
	g.Pix[7] = 255
	p := filepath.Join(dir, "m.png")
	if err := WriteFile(p, g); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMask(p, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(m.Pix, g.Pix) || m.W != 5 || m.H != 4 {
		t.Fatalf("mask %v", m)
	}
	img, err := ReadFile(p, Limits{})
	if err != nil || img.W != 5 || img.Pix[7] != 1 {
		t.Fatalf("ReadFile: %v %v", img, err)
	}
	if _, err := ReadFile(filepath.Join(dir, "none.png"), Limits{}); err == nil || !strings.Contains(err.Error(), "none.png") {
		t.Fatalf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nbroken"), 0o644)
	if _, err := ReadMask(bad, Limits{}); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "bad.png") {
		t.Fatalf("corrupt mask: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("temporary file %s left behind", e.Name())
		}
	}
}

func TestTensorRoundTrip(t *testing.T) {
	a, _ := Decode("a.png", encodePNG(t, testPattern(6, 5)), Limits{})
	b, _ := Decode("b.png", encodePNG(t, testPattern(6, 5)), Limits{})
	for i := range b.Pix {
		b.Pix[i] = 1 - b.Pix[i]
	}
	x, err := ToTensor([]*Image{a, b}, ImageNetMean, ImageNetStd)
	if err != nil {
		t.Fatal(err)
	}
	if s := x.Shape(); s[0] != 2 || s[1] != 3 || s[2] != 5 || s[3] != 6 {
		t.Fatalf("shape %v", s)
	}
	// Channel 1, pixel (2, 3) of image 1 by the formula.
	want := (b.Pix[30+2*6+3] - 0.456) / 0.224
	if got := x.At(1, 1, 2, 3); math.Abs(float64(got-want)) > 1e-6 {
		t.Fatalf("normalised %v, want %v", got, want)
	}
	back, err := FromTensor(x, 1, ImageNetMean, ImageNetStd)
	if err != nil {
		t.Fatal(err)
	}
	for i := range back.Pix {
		if math.Abs(float64(back.Pix[i]-b.Pix[i])) > 1e-6 {
			t.Fatalf("sample %d: %v, want %v", i, back.Pix[i], b.Pix[i])
		}
	}
	if _, err := ToTensor([]*Image{a, NewImage(3, 2, 2)}, nil, nil); err == nil {
		t.Fatal("mixed sizes accepted")
	}
}

func FuzzDecode(f *testing.F) {
	good := encodePNG(f, testPattern(4, 3))
	var j bytes.Buffer
	jpeg.Encode(&j, testPattern(9, 9), nil)
	f.Add(good)
	f.Add(j.Bytes())
	f.Add(withSize(good, 1<<20, 1<<20))
	f.Add([]byte("\xff\xd8"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Decode("fuzz", b, Limits{MaxPixels: 1 << 16})
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		if m.H*m.W > 1<<16 || len(m.Pix) != 3*m.H*m.W {
			t.Fatalf("bad image %dx%d with %d samples", m.H, m.W, len(m.Pix))
		}
	})
}

func TestFromYCbCrRatios(t *testing.T) {
	for _, ratio := range []image.YCbCrSubsampleRatio{image.YCbCrSubsampleRatio444, image.YCbCrSubsampleRatio422,
		image.YCbCrSubsampleRatio420, image.YCbCrSubsampleRatio440, image.YCbCrSubsampleRatio411} {
		m := image.NewYCbCr(image.Rect(0, 0, 13, 9), ratio)
		for i := range m.Y {
			m.Y[i] = uint8(i * 37)
		}
		for i := range m.Cb {
			m.Cb[i], m.Cr[i] = uint8(i*53+7), uint8(255-i*29)
		}
		for _, sub := range []image.Image{m, m.SubImage(image.Rect(3, 1, 12, 8))} {
			got := FromImage(sub)
			b := sub.Bounds()
			n := got.H * got.W
			for y := 0; y < got.H; y++ {
				for x := 0; x < got.W; x++ {
					c := sub.At(b.Min.X+x, b.Min.Y+y).(color.YCbCr)
					r, g, bb := color.YCbCrToRGB(c.Y, c.Cb, c.Cr)
					i := y*got.W + x
					if To8(got.Pix[i]) != r || To8(got.Pix[n+i]) != g || To8(got.Pix[2*n+i]) != bb {
						t.Fatalf("ratio %v bounds %v: pixel (%d,%d) differs", ratio, b, x, y)
					}
				}
			}
		}
	}
}
