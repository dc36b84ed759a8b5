package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
)

// Line is one JSON line a trial's command printed on stdout.
//
// An intermediate report is {"step": 3, "intermediate": 0.42}; the
// pruner sees it as soon as it is printed. The objective is given by the
// last JSON line: {"objective": 0.17} (or "value"), optionally with
// "constraints": [c1, ...] (feasible when all <= 0) and "intermediate" as
// a list (steps 0, 1, ...) or an object {"step": value} of values to record.
type Line struct {
	// Step is >= 0 for an intermediate report, -1 otherwise.
	Step         int
	Intermediate float64
	// HasObjective tells whether the line holds an objective.
	HasObjective bool
	Objective    float64
	Constraints  []float64
	// Values are intermediate values listed with the objective.
	Values map[int]float64
}

// ErrNotJSON marks a line that is not a JSON object.
var ErrNotJSON = errors.New("not a JSON object")

// ParseLine reads one stdout line. Lines that do not start with '{' give
// ErrNotJSON; JSON objects with wrong field types give a descriptive error.
func ParseLine(b []byte) (Line, error) {
	l := Line{Step: -1}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return l, ErrNotJSON
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return l, ErrNotJSON
	}
	num := func(key string) (float64, bool, error) {
		r, ok := raw[key]
		if !ok {
			return 0, false, nil
		}
		if isNull(r) {
			// Unmarshal leaves a float at 0 for null: a crashed
			// objective would be recorded as the value 0.
			return 0, true, fmt.Errorf("%q is null, not a number", key)
		}
		var f float64
		if err := json.Unmarshal(r, &f); err != nil {
			var s string
			if json.Unmarshal(r, &s) == nil {
				// NaN and inf are allowed as strings, and then rejected below.
				if f, err = strconv.ParseFloat(s, 64); err == nil {
					return f, true, nil
				}
			}
			return 0, true, fmt.Errorf("%q is not a number: %s", key, r)
		}
		return f, true, nil
	}
	if r, ok := raw["step"]; ok {
		var s int
		if err := json.Unmarshal(r, &s); err != nil || s < 0 || isNull(r) {
			return l, fmt.Errorf("\"step\" is not an int >= 0: %s", r)
		}
		v, ok, err := num("intermediate")
		if err != nil {
			return l, err
		}
		if !ok {
			v, ok, err = num("value")
			if err != nil {
				return l, err
			}
		}
		if !ok {
			return l, errors.New("step without \"intermediate\" value")
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return l, fmt.Errorf("intermediate value %v at step %d", v, s)
		}
		l.Step, l.Intermediate = s, v
		return l, nil
	}
	v, ok, err := num("objective")
	if err != nil {
		return l, err
	}
	if !ok {
		if v, ok, err = num("value"); err != nil {
			return l, err
		}
	}
	if ok {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return l, fmt.Errorf("objective is %v", v)
		}
		l.HasObjective, l.Objective = true, v
	}
	if r, ok := raw["constraints"]; ok {
		var list []*float64
		if err := json.Unmarshal(r, &list); err != nil || isNull(r) || slices.Contains(list, nil) {
			return l, fmt.Errorf("\"constraints\" is not a list of numbers: %s", r)
		}
		l.Constraints = make([]float64, len(list))
		for i, c := range list {
			l.Constraints[i] = *c
		}
	}
	if r, ok := raw["intermediate"]; ok {
		var list []*float64
		var obj map[string]*float64
		switch {
		case isNull(r):
			return l, errors.New("\"intermediate\" is null")
		case json.Unmarshal(r, &list) == nil:
			l.Values = map[int]float64{}
			for i, v := range list {
				if v == nil {
					return l, fmt.Errorf("intermediate value at step %d is null", i)
				}
				l.Values[i] = *v
			}
		case json.Unmarshal(r, &obj) == nil:
			l.Values = map[int]float64{}
			keys := make([]string, 0, len(obj))
			for k := range obj {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				s, err := strconv.Atoi(k)
				if err != nil || s < 0 {
					return l, fmt.Errorf("intermediate step %q is not an int >= 0", k)
				}
				if obj[k] == nil {
					return l, fmt.Errorf("intermediate value at step %d is null", s)
				}
				l.Values[s] = *obj[k]
			}
		default:
			return l, fmt.Errorf("\"intermediate\" is neither a list nor an object of numbers: %s", r)
		}
		for s, v := range l.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return l, fmt.Errorf("intermediate value %v at step %d", v, s)
			}
		}
	}
	return l, nil
}

// isNull reports whether a JSON value is null.
func isNull(r json.RawMessage) bool { return string(bytes.TrimSpace(r)) == "null" }
