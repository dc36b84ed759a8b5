package segmetric

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseLabelMap(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want map[int]int
		err  string
	}{
		{`{}`, map[int]int{}, ""},
		{`{"1": 2, "2": 3}`, map[int]int{1: 2, 2: 3}, ""},
		{` {"0": 65535, "65535": 0} `, map[int]int{0: 65535, 65535: 0}, ""},
		{``, nil, "want a JSON object"},
		{`[1, 2]`, nil, "want a JSON object"},
		{`{"1": 2`, nil, "bad JSON"},
		{`{"1": 2,}`, nil, "bad JSON"},
		{`{"a": 2}`, nil, `key "a"`},
		{`{"-1": 2}`, nil, `key "-1"`},
		{`{"07": 2}`, nil, `key "07"`},
		{`{"65536": 2}`, nil, `key "65536"`},
		{`{"1": 2.5}`, nil, "value 2.5"},
		{`{"1": -1}`, nil, "value -1"},
		{`{"1": "2"}`, nil, "value 2"},
		{`{"1": null}`, nil, "value <nil>"},
		{`{"1": [2]}`, nil, "value ["},
		{`{"1": 2, "1": 3}`, nil, `key "1" given twice`},
		{`{"1": 2} {}`, nil, "data after"},
	} {
		got, err := ParseLabelMap([]byte(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tt.want) {
			t.Errorf("%s: %v, %v, want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestReadLabelMap(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"1": x}`), 0o644)
	for _, p := range []string{bad, filepath.Join(dir, "none.json")} {
		if _, err := ReadLabelMap(p); err == nil || !strings.Contains(err.Error(), filepath.Base(p)) {
			t.Errorf("%s: error %v, want one naming the file", p, err)
		}
	}
	m, err := ReadLabelMap("testdata/label_map/label_map.json")
	if err != nil || m[1] != 2 || m[2] != 3 {
		t.Errorf("golden label map: %v, %v", m, err)
	}
}

// FuzzParseLabelMap checks that the parser never panics and that what it
// accepts is a valid map that survives a round trip through encoding/json.
func FuzzParseLabelMap(f *testing.F) {
	for _, s := range []string{`{}`, `{"1": 2, "2": 3}`, `{"6": 255, "9": 200}`, `{"1": 2, "1": 3}`, `{"1": 2.0}`, `[`, `{"x": {}}`} {
		f.Add([]byte(s))
	}
	if b, err := os.ReadFile("testdata/label_map_reduce/label_map.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseLabelMap(b)
		if err != nil {
			return
		}
		if err := (Options{NumClasses: 1, LabelMap: m}).Validate(); err != nil {
			t.Fatalf("accepted %q as %v: %v", b, m, err)
		}
		enc, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseLabelMap(enc)
		if err != nil || !maps.Equal(m, again) {
			t.Fatalf("round trip of %q: %s gives %v, %v", b, enc, again, err)
		}
	})
}
