package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"argus/internal/golden"
	"argus/tensor"
)

func TestReadGolden(t *testing.T) {
	f, err := ReadFile("testdata/golden.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]struct {
		DType  DType
		Shape  []int
		Values []float64
	}
	golden.Load(t, "testdata/golden.json", &want)
	if len(f.Tensors) != len(want) {
		t.Fatalf("read %d tensors, want %d", len(f.Tensors), len(want))
	}
	for name, w := range want {
		e, ok := f.Tensors[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if e.DType != w.DType || !tensor.EqualShapes(e.Shape, w.Shape) {
			t.Errorf("%s: %s %v, want %s %v", name, e.DType, e.Shape, w.DType, w.Shape)
			continue
		}
		v, err := e.Float32()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for i, x := range v.Data() {
			if x != float32(w.Values[i]) {
				t.Errorf("%s[%d] = %g, want %g", name, i, x, w.Values[i])
			}
		}
	}
	if f.Metadata["format"] != "pt" || f.Metadata["epoch"] != "3" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	n, err := f.Tensors["bn.num_batches_tracked"].Int64s()
	if err != nil || len(n) != 1 || n[0] != 7 {
		t.Errorf("num_batches_tracked = %v, %v", n, err)
	}
}

func sample(t *testing.T) *File {
	f := NewFile()
	f.Metadata["config"] = `{"lr":0.1}`
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.Add("b.weight", Float32Entry(tensor.FromSlice([]float32{1, -2.5, 3, 4, 5, 6}, 2, 3))))
	must(f.Add("a.step", Int64Entry([]int64{-9, 1 << 40}, 2)))
	must(f.Add("q", Int8Entry(tensor.Wrap([]int8{-128, 127}, 2))))
	must(f.Add("acc", Int32Entry(tensor.Wrap([]int32{-5}, 1))))
	must(f.Add("img", Uint8Entry([]byte{0, 200, 255}, 1, 3)))
	must(f.Add("scalar", Float32Entry(tensor.Scalar(2))))
	must(f.Add("empty", Float32Entry(tensor.Zeros(0, 4))))
	return f
}

