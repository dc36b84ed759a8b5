// Package hpo searches hyper-parameters: a study holds a search space and its
// trials in a storage, asks a sampler for the next point, is told the
// objective, and prunes unpromising trials on their intermediate values.
//
// Parameters are held internally as float64: ints and floats as their value,
// categoricals as the index of the choice. Param.External gives the value a
// user sees.
package hpo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Kind is the type of a parameter.
type Kind string

// The kinds of parameters.
const (
	Float       Kind = "float"
	Int         Kind = "int"
	Categorical Kind = "cat"
)

// Condition makes a parameter active only when an earlier categorical
// parameter takes one of the listed choices.
type Condition struct {
	Parent string   `json:"parent"`
	Values []string `json:"values"`
}

// Param is one dimension of a search space.
type Param struct {
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Low and High bound Float and Int parameters, both included.
	Low  float64 `json:"low,omitempty"`
	High float64 `json:"high,omitempty"`
	// Log samples a Float or Int parameter uniformly in log space.
	Log bool `json:"log,omitempty"`
	// Step is the spacing of an Int parameter (1 when zero).
	Step float64 `json:"step,omitempty"`
	// Choices are the values of a Categorical parameter.
	Choices []string `json:"choices,omitempty"`
	// If, when set, makes the parameter conditional.
	If *Condition `json:"if,omitempty"`
}

// Space is an ordered list of parameters; a conditional parameter follows
// its parent.
type Space struct {
	Params []Param `json:"params"`
}

// ErrOutOfSpace reports a parameter value outside its space.
var ErrOutOfSpace = errors.New("outside the search space")

// step returns the spacing of an Int parameter.
func (p *Param) step() float64 {
	if p.Step <= 0 {
		return 1
	}
	return p.Step
}

// Validate reports the first problem with the parameter's definition.
func (p *Param) Validate() error {
	if p.Name == "" {
		return errors.New("parameter without a name")
	}
	for _, r := range p.Name {
		if !(r == '_' || r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("parameter %q: name may hold only letters, digits, '_', '-' and '.'", p.Name)
		}
	}
	switch p.Kind {
	case Float, Int:
		if math.IsNaN(p.Low) || math.IsNaN(p.High) || math.IsInf(p.Low, 0) || math.IsInf(p.High, 0) {
			return fmt.Errorf("parameter %q: bounds must be finite", p.Name)
		}
		if p.Low > p.High {
			return fmt.Errorf("parameter %q: low %g above high %g", p.Name, p.Low, p.High)
		}
		if p.Low == p.High {
			// Missing bounds read as [0, 0]: a search over one value is
			// a mistake, not a dimension (a fixed value is a flag of the
			// command, or an enqueued trial).
			return fmt.Errorf("parameter %q: empty range [%g, %g]; give low < high", p.Name, p.Low, p.High)
		}
		if p.Log && p.Low <= 0 {
			return fmt.Errorf("parameter %q: log scale needs low > 0, got %g", p.Name, p.Low)
		}
		if len(p.Choices) > 0 {
			return fmt.Errorf("parameter %q: choices are for categorical parameters", p.Name)
		}
		if p.Kind == Float && p.Step != 0 {
			return fmt.Errorf("parameter %q: step is for int parameters", p.Name)
		}
		if p.Kind == Int {
			s := p.step()
			if p.Low != math.Trunc(p.Low) || p.High != math.Trunc(p.High) || s != math.Trunc(s) {
				return fmt.Errorf("parameter %q: int bounds and step must be whole numbers", p.Name)
			}
			if math.Abs(p.Low) > 1<<53 || math.Abs(p.High) > 1<<53 {
				return fmt.Errorf("parameter %q: int bounds beyond ±2^53", p.Name)
			}
			if math.Mod(p.High-p.Low, s) != 0 {
				return fmt.Errorf("parameter %q: high %g is not low %g plus a multiple of step %g", p.Name, p.High, p.Low, s)
			}
			if p.Log && s != 1 {
				return fmt.Errorf("parameter %q: log scale needs step 1", p.Name)
			}
		}
	case Categorical:
		if len(p.Choices) == 0 {
			return fmt.Errorf("parameter %q: categorical without choices", p.Name)
		}
		seen := map[string]bool{}
		for _, c := range p.Choices {
			if seen[c] {
				return fmt.Errorf("parameter %q: choice %q repeated", p.Name, c)
			}
			seen[c] = true
		}
		if p.Low != 0 || p.High != 0 || p.Log || p.Step != 0 {
			return fmt.Errorf("parameter %q: bounds, log and step are for numeric parameters", p.Name)
		}
	default:
		return fmt.Errorf("parameter %q: unknown kind %q (want float, int or cat)", p.Name, p.Kind)
	}
	return nil
}

// Validate reports the first problem with the space: a bad parameter, a
// repeated name, or a condition on a parameter that is not an earlier
// categorical one.
func (s *Space) Validate() error {
	if len(s.Params) == 0 {
		return errors.New("empty search space")
	}
	idx := map[string]int{}
	for i := range s.Params {
		p := &s.Params[i]
		if err := p.Validate(); err != nil {
			return err
		}
		if _, ok := idx[p.Name]; ok {
			return fmt.Errorf("parameter %q defined twice", p.Name)
		}
		if p.If != nil {
			j, ok := idx[p.If.Parent]
			if !ok {
				return fmt.Errorf("parameter %q: condition on %q, which is not an earlier parameter", p.Name, p.If.Parent)
			}
			par := &s.Params[j]
			if par.Kind != Categorical {
				return fmt.Errorf("parameter %q: condition parent %q is not categorical", p.Name, par.Name)
			}
			if len(p.If.Values) == 0 {
				return fmt.Errorf("parameter %q: condition on %q lists no values", p.Name, par.Name)
			}
			for _, v := range p.If.Values {
				if par.choice(v) < 0 {
					return fmt.Errorf("parameter %q: condition value %q is not a choice of %q", p.Name, v, par.Name)
				}
			}
		}
		idx[p.Name] = i
	}
	return nil
}

