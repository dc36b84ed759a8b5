package atss

import (
	"fmt"
	"strings"
)

// AssignerNames are the assigners by their --assign names.
var AssignerNames = []string{"atss", "topk", "simota", "hps"}

// AssignOptions choose an assigner as the commands' flags do: --assign
// NAME, --k K for topk, --hps FILE's values for hps.
type AssignOptions struct {
	Name string
	// K is topk's number of positives per ground truth.
	K int
	// Searched holds hps's searched values (ReadSearched).
	Searched *Searched
}

// NewAssigner returns the assigner the options name, in its default
// settings: ATSS with 9 candidates per level, top-k with K, SimOTA with
// q = 10 and a centre radius of 2.5 strides, HPS with the searched values.
func NewAssigner(o AssignOptions) (Assigner, error) {
	switch o.Name {
	case "atss":
		return ATSS{TopK: 9}, nil
	case "topk":
		if o.K < 1 {
			return nil, fmt.Errorf("--assign topk needs --k of at least 1, not %d", o.K)
		}
		return TopK{K: o.K}, nil
	case "simota":
		return SimOTA{Q: 10, Radius: 2.5}, nil
	case "hps":
		if o.Searched == nil {
			return nil, fmt.Errorf("--assign hps needs the searched values (--hps FILE)")
		}
		return o.Searched.Assigner()
	}
	return nil, fmt.Errorf("unknown assigner %q (have %s)", o.Name, strings.Join(AssignerNames, ", "))
}
