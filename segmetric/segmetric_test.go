package segmetric

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"argus/data/imageio"
	"argus/internal/golden"
)

// expected is a golden case's expected.json, written by
// tools/golden/segment/gen.py from its mirror of mmseg's metrics.py.
type expected struct {
	NumClasses      int            `json:"num_classes"`
	IgnoreIndex     int            `json:"ignore_index"`
	ReduceZeroLabel bool           `json:"reduce_zero_label"`
	LabelMap        map[string]int `json:"label_map"`
	NumImages       int            `json:"num_images"`
	AreaIntersect   []int64        `json:"area_intersect"`
	AreaUnion       []int64        `json:"area_union"`
	AreaPred        []int64        `json:"area_pred_label"`
	AreaLabel       []int64        `json:"area_label"`
	AAcc            *float64       `json:"aAcc"`
	MIoU            *float64       `json:"mIoU"`
	MAcc            *float64       `json:"mAcc"`
	MDice           *float64       `json:"mDice"`
	IoU             []*float64     `json:"IoU"`
	Acc             []*float64     `json:"Acc"`
	Dice            []*float64     `json:"Dice"`
}

func (e *expected) options(t *testing.T) Options {
	o := Options{NumClasses: e.NumClasses, IgnoreIndex: e.IgnoreIndex, ReduceZeroLabel: e.ReduceZeroLabel}
	if e.LabelMap != nil {
		o.LabelMap = map[int]int{}
		for k, v := range e.LabelMap {
			old, err := strconv.Atoi(k)
			if err != nil {
				t.Fatal(err)
			}
			o.LabelMap[old] = v
		}
	}
	return o
}

// sameFloat reports whether got is want to the last bit, NaN standing for
// null.
func sameFloat(got float64, want *float64) bool {
	if want == nil {
		return math.IsNaN(got)
	}
	return got == *want
}

// labelPairs reads the label PNGs of a golden case, paired by name.
func labelPairs(t *testing.T, dir string) (preds, gts []*imageio.Labels) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(dir, "gt"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(dir, "gt"), p)
		gt, err := imageio.ReadLabels(p, imageio.Limits{})
		if err != nil {
			return err
		}
		pred, err := imageio.ReadLabels(filepath.Join(dir, "pred", rel), imageio.Limits{})
		if err != nil {
			return err
		}
		preds, gts = append(preds, pred), append(gts, gt)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return preds, gts
}

func widen32(l *imageio.Labels) []int32 {
	w := l.Widen()
	out := make([]int32, len(w))
	for i, v := range w {
		out[i] = int32(v)
	}
	return out
}

func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/expected.json")
	if err != nil || len(dirs) < 9 {
		t.Fatalf("golden cases: %v, %v", dirs, err)
	}
	for _, p := range dirs {
		dir := filepath.Dir(p)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var want expected
			golden.Load(t, p, &want)
			preds, gts := labelPairs(t, dir)
			// Every input path must give mmseg's numbers: the 8-bit joint
			// histogram, the 16-bit and the int32 loops.
			for _, path := range []string{"native", "16", "32"} {
				a, err := New(want.options(t))
				if err != nil {
					t.Fatal(err)
				}
				for i, gt := range gts {
					pr := preds[i]
					switch {
					case path == "32":
						err = a.Add32(widen32(pr), widen32(gt), gt.W, gt.H)
					case path == "16" || gt.Wide() || pr.Wide():
						err = a.Add16(pr.Widen(), gt.Widen(), gt.W, gt.H)
					default:
						err = a.Add(pr.Pix8, gt.Pix8, gt.W, gt.H)
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				checkGolden(t, path, a, &want)
			}
		})
	}
}

