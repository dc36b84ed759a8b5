// Package checkpoint reads and writes safetensors files and stores models,
// optimiser state and training metadata in them.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON mapping tensor names to {"dtype", "shape", "data_offsets"} (offsets
// into the data buffer that follows, half-open, with no holes and no
// overlaps) plus an optional "__metadata__" object of strings, and then the
// data buffer itself: little-endian, row-major.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"

	"argus/internal/atomicfile"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation
// does, so that a corrupt length is refused before anything is allocated.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header entry holding string metadata.
const metadataKey = "__metadata__"

// DType is a safetensors element type.
type DType string

// The element types of the safetensors format.
const (
	F64    DType = "F64"
	F32    DType = "F32"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I64    DType = "I64"
	I32    DType = "I32"
	I16    DType = "I16"
	I8     DType = "I8"
	U64    DType = "U64"
	U32    DType = "U32"
	U16    DType = "U16"
	U8     DType = "U8"
	Bool   DType = "BOOL"
	F8E4M3 DType = "F8_E4M3"
	F8E5M2 DType = "F8_E5M2"
)

// Size returns the number of bytes of one element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64, U64:
		return 8
	case F32, I32, U32:
		return 4
	case F16, BF16, I16, U16:
		return 2
	case I8, U8, Bool, F8E4M3, F8E5M2:
		return 1
	}
	return 0
}

// ErrFormat is wrapped by every error that reports a malformed file.
var ErrFormat = errors.New("not a valid safetensors file")

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}

// Entry is one tensor of a file: its type, shape and raw little-endian bytes.
type Entry struct {
	DType DType
	Shape []int
	Data  []byte
}

// File is the content of a safetensors file.
type File struct {
	// Names lists the tensors in the order of their data in the buffer.
	Names []string
	// Tensors maps each name to its entry.
	Tensors map[string]Entry
	// Metadata holds the "__metadata__" strings; it may be nil.
	Metadata map[string]string
}

// NewFile returns an empty file ready for Add.
func NewFile() *File { return &File{Tensors: map[string]Entry{}, Metadata: map[string]string{}} }

// Add appends a tensor. It returns an error if the name is taken or reserved,
// or if the data does not match the type and shape.
func (f *File) Add(name string, e Entry) error {
	if name == metadataKey {
		return fmt.Errorf("tensor name %q is reserved", name)
	}
	if _, ok := f.Tensors[name]; ok {
		return fmt.Errorf("duplicate tensor name %q", name)
	}
	n, err := byteSize(e.DType, e.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", name, err)
	}
	if n != int64(len(e.Data)) {
		return fmt.Errorf("tensor %q: %s %v needs %d bytes, have %d", name, e.DType, e.Shape, n, len(e.Data))
	}
	if f.Tensors == nil {
		f.Tensors = map[string]Entry{}
	}
	f.Names = append(f.Names, name)
	f.Tensors[name] = e
	return nil
}

