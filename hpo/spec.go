package hpo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseParam reads a parameter from its one-line form, as given to
// `argus hpo create --param`:
//
//	lr=float:1e-5:1e-1:log     float in [1e-5, 0.1], log scale
//	drop=float:0:0.5           float, linear scale
//	k=int:1:20                 int in [1, 20]
//	width=int:16:256:16        int with step 16
//	batch=int:8:512:log        int, log scale
//	opt=cat:sgd,adam           categorical
//	momentum=float:0:0.99@opt=sgd      active only when opt is sgd
//	beta=float:0.8:0.999@opt=adam|adamw active when opt is adam or adamw
func ParseParam(s string) (Param, error) {
	var p Param
	def, cond, hasCond := strings.Cut(s, "@")
	name, spec, ok := strings.Cut(def, "=")
	if !ok {
		return p, fmt.Errorf("param %q: want name=kind:spec", s)
	}
	p.Name = strings.TrimSpace(name)
	kind, rest, _ := strings.Cut(spec, ":")
	p.Kind = Kind(kind)
	switch p.Kind {
	case Float, Int:
		f := strings.Split(rest, ":")
		if len(f) < 2 || len(f) > 3 {
			return p, fmt.Errorf("param %q: want %s:low:high[:log%s]", s, kind, map[bool]string{true: "|step", false: ""}[p.Kind == Int])
		}
		var err error
		if p.Low, err = strconv.ParseFloat(f[0], 64); err != nil {
			return p, fmt.Errorf("param %q: low %q is not a number", s, f[0])
		}
		if p.High, err = strconv.ParseFloat(f[1], 64); err != nil {
			return p, fmt.Errorf("param %q: high %q is not a number", s, f[1])
		}
		if len(f) == 3 {
			switch {
			case f[2] == "log":
				p.Log = true
			case p.Kind == Int:
				if p.Step, err = strconv.ParseFloat(f[2], 64); err != nil || p.Step < 1 {
					return p, fmt.Errorf("param %q: step %q is not a whole number >= 1", s, f[2])
				}
			default:
				return p, fmt.Errorf("param %q: unknown option %q (want log)", s, f[2])
			}
		}
	case Categorical:
		if rest == "" {
			return p, fmt.Errorf("param %q: categorical without choices", s)
		}
		p.Choices = strings.Split(rest, ",")
	default:
		return p, fmt.Errorf("param %q: unknown kind %q (want float, int or cat)", s, kind)
	}
	if hasCond {
		parent, vals, ok := strings.Cut(cond, "=")
		if !ok || parent == "" || vals == "" {
			return p, fmt.Errorf("param %q: condition %q: want parent=choice[|choice...]", s, cond)
		}
		p.If = &Condition{Parent: parent, Values: strings.Split(vals, "|")}
	}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return p, nil
}

// ParseSpace reads a search space from JSON: {"params": [Param, ...]}.
func ParseSpace(b []byte) (Space, error) {
	var s Space
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("search space: %w", err)
	}
	if dec.More() {
		return s, errors.New("search space: data after the JSON object")
	}
	// A bound left out decodes as 0; tell it from a 0 given.
	var bounds struct {
		Params []struct {
			Name      string
			Kind      Kind
			Low, High *float64
		}
	}
	if err := json.Unmarshal(b, &bounds); err != nil {
		return s, fmt.Errorf("search space: %w", err)
	}
	for _, p := range bounds.Params {
		if (p.Kind == Float || p.Kind == Int) && (p.Low == nil || p.High == nil) {
			return s, fmt.Errorf("search space: parameter %q (%s) needs \"low\" and \"high\"", p.Name, p.Kind)
		}
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("search space: %w", err)
	}
	return s, nil
}
