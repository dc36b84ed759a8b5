package imageio

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// rawPNG builds a PNG of one IDAT chunk from unfiltered rows, for the bit
// depths the standard encoder never writes.
func rawPNG(w, h uint32, depth, colorType byte, rows [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := append([]byte(typ), data...)
		b.Write(c)
		binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(c))
	}
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	chunk("IHDR", append(ihdr, depth, colorType, 0, 0, 0))
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	for _, r := range rows {
		zw.Write(append([]byte{0}, r...))
	}
	zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

func TestReadLabels(t *testing.T) {
	dir := t.TempDir()
	gray := image.NewGray(image.Rect(0, 0, 5, 3))
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 17)
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{color.Black, color.White, color.Gray{9}})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	g16 := image.NewGray16(image.Rect(0, 0, 3, 2))
	want16 := []uint16{0, 1, 255, 256, 1000, 65535}
	for i, v := range want16 {
		g16.SetGray16(i%3, i/3, color.Gray16{Y: v})
	}
	for _, tt := range []struct {
		name  string
		img   image.Image
		w, h  int
		want8 []uint8
	}{
		{"gray.png", gray, 5, 3, gray.Pix},
		{"pal.png", pal, 4, 2, pal.Pix},
		{"g16.png", g16, 3, 2, nil},
	} {
		p := filepath.Join(dir, tt.name)
		if err := WriteFile(p, tt.img); err != nil {
			t.Fatal(err)
		}
		l, err := ReadLabels(p, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if l.W != tt.w || l.H != tt.h {
			t.Errorf("%s: %dx%d, want %dx%d", tt.name, l.W, l.H, tt.w, tt.h)
		}
		if tt.want8 != nil {
			if l.Wide() || !bytes.Equal(l.Pix8, tt.want8) {
				t.Errorf("%s: labels %v, want %v", tt.name, l.Pix8, tt.want8)
			}
			if w := l.Widen(); len(w) != len(tt.want8) || w[len(w)-1] != uint16(tt.want8[len(w)-1]) {
				t.Errorf("%s: widened %v", tt.name, w)
			}
		} else if !l.Wide() || !slices.Equal(l.Pix16, want16) || !slices.Equal(l.Widen(), want16) {
			t.Errorf("%s: labels %v, want %v", tt.name, l.Pix16, want16)
		}
	}

	rgb := filepath.Join(dir, "rgb.png")
	if err := WriteFile(rgb, testPattern(4, 4)); err != nil {
		t.Fatal(err)
	}
	oneBit := filepath.Join(dir, "onebit.png")
	os.WriteFile(oneBit, rawPNG(8, 1, 1, 0, [][]byte{{0b10100000}}), 0o644)
	jpg := filepath.Join(dir, "x.jpg")
	os.WriteFile(jpg, []byte("\xff\xd8\xff\xe0rest"), 0o644)
	for _, p := range []string{rgb, oneBit, jpg, filepath.Join(dir, "none.png")} {
		_, err := ReadLabels(p, Limits{})
		if err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("%s: error %v, want one naming the file", p, err)
		}
		if p != filepath.Join(dir, "none.png") && !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v, want ErrFormat", p, err)
		}
	}
	// The same 1-bit rows as a paletted file are indices, and read as such.
	pal1 := filepath.Join(dir, "pal1.png")
	raw := rawPNG(8, 1, 1, 3, [][]byte{{0b10100000}})
	// A palette chunk must precede IDAT: splice one in after IHDR (8+25 bytes).
	var plte bytes.Buffer
	data := []byte{0, 0, 0, 255, 255, 255}
	binary.Write(&plte, binary.BigEndian, uint32(len(data)))
	c := append([]byte("PLTE"), data...)
	plte.Write(c)
	binary.Write(&plte, binary.BigEndian, crc32.ChecksumIEEE(c))
	raw = slices.Concat(raw[:33], plte.Bytes(), raw[33:])
	os.WriteFile(pal1, raw, 0o644)
	l, err := ReadLabels(pal1, Limits{})
	if err != nil || !bytes.Equal(l.Pix8, []uint8{1, 0, 1, 0, 0, 0, 0, 0}) {
		t.Errorf("1-bit paletted: %v, %v", l, err)
	}
}
