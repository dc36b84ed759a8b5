package hpo

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"sort"
	"strconv"
	"time"
)

// TrialJSON is the exported form of a trial, with external parameter
// values.
type TrialJSON struct {
	Number       int                `json:"number"`
	State        State              `json:"state"`
	Value        *float64           `json:"value"`
	Params       map[string]any     `json:"params"`
	Constraints  []float64          `json:"constraints,omitempty"`
	Intermediate map[string]float64 `json:"intermediate,omitempty"`
	Reason       string             `json:"reason,omitempty"`
	Worker       string             `json:"worker,omitempty"`
	RetryOf      *int               `json:"retry_of,omitempty"`
	Start        string             `json:"start,omitempty"`
	End          string             `json:"end,omitempty"`
}

// Export converts a trial to its exported form.
func (s *Space) Export(t Trial) TrialJSON {
	j := TrialJSON{Number: t.Number, State: t.State, Value: t.Value, Params: s.External(t.Params),
		Constraints: t.Constraints, Reason: t.Reason, Worker: t.Worker, Start: stamp(t.Start), End: stamp(t.End)}
	if t.RetryOf >= 0 {
		r := t.RetryOf
		j.RetryOf = &r
	}
	if len(t.Intermediate) > 0 {
		j.Intermediate = map[string]float64{}
		for k, v := range t.Intermediate {
			j.Intermediate[strconv.Itoa(k)] = v
		}
	}
	return j
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// WriteJSON writes the study and its trials as one JSON object.
func WriteJSON(w io.Writer, info StudyInfo, trials []Trial) error {
	out := struct {
		Study  StudyInfo   `json:"study"`
		Trials []TrialJSON `json:"trials"`
	}{Study: info, Trials: []TrialJSON{}}
	for _, t := range trials {
		out.Trials = append(out.Trials, info.Space.Export(t))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// WriteCSV writes one row per trial: number, state, value, one column per
// parameter (empty where inactive), constraints, reason, start, end.
func WriteCSV(w io.Writer, space Space, trials []Trial) error {
	cw := csv.NewWriter(w)
	head := []string{"number", "state", "value"}
	for _, p := range space.Params {
		head = append(head, "param_"+p.Name)
	}
	head = append(head, "constraints", "reason", "start", "end")
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, t := range trials {
		row := []string{strconv.Itoa(t.Number), string(t.State), ""}
		if t.Value != nil {
			row[2] = strconv.FormatFloat(*t.Value, 'g', -1, 64)
		}
		for i := range space.Params {
			p := &space.Params[i]
			cell := ""
			if v, ok := t.Params[p.Name]; ok {
				cell = p.Format(v)
			}
			row = append(row, cell)
		}
		cons := ""
		for i, c := range t.Constraints {
			if i > 0 {
				cons += ";"
			}
			cons += strconv.FormatFloat(c, 'g', -1, 64)
		}
		row = append(row, cons, t.Reason, stamp(t.Start), stamp(t.End))
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Importance estimates how much each parameter matters: the share of the
// objective's variance explained by the parameter alone (a first-order
// functional ANOVA). The COMPLETE feasible trials are grouped into quantile
// bins of the parameter (about 5 trials a bin, at most 8) or by choice, and
// the effect size omega^2 = (SSB - (k-1) MSW) / (SST + MSW) corrects the
// between-bin variance for what chance alone gives. The shares are
// normalised to sum to 1; a parameter active in fewer than 6 trials gets 0.
func Importance(space Space, trials []Trial) map[string]float64 {
	out := map[string]float64{}
	total := 0.0
	for _, p := range space.Params {
		var xs, ys []float64
		for _, t := range trials {
			if t.State != Complete || t.Value == nil || !t.Feasible() {
				continue
			}
			if v, ok := t.Params[p.Name]; ok {
				xs = append(xs, v)
				ys = append(ys, *t.Value)
			}
		}
		out[p.Name] = 0
		n := len(xs)
		if n < 6 {
			continue
		}
		bins := map[int][]float64{}
		if p.Kind == Categorical {
			for i, x := range xs {
				bins[int(x)] = append(bins[int(x)], ys[i])
			}
		} else {
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(a, b int) bool { return xs[idx[a]] < xs[idx[b]] })
			nb := max(2, min(8, n/5))
			for r, i := range idx {
				bins[r*nb/n] = append(bins[r*nb/n], ys[i])
			}
		}
		k := len(bins)
		if k < 2 || n <= k {
			continue
		}
		mean := 0.0
		for _, y := range ys {
			mean += y
		}
		mean /= float64(n)
		sst, ssb := 0.0, 0.0
		for _, y := range ys {
			sst += (y - mean) * (y - mean)
		}
		for _, b := range bins {
			m := 0.0
			for _, y := range b {
				m += y
			}
			m /= float64(len(b))
			ssb += float64(len(b)) * (m - mean) * (m - mean)
		}
		msw := (sst - ssb) / float64(n-k)
		w := (ssb - float64(k-1)*msw) / (sst + msw)
		if w > 0 && !math.IsNaN(w) {
			out[p.Name] = w
			total += w
		}
	}
	if total > 0 {
		for k := range out {
			out[k] /= total
		}
	}
	return out
}
