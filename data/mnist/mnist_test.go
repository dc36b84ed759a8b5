package mnist

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadRealData(t *testing.T) {
	dir, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.Len() != 60000 || test.Len() != 10000 || train.Rows != 28 || train.Cols != 28 {
		t.Fatalf("sizes %d, %d, %dx%d", train.Len(), test.Len(), train.Rows, train.Cols)
	}
	// Class counts of the official training and test sets.
	wantTrain := [10]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}
	wantTest := [10]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}
	var ctr, cte [10]int
	for _, l := range train.Labels {
		ctr[l]++
	}
	for _, l := range test.Labels {
		cte[l]++
	}
	if ctr != wantTrain || cte != wantTest {
		t.Errorf("class counts %v / %v", ctr, cte)
	}
	x, y := test.Batch([]int{0, 1})
	if s := x.Shape(); s[0] != 2 || s[1] != 1 || s[2] != 28 || y[0] != 7 || y[1] != 2 {
		t.Errorf("batch %v labels %v", s, y)
	}
}

func idx(magic uint32, dims []uint32, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadImagesRejects(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "short header"},
		{"labels as images", idx(labelMagic, []uint32{2, 1, 1}, []byte{1, 2}), "magic"},
		{"truncated", idx(imageMagic, []uint32{2, 2, 2}, []byte{1, 2, 3}), "truncated"},
		{"trailing", idx(imageMagic, []uint32{1, 1, 1}, []byte{1, 2}), "trailing"},
		{"huge", idx(imageMagic, []uint32{1 << 30, 28, 28}, nil), "implausible"},
		{"zero size", idx(imageMagic, []uint32{1, 0, 28}, nil), "implausible"},
		{"bad gzip", []byte{0x1f, 0x8b, 0, 0, 0}, "IDX"},
		{"truncated gzip", gz(idx(imageMagic, []uint32{4, 2, 2}, make([]byte, 16)))[:20], "IDX"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, err := ReadImages(bytes.NewReader(c.in))
			if err == nil || !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrFormat mentioning %q", err, c.want)
			}
		})
	}
}

func TestReadLabelsRejects(t *testing.T) {
	for name, in := range map[string][]byte{
		"not a digit": idx(labelMagic, []uint32{2}, []byte{3, 10}),
		"images":      idx(imageMagic, []uint32{1}, []byte{1}),
		"truncated":   idx(labelMagic, []uint32{3}, []byte{1}),
	} {
		if _, err := ReadLabels(bytes.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: error %v", name, err)
		}
	}
	l, err := ReadLabels(bytes.NewReader(gz(idx(labelMagic, []uint32{3}, []byte{1, 9, 0}))))
	if err != nil || len(l) != 3 || l[1] != 9 {
		t.Errorf("gzipped labels %v, %v", l, err)
	}
}

func TestReadSetErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "img"), idx(imageMagic, []uint32{2, 1, 1}, []byte{1, 2}), 0o644)
	os.WriteFile(filepath.Join(dir, "lab"), idx(labelMagic, []uint32{3}, []byte{1, 2, 3}), 0o644)
	os.WriteFile(filepath.Join(dir, "bad"), []byte("garbage!"), 0o644)
	if _, err := ReadSet(dir, "img", "lab"); err == nil || !strings.Contains(err.Error(), "2 images but") {
		t.Errorf("count mismatch: %v", err)
	}
	if _, err := ReadSet(dir, "bad", "lab"); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "bad")) {
		t.Errorf("corrupt file: %v", err)
	}
	if _, err := ReadSet(dir, "missing.gz", "lab"); err == nil || !strings.Contains(err.Error(), "missing.gz") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idx(imageMagic, []uint32{1, 2, 2}, []byte{1, 2, 3, 4}))
	f.Add(gz(idx(imageMagic, []uint32{1, 1, 3}, []byte{1, 2, 3})))
	f.Add(idx(labelMagic, []uint32{2}, []byte{4, 5}))
	f.Fuzz(func(t *testing.T, b []byte) {
		rows, cols, px, err := ReadImages(bytes.NewReader(b))
		if err == nil && (rows <= 0 || cols <= 0 || len(px)%(rows*cols) != 0) {
			t.Fatalf("accepted %d×%d with %d pixels", rows, cols, len(px))
		}
		if l, err := ReadLabels(bytes.NewReader(b)); err == nil {
			for _, v := range l {
				if v > 9 {
					t.Fatalf("accepted label %d", v)
				}
			}
		}
	})
}
