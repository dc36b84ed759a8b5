package classify

import (
	"strings"
	"testing"
)

// TestModelSpec checks that a classifier of the registry is sized to the
// dataset's classes and that a detector is refused.
func TestModelSpec(t *testing.T) {
	s, err := ModelSpec("resnet18", 12)
	if err != nil || s.Classes != 12 {
		t.Fatalf("resnet18 with 12 classes: %v, %d classes", err, s.Classes)
	}
	if _, err := ModelSpec("atss-r18", 0); err == nil || !strings.Contains(err.Error(), "model atss-r18 is a detect model, not a classifier") {
		t.Fatalf("error %v", err)
	}
}
