package atss

import (
	"strings"
	"testing"
)

func TestNewAssigner(t *testing.T) {
	searched := &Searched{Bands: []float64{32, 96}, K: []int{2, 6, 11}}
	tests := []struct {
		opt  AssignOptions
		want Assigner
		err  string
	}{
		{AssignOptions{Name: "atss"}, ATSS{TopK: 9}, ""},
		{AssignOptions{Name: "topk", K: 7}, TopK{K: 7}, ""},
		{AssignOptions{Name: "simota"}, SimOTA{Q: 10, Radius: 2.5}, ""},
		{AssignOptions{Name: "topk"}, nil, "--assign topk needs --k of at least 1, not 0"},
		{AssignOptions{Name: "hps"}, nil, "--assign hps needs the searched values"},
		{AssignOptions{Name: "hps", Searched: &Searched{Bands: []float64{32}, K: []int{3}}}, nil, "1 values of k for 2 bands"},
		{AssignOptions{Name: "ota"}, nil, `unknown assigner "ota" (have atss, topk, simota, hps)`},
	}
	for _, tc := range tests {
		a, err := NewAssigner(tc.opt)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%+v: error %v, want %q", tc.opt, err, tc.err)
			}
			continue
		}
		if err != nil || a != tc.want {
			t.Errorf("%+v: %#v, %v", tc.opt, a, err)
		}
	}
	a, err := NewAssigner(AssignOptions{Name: "hps", Searched: searched})
	h, ok := a.(HPS)
	if err != nil || !ok || h.Radius != 2.5 || len(h.K) != 3 || h.K[2] != 11 {
		t.Errorf("hps: %#v, %v", a, err)
	}
}