// byteSize returns the size in bytes of a tensor of type d and the given
// shape, refusing unknown types, negative dimensions and overflow.
func byteSize(d DType, shape []int) (int64, error) {
	sz := d.Size()
	if sz == 0 {
		return 0, fmt.Errorf("unknown dtype %q", d)
	}
	n := int64(sz)
	for _, s := range shape {
		if s < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		if s != 0 && n > math.MaxInt64/int64(s) {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
		n *= int64(s)
	}
	return n, nil
}

type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

type span struct {
	name       string
	begin, end int64
}

// parseHeader decodes and validates the JSON header. It returns the tensors
// in buffer order and the total size of the data buffer they describe.
func parseHeader(h []byte) (map[string]headerEntry, []span, map[string]string, error) {
	if len(h) == 0 || h[0] != '{' {
		return nil, nil, nil, formatErr("header does not start with '{'")
	}
	dec := json.NewDecoder(bytes.NewReader(h))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, nil, nil, formatErr("header: %v", err)
	}
	entries := map[string]headerEntry{}
	var meta map[string]string
	seenMeta := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, nil, formatErr("header: %v", err)
		}
		name, ok := tok.(string)
		if !ok {
			return nil, nil, nil, formatErr("header: key %v is not a string", tok)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, nil, nil, formatErr("header entry %q: %v", name, err)
		}
		if name == metadataKey {
			if seenMeta {
				return nil, nil, nil, formatErr("duplicate %s", metadataKey)
			}
			seenMeta = true
			if err := json.Unmarshal(raw, &meta); err != nil {
				return nil, nil, nil, formatErr("%s is not an object of strings: %v", metadataKey, err)
			}
			continue
		}
		if _, dup := entries[name]; dup {
			return nil, nil, nil, formatErr("duplicate tensor name %q", name)
		}
		var e headerEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			return nil, nil, nil, formatErr("header entry %q: %v", name, err)
		}
		entries[name] = e
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, nil, formatErr("header: %v", err)
	}
	// Only space padding may follow the object.
	rest := h[dec.InputOffset():]
	if len(bytes.Trim(rest, " ")) != 0 {
		return nil, nil, nil, formatErr("trailing bytes after header object")
	}
	spans := make([]span, 0, len(entries))
	for name, e := range entries {
		if e.DType.Size() == 0 {
			return nil, nil, nil, formatErr("tensor %q: unknown dtype %q", name, e.DType)
		}
		if e.Shape == nil {
			return nil, nil, nil, formatErr("tensor %q: missing shape", name)
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, nil, formatErr("tensor %q: data_offsets must hold 2 numbers", name)
		}
		shape := make([]int, len(e.Shape))
		for i, s := range e.Shape {
			if s < 0 || s > math.MaxInt32 {
				return nil, nil, nil, formatErr("tensor %q: invalid shape %v", name, e.Shape)
			}
			shape[i] = int(s)
		}
		size, err := byteSize(e.DType, shape)
		if err != nil {
			return nil, nil, nil, formatErr("tensor %q: %v", name, err)
		}
		b, en := e.DataOffsets[0], e.DataOffsets[1]
		if b < 0 || en < b {
			return nil, nil, nil, formatErr("tensor %q: invalid data_offsets [%d, %d]", name, b, en)
		}
		if en-b != size {
			return nil, nil, nil, formatErr("tensor %q: %s %v needs %d bytes, data_offsets give %d", name, e.DType, shape, size, en-b)
		}
		spans = append(spans, span{name, b, en})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].begin != spans[j].begin {
			return spans[i].begin < spans[j].begin
		}
		if spans[i].end != spans[j].end {
			return spans[i].end < spans[j].end
		}
		return spans[i].name < spans[j].name
	})
	var pos int64
	for _, s := range spans {
		if s.begin != pos {
			if s.begin < pos {
				return nil, nil, nil, formatErr("tensor %q overlaps another tensor", s.name)
			}
			return nil, nil, nil, formatErr("hole in data buffer before tensor %q", s.name)
		}
		pos = s.end
	}
	return entries, spans, meta, nil
}

func bufferSize(spans []span) int64 {
	if len(spans) == 0 {
		return 0
	}
	return spans[len(spans)-1].end
}

