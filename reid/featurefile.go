package reid

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"argus/checkpoint"
)

// maxSafetensors bounds the size of a features file read into memory.
const maxSafetensors = 16 << 30

// ReadFeatureFile reads a feature set from a JSON file (the layout of
// ReadFeatureSet) or, for names ending in .safetensors, from tensors with
// the same names: query_features and gallery_features (any float type,
// n×d), query_pids, query_camids, gallery_pids and gallery_camids (any
// integer type, n); the metric comes from the metadata key "distance".
func ReadFeatureFile(path string) (*FeatureSet, error) {
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		f, err := checkpoint.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		fs, err := featureSetFromTensors(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		return fs, nil
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fs, err := ReadFeatureSet(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return fs, nil
}

func featureSetFromTensors(f *checkpoint.File) (*FeatureSet, error) {
	fs := &FeatureSet{Distance: SquaredEuclidean}
	if name, ok := f.Metadata["distance"]; ok {
		m, err := ParseMetric(name)
		if err != nil {
			return nil, err
		}
		fs.Distance = m
	}
	q, nq, d, err := matrixTensor(f, "query_features")
	if err != nil {
		return nil, err
	}
	g, ng, dg, err := matrixTensor(f, "gallery_features")
	if err != nil {
		return nil, err
	}
	if d != dg {
		return nil, fmt.Errorf("query features have dimension %d, gallery %d", d, dg)
	}
	fs.Query, fs.Gallery, fs.Dim = q, g, d
	for _, c := range []struct {
		name string
		n    int
		dst  *[]int
	}{
		{"query_pids", nq, &fs.QueryPids},
		{"query_camids", nq, &fs.QueryCams},
		{"gallery_pids", ng, &fs.GalleryPids},
		{"gallery_camids", ng, &fs.GalleryCams},
	} {
		e, ok := f.Tensors[c.name]
		if !ok {
			return nil, fmt.Errorf("no tensor %q", c.name)
		}
		v, err := e.Int64s()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", c.name, err)
		}
		if len(v) != c.n {
			return nil, fmt.Errorf("tensor %q has %d values for %d features", c.name, len(v), c.n)
		}
		ids := make([]int, len(v))
		for i, x := range v {
			ids[i] = int(x)
		}
		*c.dst = ids
	}
	return fs, nil
}

// matrixTensor returns the named n×d float tensor of f.
func matrixTensor(f *checkpoint.File, name string) ([]float32, int, int, error) {
	e, ok := f.Tensors[name]
	if !ok {
		return nil, 0, 0, fmt.Errorf("no tensor %q", name)
	}
	switch e.DType {
	case checkpoint.F32, checkpoint.F64, checkpoint.F16, checkpoint.BF16:
	default:
		return nil, 0, 0, fmt.Errorf("tensor %q is %s, want a float type", name, e.DType)
	}
	if len(e.Shape) != 2 || e.Shape[0] < 1 || e.Shape[1] < 1 {
		return nil, 0, 0, fmt.Errorf("tensor %q has shape %v, want n×d", name, e.Shape)
	}
	t, err := e.Float32()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("tensor %q: %w", name, err)
	}
	if err := checkFinite(name, t.Data()); err != nil {
		return nil, 0, 0, err
	}
	return t.Data(), e.Shape[0], e.Shape[1], nil
}

func checkFinite(name string, x []float32) error {
	for i, v := range x {
		if v != v || v > 3.4e38 || v < -3.4e38 {
			return fmt.Errorf("%s holds %v at %d", name, v, i)
		}
	}
	return nil
}

// ReadFeatureMatrix reads an n×d feature matrix, for clustering, from a
// JSON file {"features": [[...], ...]} or from the tensor "features" of a
// .safetensors file.
func ReadFeatureMatrix(path string) (x []float32, n, d int, err error) {
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		f, err := checkpoint.ReadFile(path)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
		}
		x, n, d, err := matrixTensor(f, "features")
		if err != nil {
			return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
		}
		return x, n, d, nil
	}
	r, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer r.Close()
	x, n, d, err = DecodeFeatureMatrix(r)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	return x, n, d, nil
}

// DecodeFeatureMatrix parses {"features": [[...], ...]} with rows of equal,
// nonzero length and finite values.
func DecodeFeatureMatrix(r io.Reader) (x []float32, n, d int, err error) {
	var raw struct {
		Features [][]float64 `json:"features"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, 0, 0, fmt.Errorf("decode features: %w", err)
	}
	if len(raw.Features) == 0 || len(raw.Features[0]) == 0 {
		return nil, 0, 0, fmt.Errorf("features: no \"features\" rows")
	}
	d = len(raw.Features[0])
	x, err = flatten("features", raw.Features, d)
	if err != nil {
		return nil, 0, 0, err
	}
	return x, len(raw.Features), d, nil
}
