package schedule

import (
	"errors"
	"reflect"
	"testing"
)

func TestCandidates(t *testing.T) {
	tests := []struct {
		oh, full, half int
		want           []Strategy
	}{
		{4, 4, 2, []Strategy{{Rows: 4}, {Rows: 2, Double: true}, {Rows: 1, Double: true}}},
		// 7 rows, at most 3 in a half: 3 tiles of 3, 4 of 2, 7 of 1.
		{7, 7, 3, []Strategy{{Rows: 7}, {Rows: 3, Double: true}, {Rows: 2, Double: true}, {Rows: 1, Double: true}}},
		{5, 2, 0, []Strategy{{Rows: 2}}},
		{5, 0, 0, nil},
	}
	for _, tt := range tests {
		if got := Candidates(tt.oh, tt.full, tt.half); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Candidates(%d, %d, %d) = %v, want %v", tt.oh, tt.full, tt.half, got, tt.want)
		}
	}
}

func TestSearch(t *testing.T) {
	cands := []Strategy{{Rows: 4}, {Rows: 2, Double: true}, {Rows: 1, Double: true}}
	cost := map[Strategy]int64{cands[0]: 100, cands[1]: 70, cands[2]: 70}
	c, err := Search(cands, func(s Strategy) (int64, error) { return cost[s], nil })
	if err != nil || c.Strategy != cands[1] || c.Cycles != 70 || c.Serial != 100 || c.Tried != 3 {
		t.Errorf("Search = %+v, %v; want the first of the 70-cycle strategies over a serial 100", c, err)
	}
	if _, err := Search(nil, nil); err == nil {
		t.Error("no candidates: no error")
	}
	bad := errors.New("hazard")
	if _, err := Search(cands, func(Strategy) (int64, error) { return 0, bad }); !errors.Is(err, bad) {
		t.Errorf("failing cost: %v", err)
	}
	p := &Plan{Layers: []*Choice{&c, nil}}
	if cy, se, n := p.Totals(); cy != 70 || se != 100 || n != 1 {
		t.Errorf("Totals = %d, %d, %d", cy, se, n)
	}
}
