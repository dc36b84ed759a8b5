package reid

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"argus/checkpoint"
	"argus/tensor"
)

func TestReadFeatureSetErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"not json", `{`, "decode"},
		{"no query", `{"gallery_features": [[1]]}`, "no query_features"},
		{"no gallery", `{"query_features": [[1]]}`, "no gallery_features"},
		{"ragged", `{"query_features": [[1, 2]], "gallery_features": [[1]]}`, "has 1 values, want 2"},
		{"pids", `{"query_features": [[1]], "gallery_features": [[1]], "query_pids": [], "query_camids": [0], "gallery_pids": [1], "gallery_camids": [0]}`, "query_pids"},
		{"metric", `{"distance": "manhattan", "query_features": [[1]]}`, "unknown distance"},
		{"empty row", `{"query_features": [[]], "gallery_features": [[1]]}`, "empty"},
		{"huge", `{"query_features": [[1e300]], "gallery_features": [[1]]}`, "holds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFeatureSet(strings.NewReader(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestFeatureSafetensors(t *testing.T) {
	fs, _ := readCase(t, "testdata/golden/case_0002")
	f := checkpoint.NewFile()
	f.Metadata["distance"] = "squared_euclidean"
	add := func(name string, e checkpoint.Entry) {
		if err := f.Add(name, e); err != nil {
			t.Fatal(err)
		}
	}
	ids := func(v []int) checkpoint.Entry {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return checkpoint.Int64Entry(out, len(out))
	}
	add("query_features", checkpoint.Float32Entry(tensor.FromSlice(fs.Query, fs.NumQuery(), fs.Dim)))
	add("gallery_features", checkpoint.Float32Entry(tensor.FromSlice(fs.Gallery, fs.NumGallery(), fs.Dim)))
	add("query_pids", ids(fs.QueryPids))
	add("query_camids", ids(fs.QueryCams))
	add("gallery_pids", ids(fs.GalleryPids))
	add("gallery_camids", ids(fs.GalleryCams))
	path := filepath.Join(t.TempDir(), "f.safetensors")
	if err := checkpoint.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFeatureFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Query, fs.Query) || !slices.Equal(got.Gallery, fs.Gallery) ||
		!slices.Equal(got.GalleryPids, fs.GalleryPids) || !slices.Equal(got.QueryCams, fs.QueryCams) || got.Dim != fs.Dim {
		t.Error("safetensors round trip changed the feature set")
	}

	delete(f.Tensors, "gallery_camids")
	f.Names = slices.DeleteFunc(f.Names, func(s string) bool { return s == "gallery_camids" })
	if err := checkpoint.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFeatureFile(path); err == nil || !strings.Contains(err.Error(), "gallery_camids") {
		t.Errorf("missing tensor: err %v", err)
	}
}

func TestDecodeFeatureMatrix(t *testing.T) {
	x, n, d, err := DecodeFeatureMatrix(strings.NewReader(`{"features": [[1, 2, 3], [4, 5, 6]]}`))
	if err != nil || n != 2 || d != 3 || !slices.Equal(x, []float32{1, 2, 3, 4, 5, 6}) {
		t.Errorf("got %v %d %d %v", x, n, d, err)
	}
	for _, in := range []string{`{}`, `{"features": [[]]}`, `{"features": [[1], [1, 2]]}`, `[`} {
		if _, _, _, err := DecodeFeatureMatrix(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}

func FuzzReadFeatureSet(f *testing.F) {
	b, err := os.ReadFile("testdata/golden/case_0016/case.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"query_features": [[1]], "query_pids": [1], "query_camids": [0], "gallery_features": [[2]], "gallery_pids": [1], "gallery_camids": [1]}`))
	f.Add([]byte(`{"distance": "cosine", "query_features": [[0, 0]], "query_pids": [-1], "query_camids": [0], "gallery_features": [[1, 1]], "gallery_pids": [0], "gallery_camids": [0]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs, err := ReadFeatureSet(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever parses must evaluate without panicking.
		dist, err := fs.Distances()
		if err != nil {
			t.Fatalf("distances of a parsed set: %v", err)
		}
		Evaluate(dist, fs.QueryPids, fs.GalleryPids, fs.QueryCams, fs.GalleryCams, DefaultMaxRank)
	})
}

func FuzzDecodeFeatureMatrix(f *testing.F) {
	f.Add([]byte(`{"features": [[1, 2], [3, 4]]}`))
	f.Add([]byte(`{"features": [[1e38, -1e-45]]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, n, d, err := DecodeFeatureMatrix(bytes.NewReader(data))
		if err == nil && len(x) != n*d {
			t.Fatalf("%d values for %d×%d", len(x), n, d)
		}
	})
}
