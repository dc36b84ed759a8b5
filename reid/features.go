package reid

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
)

// FeatureSet holds query and gallery features with their identities, in the
// JSON layout of the golden evaluation cases:
//
//	{"distance": "squared_euclidean",
//	 "query_features": [[...], ...], "query_pids": [...], "query_camids": [...],
//	 "gallery_features": [[...], ...], "gallery_pids": [...], "gallery_camids": [...]}
//
// Features are row-major n×Dim float32 slices.
type FeatureSet struct {
	Distance    Metric
	Dim         int
	Query       []float32
	QueryPids   []int
	QueryCams   []int
	Gallery     []float32
	GalleryPids []int
	GalleryCams []int
}

type featureJSON struct {
	Distance        string      `json:"distance"`
	QueryFeatures   [][]float64 `json:"query_features"`
	QueryPids       []int       `json:"query_pids"`
	QueryCamids     []int       `json:"query_camids"`
	GalleryFeatures [][]float64 `json:"gallery_features"`
	GalleryPids     []int       `json:"gallery_pids"`
	GalleryCamids   []int       `json:"gallery_camids"`
}

// ReadFeatureSet parses a feature set from JSON. A missing "distance"
// means squared euclidean, torchreid's default. Every row must have the
// same finite-valued length and every feature a pid and a camid.
func ReadFeatureSet(r io.Reader) (*FeatureSet, error) {
	var raw featureJSON
	dec := json.NewDecoder(r)
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode features: %w", err)
	}
	fs := &FeatureSet{Distance: SquaredEuclidean}
	if raw.Distance != "" {
		m, err := ParseMetric(raw.Distance)
		if err != nil {
			return nil, err
		}
		fs.Distance = m
	}
	if len(raw.QueryFeatures) == 0 {
		return nil, fmt.Errorf("features: no query_features")
	}
	if len(raw.GalleryFeatures) == 0 {
		return nil, fmt.Errorf("features: no gallery_features")
	}
	fs.Dim = len(raw.QueryFeatures[0])
	if fs.Dim == 0 {
		return nil, fmt.Errorf("features: query feature 0 is empty")
	}
	var err error
	if fs.Query, err = flatten("query_features", raw.QueryFeatures, fs.Dim); err != nil {
		return nil, err
	}
	if fs.Gallery, err = flatten("gallery_features", raw.GalleryFeatures, fs.Dim); err != nil {
		return nil, err
	}
	checks := []struct {
		name string
		ids  []int
		n    int
	}{
		{"query_pids", raw.QueryPids, len(raw.QueryFeatures)},
		{"query_camids", raw.QueryCamids, len(raw.QueryFeatures)},
		{"gallery_pids", raw.GalleryPids, len(raw.GalleryFeatures)},
		{"gallery_camids", raw.GalleryCamids, len(raw.GalleryFeatures)},
	}
	for _, c := range checks {
		if len(c.ids) != c.n {
			return nil, fmt.Errorf("features: %d %s for %d features", len(c.ids), c.name, c.n)
		}
	}
	fs.QueryPids, fs.QueryCams = raw.QueryPids, raw.QueryCamids
	fs.GalleryPids, fs.GalleryCams = raw.GalleryPids, raw.GalleryCamids
	return fs, nil
}

// flatten copies rows of equal length dim into one float32 slice.
func flatten(name string, rows [][]float64, dim int) ([]float32, error) {
	out := make([]float32, 0, len(rows)*dim)
	for i, row := range rows {
		if len(row) != dim {
			return nil, fmt.Errorf("features: %s[%d] has %d values, want %d", name, i, len(row), dim)
		}
		for _, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > math.MaxFloat32 {
				return nil, fmt.Errorf("features: %s[%d] holds %v", name, i, v)
			}
			out = append(out, float32(v))
		}
	}
	return out, nil
}

// NumQuery returns the number of query features.
func (fs *FeatureSet) NumQuery() int { return len(fs.QueryPids) }

// NumGallery returns the number of gallery features.
func (fs *FeatureSet) NumGallery() int { return len(fs.GalleryPids) }

// Distances returns the query×gallery distance matrix in the set's metric.
func (fs *FeatureSet) Distances() ([]float32, error) {
	return Distances(fs.Distance, fs.Query, fs.NumQuery(), fs.Gallery, fs.NumGallery(), fs.Dim)
}