func TestRoundTrip(t *testing.T) {
	f := sample(t)
	path := filepath.Join(t.TempDir(), "x.safetensors")
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	g, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(g.Names, ",") != strings.Join(f.Names, ",") {
		t.Errorf("names %v, want %v", g.Names, f.Names)
	}
	for _, name := range f.Names {
		a, b := f.Tensors[name], g.Tensors[name]
		if a.DType != b.DType || !tensor.EqualShapes(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Errorf("%s: got %v, want %v", name, b, a)
		}
	}
	if g.Metadata["config"] != `{"lr":0.1}` {
		t.Errorf("metadata %v", g.Metadata)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

// TestWriterBytesFollowSpec checks the writer's output against the format
// spec directly, without going through Decode.
func TestWriterBytesFollowSpec(t *testing.T) {
	var buf bytes.Buffer
	if err := Encode(&buf, sample(t)); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	n := binary.LittleEndian.Uint64(b)
	if n%8 != 0 {
		t.Errorf("header length %d not a multiple of 8", n)
	}
	h := b[8 : 8+n]
	if h[0] != '{' {
		t.Fatalf("header starts with %q", h[0])
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimRight(h, " "), &hdr); err != nil {
		t.Fatal(err)
	}
	data := b[8+n:]
	var total int
	for name, raw := range hdr {
		if name == "__metadata__" {
			var m map[string]string
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Errorf("metadata: %v", err)
			}
			continue
		}
		var e struct {
			DType       string `json:"dtype"`
			Shape       []int  `json:"shape"`
			DataOffsets [2]int `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &e); err != nil {
			t.Fatal(err)
		}
		if e.Shape == nil {
			t.Errorf("%s: shape written as null", name)
		}
		size := DType(e.DType).Size() * tensor.NumElements(e.Shape)
		if e.DataOffsets[1]-e.DataOffsets[0] != size {
			t.Errorf("%s: offsets %v for %d bytes", name, e.DataOffsets, size)
		}
		total += size
	}
	if total != len(data) {
		t.Errorf("data buffer %d bytes, tensors %d", len(data), total)
	}
}

// encodeRaw builds a file from a literal header and data buffer.
func encodeRaw(header string, data []byte) []byte {
	b := make([]byte, 8, 8+len(header)+len(data))
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, data...)
}

func TestDecodeRejects(t *testing.T) {
	four := make([]byte, 4)
	cases := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "header length"},
		{"short length", []byte{1, 2, 3}, "header length"},
		{"huge header", binary.LittleEndian.AppendUint64(nil, 1<<40), "out of range"},
		{"header past end", encodeRaw("{}", nil)[:9], "exceeds file size"},
		{"not json", encodeRaw("{oops}", nil), "header"},
		{"not object", encodeRaw(`["a"]`, nil), "start with"},
		{"trailing header", encodeRaw(`{} x`, nil), "trailing"},
		{"unknown dtype", encodeRaw(`{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}`, four), "unknown dtype"},
		{"size mismatch", encodeRaw(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, four), "needs 8 bytes"},
		{"negative dim", encodeRaw(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, four), "shape"},
		{"bad offsets", encodeRaw(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[4,0]}}`, four), "data_offsets"},
		{"one offset", encodeRaw(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[4]}}`, four), "data_offsets"},
		{"missing shape", encodeRaw(`{"a":{"dtype":"U8","data_offsets":[0,4]}}`, four), "missing shape"},
		{"hole", encodeRaw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "hole"},
		{"overlap", encodeRaw(`{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "overlaps"},
		{"duplicate", encodeRaw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, four), "duplicate"},
		{"truncated data", encodeRaw(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}`, four[:2]), "data buffer"},
		{"trailing data", encodeRaw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, four), "data buffer"},
		{"bad metadata", encodeRaw(`{"__metadata__":{"a":1}}`, nil), "__metadata__"},
		{"foreign", []byte("PK\x03\x04 this is a zip archive, not safetensors"), "header length"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, limit := range []int64{int64(len(c.in)), 0} {
				_, err := Decode(bytes.NewReader(c.in), limit)
				if err == nil {
					t.Fatalf("limit %d: no error", limit)
				}
				if !errors.Is(err, ErrFormat) {
					t.Errorf("limit %d: error %v does not wrap ErrFormat", limit, err)
				}
				if limit > 0 && !strings.Contains(err.Error(), c.want) {
					t.Errorf("error %q does not mention %q", err, c.want)
				}
			}
		})
	}
}

func TestWriteFileFailureLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bad.safetensors")
	f := NewFile()
	f.Names = []string{"ghost"}
	if err := WriteFile(path, f); err == nil {
		t.Fatal("writing an inconsistent file succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind %v", entries)
	}
}

func FuzzReadSafetensors(f *testing.F) {
	golden, err := os.ReadFile("testdata/golden.safetensors")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	var buf bytes.Buffer
	if err := Encode(&buf, sample(&testing.T{})); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add(encodeRaw(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Decode(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same tensors.
		var out bytes.Buffer
		if err := Encode(&out, g); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		h, err := Decode(bytes.NewReader(out.Bytes()), int64(out.Len()))
		if err != nil {
			t.Fatalf("decode re-encoded: %v", err)
		}
		for _, name := range g.Names {
			if !bytes.Equal(g.Tensors[name].Data, h.Tensors[name].Data) {
				t.Fatalf("%s changed in round trip", name)
			}
			if _, err := g.Tensors[name].Float32(); err != nil && g.Tensors[name].DType != F8E4M3 && g.Tensors[name].DType != F8E5M2 {
				t.Fatalf("%s: %v", name, err)
			}
		}
	})
}