func checkGolden(t *testing.T, path string, a *Accumulator, want *expected) {
	t.Helper()
	ar := a.Areas()
	for _, c := range []struct {
		name      string
		got, want []int64
	}{
		{"intersect", ar.Intersect, want.AreaIntersect},
		{"union", ar.Union, want.AreaUnion},
		{"pred", ar.Pred, want.AreaPred},
		{"label", ar.Label, want.AreaLabel},
	} {
		if !slices.Equal(c.got, c.want) {
			t.Errorf("%s: area %s %v, want %v", path, c.name, c.got, c.want)
		}
	}
	m := a.Metrics()
	if m.NumImages != want.NumImages || m.NumClasses != want.NumClasses {
		t.Errorf("%s: %d images, %d classes, want %d, %d", path, m.NumImages, m.NumClasses, want.NumImages, want.NumClasses)
	}
	for _, c := range []struct {
		name string
		got  float64
		want *float64
	}{{"aAcc", m.AAcc, want.AAcc}, {"mIoU", m.MIoU, want.MIoU}, {"mAcc", m.MAcc, want.MAcc}, {"mDice", m.MDice, want.MDice}} {
		if !sameFloat(c.got, c.want) {
			t.Errorf("%s: %s %v, want %v", path, c.name, c.got, show(c.want))
		}
	}
	for _, c := range []struct {
		name string
		got  []float64
		want []*float64
	}{{"IoU", m.IoU, want.IoU}, {"Acc", m.Acc, want.Acc}, {"Dice", m.Dice, want.Dice}} {
		if len(c.got) != len(c.want) {
			t.Fatalf("%s: %d %s values, want %d", path, len(c.got), c.name, len(c.want))
		}
		for k := range c.got {
			if !sameFloat(c.got[k], c.want[k]) {
				t.Errorf("%s: %s[%d] %v, want %v", path, c.name, k, c.got[k], show(c.want[k]))
			}
		}
	}
}

func show(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}