// Param returns the parameter with the given name, or nil.
func (s *Space) Param(name string) *Param {
	for i := range s.Params {
		if s.Params[i].Name == name {
			return &s.Params[i]
		}
	}
	return nil
}

func (p *Param) choice(v string) int {
	for i, c := range p.Choices {
		if c == v {
			return i
		}
	}
	return -1
}

// Contains reports whether the internal value v lies in the parameter's
// space: within bounds, on the step grid, or a valid choice index.
func (p *Param) Contains(v float64) bool {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return false
	}
	switch p.Kind {
	case Float:
		return v >= p.Low && v <= p.High
	case Int:
		return v >= p.Low && v <= p.High && math.Mod(v-p.Low, p.step()) == 0
	case Categorical:
		return v >= 0 && v < float64(len(p.Choices)) && v == math.Trunc(v)
	}
	return false
}

// Clip moves v into the parameter's space: clamps to the bounds and rounds
// ints to the step grid and choices to an index.
func (p *Param) Clip(v float64) float64 {
	switch p.Kind {
	case Int:
		s := p.step()
		v = p.Low + math.Round((v-p.Low)/s)*s
	case Categorical:
		v = math.Round(v)
		return math.Max(0, math.Min(float64(len(p.Choices)-1), v))
	}
	return math.Max(p.Low, math.Min(p.High, v))
}

// External returns the value a user sees for internal value v: a float64,
// an int64 or the choice string.
func (p *Param) External(v float64) any {
	switch p.Kind {
	case Int:
		return int64(v)
	case Categorical:
		i := int(v)
		if i < 0 || i >= len(p.Choices) {
			return nil
		}
		return p.Choices[i]
	}
	return v
}

// Format returns the external value of v as a string, as it is passed to a
// trial's command.
func (p *Param) Format(v float64) string {
	switch x := p.External(v).(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return ""
}

// Parse reads an external value given as a string and returns its internal
// value, with ErrOutOfSpace when it does not belong to the space.
func (p *Param) Parse(s string) (float64, error) {
	if p.Kind == Categorical {
		i := p.choice(s)
		if i < 0 {
			return 0, fmt.Errorf("parameter %s: %q is not one of %s: %w", p.Name, s, strings.Join(p.Choices, ","), ErrOutOfSpace)
		}
		return float64(i), nil
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, fmt.Errorf("parameter %s: %q is not a number", p.Name, s)
	}
	if !p.Contains(v) {
		return 0, fmt.Errorf("parameter %s: %s not in %s: %w", p.Name, s, p.describe(), ErrOutOfSpace)
	}
	return v, nil
}

// FromJSON reads an external value decoded from JSON (a number or a
// string) and returns its internal value.
func (p *Param) FromJSON(x any) (float64, error) {
	switch v := x.(type) {
	case string:
		return p.Parse(v)
	case float64:
		if p.Kind == Categorical {
			return p.Parse(strconv.FormatFloat(v, 'g', -1, 64))
		}
		return p.Parse(strconv.FormatFloat(v, 'g', -1, 64))
	case json.Number:
		return p.Parse(v.String())
	case int:
		return p.Parse(strconv.Itoa(v))
	case int64:
		return p.Parse(strconv.FormatInt(v, 10))
	}
	return 0, fmt.Errorf("parameter %s: value %v of type %T", p.Name, x, x)
}

func (p *Param) describe() string {
	switch p.Kind {
	case Int:
		return fmt.Sprintf("int [%g, %g] step %g", p.Low, p.High, p.step())
	case Float:
		if p.Log {
			return fmt.Sprintf("float [%g, %g] log", p.Low, p.High)
		}
		return fmt.Sprintf("float [%g, %g]", p.Low, p.High)
	}
	return "{" + strings.Join(p.Choices, ",") + "}"
}

// Active reports whether parameter p is active given the values decided so
// far.
func (s *Space) active(p *Param, vals map[string]float64) bool {
	if p.If == nil {
		return true
	}
	pv, ok := vals[p.If.Parent]
	if !ok {
		return false
	}
	par := s.Param(p.If.Parent)
	c, _ := par.External(pv).(string)
	for _, v := range p.If.Values {
		if v == c {
			return true
		}
	}
	return false
}

// Resolve keeps the values of the active parameters, in space order, and
// checks that each is in its space and none is missing.
func (s *Space) Resolve(vals map[string]float64) (map[string]float64, error) {
	out := make(map[string]float64, len(vals))
	for i := range s.Params {
		p := &s.Params[i]
		if !s.active(p, out) {
			continue
		}
		v, ok := vals[p.Name]
		if !ok {
			return nil, fmt.Errorf("parameter %s: missing", p.Name)
		}
		if !p.Contains(v) {
			return nil, fmt.Errorf("parameter %s: %s not in %s: %w", p.Name, p.Format(v), p.describe(), ErrOutOfSpace)
		}
		out[p.Name] = v
	}
	for name := range vals {
		if s.Param(name) == nil {
			return nil, fmt.Errorf("parameter %s: not in the search space", name)
		}
	}
	return out, nil
}

// External converts internal values to the values a user sees.
func (s *Space) External(vals map[string]float64) map[string]any {
	out := make(map[string]any, len(vals))
	for name, v := range vals {
		if p := s.Param(name); p != nil {
			out[name] = p.External(v)
		}
	}
	return out
}
