package plot

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gonum.org/v1/plot/plotter"

	"argus/hpo"
)

func TestPlots(t *testing.T) {
	info := hpo.StudyInfo{Name: "p", Direction: hpo.Maximize, Space: hpo.Space{Params: []hpo.Param{
		{Name: "x", Kind: hpo.Float, High: 1},
		{Name: "c", Kind: hpo.Categorical, Choices: []string{"a", "b"}},
	}}}
	dir := t.TempDir()
	if err := History(filepath.Join(dir, "h.png"), info, nil); err == nil {
		t.Error("history of an empty study drawn")
	}
	var trials []hpo.Trial
	for i := 0; i < 12; i++ {
		v := float64(i%5) + float64(i%2)
		trials = append(trials, hpo.Trial{Number: i, State: hpo.Complete, Value: &v, Params: map[string]float64{"x": float64(i%5) / 5, "c": float64(i % 2)}})
	}
	trials = append(trials, hpo.Trial{Number: 12, State: hpo.Failed})
	for name, f := range map[string]func(string, hpo.StudyInfo, []hpo.Trial) error{"h.png": History, "i.png": Importance} {
		path := filepath.Join(dir, name)
		if err := f(path, info, trials); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasPrefix(b, []byte("\x89PNG\r\n")) {
			t.Errorf("%s is not a PNG", name)
		}
	}
}

// TestBestSoFar: the best-so-far line is a staircase (each segment
// horizontal or vertical, never a diagonal from one best to the next) over
// the COMPLETE feasible trials.
func TestBestSoFar(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	trials := []hpo.Trial{
		{Number: 0, State: hpo.Complete, Value: f(5)},
		{Number: 1, State: hpo.Complete, Value: f(7)},
		{Number: 2, State: hpo.Failed},
		{Number: 3, State: hpo.Complete, Value: f(2)},
		{Number: 4, State: hpo.Complete, Value: f(-1), Constraints: []float64{1}}, // infeasible
		{Number: 5, State: hpo.Complete, Value: f(3)},
		{Number: 6, State: hpo.Complete, Value: f(1)},
	}
	tests := []struct {
		dir  hpo.Direction
		want plotter.XYs
	}{
		{hpo.Minimize, plotter.XYs{{X: 0, Y: 5}, {X: 1, Y: 5}, {X: 3, Y: 5}, {X: 3, Y: 2}, {X: 5, Y: 2}, {X: 6, Y: 2}, {X: 6, Y: 1}}},
		{hpo.Maximize, plotter.XYs{{X: 0, Y: 5}, {X: 1, Y: 5}, {X: 1, Y: 7}, {X: 3, Y: 7}, {X: 5, Y: 7}, {X: 6, Y: 7}}},
	}
	for _, tt := range tests {
		got := BestSoFar(tt.dir, trials)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.dir, got, tt.want)
		}
		for i := 1; i < len(got); i++ {
			if got[i].X != got[i-1].X && got[i].Y != got[i-1].Y {
				t.Errorf("%s: diagonal segment %v to %v", tt.dir, got[i-1], got[i])
			}
		}
	}
}