// TestHandComputed checks the rules the package comment states on a case
// small enough to count by hand.
func TestHandComputed(t *testing.T) {
	// Classes 0..3: 3 is absent from both, 2 only predicted; 255 ignored
	// (its prediction 1 does not count); ground truth 9 is kept and falls
	// outside the classes, so its prediction 0 counts for class 0 only.
	pred := []uint8{0, 0, 1, 1, 2, 1, 0}
	label := []uint8{0, 1, 1, 1, 0, 255, 9}
	a, err := New(DefaultOptions(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Add(pred, label, 7, 1); err != nil {
		t.Fatal(err)
	}
	ar := a.Areas()
	if !slices.Equal(ar.Intersect, []int64{1, 2, 0, 0}) || !slices.Equal(ar.Pred, []int64{3, 2, 1, 0}) ||
		!slices.Equal(ar.Label, []int64{2, 3, 0, 0}) || !slices.Equal(ar.Union, []int64{4, 3, 1, 0}) {
		t.Fatalf("areas %+v", ar)
	}
	m := a.Metrics()
	nan := math.NaN()
	want := &Metrics{AAcc: 3.0 / 5, IoU: []float64{1.0 / 4, 2.0 / 3, 0, nan}, Acc: []float64{1.0 / 2, 2.0 / 3, nan, nan},
		Dice: []float64{2.0 / 5, 4.0 / 5, 0, nan}, NumImages: 1, NumClasses: 4}
	// The means in float64 arithmetic (Go's constant arithmetic is exact
	// and would round differently).
	mean := func(x ...float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	want.MIoU = mean(want.IoU[0], want.IoU[1], want.IoU[2])
	want.MAcc = mean(want.Acc[0], want.Acc[1])
	want.MDice = mean(want.Dice[0], want.Dice[1], want.Dice[2])
	gotJ, _ := json.Marshal(m)
	wantJ, _ := json.Marshal(want)
	if string(gotJ) != string(wantJ) {
		t.Errorf("metrics\n%s\nwant\n%s", gotJ, wantJ)
	}
	if !strings.Contains(string(gotJ), `"IoU":[0.25,0.6666666666666666,0,null]`) || !strings.Contains(string(gotJ), `"num_classes":4`) {
		t.Errorf("JSON %s", gotJ)
	}
}

// TestPathsAgree runs random maps with random options through the 8-bit,
// 16-bit and int32 loops, which must give the same areas.
func TestPathsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 200 {
		o := Options{NumClasses: 1 + rng.IntN(300), IgnoreIndex: rng.IntN(260), ReduceZeroLabel: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			o.LabelMap = map[int]int{}
			for range rng.IntN(6) {
				o.LabelMap[rng.IntN(256)] = rng.IntN(300)
			}
		}
		w, h := 1+rng.IntN(40), 1+rng.IntN(40)
		pred, label := make([]uint8, w*h), make([]uint8, w*h)
		// Few distinct values, so that matches, the ignore index and the
		// map's keys all occur.
		vals := []uint8{0, 1, 2, 3, 254, 255, uint8(o.NumClasses - 1), uint8(o.IgnoreIndex)}
		for i := range pred {
			pred[i], label[i] = vals[rng.IntN(len(vals))], vals[rng.IntN(len(vals))]
		}
		var areas []Areas
		for path := range 3 {
			a, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			p16, l16 := widen(pred), widen(label)
			switch path {
			case 0:
				err = a.Add(pred, label, w, h)
			case 1:
				err = a.Add16(p16, l16, w, h)
			case 2:
				p32, l32 := make([]int32, len(p16)), make([]int32, len(l16))
				for i := range p16 {
					p32[i], l32[i] = int32(p16[i]), int32(l16[i])
				}
				err = a.Add32(p32, l32, w, h)
			}
			if err != nil {
				t.Fatal(err)
			}
			areas = append(areas, a.Areas())
		}
		for p := 1; p < 3; p++ {
			if !slices.Equal(areas[0].Intersect, areas[p].Intersect) || !slices.Equal(areas[0].Pred, areas[p].Pred) ||
				!slices.Equal(areas[0].Label, areas[p].Label) {
				t.Fatalf("trial %d, options %+v: path %d areas %+v, 8-bit %+v", trial, o, p, areas[p], areas[0])
			}
		}
	}
}

func widen(x []uint8) []uint16 {
	out := make([]uint16, len(x))
	for i, v := range x {
		out[i] = uint16(v)
	}
	return out
}

func TestAdd32OutsideLabels(t *testing.T) {
	// Negative and over-65535 ground truth are kept but in no class;
	// negative predictions count nowhere.
	a, _ := New(DefaultOptions(3))
	if err := a.Add32([]int32{-1, 2, 2, 1}, []int32{0, -5, 70000, 1}, 2, 2); err != nil {
		t.Fatal(err)
	}
	ar := a.Areas()
	if !slices.Equal(ar.Intersect, []int64{0, 1, 0}) || !slices.Equal(ar.Pred, []int64{0, 1, 2}) || !slices.Equal(ar.Label, []int64{1, 1, 0}) {
		t.Fatalf("areas %+v", ar)
	}
}

func TestOptionsAndSizes(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Options
		want string
	}{
		{"no classes", Options{NumClasses: 0}, "number of classes 0"},
		{"too many classes", Options{NumClasses: 65537}, "number of classes 65537"},
		{"negative ignore", Options{NumClasses: 2, IgnoreIndex: -1}, "ignore index -1"},
		{"ignore over 16 bits", Options{NumClasses: 2, IgnoreIndex: 65536}, "ignore index 65536"},
		{"map key", Options{NumClasses: 2, LabelMap: map[int]int{-3: 1}}, "label map entry -3"},
		{"map value", Options{NumClasses: 2, LabelMap: map[int]int{3: 70000}}, "label map entry 3: 70000"},
		{"valid", Options{NumClasses: 65536, IgnoreIndex: 65535, LabelMap: map[int]int{0: 65535}}, ""},
	} {
		_, err := New(tt.opt)
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	a, _ := New(DefaultOptions(2))
	for _, tt := range []struct {
		np, nl, w, h int
	}{{4, 3, 2, 2}, {3, 4, 2, 2}, {4, 4, 4, 2}, {0, 0, -1, 0}} {
		p, l := make([]uint8, tt.np), make([]uint8, tt.nl)
		if err := a.Add(p, l, tt.w, tt.h); err == nil {
			t.Errorf("Add of %d and %d labels as %dx%d: no error", tt.np, tt.nl, tt.w, tt.h)
		}
		if err := a.Add16(widen(p), widen(l), tt.w, tt.h); err == nil {
			t.Errorf("Add16 of %d and %d labels as %dx%d: no error", tt.np, tt.nl, tt.w, tt.h)
		}
	}
	if a.Images() != 0 {
		t.Errorf("%d images after refusals", a.Images())
	}
}

func TestMergeAndReset(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	o := Options{NumClasses: 5, IgnoreIndex: 255, LabelMap: map[int]int{7: 2}}
	whole, _ := New(o)
	parts := []*Accumulator{}
	for i := range 6 {
		p, l := make([]uint8, 100), make([]uint8, 100)
		for k := range p {
			p[k], l[k] = uint8(rng.IntN(6)), []uint8{0, 1, 2, 3, 4, 7, 255}[rng.IntN(7)]
		}
		whole.Add(p, l, 10, 10)
		if i%2 == 0 {
			parts = append(parts, must(New(o)))
		}
		parts[len(parts)-1].Add(p, l, 10, 10)
	}
	sum, _ := New(o)
	for _, p := range parts {
		if err := sum.Merge(p); err != nil {
			t.Fatal(err)
		}
	}
	if w, s := whole.Areas(), sum.Areas(); !slices.Equal(w.Intersect, s.Intersect) || !slices.Equal(w.Union, s.Union) ||
		!slices.Equal(w.Label, s.Label) || sum.Images() != 6 {
		t.Errorf("merged %+v (%d images), whole %+v", s, sum.Images(), w)
	}
	other := DefaultOptions(5)
	if err := sum.Merge(must(New(other))); !errors.Is(err, ErrMismatch) {
		t.Errorf("merge of other options: %v", err)
	}
	sum.Reset()
	if ar := sum.Areas(); slices.Max(ar.Label) != 0 || sum.Images() != 0 {
		t.Errorf("after Reset: %+v", ar)
	}
	if o2 := sum.Options(); o2.LabelMap[7] != 2 {
		t.Errorf("options %+v", o2)
	}
}

func must(a *Accumulator, err error) *Accumulator {
	if err != nil {
		panic(err)
	}
	return a
}

// TestPairwiseSum checks the summation order on values where it shows:
// numpy's order differs from a left-to-right sum here.
func TestPairwiseSum(t *testing.T) {
	for _, n := range []int{0, 1, 7, 8, 9, 127, 128, 129, 150, 300, 1000} {
		x := make([]float64, n)
		for i := range x {
			x[i] = 1 / float64(i+3)
		}
		got := pairwiseSum(x)
		want := refPairwise(x)
		if got != want {
			t.Errorf("n %d: %v, want %v", n, got, want)
		}
	}
	// 1e16 + 1 + ... : left to right every 1 is lost; numpy's eight
	// running sums keep those in the other lanes.
	x := []float64{1e16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	if got := pairwiseSum(x); got != 1e16+14 {
		t.Errorf("pairwise sum %v, want %v", got, 1e16+14)
	}
}

// refPairwise is numpy's pairwise_sum written out independently: the
// blocked recursion, with the eight lanes as an explicit lane index.
func refPairwise(x []float64) float64 {
	n := len(x)
	if n < 8 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s
	}
	if n <= 128 {
		lanes := make([]float64, 8)
		full := n - n%8
		for i := range full {
			if i < 8 {
				lanes[i] = x[i]
			} else {
				lanes[i%8] += x[i]
			}
		}
		s := ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
		for _, v := range x[full:] {
			s += v
		}
		return s
	}
	h := n / 2
	h -= h % 8
	return refPairwise(x[:h]) + refPairwise(x[h:])
}

func TestWriteTable(t *testing.T) {
	a, _ := New(DefaultOptions(3))
	a.Add([]uint8{0, 1, 1, 2}, []uint8{0, 1, 0, 255}, 2, 2)
	var b strings.Builder
	if err := a.Metrics().WriteTable(&b, []string{"road", "", "sky"}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, s := range []string{"class", "road", "0.5000", "nan", "sky", "aAcc", "mIoU", "0.6667"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}
	if lines := strings.Count(out, "\n"); lines != 9 {
		t.Errorf("%d lines, want 9:\n%s", lines, out)
	}
}

func TestOneClass(t *testing.T) {
	// One class: only label 0 is counted, where torch.histc(bins=1, min=0,
	// max=0) would take the data's range and count the 3s too.
	a, _ := New(DefaultOptions(1))
	if err := a.Add([]uint8{0, 0, 3, 3}, []uint8{0, 3, 0, 3}, 4, 1); err != nil {
		t.Fatal(err)
	}
	ar := a.Areas()
	if ar.Intersect[0] != 1 || ar.Pred[0] != 2 || ar.Label[0] != 2 || ar.Union[0] != 3 {
		t.Fatalf("areas %+v", ar)
	}
}
