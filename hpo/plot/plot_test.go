package plot

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

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
