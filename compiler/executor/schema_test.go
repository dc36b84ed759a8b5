package executor

import (
	"slices"
	"testing"

	"argus/compiler/xgraph"
)

// TestEverySchemaRuns checks that the executor computes exactly the
// operators that have a schema: register refuses an operator without one,
// and an operator with a schema but no function would pass CheckAttrs and
// fail only at run time.
func TestEverySchemaRuns(t *testing.T) {
	if got, want := Ops(), xgraph.Ops(); !slices.Equal(got, want) {
		for _, op := range want {
			if _, ok := registry[op]; !ok {
				t.Errorf("operator %s has a schema but no function", op)
			}
		}
	}
}