// Decode reads a safetensors file from r. The header length is checked
// against MaxHeaderSize, and the data length against the header, before the
// corresponding memory is allocated; limit, when positive, is the size of the
// whole input and is checked as well.
func Decode(r io.Reader, limit int64) (*File, error) {
	var lenBuf [8]byte
	if _, err := io.ReadFull(r, lenBuf[:]); err != nil {
		return nil, formatErr("reading header length: %v", err)
	}
	n := binary.LittleEndian.Uint64(lenBuf[:])
	if n < 2 || n > MaxHeaderSize {
		return nil, formatErr("header length %d out of range", n)
	}
	if limit > 0 && n > uint64(limit-8) {
		return nil, formatErr("header length %d exceeds file size %d", n, limit)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(r, h); err != nil {
		return nil, formatErr("reading %d-byte header: %v", n, err)
	}
	entries, spans, meta, err := parseHeader(h)
	if err != nil {
		return nil, err
	}
	size := bufferSize(spans)
	if limit > 0 && size != limit-8-int64(n) {
		return nil, formatErr("data buffer is %d bytes, header describes %d", limit-8-int64(n), size)
	}
	// Read in chunks so that a lying header on a stream fails at EOF
	// rather than allocating its claimed size up front.
	var buf []byte
	if limit > 0 {
		buf = make([]byte, size)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, formatErr("reading data: %v", err)
		}
	} else {
		var bb bytes.Buffer
		got, err := io.Copy(&bb, io.LimitReader(r, size))
		if err != nil {
			return nil, fmt.Errorf("reading data: %w", err)
		}
		if got != size {
			return nil, formatErr("data buffer is %d bytes, header describes %d", got, size)
		}
		buf = bb.Bytes()
	}
	var extra [1]byte
	if k, _ := r.Read(extra[:]); k > 0 {
		return nil, formatErr("trailing bytes after data buffer")
	}
	f := &File{Tensors: make(map[string]Entry, len(spans)), Metadata: meta}
	for _, s := range spans {
		e := entries[s.name]
		shape := make([]int, len(e.Shape))
		for i, d := range e.Shape {
			shape[i] = int(d)
		}
		f.Names = append(f.Names, s.name)
		f.Tensors[s.name] = Entry{DType: e.DType, Shape: shape, Data: buf[s.begin:s.end:s.end]}
	}
	return f, nil
}

// ReadFile reads and validates the safetensors file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("read %s: is a directory", path)
	}
	f, err := Decode(fh, st.Size())
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return f, nil
}

// Encode writes f to w in safetensors format. Tensors are laid out in the
// order of f.Names; the header is padded with spaces to a multiple of 8 bytes
// so that the data buffer stays aligned.
func Encode(w io.Writer, f *File) error {
	hdr := bytes.NewBufferString("{")
	first := true
	sep := func() {
		if !first {
			hdr.WriteByte(',')
		}
		first = false
	}
	if len(f.Metadata) > 0 {
		m, err := json.Marshal(f.Metadata)
		if err != nil {
			return fmt.Errorf("encode metadata: %w", err)
		}
		sep()
		hdr.WriteString(`"` + metadataKey + `":`)
		hdr.Write(m)
	}
	seen := make(map[string]bool, len(f.Names))
	var off int64
	for _, name := range f.Names {
		if seen[name] {
			return fmt.Errorf("duplicate tensor name %q", name)
		}
		seen[name] = true
		e, ok := f.Tensors[name]
		if !ok {
			return fmt.Errorf("tensor %q listed but missing", name)
		}
		n, err := byteSize(e.DType, e.Shape)
		if err != nil {
			return fmt.Errorf("tensor %q: %w", name, err)
		}
		if n != int64(len(e.Data)) {
			return fmt.Errorf("tensor %q: %s %v needs %d bytes, have %d", name, e.DType, e.Shape, n, len(e.Data))
		}
		shape := e.Shape
		if shape == nil {
			shape = []int{}
		}
		k, _ := json.Marshal(name)
		v, _ := json.Marshal(struct {
			DType       DType   `json:"dtype"`
			Shape       []int   `json:"shape"`
			DataOffsets []int64 `json:"data_offsets"`
		}{e.DType, shape, []int64{off, off + n}})
		sep()
		hdr.Write(k)
		hdr.WriteByte(':')
		hdr.Write(v)
		off += n
	}
	if len(seen) != len(f.Tensors) {
		return fmt.Errorf("%d tensors not listed in Names", len(f.Tensors)-len(seen))
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	for _, name := range f.Names {
		if _, err := w.Write(f.Tensors[name].Data); err != nil {
			return err
		}
	}
	return nil
}

// WriteFile writes f to path atomically (see atomicfile.Write), so a crash
// or error never leaves a partial file at path.
func WriteFile(path string, f *File) error {
	return atomicfile.Write(path, func(w io.Writer) error { return Encode(w, f) })
}
